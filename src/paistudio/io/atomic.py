"""Atomic outputs: everything is written under a temporary name beside its target and renamed at the end,
so an interrupted or failed render never leaves a partial or clobbered file at the output path."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from ..errors import OutputError


def temporary_name(target: Path) -> Path:
    """`dir/.name.partial-PID.ext`: same folder (so the rename is atomic), same extension (so muxers guess right)."""
    return target.with_name(f".{target.stem}.partial-{os.getpid()}{target.suffix}")


def check_writable(target: Path, overwrite: bool) -> None:
    """Raise OutputError when `target` exists without `overwrite` or its folder cannot be written."""
    folder = target.parent if str(target.parent) else Path(".")
    if target.exists() and not overwrite:
        raise OutputError(f"{target} exists; pass --overwrite to replace it or choose another output path")
    if not folder.is_dir():
        raise OutputError(f"output folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write to {folder}; choose a folder you can write to")


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def commit(temp: Path, target: Path) -> None:
    """Move the finished temporary file or folder onto the target (replacing an old one)."""
    if target.is_dir() and not target.is_symlink():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(temp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(temp, target)


@contextmanager
def atomic_path(target: str | Path):
    """Yield a temporary path; on success rename it onto `target`, on any failure (Ctrl-C too) delete it."""
    target = Path(target)
    temp = temporary_name(target)
    remove(temp)
    try:
        yield temp
    except BaseException:
        remove(temp)
        raise
    commit(temp, target)


def write_text_atomic(target: str | Path, text: str) -> None:
    with atomic_path(target) as temp:
        temp.write_text(text)
