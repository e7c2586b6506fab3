"""Painting helpers for the procedural demo shot (`make_sample.py`): value noise, smoothstep, "over" and a
volume shading of a mask. Deterministic given the generator passed in."""

from __future__ import annotations

import cv2
import numpy as np


def _smooth_noise(rng, h, w, cells_y, cells_x):
    small = rng.random((max(2, cells_y) + 3, max(2, cells_x) + 3)).astype(np.float32)
    big = cv2.resize(small, (w + w * 3 // max(2, cells_x), h + h * 3 // max(2, cells_y)),
                     interpolation=cv2.INTER_CUBIC)
    return big[h // max(2, cells_y):h // max(2, cells_y) + h, w // max(2, cells_x):w // max(2, cells_x) + w]


def fbm2d(rng, h, w, cells=(4, 8), octaves=5, gain=0.5):
    """Fractal value noise in ~[0, 1]; `cells` = (rows, cols) of the coarsest octave."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    cy, cx = cells
    for _ in range(octaves):
        out += amp * _smooth_noise(rng, h, w, int(cy), int(cx))
        total += amp
        amp *= gain
        cy, cx = cy * 2, cx * 2
    out /= total
    lo, hi = np.percentile(out, 1), np.percentile(out, 99)
    return np.clip((out - lo) / (hi - lo + 1e-6), 0, 1)


def tileable_noise(rng, size, beta=2.0, min_freq=2.0):
    """Periodic fractal noise (spectral synthesis, 1/f^beta) in [0, 1]: tiles seamlessly on a size x size grid."""
    f = np.fft.fftfreq(size) * size
    fr = np.hypot(f[:, None], f[None, :])
    amp = np.where(fr >= min_freq, 1.0 / np.maximum(fr, 1.0) ** (beta / 2 + 0.5), 0.0)
    spec = amp * np.exp(2j * np.pi * rng.random((size, size)))
    n = np.real(np.fft.ifft2(spec)).astype(np.float32)
    lo, hi = np.percentile(n, 1), np.percentile(n, 99)
    return np.clip((n - lo) / (hi - lo), 0, 1)


def fbm1d(rng, n, cells=6, octaves=6, gain=0.5, ridged=False):
    out = np.zeros(n, np.float32)
    amp, total, c = 1.0, 0.0, cells
    for _ in range(octaves):
        pts = rng.random(c + 4).astype(np.float32)
        xs = np.linspace(1, c + 2, n)
        v = np.interp(xs, np.arange(c + 4), pts)
        v = cv2.GaussianBlur(v[None], (0, 0), max(0.6, n / c / 4))[0]
        if ridged:
            v = 1.0 - np.abs(v - 0.5) * 2.0
        out += amp * v
        total += amp
        amp *= gain
        c *= 2
    out /= total
    return (out - out.min()) / (out.max() - out.min() + 1e-6)


def smoothstep(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0, 1)
    return t * t * (3 - 2 * t)


def over(dst, colour, alpha):
    """dst (float RGB) <- colour over dst with alpha [H, W]."""
    a = alpha[..., None]
    dst *= 1 - a
    dst += a * colour
    return dst


def volume_shade(mask: np.ndarray, sigma: float, light=(0.55, 0.6, 0.6), bulge: float = 1.0) -> np.ndarray:
    """Lambert shading of a shape treated as a rounded volume (normals from a blurred copy of its mask),
    lit from the upper left and in front; in [0, 1]. `bulge` > 1 rounds the edges more."""
    sigma = max(0.8, sigma)
    h = cv2.GaussianBlur(mask, (0, 0), sigma)
    gy, gx = np.gradient(h)
    flat = 0.25 / sigma / bulge
    norm = np.sqrt(gx * gx + gy * gy + flat * flat)
    return np.clip((light[0] * gx + light[1] * gy + light[2] * flat) / norm, 0, 1)
