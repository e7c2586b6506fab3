"""Training cases: what one sample of a background-replacement shot holds before augmentation.

A case is the target video (the true composite), the foreground's matte over it, the clean background at each
possible anchor (begin / middle / end) and the structured prompt. `SyntheticPanning` makes toy shots with a
known camera pan (tests, the PE-cloning ablation); `ClipFolders` reads real clips laid out as frames/ + masks/
(the benchmark's layout) and builds clean references with the benchmark's own clean-plate code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError


@dataclass
class TrainingCase:
    target: np.ndarray  # [F, H, W, 3] uint8: what the model must produce
    alpha: np.ndarray  # [F, H, W] float32 in [0, 1]: the foreground's true matte
    backgrounds: dict[int, np.ndarray]  # frame -> [H, W, 3] uint8 clean background at that frame (candidate refs)
    prompt: dict[str, str] = field(default_factory=dict)
    name: str = ""


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth, colourful, non-repeating texture (so a pan is visible everywhere)."""
    base = rng.uniform(40, 215, size=(max(2, h // 8), max(2, w // 8), 3)).astype(np.float32)
    img = cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC)
    fine = cv2.resize(rng.uniform(-35, 35, size=(max(2, h // 3), max(2, w // 3), 3)).astype(np.float32), (w, h),
                      interpolation=cv2.INTER_LINEAR)
    return np.clip(img + fine, 0, 255)


def _direction(dx: float, dy: float) -> str:
    if abs(dx) < 0.3 and abs(dy) < 0.3:
        return "static camera"
    horiz = "pans right" if dx > 0 else "pans left"
    vert = "tilts down" if dy > 0 else "tilts up"
    if abs(dx) >= 2 * abs(dy):
        return f"the camera {horiz}"
    if abs(dy) >= 2 * abs(dx):
        return f"the camera {vert}"
    return f"the camera {horiz} and {vert}"


class SyntheticPanning:
    """Toy shots: a textured background seen by a camera panning at a constant random speed, a soft-edged
    disc moving in front of it. Seeded: case i is the same every time."""

    def __init__(self, n_cases: int = 64, frames: int = 9, size: int = 32, max_speed: float = 2.5, seed: int = 0):
        if n_cases < 1 or frames < 1 or size < 8:
            raise ValueError("SyntheticPanning needs n_cases >= 1, frames >= 1 and size >= 8")
        self.n, self.frames, self.size, self.max_speed, self.seed = n_cases, frames, size, max_speed, seed

    def __len__(self) -> int:
        return self.n

    def case(self, i: int, rng: np.random.Generator | None = None) -> TrainingCase:
        if not 0 <= i < self.n:
            raise IndexError(i)
        rng = np.random.default_rng([self.seed, i])
        f, s = self.frames, self.size
        vx, vy = rng.uniform(-self.max_speed, self.max_speed, 2)
        margin = int(np.ceil(self.max_speed * (f - 1))) + 2
        world = _texture(rng, s + 2 * margin, s + 2 * margin)
        yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
        colour = rng.uniform(20, 235, 3).astype(np.float32)
        r = rng.uniform(0.18, 0.3) * s
        c0 = rng.uniform(0.35, 0.65, 2) * s
        cv = rng.uniform(-0.6, 0.6, 2)
        target = np.empty((f, s, s, 3), np.uint8)
        alpha = np.empty((f, s, s), np.float32)
        backgrounds = {}
        for t in range(f):
            ox, oy = margin + vx * t, margin + vy * t
            m = np.float32([[1, 0, ox], [0, 1, oy]])
            bg = cv2.warpAffine(world, m, (s, s), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
            cx, cy = c0 + cv * t
            d = np.hypot(xx - cx, yy - cy)
            a = np.clip(r - d + 0.5, 0, 1)
            shade = 1 - 0.35 * np.clip((yy - cy) / r, -1, 1)  # lit from above
            fg = np.clip(colour * shade[..., None], 0, 255)
            target[t] = np.round(bg * (1 - a[..., None]) + fg * a[..., None]).astype(np.uint8)
            alpha[t] = a
            backgrounds[t] = np.round(bg).astype(np.uint8)
        prompt = {"foreground_content": "a shaded disc", "background_content": "a colourful texture",
                  "camera_motion_analysis": _direction(vx, vy), "caption": f"{_direction(vx, vy)}, a disc moves"}
        return TrainingCase(target, alpha, backgrounds, prompt, f"synthetic-{self.seed}-{i}")


def _fit_window(frames: np.ndarray, masks: np.ndarray, idx, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Frames `idx` of a clip and its masks (uint8, 255 = foreground), cover-fitted to `size`: (target uint8
    [F, H, W, 3], alpha float32 [F, H, W] in [0, 1])."""
    from ..io.images import fit_cover

    target = np.stack([fit_cover(frames[j], size) for j in idx])
    alpha = np.stack([fit_cover(np.repeat(masks[j][..., None], 3, -1), size)[..., 0] for j in idx])
    return target, alpha.astype(np.float32) / 255


class ClipFolders:
    """Real clips as folders with frames/ and masks/ (DAVIS layout): each case is a window of `frames` frames,
    resized (cover + centre crop) to `size` (w, h); references are the benchmark's clean plates (foreground
    removed along the clip's estimated camera, holes inpainted) at the window's begin / middle / end."""

    def __init__(self, root: str | Path, frames: int, size: tuple[int, int], stride: int = 1):
        from ..eval.restore import clip_files

        root = Path(root)
        if not root.is_dir():
            raise InputError(f"clip folder root {root} does not exist")
        self.folders = []
        for d in sorted(p for p in ([root] + sorted(root.iterdir())) if p.is_dir()):
            try:
                _, masks = clip_files(d)
            except InputError:
                continue
            if masks is not None:
                self.folders.append(d)
        if not self.folders:
            raise InputError(f"no clip folders with frames/ and masks/ under {root}")
        self.frames, self.size, self.stride = frames, size, stride
        self._clips: dict[Path, tuple] = {}

    def __len__(self) -> int:
        return len(self.folders)

    def _clip(self, folder: Path):
        from ..eval.restore import estimate_clip_camera, load_clip

        if folder not in self._clips:
            clip = load_clip(folder)
            need = (self.frames - 1) * self.stride + 1
            if len(clip.frames) < need:
                raise InputError(f"clip {folder} has {len(clip.frames)} frames; training windows need {need}")
            self._clips[folder] = (clip, estimate_clip_camera(clip), {})
        return self._clips[folder]

    def case(self, i: int, rng: np.random.Generator | None = None) -> TrainingCase:
        from ..eval.restore import clean_reference
        from ..io.images import fit_cover

        clip, path, plates = self._clip(self.folders[i % len(self.folders)])
        rng = rng or np.random.default_rng(i)
        need = (self.frames - 1) * self.stride + 1
        start = int(rng.integers(0, len(clip.frames) - need + 1))
        idx = [start + k * self.stride for k in range(self.frames)]
        fit = lambda img: fit_cover(img, self.size)  # noqa: E731
        target, alpha = _fit_window(clip.frames, clip.masks, idx, self.size)
        backgrounds = {}
        for k in sorted({0, (self.frames - 1) // 2, self.frames - 1}):
            j = idx[k]
            if j not in plates:
                plates[j] = fit(clean_reference(clip, path, j))
            backgrounds[k] = plates[j]
        return TrainingCase(target, alpha, backgrounds, {}, f"{clip.name}@{start}")


class ShardCases:
    """A dataset written by `paistudio data build`: each case is one sample, `frames` frames taken evenly across
    it (the middle frame kept exactly, so the begin / middle / end references still match their frames),
    resized (cover + centre crop) to `size` (w, h). The caption is the sample's structured prompt."""

    def __init__(self, root: str | Path, frames: int, size: tuple[int, int]):
        from ..data.shards import read_manifest

        self.root = Path(root)
        manifest = read_manifest(self.root)
        self.keys = [(self.root / s["file"], k) for s in manifest["shards"] for k in s["samples"]]
        if not self.keys:
            raise InputError(f"dataset {root} has no samples; build it with `paistudio data build`")
        self.frames, self.size = frames, size

    def __len__(self) -> int:
        return len(self.keys)

    def case(self, i: int, rng: np.random.Generator | None = None) -> TrainingCase:
        from ..data.shards import read_sample
        from ..io.images import fit_cover

        shard, key = self.keys[i % len(self.keys)]
        s = read_sample(shard, key, videos=("target", "mask"))
        n, f = len(s["target"]), self.frames
        if n < f:
            raise InputError(f"sample {key} has {n} frames; training asks for {f}")
        idx = np.round(np.linspace(0, n - 1, f)).astype(int)
        idx[(f - 1) // 2] = s["meta"]["anchors"]["middle"]
        fit = lambda img: fit_cover(img, self.size)  # noqa: E731
        target, alpha = _fit_window(s["target"], s["mask"], idx, self.size)
        refs = s["references"]
        backgrounds = {0: fit(refs["begin"]), (f - 1) // 2: fit(refs["middle"]), f - 1: fit(refs["end"])}
        return TrainingCase(target, alpha, backgrounds, s["meta"]["caption"], key)
