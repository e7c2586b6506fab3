"""sRGB ↔ linear light, as tables: every stage that mixes colours does it in linear light through these."""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def _srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(np.maximum(x, 0.0031308), 1 / 2.4) - 0.055)


SRGB_TO_LINEAR = _srgb_to_linear(np.arange(256) / 255.0).astype(np.float32)  # [256] uint8 code → linear
SRGB_TO_LINEAR16 = np.round(SRGB_TO_LINEAR * 65535).astype(np.uint16)  # [256] → linear in 0..65535 (for cv2.LUT)
_LINEAR16_TO_SRGB = np.clip(np.round(_linear_to_srgb(np.arange(65536) / 65535.0) * 255), 0, 255).astype(np.uint8)


def to_linear(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB → float32 linear in [0, 1] (any shape)."""
    return SRGB_TO_LINEAR[rgb]


def to_srgb(linear: np.ndarray) -> np.ndarray:
    """float linear (clipped to [0, 1]) → uint8 sRGB, through a 16-bit table (error < 0.5 code)."""
    idx = np.clip(linear * 65535.0 + 0.5, 0, 65535).astype(np.uint16)
    return _LINEAR16_TO_SRGB[idx]


def luminance(linear_rgb: np.ndarray) -> np.ndarray:
    """Rec. 709 luminance of linear RGB `[..., 3]`."""
    return linear_rgb[..., 0] * 0.2126 + linear_rgb[..., 1] * 0.7152 + linear_rgb[..., 2] * 0.0722


@lru_cache(maxsize=512)
def _gain_table(gains: tuple[float, float, float]) -> np.ndarray:
    lin = SRGB_TO_LINEAR[:, None] * np.asarray(gains, np.float32)[None, :]  # [256, 3]
    return to_srgb(lin).reshape(256, 1, 3)


def gain_lut(gains) -> np.ndarray:
    """A cv2.LUT table `[256, 1, 3]` applying per-channel gains in linear light (cached at 1e-3 steps)."""
    key = tuple(round(float(g), 3) for g in gains)
    return _gain_table(key)
