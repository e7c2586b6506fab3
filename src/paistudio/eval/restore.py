"""Restore cases: turn a real clip with foreground masks into the inputs PAI-Studio receives, keeping the clip
as ground truth (the paper's "Cine-Restore" protocol).

Clip folder layout: `frames/00000.jpg …` and `masks/00000.png …` (0 = background, 255 = foreground).
- `estimate_clip_camera`: the clip's real camera, tracked on its background (outside the dilated mask).
- `green_screen`: the masked foreground, soft-edged and with edge spill, over a green screen that is either
  `markers` (tracking crosses moving with the real camera, as on a stage) or `flat` (no texture at all).
- `clean_reference`: frame t with the foreground removed and filled from other frames where that background
  is visible (aligned by the camera path); only what no frame shows is inpainted.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..comp.colour import SRGB_TO_LINEAR, to_srgb
from ..comp.track import BackingTracker
from ..errors import InputError
from ..io.images import IMAGE_EXTENSIONS, read_image

SCREEN_GREEN = (40, 175, 60)
SCREEN_BLUE = (30, 70, 190)
MARKER_GREEN = (20, 235, 40)  # more saturated than the screen: keys out, yet trackable
MARKER_BLUE = (15, 45, 245)


@dataclass
class Clip:
    name: str
    frames: np.ndarray  # [T, H, W, 3] uint8
    masks: np.ndarray  # [T, H, W] uint8, 255 = foreground
    fps: Fraction = Fraction(24)


def load_clip(folder: str | Path, fps: Fraction = Fraction(24)) -> Clip:
    folder = Path(folder)
    files = sorted(p for p in (folder / "frames").glob("*") if p.suffix.lower() in IMAGE_EXTENSIONS) \
        if (folder / "frames").is_dir() else []
    if not files:
        raise InputError(f"{folder} has no frames/ folder of images; use the layout frames/00000.jpg, masks/00000.png")
    masks_dir = folder / "masks"
    frames = np.stack([read_image(p, "frame")[..., :3] for p in files])
    masks = []
    for p in files:
        m = next((masks_dir / f"{p.stem}{ext}" for ext in (".png", ".jpg") if (masks_dir / f"{p.stem}{ext}").is_file()), None)
        if m is None:
            raise InputError(f"{folder} has no mask for frame {p.name}; masks/ needs one image per frame")
        mask = read_image(m, "mask")[..., 0]
        if mask.shape != frames.shape[1:3]:
            raise InputError(f"mask {m.name} is {mask.shape[1]}x{mask.shape[0]}, its frame "
                             f"{frames.shape[2]}x{frames.shape[1]}; masks must match their frames")
        masks.append(np.where(mask > 127, 255, 0).astype(np.uint8))
    return Clip(folder.name, frames, np.stack(masks), fps)


def _dilate(mask: np.ndarray, px: int) -> np.ndarray:
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1)))


def estimate_clip_camera(clip: Clip, width: int = 640) -> np.ndarray:
    """`[N, 3, 3]` frame-0 → frame-t background homographies, tracked outside the dilated masks."""
    h, w = clip.frames.shape[1:3]
    scale = min(1.0, width / w)
    size = (round(w * scale), round(h * scale))
    tracker = BackingTracker(scale)
    for frame, mask in zip(clip.frames, clip.masks):
        small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        bg = cv2.bitwise_not(cv2.resize(_dilate(mask, 12), size, interpolation=cv2.INTER_NEAREST))
        tracker.update(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), bg)
    return tracker.result((w, h)).homographies


def screen(width: int, height: int, markers: bool, seed: int = 0, margin: float = 1.0,
           colour: tuple[int, int, int] = SCREEN_GREEN) -> tuple[np.ndarray, np.ndarray]:
    """A screen `margin` frames larger on each side, gently uneven, optionally with tracking crosses in a more
    saturated shade of its colour; and the homography from it to frame 0 (its centre)."""
    W, H = int(width * (1 + 2 * margin)), int(height * (1 + 2 * margin))
    rng = np.random.default_rng(seed)
    shade = cv2.resize(rng.uniform(0.94, 1.04, (3, 4)).astype(np.float32), (W, H), interpolation=cv2.INTER_CUBIC)
    plate = np.asarray(colour, np.float32)[None, None] * shade[..., None]
    marker = MARKER_BLUE if colour[2] > colour[1] else MARKER_GREEN
    if markers:
        step = max(24, min(width, height) // 6)
        arm = max(4, step // 5)
        for y in range(step // 2, H, step):
            for x in range(step // 2, W, step):
                jx, jy = (int(v) for v in rng.integers(-step // 5, step // 5 + 1, 2))
                cv2.line(plate, (x + jx - arm, y + jy), (x + jx + arm, y + jy), marker, 2, cv2.LINE_AA)
                cv2.line(plate, (x + jx, y + jy - arm), (x + jx, y + jy + arm), marker, 2, cv2.LINE_AA)
    to_frame0 = np.array([[1, 0, -(W - width) / 2], [0, 1, -(H - height) / 2], [0, 0, 1]], np.float64)
    return np.clip(plate, 0, 255).astype(np.uint8), to_frame0


def green_screen(clip: Clip, path: np.ndarray, backing: str = "markers", seed: int = 0, spill: float = 0.4,
                 softness: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The clip's foreground over a green screen moving with the camera: frames `[T,H,W,3]`, alpha `[T,H,W]`."""
    if backing not in ("markers", "flat"):
        raise ValueError(f"backing must be markers or flat, not {backing}")
    t_count, h, w = clip.frames.shape[:3]
    plate, to0 = screen(w, h, backing == "markers", seed)
    green = SRGB_TO_LINEAR[list(SCREEN_GREEN)]
    out = np.empty_like(clip.frames)
    alphas = np.empty((t_count, h, w), np.float32)
    for t in range(t_count):
        a = cv2.GaussianBlur(clip.masks[t].astype(np.float32) / 255, (0, 0), softness) if softness > 0 \
            else clip.masks[t].astype(np.float32) / 255
        bg = cv2.warpPerspective(plate, path[t] @ to0, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        fg = SRGB_TO_LINEAR[clip.frames[t]]
        if spill > 0:  # screen light bouncing onto the subject, strongest at its edge
            edge = np.clip(1.0 - cv2.GaussianBlur(a, (0, 0), 3.0), 0, 1)[..., None] * (a[..., None] > 0)
            fg = fg + spill * 0.5 * edge * (green - fg)
        out[t] = to_srgb(a[..., None] * fg + (1 - a[..., None]) * SRGB_TO_LINEAR[bg])
        alphas[t] = a
    return out, alphas


def clean_reference(clip: Clip, path: np.ndarray, t: int, dilate_px: int = 15) -> np.ndarray:
    """Frame t without its foreground: the hole is filled from the nearest frames that see that background
    (warped into frame t's view by the camera path); what none of them sees is inpainted."""
    h, w = clip.frames.shape[1:3]
    out = clip.frames[t].copy()
    hole = _dilate(clip.masks[t], dilate_px) > 0
    inv_t = path[t]
    for s in sorted(range(len(clip.frames)), key=lambda s: abs(s - t)):
        if s == t or not hole.any():
            continue
        m = inv_t @ np.linalg.inv(path[s])  # frame s → frame t
        warped = cv2.warpPerspective(clip.frames[s], m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        seen = cv2.warpPerspective(cv2.bitwise_not(_dilate(clip.masks[s], dilate_px)), m, (w, h),
                                   flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
        take = hole & seen
        out[take] = warped[take]
        hole &= ~take
    if hole.any():
        out = cv2.inpaint(out, hole.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)
    return out
