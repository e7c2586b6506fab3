"""Relighting: match the foreground's exposure, white balance and (optionally) light direction to the plate.

Per frame, the analysis pass pairs (`LightSample`, on low-res frames) the mean linear colour of the solid
foreground with the plate's mean colour and its light slope (a first-order fit of log luminance) in a ring
around it. From these, per-clip priors measured on natural footage turn the difference into a correction:

- exposure: a subject in real footage sits on average `prior_stops` (−0.28) below its surroundings, with a
  spread (0.70 stop across the shared DAVIS clips) larger than a typical lighting error, so only a part
  (`strength`, 0.3) of the deviation from that prior is undone: about the shrinkage that minimises the
  foreground error under the benchmark's illumination perturbation (`benchmarks/relight_prior.py` measures
  both numbers and the gain: foreground MSE −30 % over 60 perturbed DAVIS clips, better than no relighting on
  46 of them, prior taken leave-one-out);
- white balance: a grey-world match (`wb_strength`, capped at ±`max_tint` per channel), kept weak because
  a subject's colours are not its surroundings' (the same script: stronger white balance does not help);
- direction (off by default): the plate's light slope across the subject's box, applied as a smooth shading
  ramp (`direction` = its share). It relights a subject for a plate lit from one side, but on DAVIS it costs
  foreground MSE (a subject's true shading is not predicted by its surroundings'), so it is a creative control.

Corrections are smoothed over time (Gaussian, in log space) so the light never flickers, limited to
±`max_stops`, and applied per frame with three cached single-channel cv2.LUTs (plus the ramp when on).
`Relighter.plan(samples)` runs once after the analysis pass, `Relighter.apply(fg, t)` once per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import FormatError, InputError
from .colour import SRGB_TO_LINEAR, check_alpha, check_rgb, gain_tables, is_identity, luminance, to_linear, to_srgb

RING = 0.35  # the ring around the foreground's box extends this share of the box size on each side
OPAQUE = 230  # alpha above which a pixel is solid foreground for the colour statistics (≈ 0.9)
EPS = 1e-4
_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


@dataclass(frozen=True)
class RelightSettings:
    strength: float = 0.3  # share of the exposure deviation (from the natural prior) undone; measured optimum
    prior_stops: float = -0.28  # natural foreground luminance relative to its surroundings (DAVIS mean)
    wb_strength: float = 0.15  # share of the grey-world white-balance difference undone
    max_stops: float = 0.75  # exposure change limit
    max_tint: float = 0.15  # per-channel white-balance limit: a colourful plate tints, never paints
    direction: float = 0.0  # share of the plate's light slope applied as a shading ramp (0 = off)
    sigma_frames: float = 12.0  # temporal Gaussian on the corrections, in frames: light changes slowly

    def check(self) -> "RelightSettings":
        if not (0.0 <= self.strength <= 1.0 and 0.0 <= self.wb_strength <= 1.0 and 0.0 <= self.direction <= 1.0
                and self.sigma_frames >= 0 and self.max_stops >= 0 and 0.0 <= self.max_tint < 1.0):
            raise InputError(f"relight settings out of range: need 0 <= strength, wb_strength, direction <= 1, "
                             f"sigma_frames >= 0, max_stops >= 0, 0 <= max_tint < 1; got {self}")
        return self


@dataclass
class LightSample:
    fg: np.ndarray  # [3] mean linear RGB of the solid foreground
    plate: np.ndarray  # [3] mean linear RGB of the plate around it
    slope: np.ndarray | None = None  # [2] plate log-luminance change per half box width / height (x, y)

    @classmethod
    def from_plate_region(cls, fg_mean: np.ndarray, plate_small: np.ndarray, box, fg_mask=None,
                          slope: bool = True) -> "LightSample":
        """Pair a foreground mean with the plate's mean and light slope in a ring around `box` (x0, y0, x1, y1
        at plate scale).

        `fg_mask` (uint8, plate size) excludes the foreground's own area from the ring when given; an empty
        ring or box falls back to the whole plate (and no slope). `slope=False` skips the slope's fit (only
        the direction ramp needs it).
        """
        h, w = plate_small.shape[:2]
        x0, y0, x1, y1 = (int(v) for v in box)
        ring = np.zeros((h, w), np.uint8)
        if x1 > x0 and y1 > y0:
            mx, my = int((x1 - x0) * RING) + 2, int((y1 - y0) * RING) + 2
            ring[max(0, y0 - my):min(h, y1 + my), max(0, x0 - mx):min(w, x1 + mx)] = 255
            if fg_mask is not None:
                ring = cv2.bitwise_and(ring, cv2.bitwise_not(fg_mask))
        lin = cv2.LUT(np.ascontiguousarray(plate_small), SRGB_TO_LINEAR)
        if not ring.any():
            return cls(np.asarray(fg_mean, np.float64), np.asarray(cv2.mean(lin)[:3], np.float64))
        mean = cv2.mean(lin, mask=ring)[:3]
        centre, half = ((x0 + x1) / 2, (y0 + y1) / 2), (max(1.0, (x1 - x0) / 2), max(1.0, (y1 - y0) / 2))
        return cls(np.asarray(fg_mean, np.float64), np.asarray(mean, np.float64),
                   _slope(lin, ring, centre, half) if slope else None)


def _slope(lin: np.ndarray, ring: np.ndarray, centre, half) -> np.ndarray:
    """Least-squares plane of log luminance over the ring: its change per half box along x and y."""
    ys, xs = np.nonzero(ring)
    if len(xs) < 16:
        return np.zeros(2)
    y = np.log(lin[ys, xs] @ _LUMA + EPS).astype(np.float64)
    a = np.stack([np.ones(len(xs)), (xs - centre[0]) / half[0], (ys - centre[1]) / half[1]], 1)
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    return coef[1:]


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


def frame_correction(s: LightSample, settings: RelightSettings) -> np.ndarray:
    """Log per-channel gains `[3]` for one frame: exposure shrunk towards the prior, weak white balance."""
    fg, plate = np.maximum(s.fg, EPS), np.maximum(s.plate, EPS)
    fg_y, plate_y = max(float(luminance(fg)), EPS), max(float(luminance(plate)), EPS)
    wb = ((plate / plate_y) / (fg / fg_y)) ** settings.wb_strength
    wb = np.clip(wb, 1 - settings.max_tint, 1 + settings.max_tint)  # grey-world is a guess: never more than a tint
    wb /= float(luminance(wb * fg / fg_y))  # white balance keeps the foreground's luminance
    stops = settings.strength * (np.log2(plate_y / fg_y) + settings.prior_stops)
    stops = np.clip(stops, -settings.max_stops, settings.max_stops)
    return np.log(wb) + stops * np.log(2.0)


def _smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Fill NaN rows by interpolation, then a Gaussian over time (edges padded); `[N, C]` float64."""
    n = len(values)
    have = np.isfinite(values).all(axis=1)
    if not have.any():
        return np.zeros_like(values)
    idx = np.arange(n)
    out = np.stack([np.interp(idx, idx[have], values[have, c]) for c in range(values.shape[1])], axis=1)
    if sigma > 0 and n > 1:
        radius = int(3 * sigma)
        kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
        kernel /= kernel.sum()
        padded = np.pad(out, ((radius, radius), (0, 0)), mode="edge")
        out = np.stack([np.convolve(padded[:, c], kernel, mode="valid") for c in range(out.shape[1])], axis=1)
    return out


def plan_gains(samples: list[LightSample | None], settings: RelightSettings = RelightSettings()) -> np.ndarray:
    """Linear gains `[N, 3]` float32 for every frame; frames without foreground are interpolated, all ones if
    none has any."""
    settings.check()
    logs = np.full((len(samples), 3), np.nan)
    for t, s in enumerate(samples):
        if s is not None:
            logs[t] = frame_correction(s, settings)
    return np.exp(_smooth(logs, settings.sigma_frames)).astype(np.float32)


def plan_slopes(samples: list[LightSample | None], settings: RelightSettings = RelightSettings()) -> np.ndarray:
    """Shading ramps `[N, 2]` (log gain per half box along x, y): `direction` × the plate's smoothed slope."""
    settings.check()
    slopes = np.full((len(samples), 2), np.nan)
    for t, s in enumerate(samples):
        if s is not None and s.slope is not None:
            slopes[t] = s.slope
    return (settings.direction * _smooth(slopes, settings.sigma_frames)).astype(np.float32)


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


def apply_ramp(fg: np.ndarray, slope) -> np.ndarray:
    """Shade `fg` (the subject's box) by exp(sx·u + sy·v) in linear light, u, v ∈ [−1, 1] across it, rescaled
    so the box's mean gain is 1 (the ramp moves light across the subject, not its exposure)."""
    check_rgb(fg, "foreground")
    sx, sy = (float(v) for v in slope)
    if abs(sx) < 1e-3 and abs(sy) < 1e-3:
        return fg
    h, w = fg.shape[:2]
    gx = np.exp(sx * np.linspace(-1, 1, w, dtype=np.float32))
    gy = np.exp(sy * np.linspace(-1, 1, h, dtype=np.float32))
    ramp = np.outer(gy / gy.mean(), gx / gx.mean()).astype(np.float32)  # [h, w] separable, mean ≈ 1
    return to_srgb(to_linear(fg) * ramp[..., None])


class Relighter:
    """The relighting stage: `plan(samples)` once after the analysis pass, then `apply(fg, t)` per frame."""

    def __init__(self, settings: RelightSettings = RelightSettings()):
        self.settings = settings.check()
        self.gains: np.ndarray | None = None  # [N, 3] after plan()
        self.slopes: np.ndarray | None = None  # [N, 2] after plan(), only when direction > 0

    def plan(self, samples: list[LightSample | None]) -> np.ndarray:
        self.gains = plan_gains(samples, self.settings)
        self.slopes = plan_slopes(samples, self.settings) if self.settings.direction > 0 else None
        return self.gains

    def apply(self, fg: np.ndarray, t: int) -> np.ndarray:
        """Relight the subject's box `fg` (uint8 RGB) of frame t."""
        if self.gains is None:
            raise InputError("Relighter.apply before plan(): plan the gains from the analysis samples first")
        if not 0 <= t < len(self.gains):
            raise InputError(f"frame {t} is outside the planned {len(self.gains)} frames; plan with every frame")
        out = apply_gains(fg, self.gains[t])
        if self.slopes is not None:
            out = apply_ramp(out, self.slopes[t])
        return out

    def describe(self) -> dict:
        if self.gains is None:
            return {}
        g = self.gains.astype(np.float64)
        d = {"gain_min": g.min(axis=0).round(4).tolist(), "gain_max": g.max(axis=0).round(4).tolist()}
        if self.slopes is not None:
            d["ramp_max"] = float(np.abs(self.slopes).max().round(4))
        return d
