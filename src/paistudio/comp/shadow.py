"""Contact shadow: a soft darkening of the plate where the subject meets the floor (optional, off by default).

A documented heuristic, not a light simulation. The subject's base is the lowest band (`BASE_SHARE` of its
height) of its matte; its width and the lowest matte row give a flat ellipse centred on the contact line,
`HEIGHT_SHARE` of the subject's height tall and `WIDTH_GROW` times the base wide, blurred to a soft falloff.
The plate is multiplied, in linear light, by 1 − strength × shadow. "The plate has a floor" is assumed when the
subject stands on something inside the frame: its base must be above the frame's bottom edge (a subject cut by
the frame has no visible contact) and in the lower two thirds of the frame (a flying or hanging subject near
the top gets no shadow). Everything outside the shadow's box is left bit-exact.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import InputError
from .colour import check_alpha, check_rgb, to_linear, to_srgb

BASE_SHARE = 0.08  # the subject's base: this share of its height, counted from its lowest matte row
HEIGHT_SHARE = 0.05  # shadow ellipse height (semi-axis) as a share of the subject's height
WIDTH_GROW = 0.65  # shadow semi-axis along x as a multiple of the base's width
MIN_HEIGHT_PX = 24  # smaller subjects get no shadow (too few pixels to place one)


def shadow_mask(alpha: np.ndarray) -> tuple[np.ndarray, tuple[slice, slice]] | None:
    """The shadow's strength map `[h, w]` float32 in [0, 1] and its box in the frame, or None (no floor contact)."""
    h_img, w_img = alpha.shape
    x, y, w, h = cv2.boundingRect(cv2.inRange(alpha, 128, 255))
    if h < MIN_HEIGHT_PX or y + h >= h_img - 1 or y + h < h_img / 3:
        return None
    band = max(2, int(round(h * BASE_SHARE)))
    base = cv2.inRange(alpha[y + h - band:y + h, x:x + w], 128, 255)
    cols = np.flatnonzero(base.any(axis=0))
    if len(cols) == 0:
        return None
    cx, cy = x + (cols[0] + cols[-1]) / 2.0, float(y + h - 1)
    ax = max(3.0, WIDTH_GROW * (cols[-1] - cols[0] + 1))
    ay = max(2.0, HEIGHT_SHARE * h)
    soft = ay  # Gaussian sigma of the falloff
    grow = int(3 * soft)
    x0, x1 = max(0, int(cx - ax) - grow), min(w_img, int(cx + ax) + grow + 1)
    y0, y1 = max(0, int(cy - ay) - grow), min(h_img, int(cy + ay) + grow + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    shape = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.ellipse(shape, (round(cx - x0), round(cy - y0)), (round(ax), round(ay)), 0, 0, 360, 1.0, -1)
    shape = cv2.GaussianBlur(shape, (0, 0), soft)
    peak = float(shape.max())
    if peak <= 0:
        return None
    return shape / peak, (slice(y0, y1), slice(x0, x1))


def contact_shadow(plate: np.ndarray, alpha: np.ndarray, strength: float, inplace: bool = False) -> np.ndarray:
    """`plate` (uint8 RGB, the frame's size) darkened under the subject's base; `plate` itself when there is no
    shadow, or when `inplace` (then the shadow is written into it: the render pass shades its output frame)."""
    check_rgb(plate, "plate")
    check_alpha(alpha, plate.shape)
    if not 0.0 <= strength <= 1.0:
        raise InputError(f"contact shadow strength must be 0..1, got {strength}")
    if strength == 0.0:
        return plate
    found = shadow_mask(alpha)
    if found is None:
        return plate
    shape, box = found
    out = plate if inplace else plate.copy()
    gain = 1.0 - strength * shape  # [h, w]
    out[box] = to_srgb(to_linear(plate[box]) * gain[..., None])
    return out
