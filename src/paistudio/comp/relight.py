"""First relighting pass: match the foreground's exposure and white balance to the plate around it.

Per frame, the analysis pass measures the mean linear colour of the solid foreground; here it is paired with
the plate's mean colour in a ring around the foreground. Under a grey-world assumption the difference in
chromaticity is the difference in light colour, and the difference in luminance the exposure offset; a part
(`strength`) of each is undone, exposure limited to ±`max_stops`, and the per-frame gains are smoothed over
time (Gaussian, in log space) so the light never flickers. Gains are applied with one cv2.LUT per frame.
A deeper relighting (directional light, shading) replaces this stage behind the same two calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .colour import gain_lut, luminance

RING = 0.35  # the ring around the foreground's box extends this share of the box size on each side
EPS = 1e-4


@dataclass
class LightSample:
    fg: np.ndarray  # [3] mean linear RGB of the solid foreground
    plate: np.ndarray  # [3] mean linear RGB of the plate around it

    @classmethod
    def from_plate_region(cls, fg_mean: np.ndarray, plate_small: np.ndarray, box) -> "LightSample":
        """Pair a foreground mean with the plate's mean in a ring around `box` (x0, y0, x1, y1 at plate scale)."""
        from .colour import SRGB_TO_LINEAR
        h, w = plate_small.shape[:2]
        x0, y0, x1, y1 = (int(v) for v in box)
        if x1 <= x0 or y1 <= y0:
            region = plate_small
        else:
            mx, my = int((x1 - x0) * RING) + 2, int((y1 - y0) * RING) + 2
            region = plate_small[max(0, y0 - my):min(h, y1 + my), max(0, x0 - mx):min(w, x1 + mx)]
            if region.size == 0:
                region = plate_small
        mean = SRGB_TO_LINEAR[region.reshape(-1, 3)].mean(axis=0)
        return cls(np.asarray(fg_mean, np.float64), mean.astype(np.float64))


def frame_gains(s: LightSample, strength: float, max_stops: float, max_tint: float = 0.15) -> np.ndarray:
    """Linear per-channel gains for one frame: partial white-balance and exposure match."""
    fg, plate = np.maximum(s.fg, EPS), np.maximum(s.plate, EPS)
    fg_y, plate_y = max(float(luminance(fg)), EPS), max(float(luminance(plate)), EPS)
    wb = ((plate / plate_y) / (fg / fg_y)) ** strength
    wb = np.clip(wb, 1 - max_tint, 1 + max_tint)  # grey-world is a guess: never more than a tint
    wb /= float(luminance(wb * fg / fg_y))  # white balance keeps the foreground's luminance
    stops = np.clip(strength * np.log2(plate_y / fg_y), -max_stops, max_stops)
    return wb * 2.0 ** stops


def plan_gains(samples: list[LightSample | None], strength: float = 0.35, sigma_frames: float = 6.0,
               max_stops: float = 0.5, max_tint: float = 0.15) -> np.ndarray:
    """Gains `[N, 3]` for every frame; frames without foreground are interpolated, all ones if none has any.

    `max_tint` caps the per-channel white-balance change: grey-world is a guess, and a colourful plate
    (a meadow, a sunset) must tint the subject, never paint it.
    """
    n = len(samples)
    logs = np.full((n, 3), np.nan)
    for t, s in enumerate(samples):
        if s is not None:
            logs[t] = np.log(frame_gains(s, strength, max_stops, max_tint))
    have = np.isfinite(logs[:, 0])
    if not have.any():
        return np.ones((n, 3), np.float32)
    idx = np.arange(n)
    for c in range(3):
        logs[:, c] = np.interp(idx, idx[have], logs[have, c])
    if sigma_frames > 0 and n > 1:
        radius = int(3 * sigma_frames)
        kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
        kernel /= kernel.sum()
        padded = np.pad(logs, ((radius, radius), (0, 0)), mode="edge")
        logs = np.stack([np.convolve(padded[:, c], kernel, mode="valid") for c in range(3)], axis=1)
    return np.exp(logs).astype(np.float32)


def apply_gains(fg: np.ndarray, gains) -> np.ndarray:
    """RGB uint8 with linear per-channel gains applied (one table lookup); unchanged for unit gains."""
    if np.allclose(gains, 1.0, atol=5e-4):
        return fg
    return cv2.LUT(fg, gain_lut(gains))
