"""Step 1: find the inputs under a source root and probe them.

Inputs: video files, clip folders (frames/ + optional masks/), or a list file (one path per line, relative to
the list's folder). Anything that escapes the source root (a symlink pointing outside, `..` in a list) or
cannot be read is returned as a failure with the reason; the run goes on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import PaiStudioError

VIDEO_EXTENSIONS = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}
LIST_EXTENSIONS = {".txt", ".lst"}


@dataclass(frozen=True)
class Item:
    kind: str  # "video" | "clip"
    path: Path  # resolved, inside the root
    rel: str  # path relative to the root, as recorded


@dataclass(frozen=True)
class Failure:
    source: str
    reason: str


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _classify(path: Path, root: Path, rel: str) -> Item | Failure | None:
    if not _inside(path, root):
        return Failure(rel, "escapes the source root (a symlink or '..' pointing outside it); skipped")
    p = path.resolve()
    if p.is_dir() and (p / "frames").is_dir():
        return Item("clip", p, rel)
    if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS:
        return Item("video", p, rel)
    return None


def discover(src: str | Path) -> tuple[list[Item], list[Failure]]:
    """Items and failures under `src` (a folder, a single video, or a list file), in a stable order."""
    src = Path(src)
    if not src.exists():
        raise PaiStudioError(f"source {src} does not exist; give a folder of videos / clip folders or a list file")
    items: list[Item] = []
    failures: list[Failure] = []

    def add(path: Path, root: Path, rel: str) -> None:
        got = _classify(path, root, rel)
        if got is None:
            if not path.exists():
                failures.append(Failure(rel, "does not exist"))
            return
        (items if isinstance(got, Item) else failures).append(got)

    if src.is_file() and src.suffix.lower() in LIST_EXTENSIONS:
        root = src.parent
        for line in src.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                add(root / line, root, line)
    elif src.is_file():
        add(src, src.parent, src.name)
    elif (src / "frames").is_dir():
        add(src, src.parent, src.name)
    else:
        for p in sorted(src.rglob("*")):
            rel = p.relative_to(src).as_posix()
            if any(part in ("frames", "masks") for part in Path(rel).parts[:-1]) or p.name in ("frames", "masks"):
                continue  # inside a clip folder
            if p.is_symlink() or p.is_dir() or p.suffix.lower() in VIDEO_EXTENSIONS:
                add(p, src, rel)
    seen, unique = set(), []
    for it in items:
        if it.path not in seen:
            seen.add(it.path)
            unique.append(it)
    return unique, failures


def content_hash(item: Item) -> str:
    """sha256 of the bytes the item is made of (a video file, or a clip folder's frame and mask files)."""
    h = hashlib.sha256()
    files = [item.path] if item.kind == "video" else sorted(
        p for sub in ("frames", "masks") if (item.path / sub).is_dir() for p in (item.path / sub).iterdir() if p.is_file())
    for f in files:
        h.update(f.relative_to(item.path).as_posix().encode() if item.kind == "clip" else b"video")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def item_id(item: Item, settings_digest: str) -> str:
    return hashlib.sha256(f"{content_hash(item)}:{settings_digest}".encode()).hexdigest()[:16]
