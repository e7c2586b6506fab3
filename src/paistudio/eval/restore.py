"""Restore cases: turn a real clip with foreground masks into the inputs PAI-Studio receives, keeping the clip
as ground truth (the paper's "Cine-Restore" protocol).

Clip folder layout: `frames/00000.jpg …` and `masks/00000.png …` (0 = background, 255 = foreground).
- `load_clip`: the folder as arrays, checked (named `InputError`s say what to fix).
- `estimate_clip_camera`: the clip's real camera, tracked on its background (outside the dilated mask) by
  `comp.track.BackingTracker` (the engine's own tracker: one implementation).
- `green_screen`: the masked foreground, soft-edged and with edge spill, composited in linear light over a
  green screen that is either `markers` (tracking crosses in a more saturated green, moving with the real
  camera, as on a stage) or `flat` (plain, gently shaded backing).
- `illumination_perturbation`: seeded exposure / white balance / gamma / contrast / coloured directional
  light on the foreground only, parameters returned (the paper's perturbed T_c input).
- `clean_reference`: frame t with the foreground removed and filled from other frames where that background
  is visible (aligned by the camera path); only what no frame shows is inpainted.
Writing all of it to a case folder is `eval.cases.build_case`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..comp.colour import SRGB_TO_LINEAR, to_srgb
from ..comp.track import BackingTracker, TrackResult
from ..errors import InputError, ReferenceImageError
from ..io.images import IMAGE_EXTENSIONS, read_image

SCREEN_GREEN = (40, 175, 60)  # sRGB of a lit chroma-green screen
SCREEN_BLUE = (30, 70, 190)  # sRGB of a lit chroma-blue screen
MARKER_GREEN = (20, 235, 40)  # more saturated than the screen: keys out, yet trackable
MARKER_BLUE = (15, 45, 245)
BACKINGS = ("markers", "flat")
CAMERA_WIDTH = 640  # tracking resolution (px wide) for estimate_clip_camera
CAMERA_DILATE_PX = 12  # mask dilation (full-res px) before tracking: keeps features off the subject's edge
SPILL_BAND_PX = 3.0  # width (Gaussian sigma, px) of the band inside the outline that the screen light tints


@dataclass
class Clip:
    """A real clip held in memory (clips here are small: <= ~200 frames at 854x480)."""

    name: str  # folder name, recorded in case.json
    frames: np.ndarray  # [T, H, W, 3] uint8 RGB
    masks: np.ndarray | None  # [T, H, W] uint8, 255 = foreground; None when the folder has no masks/
    fps: Fraction = Fraction(24)  # image folders carry no rate; DAVIS is shot at about 24


@dataclass(frozen=True)
class PerturbationRanges:
    """Uniform ranges the illumination perturbation draws from (per clip, constant over time)."""

    exposure_ev: tuple[float, float] = (-0.8, 0.6)  # stops; the model must undo both over- and under-exposure
    temperature: tuple[float, float] = (-0.15, 0.15)  # red up / blue down gain swing: warm or cool light
    tint: tuple[float, float] = (-0.06, 0.06)  # green gain swing: magenta or green cast
    gamma: tuple[float, float] = (0.8, 1.25)  # power on display values: midtones lifted or crushed
    contrast: tuple[float, float] = (0.8, 1.2)  # slope about mid-grey on display values
    gradient_strength: tuple[float, float] = (0.15, 0.45)  # light gained/lost from the lit to the shadow side
    gradient_colour: tuple[float, float] = (0.4, 1.0)  # per-channel weight of the directional light (its colour)


# ---------------------------------------------------------------------------------------------- clip folder

def clip_files(folder: Path) -> tuple[list[Path], list[Path] | None]:
    """The frame files and the mask files (one per frame, same stems), or None when there is no masks/."""
    if not folder.is_dir():
        raise InputError(f"clip folder {folder} does not exist; give a folder with frames/00000.jpg … (and masks/)")
    frames_dir, masks_dir = folder / "frames", folder / "masks"
    files = sorted(p for p in frames_dir.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS) if frames_dir.is_dir() else []
    if not files:
        raise InputError(f"{folder} has no frames/ folder of images; use the layout frames/00000.jpg, masks/00000.png")
    if not masks_dir.is_dir():
        return files, None
    by_stem = {p.stem: p for p in masks_dir.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS}
    if len(by_stem) != len(files):
        raise InputError(f"{folder}/masks has {len(by_stem)} images for {len(files)} frames; "
                         "give one mask per frame with the frame's name (or remove masks/)")
    missing = [p.name for p in files if p.stem not in by_stem]
    if missing:
        raise InputError(f"{folder} has no mask for frame {missing[0]}; masks/ needs one image per frame, same names")
    return files, [by_stem[p.stem] for p in files]


def load_clip(folder: str | Path, fps: Fraction = Fraction(24)) -> Clip:
    """Read a clip folder into a `Clip`; raises InputError for a missing/empty folder, frames of mixed sizes,
    or masks that do not match the frames in count, names or size."""
    folder = Path(folder)
    files, mask_files = clip_files(folder)
    frames = []
    for p in files:
        img = read_image(p, "frame")[..., :3]
        if frames and img.shape != frames[0].shape:
            raise InputError(f"frame {p.name} is {img.shape[1]}x{img.shape[0]}, frame {files[0].name} is "
                             f"{frames[0].shape[1]}x{frames[0].shape[0]}; all frames of a clip must have one size")
        frames.append(img)
    masks = None
    if mask_files is not None:
        masks = np.empty((len(files),) + frames[0].shape[:2], np.uint8)
        for i, m in enumerate(mask_files):
            mask = read_image(m, "mask")[..., 0]
            if mask.shape != frames[0].shape[:2]:
                raise InputError(f"mask {m.name} is {mask.shape[1]}x{mask.shape[0]}, its frame is "
                                 f"{frames[0].shape[1]}x{frames[0].shape[0]}; masks must match their frames")
            masks[i] = np.where(mask > 127, 255, 0)
    return Clip(folder.name, np.stack(frames), masks, fps)


def _masks(clip: Clip) -> np.ndarray:
    if clip.masks is None:
        raise InputError(f"clip {clip.name} has no masks/; restore cases need one foreground mask per frame "
                         "(masks/00000.png …, 255 = foreground)")
    return clip.masks


def _dilate(mask: np.ndarray, px: int) -> np.ndarray:
    if px <= 0:
        return mask
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1)))


# ---------------------------------------------------------------------------------------------- camera

def track_clip(clip: Clip, width: int = CAMERA_WIDTH) -> TrackResult:
    """The clip's camera as a `comp.track.TrackResult` (homographies, inliers, reliable), tracked at `width`
    px wide on the background outside the masks dilated by CAMERA_DILATE_PX."""
    masks = _masks(clip)
    h, w = clip.frames.shape[1:3]
    scale = min(1.0, width / w)
    size = (round(w * scale), round(h * scale))
    tracker = BackingTracker(scale)
    for frame, mask in zip(clip.frames, masks):
        small = frame if size == (w, h) else cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        fg = _dilate(mask, CAMERA_DILATE_PX)
        fg = fg if size == (w, h) else cv2.resize(fg, size, interpolation=cv2.INTER_NEAREST)
        tracker.update(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), cv2.bitwise_not(fg))
    return tracker.result((w, h))


def estimate_clip_camera(clip: Clip, width: int = CAMERA_WIDTH) -> np.ndarray:
    """`[N, 3, 3]` frame-0 → frame-t background homographies (full resolution), tracked outside the dilated masks."""
    return track_clip(clip, width).homographies


# ---------------------------------------------------------------------------------------------- green screen

def screen(width: int, height: int, markers: bool, seed: int = 0, margin: float = 1.0,
           colour: tuple[int, int, int] = SCREEN_GREEN) -> tuple[np.ndarray, np.ndarray]:
    """A screen `margin` frames larger on each side, gently uneven, optionally with tracking crosses in a more
    saturated shade of its colour; and the homography from it to frame 0 (its centre)."""
    W, H = int(width * (1 + 2 * margin)), int(height * (1 + 2 * margin))
    rng = np.random.default_rng(seed)
    shade = cv2.resize(rng.uniform(0.94, 1.04, (3, 4)).astype(np.float32), (W, H), interpolation=cv2.INTER_CUBIC)
    plate = np.asarray(colour, np.float32)[None, None] * shade[..., None]  # [H', W', 3]
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


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(x, (0, 0), sigma) if sigma > 0 else x


def _bbox(inside: np.ndarray, pad: int) -> tuple[slice, slice] | None:
    """Bounding box of the True pixels of `inside` [H, W], grown by `pad` px and clipped; None when empty."""
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    if len(rows) == 0:
        return None
    h, w = inside.shape
    return (slice(max(0, rows[0] - pad), min(h, rows[-1] + pad + 1)),
            slice(max(0, cols[0] - pad), min(w, cols[-1] + pad + 1)))


def green_screen(clip: Clip, path: np.ndarray, backing: str = "markers", seed: int = 0, spill: float = 0.4,
                 edge_softness: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """The clip's foreground over a green screen moving with the camera: frames `[T,H,W,3]` uint8, alpha `[T,H,W]`.

    alpha = the binary mask blurred by `edge_softness` px (a soft matte edge); where the soft edge reaches
    outside the mask, the foreground colour is extended outwards from inside (no original background in the
    halo). `spill` tints the foreground towards the screen in a band SPILL_BAND_PX wide inside its outline
    (1.0: the outermost pixels go about halfway). The screen (`screen()`, with crosses for `markers`, plain for
    `flat`) is fixed in the world: frame t sees it through `path[t]`. Mixing happens in linear light.
    """
    if backing not in BACKINGS:
        raise ValueError(f"backing must be one of {BACKINGS}, not {backing!r}")
    masks = _masks(clip)
    t_count, h, w = clip.frames.shape[:3]
    if len(path) != t_count:
        raise ValueError(f"camera path has {len(path)} frames, the clip {t_count}")
    plate, to0 = screen(w, h, backing == "markers", seed)
    green = SRGB_TO_LINEAR[list(SCREEN_GREEN)]  # [3] linear
    wide = 2 * edge_softness + 1  # sigma of the colour extension into the halo
    pad = int(np.ceil(4 * edge_softness + 4 * max(wide, SPILL_BAND_PX))) + 2  # reach of the blurs below
    out = np.empty_like(clip.frames)
    alphas = np.zeros((t_count, h, w), np.float32)
    for t in range(t_count):
        out[t] = cv2.warpPerspective(plate, path[t] @ to0, (w, h), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REFLECT)  # the screen seen by camera t
        box = _bbox(masks[t] > 0, pad)
        if box is None:
            continue
        m = masks[t][box].astype(np.float32) / 255.0  # [h', w'] binary, cropped around the foreground
        a = np.clip(_blur(m, edge_softness), 0.0, 1.0)
        a[a < 1e-3], a[a > 1 - 1e-3] = 0.0, 1.0
        fg = SRGB_TO_LINEAR[clip.frames[t][box]]  # [h', w', 3] linear
        if edge_softness > 0:  # colour for the soft halo outside the mask: a normalised blur of the inside
            ext = _blur(fg * m[..., None], wide) / np.maximum(_blur(m, wide), 1e-4)[..., None]
            fg = np.where(m[..., None] > 0, fg, ext)
        if spill > 0:  # screen light bouncing onto the subject, strongest at its edge
            band = np.clip(1.0 - _blur(a, SPILL_BAND_PX), 0, 1)[..., None] * (a[..., None] > 0)
            fg = fg + spill * 0.5 * band * (green - fg)
        a3 = a[..., None]
        out[t][box] = to_srgb(a3 * fg + (1 - a3) * SRGB_TO_LINEAR[out[t][box]])
        alphas[t][box] = a
    return out, alphas


# ---------------------------------------------------------------------------------------------- illumination

def _draw(rng: np.random.Generator, r: tuple[float, float]) -> float:
    return float(rng.uniform(*r))


def illumination_perturbation(frames: np.ndarray, alpha: np.ndarray, seed: int = 0,
                              ranges: PerturbationRanges = PerturbationRanges()) -> tuple[np.ndarray, dict]:
    """Relight the foreground of `frames` [T,H,W,3] uint8 (where `alpha` [T,H,W] > 0) with one random, seeded
    lighting change for the whole clip; returns (frames, params) with params JSON-ready.

    Per pixel, in this order: linear light × 2**exposure_ev × white-balance gains × a coloured directional
    gradient (gain 1 + strength · p · colour, p in [-1, 1] along `angle_deg` across the foreground's bounding
    box over the clip); then on display (sRGB) values: x**gamma, then (x - 0.5) · contrast + 0.5; the result is
    mixed back with the untouched frame by alpha in linear light, so the backing is left exactly as it was.
    """
    if frames.shape[:3] != alpha.shape:
        raise ValueError(f"alpha must be [T, H, W] = {frames.shape[:3]}, got {alpha.shape}")
    rng = np.random.default_rng(seed)
    ev = _draw(rng, ranges.exposure_ev)
    temp, tint = _draw(rng, ranges.temperature), _draw(rng, ranges.tint)
    wb = np.array([1 + temp, 1 + tint, 1 - temp], np.float32)
    gamma, contrast = _draw(rng, ranges.gamma), _draw(rng, ranges.contrast)
    angle = float(rng.uniform(0, 360))
    strength = _draw(rng, ranges.gradient_strength)
    colour = rng.uniform(*ranges.gradient_colour, 3).astype(np.float32)
    t_count, h, w = alpha.shape
    ys, xs = np.nonzero((alpha > 0.5).any(axis=0))
    if len(ys):
        x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    else:
        x0, x1, y0, y1 = 0, w - 1, 0, h - 1
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    d = np.array([np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))])
    half = max(1.0, 0.5 * (abs(d[0]) * (x1 - x0) + abs(d[1]) * (y1 - y0)))  # bbox half-extent along d
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    p = np.clip(((xx - cx) * d[0] + (yy - cy) * d[1]) / half, -1, 1)  # [H, W]
    gain = np.maximum(1 + strength * p[..., None] * colour, 0.05) * (2.0 ** ev) * wb  # [H, W, 3] linear gain
    out = frames.copy()
    for t in range(t_count):
        box = _bbox(alpha[t] > 0, 0)
        if box is None:
            continue
        a = alpha[t][box][..., None]  # [h', w', 1]
        lin = SRGB_TO_LINEAR[frames[t][box]]
        disp = to_srgb(lin * gain[box]).astype(np.float32) / 255.0  # display values after the linear-light changes
        disp = np.clip((disp ** gamma - 0.5) * contrast + 0.5, 0, 1)
        relit = SRGB_TO_LINEAR[np.round(disp * 255).astype(np.uint8)]
        out[t][box] = np.where(a > 0, to_srgb(a * relit + (1 - a) * lin), frames[t][box])
    params = {"seed": int(seed), "exposure_ev": ev, "white_balance_gains": [float(v) for v in wb],
              "gamma": gamma, "contrast": contrast,
              "gradient": {"angle_deg": angle, "strength": strength, "colour": [float(v) for v in colour],
                           "centre_xy": [float(cx), float(cy)], "half_length_px": float(half)},
              "ranges": {k: list(v) for k, v in asdict(ranges).items()}}
    return out, params


# ---------------------------------------------------------------------------------------------- references

def clean_plate(clip: Clip, path: np.ndarray, t: int, dilate_px: int,
                grown: list[np.ndarray | None] | None = None) -> tuple[np.ndarray, float]:
    """`clean_reference` and the share of the hole that had to be inpainted (recorded in case.json).

    `grown`: a per-frame cache of the masks dilated by `dilate_px` (filled as needed), shared between the
    references of one clip.
    """
    masks = _masks(clip)
    grown = [None] * len(masks) if grown is None else grown

    def dilated(s: int) -> np.ndarray:
        if grown[s] is None:
            grown[s] = _dilate(masks[s], dilate_px)
        return grown[s]

    h, w = clip.frames.shape[1:3]
    out = clip.frames[t].copy()
    hole = dilated(t) > 0  # [H, W] pixels to replace
    total = int(hole.sum())
    for s in sorted(range(len(clip.frames)), key=lambda s: (abs(s - t), s)):  # nearest in time first
        if s == t:
            continue
        if not hole.any():
            break
        m = path[t] @ np.linalg.inv(path[s])  # frame s → frame t
        free = cv2.bitwise_not(dilated(s))  # background of frame s
        seen = cv2.warpPerspective(free, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                   borderValue=0) >= 255  # fully inside frame s and its background
        take = hole & seen
        if not take.any():
            continue
        warped = cv2.warpPerspective(clip.frames[s], m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out[take] = warped[take]
        hole &= ~take
    left = int(hole.sum())
    if left:
        out = cv2.inpaint(out, hole.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)
    return out, left / max(1, total)


def clean_reference(clip: Clip, path: np.ndarray, t: int, dilate_px: int = 15) -> np.ndarray:
    """Frame t `[H,W,3]` without its foreground: the mask dilated by `dilate_px` is filled from the nearest
    frames (in time) that see that background, each warped into frame t's view by H[t] @ inv(H[s]) and used
    only where its own dilated mask is background; what none of them sees is inpainted (cv2 Telea)."""
    if not 0 <= t < len(clip.frames):
        raise ReferenceImageError(f"reference anchor {t} is outside the clip's 0..{len(clip.frames) - 1}; pick a frame in it")
    return clean_plate(clip, path, t, dilate_px)[0]
