"""First relighting pass: match the foreground's exposure and white balance to the plate around it.

Per frame, the analysis pass measures (`measure`, on low-res frames) the mean linear colour of the solid
foreground and of the plate in a ring around it. Under a grey-world assumption the difference in chromaticity
is the difference in light colour, and the difference in luminance the exposure offset; a part (`strength`)
of each is undone, exposure limited to ±`max_stops`, and the per-frame gains are smoothed over time
(Gaussian, in log space) so the light never flickers (`plan_gains`). Gains are applied per frame with three
single-channel cv2.LUTs (`apply_gains`). A deeper relighting (directional light, shading) replaces this stage
behind the same `Relighter` interface: `plan(samples)` once, `apply(fg, t)` per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import FormatError, InputError
from .colour import SRGB_TO_LINEAR, check_alpha, check_rgb, gain_tables, is_identity, luminance

RING = 0.35  # the ring around the foreground's box extends this share of the box size on each side
OPAQUE = 230  # alpha above which a pixel is solid foreground for the colour statistics (≈ 0.9)
EPS = 1e-4


@dataclass
class LightSample:
    fg: np.ndarray  # [3] mean linear RGB of the solid foreground
    plate: np.ndarray  # [3] mean linear RGB of the plate around it

    @classmethod
    def from_plate_region(cls, fg_mean: np.ndarray, plate_small: np.ndarray, box, fg_mask=None) -> "LightSample":
        """Pair a foreground mean with the plate's mean in a ring around `box` (x0, y0, x1, y1 at plate scale).

        `fg_mask` (uint8, plate size) excludes the foreground's own area from the ring when given; an empty
        ring or box falls back to the whole plate.
        """
        h, w = plate_small.shape[:2]
        x0, y0, x1, y1 = (int(v) for v in box)
        ring = np.zeros((h, w), np.uint8)
        if x1 > x0 and y1 > y0:
            mx, my = int((x1 - x0) * RING) + 2, int((y1 - y0) * RING) + 2
            ring[max(0, y0 - my):min(h, y1 + my), max(0, x0 - mx):min(w, x1 + mx)] = 255
            if fg_mask is not None:
                ring = cv2.bitwise_and(ring, cv2.bitwise_not(fg_mask))
        if not ring.any():
            ring[:] = 255
        mean = cv2.mean(cv2.LUT(np.ascontiguousarray(plate_small), SRGB_TO_LINEAR), mask=ring)[:3]
        return cls(np.asarray(fg_mean, np.float64), np.asarray(mean, np.float64))


def measure(frame: np.ndarray, alpha: np.ndarray, plate: np.ndarray) -> LightSample | None:
    """Light statistics of one (low-res, e.g. 1/4 scale) frame; None when it has no solid foreground."""
    check_rgb(frame)
    check_rgb(plate, "plate")
    check_alpha(alpha, frame.shape)
    if plate.shape != frame.shape:
        raise FormatError(f"plate is {plate.shape} but the frame is {frame.shape}; measure both at one scale")
    solid = cv2.inRange(alpha, OPAQUE + 1, 255)
    if not cv2.countNonZero(solid):
        return None
    fg_mean = cv2.mean(cv2.LUT(frame, SRGB_TO_LINEAR), mask=solid)[:3]
    present = cv2.inRange(alpha, 9, 255)  # the foreground's extent, soft edges included
    x, y, w, h = cv2.boundingRect(present)
    grown = cv2.dilate(present, np.ones((5, 5), np.uint8))  # keep the ring clear of edge colour
    return LightSample.from_plate_region(np.asarray(fg_mean), plate, (x, y, x + w, y + h), grown)


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
    """Gains `[N, 3]` float32 for every frame; frames without foreground are interpolated, all ones if none has any.

    `max_tint` caps the per-channel white-balance change: grey-world is a guess, and a colourful plate
    (a meadow, a sunset) must tint the subject, never paint it.
    """
    if not 0.0 <= strength <= 1.0 or sigma_frames < 0 or max_stops < 0 or not 0.0 <= max_tint < 1.0:
        raise InputError(f"relight needs 0 <= strength <= 1, sigma_frames >= 0, max_stops >= 0, 0 <= max_tint < 1; "
                         f"got {strength}, {sigma_frames}, {max_stops}, {max_tint}")
    n = len(samples)
    logs = np.full((n, 3), np.nan)
    for t, s in enumerate(samples):
        if s is not None:
            logs[t] = np.log(frame_gains(s, strength, max_stops, max_tint))
    have = np.isfinite(logs).all(axis=1)
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
    """RGB uint8 with linear per-channel gains applied; `fg` itself (bit-exact) when the gains change nothing.

    One cached 256-entry table per channel; channels whose table is the identity are not touched.
    """
    check_rgb(fg, "foreground")
    tables = gain_tables(gains)
    if all(is_identity(t) for t in tables):
        return fg
    chans = cv2.split(fg)
    return cv2.merge([c if is_identity(t) else cv2.LUT(c, t) for c, t in zip(chans, tables)])


@dataclass(frozen=True)
class RelightSettings:
    strength: float = 0.35  # share of the exposure / white-balance difference undone (1 = full grey-world match)
    sigma_frames: float = 6.0  # temporal Gaussian on the gains, in frames: light changes slower than noise
    max_stops: float = 0.5  # exposure change limit: a bright plate next to a dark subject is often intended
    max_tint: float = 0.15  # per-channel white-balance limit: a colourful plate tints, never paints


class Relighter:
    """The relighting stage: `plan(samples)` once after the analysis pass, then `apply(fg, t)` per frame."""

    def __init__(self, settings: RelightSettings = RelightSettings()):
        self.settings = settings
        self.gains: np.ndarray | None = None  # [N, 3] after plan()

    def plan(self, samples: list[LightSample | None]) -> np.ndarray:
        s = self.settings
        self.gains = plan_gains(samples, s.strength, s.sigma_frames, s.max_stops, s.max_tint)
        return self.gains

    def apply(self, fg: np.ndarray, t: int) -> np.ndarray:
        if self.gains is None:
            raise InputError("Relighter.apply before plan(): plan the gains from the analysis samples first")
        if not 0 <= t < len(self.gains):
            raise InputError(f"frame {t} is outside the planned {len(self.gains)} frames; plan with every frame")
        return apply_gains(fg, self.gains[t])
