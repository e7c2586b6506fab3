"""Edges and the composite, in linear light.

`unmix_foreground` removes the screen from semi-transparent edge pixels (F = (P − (1 − a)·B) / a) and limits
spill (G ≤ max(R, B) on a green screen) in a thin band around the matte edge; every other pixel is returned
bit-exact, so the opaque interior of the foreground is never touched here. `composite` blends straight
foreground over the plate with premultiplied alpha in linear light, computing floats only on the
semi-transparent pixels (elsewhere the result is a plain copy of the foreground or the plate).
"""

from __future__ import annotations

import cv2
import numpy as np

from .colour import SRGB_TO_LINEAR, to_srgb
from .key import _CHANNEL, Backing

MIN_UNMIX_ALPHA = 0.1  # below this the unmixed colour is noise: keep the despilled pixel instead


def _pixels(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pts = cv2.findNonZero(mask)
    if pts is None:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    pts = pts.reshape(-1, 2)
    return pts[:, 1], pts[:, 0]


def edge_band(alpha: np.ndarray, band_px: int) -> np.ndarray:
    """uint8 mask: semi-transparent pixels plus opaque ones within `band_px` of them."""
    semi = cv2.inRange(alpha, 1, 254)
    if band_px > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band_px + 1, 2 * band_px + 1))
        semi = cv2.bitwise_and(cv2.dilate(semi, k), cv2.inRange(alpha, 1, 255))
    return semi


def unmix_foreground(frame: np.ndarray, alpha: np.ndarray, backing: Backing | None, band_px: int = 3) -> np.ndarray:
    """Foreground colour with the screen removed at the edges; a copy, bit-exact outside the edge band."""
    if backing is None:
        return frame
    ys, xs = _pixels(edge_band(alpha, band_px))
    if len(ys) == 0:
        return frame
    p = SRGB_TO_LINEAR[frame[ys, xs]]  # [N, 3] linear
    a = alpha[ys, xs].astype(np.float32)[:, None] / 255.0
    b = SRGB_TO_LINEAR[list(backing.rgb)][None, :]
    f = (p - (1.0 - a) * b) / np.maximum(a, MIN_UNMIX_ALPHA)
    f = np.where(a >= MIN_UNMIX_ALPHA, np.clip(f, 0.0, 1.0), p)
    c = _CHANNEL[backing.kind]
    others = np.delete(f, c, axis=1).max(axis=1)
    f[:, c] = np.minimum(f[:, c], others)  # spill limit
    out = frame.copy()
    out[ys, xs] = to_srgb(f)
    return out


def composite(fg: np.ndarray, alpha: np.ndarray, plate: np.ndarray) -> np.ndarray:
    """a·F + (1 − a)·P in linear light (premultiplied-alpha over); exact copies where a is 0 or 1."""
    out = plate.copy()
    cv2.copyTo(fg, cv2.inRange(alpha, 255, 255), out)
    ys, xs = _pixels(cv2.inRange(alpha, 1, 254))
    if len(ys):
        a = alpha[ys, xs].astype(np.float32)[:, None] / 255.0
        mixed = a * SRGB_TO_LINEAR[fg[ys, xs]] + (1.0 - a) * SRGB_TO_LINEAR[plate[ys, xs]]
        out[ys, xs] = to_srgb(mixed)
    return out


def foreground_layer(fg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Straight-alpha RGBA `[H, W, 4]` of the (unmixed) foreground, for `--layers`."""
    return np.dstack([fg, alpha])
