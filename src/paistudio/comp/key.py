"""Chroma keying of green and blue screens, in linear light.

A camera mixes foreground F and screen B in linear light: P = a·F + (1 − a)·B. With the screen strength
S(x) = G − max(R, B) (for blue: B − max(R, G)), a foreground that is not screen-coloured has S(F) ≈ 0, so
S(P) ≈ (1 − a)·S(B) and a ≈ 1 − S(P)/S(B). `clip_black`/`clip_white` then snap near-screen pixels (uneven
lighting, tracking crosses in a more saturated green: S ≥ S(B)) to 0 and lightly spilled foreground to 1.

Alpha depends only on two sRGB codes per pixel (the screen channel and the max of the other two), so the
whole key is one 65,536-entry table, built once: split, max, pack the two codes into a uint16, one cv2.LUT
(about 2 ms at 1080p on one core). `refine_edges` then re-solves only the semi-transparent band.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import FormatError, InputError
from .blocks import box_means, enclosed
from .colour import SRGB_TO_LINEAR, Pixels, check_rgb

_CHANNEL = {"green": 1, "blue": 2}
_SQUARE5 = np.ones((5, 5), np.uint8)
_ONES = np.ones((1, 3), np.float32)  # cv2.transform with this sums the three channels (a dot product)
MAX_BOXED_COMPONENTS = 64  # clean_matte fixes up to this many components box by box, more in one frame-wide pass
LOCAL_SCALE = 4  # refine_edges averages the solid foreground colour on a 1/LOCAL_SCALE copy of the edge region


@dataclass(frozen=True)
class Backing:
    rgb: tuple[int, int, int]  # the screen's median colour (sRGB)
    kind: str  # "green" | "blue"

    def __post_init__(self):
        if self.kind not in _CHANNEL:
            raise InputError(f"backing kind must be 'green' or 'blue', got {self.kind!r}")
        if len(self.rgb) != 3 or not all(0 <= int(v) <= 255 for v in self.rgb):
            raise InputError(f"backing colour must be three sRGB codes 0..255, got {self.rgb!r}")

    @property
    def strength(self) -> float:
        """S(B) in linear light: how far the screen's channel stands above the other two."""
        lin = SRGB_TO_LINEAR[list(self.rgb)]
        c = _CHANNEL[self.kind]
        return float(lin[c] - np.delete(lin, c).max())


@dataclass(frozen=True)
class KeySettings:
    clip_black: float = 0.25  # raw alpha below this is screen: absorbs darker patches of an unevenly lit screen
    clip_white: float = 0.85  # raw alpha above this is solid: absorbs light spill on the foreground
    min_dominance: int = 40  # sRGB levels a channel must exceed the others by to count as screen in detection
    min_share: float = 0.12  # share of sampled pixels that must be screen for a screen to be detected
    max_spread: int = 45  # sRGB levels a screen pixel may differ from the screen's median (lighting falloff)
    edge_radius: int = 6  # px around a soft edge searched for solid foreground colour (0: no edge refinement)


def detect_backing(frames: np.ndarray, settings: KeySettings = KeySettings()) -> Backing | None:
    """Find a green or blue screen in sample frames `[T, H, W, 3]` (or one frame); None for plain footage."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim not in (3, 4) or frames.shape[-1] != 3 or frames.size == 0:
        raise FormatError(f"screen detection needs RGB uint8 frames [T, H, W, 3], got {frames.dtype} {frames.shape}")
    px = frames.reshape(-1, 3)
    if len(px) > 400_000:
        px = px[:: len(px) // 400_000]
    px = px.astype(np.int16)
    best = None
    for kind, c in _CHANNEL.items():
        others = np.delete(px, c, axis=1).max(axis=1)
        candidates = px[(px[:, c] - others) > settings.min_dominance]
        if len(candidates) == 0:
            continue
        median = np.median(candidates, axis=0)
        # a screen is one colour: count only pixels close to the candidates' median (colourful footage has
        # plenty of green pixels, but of many different greens)
        near = np.abs(candidates - median).max(axis=1) < settings.max_spread
        share = near.sum() / len(px)
        if share >= settings.min_share and (best is None or share > best[0]):
            best = (share, kind, candidates[near])
    if best is None:
        return None
    _, kind, screen = best
    return Backing(tuple(int(v) for v in np.median(screen, axis=0)), kind)


def _alpha_table(backing: Backing, settings: KeySettings) -> np.ndarray:
    """[65536] uint8: alpha for the uint16 that packs (screen code, others code) as a little/big-endian pair."""
    s_b = max(backing.strength, 1e-3)
    lo, hi = settings.clip_black, settings.clip_white
    strength = SRGB_TO_LINEAR[:, None] - SRGB_TO_LINEAR[None, :]  # [screen code, others code], linear
    raw = 1.0 - strength / s_b  # ≥ 1 where the pixel is not screen-coloured; ≤ 0 at (or beyond) the screen
    table = np.clip(np.round((raw - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8)  # [256, 256]
    # cv2.merge([others, screen]) viewed as uint16 has `others` in the low byte on little-endian machines
    return np.ascontiguousarray(table if sys.byteorder == "little" else table.T).reshape(-1)


class ChromaKeyer:
    """`alpha(frame)` → uint8 `[H, W]` (255 = foreground) for RGB uint8 frames."""

    def __init__(self, backing: Backing, settings: KeySettings = KeySettings()):
        if not 0.0 <= settings.clip_black < settings.clip_white <= 1.0:
            raise InputError(f"key clip_black/clip_white must satisfy 0 <= black < white <= 1, got "
                             f"{settings.clip_black}/{settings.clip_white}")
        self.backing, self.settings = backing, settings
        self._c = _CHANNEL[backing.kind]
        self._table = _alpha_table(backing, settings)

    def alpha(self, frame: np.ndarray) -> np.ndarray:
        r, g, b = cv2.split(check_rgb(frame))  # 3 × [H, W]
        screen, others = (g, cv2.max(r, b)) if self._c == 1 else (b, cv2.max(r, g))
        packed = cv2.merge([others, screen]).view(np.uint16)[..., 0]  # [H, W] uint16 pairs of codes
        alpha = _lut16(packed, self._table)  # [H, W] uint8
        if self.settings.edge_radius > 0:
            alpha = refine_edges(frame, alpha, self.backing, self.settings.edge_radius)
        return alpha


def _lut16(packed: np.ndarray, table: np.ndarray) -> np.ndarray:
    """cv2.LUT with a 65,536-entry table, as OpenCV 5 allows; numpy's gather (4x slower) where a build refuses."""
    try:
        return cv2.LUT(packed, table)
    except cv2.error:
        return table[packed]


def refine_edges(frame: np.ndarray, alpha: np.ndarray, backing: Backing, radius: int) -> np.ndarray:
    """Re-estimate alpha of the semi-transparent pixels from the local foreground colour.

    The screen-strength key assumes the foreground has no screen component; a warm subject (S(F) < 0) makes
    its mid-alpha edge pixels look too opaque. Here F is the mean colour of the solid core (2 px inside the
    edge) within about `radius` px (a box filter on a 1/LOCAL_SCALE copy, sampled bilinearly at the edge
    pixels), B the screen colour, and alpha the projection of P − B on F − B in linear light: the two-colour
    model P = a·F + (1 − a)·B solved in least squares. Pixels with no solid neighbour, or whose F is too close
    to B to tell apart, keep the key's value. Only the edge region's box and the band's pixels are touched.
    """
    semi = cv2.inRange(alpha, 1, 254)
    x, y, w, h = cv2.boundingRect(semi)
    if w == 0:
        return alpha
    (x0, x1), (y0, y1) = (_span(x, w, radius + 4, alpha.shape[1]), _span(y, h, radius + 4, alpha.shape[0]))
    # the key's clip thresholds snap light edges to 0 and dense ones to 255: re-estimate a 2 px wider band
    px = Pixels.of(cv2.dilate(semi[y0:y1, x0:x1], _SQUARE5), (x0, y0), alpha.shape[1])  # the band's pixels
    core = cv2.erode(cv2.inRange(alpha[y0:y1, x0:x1], 255, 255), _SQUARE5)  # solid, 2 px inside the edge
    bh, bw = core.shape
    solid = cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_RGB2RGBA)  # [bh, bw, 4], alpha channel 255 …
    solid = cv2.bitwise_and(solid, solid, mask=core)  # … so this holds colour·core and core itself
    small = box_means(solid, LOCAL_SCALE).astype(np.float32)  # [sh, sw, 4] 4x4 means
    sh, sw = small.shape[:2]
    k = max(3, 2 * round((2 * radius + 3) / LOCAL_SCALE / 2 - 0.5) + 1)  # odd, spans about 2·radius + 3 px
    small = cv2.blur(small, (k, k))  # local means of colour·core and of core (×255)
    # on the small grid: v = (F − B) / |F − B|², zeroed where F is unknown or too close to B (weight u = 0)
    den = cv2.extractChannel(small, 3)
    inv = cv2.divide(255.0, cv2.max(den, 1.0))
    code = cv2.convertScaleAbs(cv2.multiply(cv2.cvtColor(small, cv2.COLOR_RGBA2RGB), cv2.merge([inv] * 3)))  # F
    b = tuple(float(c) for c in SRGB_TO_LINEAR[list(backing.rgb)]) + (0.0,)
    d = cv2.subtract(cv2.LUT(code, SRGB_TO_LINEAR), b)  # [sh, sw, 3] F − B, linear
    dd = cv2.transform(cv2.multiply(d, d), _ONES)  # [sh, sw] |F − B|²
    u = ((den > 0.02 * 255) & (dd > 0.01)).astype(np.float32)  # a solid neighbour, and F tells from B
    scale = cv2.divide(u, cv2.max(dd, 1e-6))  # u / |F − B|²
    v = cv2.merge([*cv2.split(cv2.multiply(d, cv2.merge([scale] * 3))), u])  # [sh, sw, 4] v·u and u
    # at the band's pixels (a compact grid [rows, C], see colour.Pixels): bilinear v·u and u, then a = (P − B)·v
    v = cv2.remap(v, ((px.xs + 0.5) * (sw / bw) - 0.5).astype(np.float32),
                  ((px.ys + 0.5) * (sh / bh) - 0.5).astype(np.float32), cv2.INTER_LINEAR,
                  borderMode=cv2.BORDER_REPLICATE)  # [rows, C, 4]
    weight = cv2.extractChannel(v, 3)
    p = cv2.subtract(cv2.LUT(px.take(frame), SRGB_TO_LINEAR), b)  # [rows, C, 3] P − B, linear
    a = cv2.transform(cv2.multiply(p, cv2.cvtColor(v, cv2.COLOR_RGBA2RGB)), _ONES)  # (P − B)·v·u
    a = cv2.divide(a, cv2.max(weight, 1e-6))  # normalised interpolation: cells without F do not count
    new = cv2.convertScaleAbs(cv2.max(a, 0.0), alpha=255.0)  # [rows, C] uint8
    out = alpha.copy()
    px.put(out, np.where(weight > 0.01, new, px.take(alpha)))  # keep the key's value where F is unknown
    return out


def _span(start: int, length: int, margin: int, limit: int) -> tuple[int, int]:
    """[start − margin, start + length + margin) clipped to the frame, grown to a multiple of LOCAL_SCALE when
    it fits (so that `box_means`'s halvings are exact box means)."""
    lo, hi = max(0, start - margin), min(limit, start + length + margin)
    grow = -(hi - lo) % LOCAL_SCALE
    up = min(grow, limit - hi)
    return max(0, lo - (grow - up)), hi + up


def clean_matte(alpha: np.ndarray, min_area_frac: float = 2e-4, factor: int = 4,
                fill_holes: bool = False) -> np.ndarray:
    """Drop small isolated specks of foreground (and, with `fill_holes`, fill small enclosed holes).

    Components are found on a 1/`factor` copy (fast); a component smaller than `min_area_frac` of the frame
    is removed (specks) or filled (holes), touching only that component's box at full size. Holes are off by
    default for keyed mattes: a small gap where the screen shows through (between fingers, arm and body) is
    real. Soft edges stay as they are. Returns `alpha` itself when there is nothing to change.
    """
    if not isinstance(alpha, np.ndarray) or alpha.dtype != np.uint8 or alpha.ndim != 2:
        raise FormatError(f"matte must be uint8 [H, W], got {getattr(alpha, 'dtype', type(alpha))} "
                          f"{getattr(alpha, 'shape', '')}; convert it to 0..255 single-channel")
    h, w = alpha.shape
    padded = cv2.copyMakeBorder(alpha, 0, -h % factor, 0, -w % factor, cv2.BORDER_CONSTANT, value=0)
    small = box_means(padded, factor)  # [⌈h/f⌉, ⌈w/f⌉] whole blocks: exact means
    limit = max(4, int(min_area_frac * small.size))  # at least a 2x2 low-res blob (8x8 px at full size)
    if small.size <= 4 * limit:
        return alpha  # a frame this small is all "speck": nothing to tell apart
    fixed = alpha
    passes = [(0, cv2.inRange(small, 17, 255))] + ([(255, cv2.inRange(small, 0, 239))] if fill_holes else [])
    for value, binary in passes:
        _, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
        tiny = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] <= limit) + 1
        if value == 255:
            tiny = enclosed(stats, tiny, small.shape)
        if len(tiny) == 0:
            continue
        fixed = alpha.copy() if fixed is alpha else fixed
        if len(tiny) > MAX_BOXED_COMPONENTS:  # a noisy matte: one frame-wide pass beats many small ones
            _paint(fixed, np.isin(labels, tiny), 0, 0, factor, value)
            continue
        for i in tiny:
            bx, by, bw, bh = (int(v) for v in stats[i, :4])
            _paint(fixed, labels[by:by + bh, bx:bx + bw] == i, bx, by, factor, value)
    return fixed


def _paint(alpha: np.ndarray, region: np.ndarray, bx: int, by: int, factor: int, value: int) -> None:
    """Set `value` where a low-res `region` (at low-res `bx, by`) falls at full size, grown by factor/2 px."""
    h, w = alpha.shape
    up = cv2.resize(region.astype(np.uint8), (region.shape[1] * factor, region.shape[0] * factor),
                    interpolation=cv2.INTER_NEAREST)
    up = cv2.dilate(cv2.copyMakeBorder(up, factor, factor, factor, factor, cv2.BORDER_CONSTANT, value=0),
                    np.ones((factor + 1, factor + 1), np.uint8))  # [bh·f + 2f, bw·f + 2f]
    x0, y0 = bx * factor - factor, by * factor - factor  # full-size position of `up`
    cx0, cy0 = max(0, x0), max(0, y0)
    cx1, cy1 = min(w, x0 + up.shape[1]), min(h, y0 + up.shape[0])
    alpha[cy0:cy1, cx0:cx1][up[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0] > 0] = value
