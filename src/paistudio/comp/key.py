"""Chroma keying of green and blue screens, in linear light.

A camera mixes foreground F and screen B in linear light: P = a·F + (1 − a)·B. With the screen strength
S(x) = G − max(R, B) (for blue: B − max(R, G)), a foreground that is not screen-coloured has S(F) ≈ 0, so
S(P) ≈ (1 − a)·S(B) and a ≈ 1 − S(P)/S(B). `clip_black`/`clip_white` then snap near-screen pixels (uneven
lighting, tracking crosses in a more saturated green) to 0 and lightly spilled foreground to 1. Everything
runs as saturating 16-bit OpenCV operations plus one scale-and-clip: a few milliseconds at 1080p.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .colour import SRGB_TO_LINEAR, SRGB_TO_LINEAR16

_CHANNEL = {"green": 1, "blue": 2}


@dataclass(frozen=True)
class Backing:
    rgb: tuple[int, int, int]  # the screen's median colour (sRGB)
    kind: str  # "green" | "blue"

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
    """Find a green or blue screen in sample frames `[T, H, W, 3]`; None for plain footage."""
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


class ChromaKeyer:
    """`alpha(frame)` → uint8 `[H, W]` (255 = foreground) for RGB uint8 frames."""

    def __init__(self, backing: Backing, settings: KeySettings = KeySettings()):
        self.backing, self.settings = backing, settings
        self._c = _CHANNEL[backing.kind]
        s_b = max(backing.strength, 1e-3) * 65535.0
        lo, hi = settings.clip_black, settings.clip_white
        # alpha' = clip((1 − S/S_b − lo) / (hi − lo)); linear in S, so one convertScaleAbs once S ≤ S at alpha' = 0
        self._s_zero = int(min(65535, s_b * (1.0 - lo)))
        self._scale = -255.0 / (s_b * (hi - lo))
        self._offset = 255.0 * (1.0 - lo) / (hi - lo)

    def alpha(self, frame: np.ndarray) -> np.ndarray:
        r, g, b = cv2.split(frame)
        # max() commutes with the (monotonic) sRGB→linear table, so only two channels need converting
        screen, others = (g, cv2.max(r, b)) if self._c == 1 else (b, cv2.max(r, g))
        strength = cv2.subtract(cv2.LUT(screen, SRGB_TO_LINEAR16), cv2.LUT(others, SRGB_TO_LINEAR16))  # S ≥ 0
        strength = cv2.min(strength, self._s_zero)
        alpha = cv2.convertScaleAbs(strength, alpha=self._scale, beta=self._offset)
        if self.settings.edge_radius > 0:
            alpha = refine_edges(frame, alpha, self.backing, self.settings.edge_radius)
        return alpha


def refine_edges(frame: np.ndarray, alpha: np.ndarray, backing: Backing, radius: int) -> np.ndarray:
    """Re-estimate alpha of the semi-transparent pixels from the local foreground colour.

    The screen-strength key assumes the foreground has no screen component; a warm subject (S(F) < 0) makes
    its mid-alpha edge pixels look too opaque. Here F is the mean colour of the solid core (2 px inside the
    edge) within `radius` (a box filter), B the screen colour, and alpha the projection of P − B on F − B
    in linear light: the two-colour model P = a·F + (1 − a)·B solved in least squares. Pixels with no solid neighbour, or
    whose F is too close to B to tell apart, keep the key's value.
    """
    semi = cv2.inRange(alpha, 1, 254)
    if not semi.any():
        return alpha
    # the key's clip thresholds snap light edges to 0 and dense ones to 255: re-estimate a 2 px wider band
    band = cv2.dilate(semi, np.ones((5, 5), np.uint8))
    pts = cv2.findNonZero(band)
    if pts is None:
        return alpha
    x, y, w, h = cv2.boundingRect(pts)
    x0, y0 = max(0, x - radius), max(0, y - radius)
    x1, y1 = min(alpha.shape[1], x + w + radius), min(alpha.shape[0], y + h + radius)
    core = cv2.erode((alpha[y0:y1, x0:x1] == 255).astype(np.uint8), np.ones((5, 5), np.uint8))
    solid_rgb = cv2.bitwise_and(frame[y0:y1, x0:x1], frame[y0:y1, x0:x1], mask=core)  # solid core, 2 px inside the edge
    k = (2 * radius + 3, 2 * radius + 3)
    num = cv2.boxFilter(solid_rgb, cv2.CV_32F, k, normalize=False)  # [h, w, 3] sums of sRGB codes
    den = cv2.boxFilter(core, cv2.CV_32F, k, normalize=False)
    pts = pts.reshape(-1, 2)
    xs, ys = pts[:, 0], pts[:, 1]
    cx, cy = xs - x0, ys - y0
    have = den[cy, cx] > 0.5
    mean_code = np.clip(np.round(num[cy, cx] / np.maximum(den[cy, cx], 1.0)[:, None]), 0, 255).astype(np.uint8)
    fg = SRGB_TO_LINEAR[mean_code]  # local foreground colour, linear (averaged in sRGB: close enough here)
    b = SRGB_TO_LINEAR[list(backing.rgb)][None, :]
    d = fg - b
    dd = (d * d).sum(1)
    usable = have & (dd > 0.01)
    a = ((SRGB_TO_LINEAR[frame[ys, xs]] - b) * d).sum(1) / np.maximum(dd, 1e-6)
    out = alpha.copy()
    out[ys[usable], xs[usable]] = np.clip(np.round(a[usable] * 255), 0, 255).astype(np.uint8)
    return out


def clean_matte(alpha: np.ndarray, min_area_frac: float = 2e-4, factor: int = 4,
                fill_holes: bool = False) -> np.ndarray:
    """Drop small isolated specks of foreground (and, with `fill_holes`, fill small enclosed holes).

    Components are found on a 1/`factor` copy (fast); a component smaller than `min_area_frac` of the frame
    is removed (specks) or filled (holes). Holes are off by default for keyed mattes: a small gap where the
    screen shows through (between fingers, arm and body) is real. Soft edges stay as they are.
    Returns `alpha` itself when there is nothing to change.
    """
    h, w = alpha.shape
    small = cv2.resize(alpha, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    limit = max(4, int(min_area_frac * small.size))  # at least a 2x2 low-res blob (8x8 px at full size)
    fixed = alpha
    passes = [(0, small > 16)] + ([(255, small < 240)] if fill_holes else [])
    for value, binary in passes:
        n, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
        if n <= 1:
            continue
        areas = stats[1:, cv2.CC_STAT_AREA]
        tiny = np.flatnonzero(areas <= limit) + 1
        if value == 255:  # a hole is a non-foreground component that does not touch the border
            x, y, bw, bh = (stats[tiny, i] for i in range(4))
            tiny = tiny[(x > 0) & (y > 0) & (x + bw < small.shape[1]) & (y + bh < small.shape[0])]
        if len(tiny) == 0:
            continue
        region = np.isin(labels, tiny).astype(np.uint8) * 255
        region = cv2.dilate(cv2.resize(region, (w, h), interpolation=cv2.INTER_NEAREST),
                            np.ones((factor + 1, factor + 1), np.uint8))
        if fixed is alpha:
            fixed = alpha.copy()
        fixed[region > 0] = value
    return fixed
