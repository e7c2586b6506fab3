"""Edges and the composite, in linear light.

`unmix_foreground` removes the screen from semi-transparent edge pixels (F = (P − (1 − a)·B) / a) and limits
spill (G ≤ max(R, B) on a green screen, fading out over a thin band of opaque pixels inside the edge); every
other pixel is returned bit-exact, so the opaque interior of the foreground is never touched here.
`composite` blends straight foreground over the plate with premultiplied alpha in linear light.

Speed: only the edge pixels carry float math, gathered into a compact grid (`colour.Pixels`) on which cv2
arithmetic runs; everything else is a copy (fg where alpha = 255, plate where alpha = 0) or a mask operation
inside the matte's bounding box. At 1080p with a 15 % foreground this is about 2 ms per stage on one core.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import FormatError, InputError
from .colour import SRGB_TO_LINEAR, Pixels, check_alpha, check_rgb, to_srgb
from .key import _CHANNEL, Backing

MIN_UNMIX_ALPHA = 0.1  # below this the unmixed colour is noise: keep the (despilled) observed pixel instead
_ALPHA = (np.arange(256) / 255.0).astype(np.float32)  # [256] alpha code → a
_UNMIX_GAIN = np.where(_ALPHA >= MIN_UNMIX_ALPHA, 1.0 / np.maximum(_ALPHA, MIN_UNMIX_ALPHA), 1.0).astype(np.float32)
_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
_SQUARE = np.ones((3, 3), np.uint8)


def _box(x: int, y: int, w: int, h: int, grow: int, shape) -> tuple[slice, slice]:
    return (slice(max(0, y - grow), min(shape[0], y + h + grow)), slice(max(0, x - grow), min(shape[1], x + w + grow)))


def _band_levels(semi: np.ndarray, alpha: np.ndarray, band_px: int) -> np.ndarray:
    """uint8: band_px + 1 on semi-transparent pixels, falling by 1 per px into the opaque side, 0 elsewhere.

    Distance grows by alternating cross and square dilations (an octagon, close to a disc); alpha-0 pixels are
    never in the band.
    """
    grown = cv2.bitwise_and(semi, 1)  # 0/1
    level = grown
    for i in range(band_px):
        grown = cv2.dilate(grown, _CROSS if i % 2 == 0 else _SQUARE)
        level = cv2.add(level, grown)
    return cv2.bitwise_and(level, cv2.inRange(alpha, 1, 255))


def _fade_table(band_px: int) -> np.ndarray:
    """[256] float32: band level → despill weight (1 on semi-transparent pixels, 1/(band_px+1) at the band's end)."""
    return (np.minimum(np.arange(256), band_px + 1) / (band_px + 1)).astype(np.float32)


def edge_band(alpha: np.ndarray, band_px: int) -> np.ndarray:
    """uint8 mask: semi-transparent pixels plus opaque ones within `band_px` of them."""
    return cv2.inRange(_band_levels(cv2.inRange(alpha, 1, 254), alpha, band_px), 1, 255)


def unmix_foreground(frame: np.ndarray, alpha: np.ndarray, backing: Backing | None, band_px: int = 3) -> np.ndarray:
    """Foreground colour with the screen removed at the edges; a copy, bit-exact outside the edge band.

    Without a backing (plain footage, a matte file) there is no screen to remove: `frame` itself is returned.
    """
    check_rgb(frame)
    check_alpha(alpha, frame.shape)
    if band_px < 0:
        raise InputError(f"band_px must be >= 0, got {band_px}")
    if backing is None:
        return frame
    semi = cv2.inRange(alpha, 1, 254)
    x, y, w, h = cv2.boundingRect(semi)
    if w == 0:
        return frame
    box = _box(x, y, w, h, band_px, alpha.shape)
    levels = _band_levels(semi[box], alpha[box], band_px)  # [bh, bw]
    px = Pixels.of(levels, (box[1].start, box[0].start), frame.shape[1])  # indexes the whole frame
    out = np.ascontiguousarray(frame).copy()
    p = cv2.LUT(px.take(out), SRGB_TO_LINEAR)  # [rows, C, 3] observed colour P, linear
    a_code = px.take(alpha)  # [rows, C]
    b = tuple(float(v) for v in SRGB_TO_LINEAR[list(backing.rgb)]) + (0.0,)
    # F = (P − B)/a + B; for a < MIN_UNMIX_ALPHA the gain is 1 and F = P
    gain = cv2.LUT(a_code, _UNMIX_GAIN)  # [rows, C]
    f = cv2.add(cv2.multiply(cv2.subtract(p, b), cv2.merge([gain] * 3)), b)
    f = cv2.min(cv2.max(f.reshape(f.shape[0], -1), 0.0), 1.0).reshape(f.shape)  # clamp (1-channel view)
    # spill limit: the screen channel may not exceed the larger of the other two, fully at the semi-transparent
    # pixels and fading to nothing band_px px inside the opaque side
    chans = list(cv2.split(f))
    c = _CHANNEL[backing.kind]
    others = cv2.max(*[chans[i] for i in range(3) if i != c])
    fade = cv2.LUT(px.take_local(levels), _fade_table(band_px))  # [rows, C] 1 … 1/(band_px+1)
    chans[c] = cv2.subtract(chans[c], cv2.multiply(cv2.max(cv2.subtract(chans[c], others), 0.0), fade))
    px.put(out, to_srgb(cv2.merge(chans)))
    return out


def composite(fg: np.ndarray, alpha: np.ndarray, plate: np.ndarray) -> np.ndarray:
    """a·F + (1 − a)·P in linear light (premultiplied-alpha over); exact copies where a is 0 or 1."""
    check_rgb(fg, "foreground")
    check_rgb(plate, "plate")
    check_alpha(alpha, fg.shape)
    if plate.shape != fg.shape:
        raise FormatError(f"plate is {plate.shape} but the foreground is {fg.shape}; give frames of one size")
    out = plate.copy()
    x, y, w, h = cv2.boundingRect(alpha)  # the nonzero part of the matte
    if w == 0:
        return out
    box = _box(x, y, w, h, 0, alpha.shape)
    cv2.copyTo(fg[box], cv2.inRange(alpha[box], 255, 255), out[box])  # writes through the view
    px = Pixels.of(cv2.inRange(alpha[box], 1, 254), (box[1].start, box[0].start), fg.shape[1])
    if px is None:
        return out
    lf = cv2.LUT(px.take(fg), SRGB_TO_LINEAR)  # [rows, C, 3] linear
    lp = cv2.LUT(px.take(plate), SRGB_TO_LINEAR)
    a = cv2.LUT(px.take(alpha), _ALPHA)  # [rows, C]
    mixed = cv2.add(lp, cv2.multiply(cv2.subtract(lf, lp), cv2.merge([a] * 3)))  # P + a·(F − P)
    px.put(out, to_srgb(mixed))
    return out


def foreground_layer(fg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Straight-alpha RGBA `[H, W, 4]` of the (unmixed) foreground, for `--layers`."""
    check_rgb(fg, "foreground")
    check_alpha(alpha, fg.shape)
    return cv2.merge([*cv2.split(fg), alpha])
