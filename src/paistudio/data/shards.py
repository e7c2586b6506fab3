"""Step 8: WebDataset-style tar shards and the versioned manifest; and the reader training uses.

One shard per source item: `shards/ITEMID.tar`; each sample inside is a group of members sharing a key
(`ITEMID-SHOT`): `.target.mp4`, `.green.mp4`, `.perturbed.mp4` (H.264), `.mask.mkv` (lossless FFV1),
`.ref_begin.png`, `.ref_middle.png`, `.ref_end.png`, `.json` (anchors, caption, metadata). Members are written in a
fixed order with zeroed times and owners, so the same inputs and settings give byte-identical shards.
A shard is written under a temporary name and renamed when complete; the manifest lists only complete ones.
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from .settings import DATASET_FORMAT, DATASET_VERSION

VIDEO_MEMBERS = ("target", "green", "perturbed")


def _encode_video(frames: np.ndarray, fps: Fraction, codec: str, suffix: str, crf: int) -> bytes:
    from ..io.writer import VideoSink

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"v{suffix}"
        tb = Fraction(1, 1) / fps
        with VideoSink(path, codec, frames.shape[2], frames.shape[1], fps, tb, crf=crf, preset="medium",
                       bitexact=True) as sink:
            sink.write(frames, list(range(len(frames))))
        return path.read_bytes()


def _png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    if not ok:
        raise InputError("a reference could not be encoded as PNG")
    return buf.tobytes()


def sample_members(key: str, sample: dict, fps: Fraction, crf: int) -> list[tuple[str, bytes]]:
    """The tar members of one sample, in their fixed order."""
    members = [(f"{key}.{name}.mp4", _encode_video(sample[name], fps, "h264", ".mp4", crf)) for name in VIDEO_MEMBERS]
    mask = np.repeat(sample["mask"][..., None], 3, axis=-1)
    members.append((f"{key}.mask.mkv", _encode_video(mask, fps, "ffv1", ".mkv", crf)))
    for name, img in sample["references"].items():
        members.append((f"{key}.ref_{name}.png", _png(img)))
    members.append((f"{key}.json", (json.dumps(sample["meta"], sort_keys=True, indent=1) + "\n").encode()))
    return members


def write_shard(path: Path, members: list[tuple[str, bytes]]) -> dict:
    """Write `members` to `path` atomically (temp name, then rename); returns {bytes, sha256}."""
    import hashlib
    import os

    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    h = hashlib.sha256()
    with open(tmp, "rb+") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
        os.fsync(fh.fileno())
    digest = h.hexdigest()
    os.replace(tmp, path)
    return {"bytes": path.stat().st_size, "sha256": digest}


def manifest_path(root: Path) -> Path:
    return Path(root) / "manifest.json"


def read_manifest(root: str | Path) -> dict:
    p = manifest_path(Path(root))
    if not p.is_file():
        raise InputError(f"{root} has no manifest.json; build it with `paistudio data build --out {root}`")
    m = json.loads(p.read_text())
    if m.get("format") != DATASET_FORMAT or m.get("version") != DATASET_VERSION:
        raise InputError(f"{p} is format {m.get('format')} v{m.get('version')}; this paistudio reads "
                         f"{DATASET_FORMAT} v{DATASET_VERSION}")
    return m


def _decode_video(data: bytes, suffix: str) -> np.ndarray:
    from ..io.video import probe, read_chunks

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"v{suffix}"
        p.write_bytes(data)
        return np.concatenate(list(read_chunks(probe(p), chunk=16, alpha=False)))


def read_sample(shard: Path, key: str, videos: tuple[str, ...] = ("target", "mask")) -> dict:
    """One sample of a shard: the videos asked for (uint8 [T,H,W,3]; the mask as [T,H,W]), references, meta."""
    out: dict = {"references": {}}
    with tarfile.open(shard) as tar:
        for m in tar.getmembers():
            if not m.name.startswith(key + "."):
                continue
            kind = m.name[len(key) + 1:]
            data = tar.extractfile(m).read()
            if kind == "json":
                out["meta"] = json.loads(data)
            elif kind.startswith("ref_"):
                img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
                out["references"][kind[4:-4]] = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
            else:
                name, suffix = kind.split(".", 1)
                if name in videos:
                    v = _decode_video(data, "." + suffix)
                    out[name] = v[..., 0] if name == "mask" else v
    if "meta" not in out:
        raise InputError(f"shard {shard} has no sample {key}")
    return out
