"""Raw inputs for the dataset pipeline tests, made here (no downloads): clip folders, videos, and bad inputs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tests.media import green_screen_clip, write_clip_folder, write_video

W, H = 128, 80


def good_inputs(root: Path, n_clips: int = 2, frames: int = 24) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n_clips):
        write_clip_folder(root / f"clip{i}", W, H, frames, seed=11 + i, pan=0.2 if i % 2 == 0 else -0.15)
    gs, _, _, _ = green_screen_clip(frames, W, H, markers=True, seed=2)
    write_video(root / "greenscreen.mp4", gs)
    return root


def bad_inputs(root: Path) -> Path:
    """Each of these must be recorded as a failure with a reason, not abort the build."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(300))
    (root / "empty.mp4").write_bytes(b"")
    gs, _, _, _ = green_screen_clip(20, W, H, seed=4)
    good = write_video(root / "tmp_good.mp4", gs)
    data = good.read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 3])
    good.unlink()
    # masks that do not match the frames (one missing)
    clip, _, _ = write_clip_folder(root / "mismatched", W, H, 20, seed=5)
    sorted((clip / "masks").iterdir())[-1].unlink()
    # an unreadable frame image
    clip, _, _ = write_clip_folder(root / "unreadable", W, H, 20, seed=6)
    sorted((clip / "frames").iterdir())[3].write_bytes(b"not an image")
    return root


def escaping_inputs(root: Path, outside: Path) -> Path:
    """A symlink out of the source root and a list file with '..' that leaves it."""
    root.mkdir(parents=True, exist_ok=True)
    gs, _, _, _ = green_screen_clip(20, W, H, seed=7)
    target = write_video(outside / "secret.mp4", gs)
    (root / "link.mp4").symlink_to(target)
    (root / "list.txt").write_text("# sources\nok.mp4\n../outside/secret.mp4\n")
    write_video(root / "ok.mp4", gs)
    return root


def hard_cut_video(path: Path, a: int = 24, b: int = 24) -> Path:
    """Two shots: a green-screen shot, then a different one, joined by a hard cut at frame `a`."""
    s1, _, _, _ = green_screen_clip(a, W, H, seed=8, markers=True)
    s2, _, _, _ = green_screen_clip(b, W, H, seed=9, markers=False, colour=(30, 60, 200))
    return write_video(path, np.concatenate([s1, s2]))
