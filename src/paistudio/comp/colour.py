"""sRGB ↔ linear light, as tables: every stage that mixes colours does it in linear light through these.

Full frames never go through float here. A frame-sized colour change is a cv2.LUT with a 256-entry table
(`gain_lut`, `gain_tables`); float math runs only on compact sets of selected pixels (`Pixels`: a mask's
pixels laid out as a small [rows, GRID_COLS] image, so OpenCV's vectorised arithmetic applies to them:
`to_linear` → cv2 arithmetic → `to_srgb`). The frame conventions every stage checks (`check_rgb`,
`check_alpha`) live here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ..errors import FormatError


def _srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(np.maximum(x, 0.0031308), 1 / 2.4) - 0.055)


SRGB_TO_LINEAR = _srgb_to_linear(np.arange(256) / 255.0).astype(np.float32)  # [256] uint8 code → linear
SRGB_TO_LINEAR16 = np.round(SRGB_TO_LINEAR * 65535).astype(np.uint16)  # [256] → linear in 0..65535 (for cv2.LUT)
# [65536] linear in 0..65535 → uint8 sRGB (for cv2.LUT)
LINEAR16_TO_SRGB = np.clip(np.round(_linear_to_srgb(np.arange(65536) / 65535.0) * 255), 0, 255).astype(np.uint8)


def _image(x: np.ndarray) -> np.ndarray:
    """A 2-D view for cv2 (1 channel: cv2 arithmetic with a plain number is only safe on one channel)."""
    return x.reshape(1, -1) if x.ndim < 2 else x.reshape(x.shape[0], -1)


def to_linear(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB → float32 linear in [0, 1] (any shape; one cv2.LUT)."""
    rgb = np.ascontiguousarray(rgb, np.uint8)
    if rgb.size == 0:
        return np.zeros(rgb.shape, np.float32)
    return cv2.LUT(_image(rgb), SRGB_TO_LINEAR).reshape(rgb.shape)


def to_srgb(linear: np.ndarray) -> np.ndarray:
    """float linear (clipped to [0, 1]) → uint8 sRGB, through a 16-bit table (error < 0.5 code).

    Saturating cv2 conversion plus one 65,536-entry cv2.LUT: meant for compact pixel sets, not whole frames.
    """
    linear = np.ascontiguousarray(linear, np.float32)
    if linear.size == 0:
        return np.zeros(linear.shape, np.uint8)
    code16 = cv2.multiply(_image(linear), 65535.0, dtype=cv2.CV_16U)  # rounds, saturates below 0 and above 1
    return cv2.LUT(code16, LINEAR16_TO_SRGB).reshape(linear.shape)


def nonzero(mask: np.ndarray) -> np.ndarray:
    """Flat indices of the nonzero bytes of a uint8 mask, ascending (like np.flatnonzero, ~5x faster on thin
    edge masks: whole 8-byte words are skipped at once, only words with a set byte are looked into)."""
    flat = np.ascontiguousarray(mask, np.uint8).reshape(-1)
    cut = len(flat) - len(flat) % 8
    words = np.flatnonzero(flat[:cut].view(np.uint64) != 0)  # [K] words holding a nonzero byte
    inner = np.flatnonzero(flat[:cut].reshape(-1, 8).take(words, axis=0) != 0)  # [N] within those words
    idx = words[inner >> 3] * 8 + (inner & 7)
    if cut < len(flat):
        idx = np.concatenate([idx, np.flatnonzero(flat[cut:]) + cut])
    return idx


GRID_COLS = 1024  # a compact pixel set is a [rows, GRID_COLS] image: cv2.remap wants both sides < 32767


@dataclass(frozen=True)
class Pixels:
    """The pixels of a mask as a compact grid: `take` gathers them into a [rows, GRID_COLS, C] image on which
    cv2 arithmetic runs; `put` writes results back. The grid is padded with pixel 0 (results there are dropped).
    """

    n: int  # how many pixels the mask selected
    width: int  # of the image `flat` indexes
    xs: np.ndarray  # [rows, GRID_COLS] int32 column of each pixel in the mask
    ys: np.ndarray  # [rows, GRID_COLS] int32 row of each pixel in the mask
    flat: np.ndarray  # [rows, GRID_COLS] int: index into the (contiguous) image's pixels

    @classmethod
    def of(cls, mask: np.ndarray, origin: tuple[int, int] = (0, 0), width: int | None = None) -> "Pixels | None":
        """The nonzero pixels of a uint8 mask `[h, w]`, or None when it has none.

        A mask cut from a larger image at `origin` (x, y) of an image `width` wide indexes that image: gather
        from and write to the whole frame without copying the box out and back.
        """
        idx = nonzero(mask)
        n, h, w = len(idx), mask.shape[0], mask.shape[1]
        if n == 0:
            return None
        width = w if width is None else width
        wide = (origin[1] + h) * width >= 2**31  # int32 indices are faster where they fit
        local = np.zeros(-(-n // GRID_COLS) * GRID_COLS, np.int64 if wide else np.int32)  # padded with pixel 0
        local[:n] = idx
        ys, xs = np.divmod(local.reshape(-1, GRID_COLS), w)
        return cls(n, width, xs, ys, (ys + origin[1]) * width + (xs + origin[0]))

    def take(self, img: np.ndarray) -> np.ndarray:
        """`img[y, x]` for every pixel, as `[rows, GRID_COLS(, C)]` (`img` `[h, w(, C)]`, `width` wide)."""
        img = np.ascontiguousarray(img)
        return img.reshape((-1,) + img.shape[2:]).take(self.flat, axis=0)

    def take_local(self, img: np.ndarray) -> np.ndarray:
        """Like `take`, from an image the mask's own size (the box it was cut from)."""
        img = np.ascontiguousarray(img)
        return img.reshape((-1,) + img.shape[2:]).take(self.ys.astype(np.intp) * img.shape[1] + self.xs, axis=0)

    def put(self, img: np.ndarray, values: np.ndarray) -> None:
        """`img[y, x] = values` in place (`img` contiguous, `width` wide)."""
        flat = self.flat.reshape(-1)[: self.n]
        if img.ndim == 2:
            img.reshape(-1)[flat] = values.reshape(-1)[: self.n]
            return
        # one channel at a time into the interleaved bytes: numpy scatters scalars ~2x faster than pixel rows
        cn, raw, values = img.shape[2], img.reshape(-1), values.reshape(-1, img.shape[2])
        base = flat * cn
        for c in range(cn):
            raw[base + c] = values[: self.n, c]


def luminance(linear_rgb: np.ndarray) -> np.ndarray:
    """Rec. 709 luminance of linear RGB `[..., 3]`."""
    return linear_rgb[..., 0] * 0.2126 + linear_rgb[..., 1] * 0.7152 + linear_rgb[..., 2] * 0.0722


def _gain_key(gains) -> tuple[float, float, float]:
    g = tuple(round(float(v), 3) for v in np.asarray(gains, np.float64).reshape(-1))
    if len(g) != 3 or not all(np.isfinite(g)) or min(g) < 0:
        raise FormatError(f"gains must be three finite non-negative numbers, got {gains!r}")
    return g  # type: ignore[return-value]


@lru_cache(maxsize=512)
def _gain_tables(gains: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tables = to_srgb(SRGB_TO_LINEAR[:, None] * np.asarray(gains, np.float32)[None, :])  # [256, 3] uint8
    return tuple(np.ascontiguousarray(tables[:, c]) for c in range(3))  # type: ignore[return-value]


def gain_tables(gains) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three single-channel cv2.LUT tables `[256]` uint8 applying linear gains (cached at 1e-3 steps).

    One table per channel is the fast path: at 1080p, split + three 1-channel LUTs + merge is about twice
    as fast as one cv2.LUT with a 3-channel table (OpenCV's multi-channel LUT path is slow).
    """
    return _gain_tables(_gain_key(gains))


def gain_lut(gains) -> np.ndarray:
    """A cv2.LUT table `[256, 1, 3]` applying per-channel gains in linear light (cached at 1e-3 steps)."""
    return np.ascontiguousarray(np.stack(gain_tables(gains), axis=1).reshape(256, 1, 3))


_IDENTITY = np.arange(256, dtype=np.uint8)


def is_identity(table: np.ndarray) -> bool:
    """True when a 256-entry table maps every code to itself (the LUT can be skipped)."""
    return bool(np.array_equal(table.reshape(-1), _IDENTITY))


def check_rgb(frame, what: str = "frame") -> np.ndarray:
    """The frame as RGB uint8 `[H, W, 3]`, or a FormatError saying what was given instead."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        desc = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise FormatError(f"{what} must be RGB uint8 [H, W, 3], got {desc}; convert it (drop alpha, scale to 0..255)")
    return frame


def check_alpha(alpha, shape: tuple[int, ...], what: str = "alpha") -> np.ndarray:
    """The matte as uint8 `[H, W]` matching `shape[:2]`, or a FormatError."""
    if not isinstance(alpha, np.ndarray) or alpha.dtype != np.uint8 or alpha.shape != tuple(shape[:2]):
        desc = f"{alpha.dtype} {alpha.shape}" if isinstance(alpha, np.ndarray) else type(alpha).__name__
        raise FormatError(f"{what} must be uint8 {tuple(shape[:2])} (255 = foreground), got {desc}; "
                          "give one matte of the frame's size")
    return alpha
