"""HDR (PQ, HLG) and wide-gamut (BT.2020) video turned into the SDR BT.709 pictures the engine works in.

Phone footage is often HLG in BT.2020 (10-bit HEVC). Read as if it were SDR BT.709 it comes out dim and washed
out, so a tagged source is converted on decode, from 16-bit R'G'B' (the source's own matrix applied by swscale):
1. to light: PQ's EOTF (absolute cd/m²), or HLG's inverse OETF then its OOTF for a nominal 1000 cd/m² display
   (BT.2100: gamma 1.2 on the scene luminance); an SDR transfer through the engine's sRGB curve (1.0 = white);
2. HDR light relative to reference white: 203 cd/m² (BT.2408's HDR reference white) becomes SDR 1.0;
3. BT.2020 primaries to BT.709 in linear light (a 3×3 matrix; colours outside BT.709 clip);
4. HDR only, a highlight roll-off on luminance (colour ratios kept): identity up to `KNEE`, then an exponential
   shoulder towards 1.0 with slope 1 at the knee, so highlights up to the display peak keep some separation;
5. clipped to [0, 1] and encoded with the engine's sRGB curve, uint8.
Scene-linear stills and sequences (EXR) take steps 4 and 5 (`scene_linear_to_sdr`), 1.0 being white.
This is a fixed, documented mapping, not a grade: it keeps a render's colours close to how the source looks on an
SDR screen. The output is SDR BT.709 (the job's record says the input was converted).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from ..comp.colour import LINEAR16_TO_SRGB, SRGB_TO_LINEAR, to_srgb

# FFmpeg's colour tags (AVColorTransferCharacteristic, AVColorPrimaries)
TRC_PQ, TRC_HLG = 16, 18  # SMPTE ST 2084, ARIB STD-B67
PRIMARIES_BT2020 = 9
TRANSFER_NAMES = {TRC_PQ: "PQ", TRC_HLG: "HLG"}

REFERENCE_WHITE = 203.0  # cd/m², HDR reference white (BT.2408) -> SDR 1.0
HLG_PEAK = 1000.0  # cd/m², the nominal display of HLG's OOTF
HLG_GAMMA = 1.2  # BT.2100's system gamma at 1000 cd/m²
KNEE = 0.8  # tone curve: identity below this (relative to reference white), a shoulder above

_BT2020_TO_BT709 = np.array([[1.660491, -0.587641, -0.072850],
                             [-0.124550, 1.132900, -0.008349],
                             [-0.018151, -0.100579, 1.118730]], np.float32)  # linear RGB, BT.2087
_BT709_LUMA = np.array([[0.2126, 0.7152, 0.0722]], np.float32)


def needs_conversion(trc: int | None, primaries: int | None) -> bool:
    """Whether a source with these tags must be converted to look right as SDR BT.709."""
    return trc in TRANSFER_NAMES or primaries == PRIMARIES_BT2020


def describe(trc: int | None, primaries: int | None) -> str:
    """E.g. "HLG, BT.2020" for the record and the warning."""
    parts = [TRANSFER_NAMES[trc]] if trc in TRANSFER_NAMES else []
    return ", ".join(parts + (["BT.2020"] if primaries == PRIMARIES_BT2020 else []))


def pq_to_nits(e: np.ndarray) -> np.ndarray:
    """SMPTE ST 2084 EOTF: signal in [0, 1] -> cd/m² (float64)."""
    m1, m2, c1, c2, c3 = 0.1593017578125, 78.84375, 0.8359375, 18.8515625, 18.6875
    p = np.power(np.clip(e, 0, 1), 1 / m2)
    return 10000.0 * np.power(np.maximum(p - c1, 0) / (c2 - c3 * p), 1 / m1)


def hlg_to_scene(e: np.ndarray) -> np.ndarray:
    """ARIB STD-B67 inverse OETF: signal in [0, 1] -> scene light in [0, 1] (float64)."""
    a, b = 0.17883277, 0.28466892
    c = 0.5 - a * np.log(4 * a)
    e = np.clip(e, 0, 1)
    return np.where(e <= 0.5, e * e / 3, (np.exp((e - c) / a) + b) / 12)


def tone(x: np.ndarray) -> np.ndarray:
    """Highlight roll-off of light relative to reference white: x below KNEE, then KNEE + (1 - KNEE)(1 - e^-u)."""
    u = np.maximum(x - KNEE, 0) / (1 - KNEE)
    return np.minimum(x, KNEE) + (1 - KNEE) * -np.expm1(-u)


@functools.cache
def _signal_table(trc: int | None) -> np.ndarray:
    """[65536] float32: 16-bit signal -> light (PQ: relative to reference white; HLG: scene light, before its
    OOTF; SDR transfers: the engine's sRGB curve, 1.0 = white)."""
    e = np.arange(65536) / 65535.0
    if trc == TRC_PQ:
        return (pq_to_nits(e) / REFERENCE_WHITE).astype(np.float32)
    if trc == TRC_HLG:
        return hlg_to_scene(e).astype(np.float32)
    return np.interp(e, np.arange(256) / 255.0, SRGB_TO_LINEAR).astype(np.float32)


@functools.cache
def _gain_table(trc: int) -> tuple[np.ndarray, float]:
    """The per-pixel gain as a function of luminance y (a pixel's colour ratios are kept): HLG's OOTF, then the
    shoulder, tone(yd) / y with yd = (peak / reference white) · y^gamma; PQ: tone(y) / y. [65536] float32 over
    y in [0, y_max], and y_max."""
    y_max = 1.0 if trc == TRC_HLG else 10000.0 / REFERENCE_WHITE
    y = np.maximum(np.arange(65536) / 65535.0 * y_max, 1e-9)
    shown = HLG_PEAK / REFERENCE_WHITE * y ** HLG_GAMMA if trc == TRC_HLG else y
    return (tone(shown) / y).astype(np.float32), y_max


def scene_linear_to_sdr(light: np.ndarray) -> np.ndarray:
    """Scene-linear RGB `[H, W, 3]` float (EXR: 1.0 = diffuse white, 0.18 mid grey) -> uint8 sRGB: the same shoulder
    on luminance as HDR video (colour ratios kept, highlights above KNEE rolled off towards 1.0), then sRGB.
    Negative values and NaNs become 0."""
    light = np.nan_to_num(np.asarray(light, np.float32), nan=0.0, posinf=1e6, neginf=0.0)
    light = np.maximum(light, 0.0, out=light)
    y = np.maximum(cv2.transform(light, _BT709_LUMA), 1e-9)  # [H, W]
    gain = np.minimum(tone(y) / y, 1.0).astype(np.float32)
    return to_srgb(light * gain[..., None])


def to_sdr(rgb16: np.ndarray, trc: int | None, primaries: int | None) -> np.ndarray:
    """uint16 R'G'B' `[H, W, 3]` (full range, the source's primaries and transfer) -> uint8 sRGB BT.709.

    Tables for both curves, OpenCV for the rest: with the 16-bit decode, 41 ms more CPU a 1080p frame than reading
    the same clip as coded (`benchmarks/hdr_decode.py`). The luminance that drives the gain is
    taken after the primaries' matrix, which keeps luminance: it is BT.2020's own (HLG's OOTF uses that one).
    """
    key = trc if trc in TRANSFER_NAMES else None
    light = cv2.LUT(np.ascontiguousarray(rgb16), _signal_table(key))  # [H, W, 3] float32
    if primaries == PRIMARIES_BT2020:
        light = cv2.transform(light, _BT2020_TO_BT709)  # may go negative outside BT.709: clipped at the end
    if key is None:
        return to_srgb(light)
    table, y_max = _gain_table(key)
    y = cv2.transform(light, _BT709_LUMA)  # [H, W] luminance
    gain = cv2.LUT(cv2.multiply(y, 65535.0 / y_max, dtype=cv2.CV_16U), table)  # [H, W] float32
    code16 = cv2.multiply(light, cv2.merge([gain] * 3), scale=65535.0, dtype=cv2.CV_16U)  # clips to [0, 1]
    return cv2.LUT(code16, LINEAR16_TO_SRGB)
