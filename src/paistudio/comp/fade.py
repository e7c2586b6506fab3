"""Fades and exposure dips in keyed footage: the screen's brightness per frame, taken out before keying and put back
on the composite.

A fade from black (an export with a fade, a camera's exposure pulled down) scales the whole picture in linear light
by g(t) < 1: the screen then looks darker than the backing colour the keyer knows, and a dark screen is not keyed
out (at g below about 0.75 it becomes a dark green veil over the new background). A green or blue screen is a known
colour, so g(t) can be measured on it: the median of S(P)/S(B) over the pixels whose chromaticity is the
screen's (S: how far the screen channel stands above the other two, in linear light; brightness scales S, not the
chromaticity). A fade is a ramp: a measurement far from the previous frame's (one odd frame, a close-up on green
clothes) is not taken. The analysis pass decides each frame's gain as it streams; the render pass applies the same
gains. Frames with g below FADE_BELOW are divided by g before keying, so every stage sees the screen at its level,
and the composite is multiplied by g again: the fade comes out as it went in, over the new background too.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

from .colour import LINEAR16_TO_SRGB, SRGB_TO_LINEAR
from .key import Backing

FADE_BELOW = 0.85  # a screen at less than this share of its level is a fade (keys absorb smaller dips)
DARKEST = 0.1  # below this share the frame is all but black: dividing would only amplify noise, it is left as it is
CHROMA_TOLERANCE = 0.08  # a pixel is screen when its linear chromaticity (r, g, b)/(r + g + b) is this close to the
#                          backing's in every channel
MIN_SCREEN_SHARE = 0.15  # share of the frame that must look like screen for a measurement
MAX_STEP = 0.2  # a measurement this far from the previous frame's is an odd frame, not a fade (a 10-frame fade
#                 from black steps by 0.1)
GAIN_STEP = 1 / 256  # gains are rounded to this step (one lookup table per step)
MEASURE_WIDTH = 96  # the gain is a median over the screen: a small copy of the frame measures it as well


def screen_gain(rgb: np.ndarray, backing: Backing) -> float | None:
    """The screen's brightness in frame `rgb` (RGB uint8, any size; measured on a copy at most MEASURE_WIDTH wide)
    as a share of the backing's; None when too little of the frame shows the screen's hue to tell (a black frame,
    a close-up)."""
    h, w = rgb.shape[:2]
    if w > MEASURE_WIDTH:
        rgb = cv2.resize(rgb, (MEASURE_WIDTH, max(1, round(h * MEASURE_WIDTH / w))), interpolation=cv2.INTER_AREA)
    planes = cv2.split(cv2.LUT(np.ascontiguousarray(rgb), SRGB_TO_LINEAR))  # 3 x [h, w] linear
    c = 1 if backing.kind == "green" else 2
    b = SRGB_TO_LINEAR[list(backing.rgb)].astype(np.float64)
    s_b = float(b[c] - np.delete(b, c).max())
    if s_b <= 1e-3:
        return None
    total = planes[0] + planes[1] + planes[2]  # [h, w]
    inv = 1.0 / np.maximum(total, 1e-6)
    off = np.zeros_like(total)  # largest chromaticity difference from the backing's, over the three channels
    for plane, want in zip(planes, b / b.sum()):
        np.maximum(off, np.abs(plane * inv - np.float32(want)), out=off)
    screen = (off < CHROMA_TOLERANCE) & (total > 0.005)
    if np.count_nonzero(screen) < MIN_SCREEN_SHARE * screen.size:
        return None
    strength = planes[c] - np.maximum(planes[(c + 1) % 3], planes[(c + 2) % 3])  # [h, w] S(P)
    return float(np.median(strength[screen])) / s_b


class FadeFollower:
    """The gain to apply to each frame in turn, decided as the analysis pass streams: the frame's own measurement,
    unless it jumps more than MAX_STEP from the previous frame's (a fade is a ramp; one odd frame, a close-up on
    green clothes, is not). 1 where the screen is at its level, unmeasured, or the frame all but black; else the
    measurement rounded to GAIN_STEP."""

    def __init__(self):
        self._last: float | None = None

    def follow(self, measured: float | None) -> float:
        last, self._last = self._last, measured
        if measured is None or (last is not None and abs(measured - last) > MAX_STEP):
            return 1.0
        return round(measured / GAIN_STEP) * GAIN_STEP if DARKEST <= measured < FADE_BELOW else 1.0


@cache
def _gain_table(gain: float) -> np.ndarray:
    """[256] uint8: sRGB code -> the code of its linear light times `gain` (clipped at white)."""
    lin = np.clip(SRGB_TO_LINEAR.astype(np.float64) * gain, 0.0, 1.0)
    return LINEAR16_TO_SRGB[np.round(lin * 65535).astype(np.int64)]


def apply_gain(frame: np.ndarray, gain: float) -> np.ndarray:
    """`frame` (RGB or RGBA uint8; alpha kept) with its colour scaled by `gain` in linear light, in place."""
    table = _gain_table(float(gain))
    if frame.ndim == 3 and frame.shape[-1] == 4:
        frame[..., :3] = cv2.LUT(np.ascontiguousarray(frame[..., :3]), table)
    else:
        cv2.LUT(frame, table, dst=frame)
    return frame
