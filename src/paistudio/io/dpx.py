"""DPX frames (SMPTE 268M), the film-scan and camera-export format: decoded by FFmpeg, interpreted from the header.

FFmpeg decodes the pixels (8, 10, 12 or 16 bits, RGB, RGBA or luma) but ignores two header fields that change
what they mean, so they are read here:
- the transfer characteristic (image element 1). Printing density and logarithmic (film scans, Cineon-style log)
  are converted to scene-linear with the Cineon curve, `lin = (10^((c − white)·0.002/0.6) − k) / (1 − k)` with
  k = 10^((black − white)·0.002/0.6), c a 10-bit code, black/white the header's reference codes (95 and 685 when
  it gives none); linear is taken as scene-linear (full code range = 1.0). Both are then shown like EXR
  (`hdr.scene_linear_to_sdr`: 1.0 = white). Video transfers (BT.709, BT.601, unspecified, user-defined) are
  display codes and only rounded to 8 bits. The rest (ADX, BT.2020, BT.2100, Z-depth) are refused when read as
  colour.
- the orientation: the four mirrorings are undone; the four transposed orders are refused.
Without `light` (a matte, or a foreground graded by `--lut`, which expects the file's own codes) the codes are
taken as they are.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import av
import numpy as np

from ..errors import FormatError, InputError
from . import hdr

LOG_TRANSFERS = {1: "printing density", 3: "logarithmic"}
LINEAR_TRANSFERS = {2: "linear"}
VIDEO_TRANSFERS = {0: "user-defined", 4: "unspecified video", 5: "SMPTE 274M", 6: "BT.709", 7: "BT.601 (625)",
                   8: "BT.601 (525)", 9: "NTSC composite", 10: "PAL composite"}
REFUSED_TRANSFERS = {11: "Z linear", 12: "Z homogeneous", 13: "SMPTE ADX", 14: "BT.2020 NCL", 15: "BT.2020 CL",
                     16: "IEC 61966-2-4", 17: "BT.2100"}
CINEON_BLACK, CINEON_WHITE = 95, 685  # 10-bit reference codes when the header gives none
DENSITY_PER_CODE, NEGATIVE_GAMMA = 0.002, 0.6  # Cineon: 10-bit codes span 0..2.046 density; film's gamma
_UNDEFINED = 0xFFFFFFFF
HEADER_BYTES = 812  # the generic file header and the first image element's fields used here


@dataclass(frozen=True)
class DpxHeader:
    transfer: int  # SMPTE 268M transfer characteristic of image element 1
    bits: int  # bit depth of its samples
    orientation: int  # 0: left to right, top to bottom (1: mirrored, 2: upside down, 3: both; 4-7 transposed)
    ref_low: int | None  # reference black and white codes at `bits` (None: not given)
    ref_high: int | None

    @property
    def kind(self) -> str:
        """'log', 'linear', 'video' (how its codes are turned into colour) or 'refused' (they are not)."""
        if self.transfer in LOG_TRANSFERS:
            return "log"
        if self.transfer in LINEAR_TRANSFERS:
            return "linear"
        return "video" if self.transfer in VIDEO_TRANSFERS else "refused"

    @property
    def transfer_name(self) -> str:
        names = {**LOG_TRANSFERS, **LINEAR_TRANSFERS, **VIDEO_TRANSFERS, **REFUSED_TRANSFERS}
        return names.get(self.transfer, f"code {self.transfer}")

    def describe(self) -> str | None:
        """What the frames are converted from (the render record's `converted_from`); None for display codes."""
        if self.kind == "log":
            return f"Cineon log DPX ({self.transfer_name})"
        if self.kind == "refused":
            return f"{self.transfer_name} DPX"
        return "scene-linear DPX" if self.kind == "linear" else None

    def cineon_codes(self) -> tuple[float, float]:
        """Reference black and white as 10-bit codes (the header's when they make sense, else 95 and 685)."""
        top = (1 << self.bits) - 1
        if self.ref_low is not None and self.ref_high is not None and 0 <= self.ref_low < self.ref_high <= top:
            return self.ref_low * 1023 / top, self.ref_high * 1023 / top
        return float(CINEON_BLACK), float(CINEON_WHITE)


def read_header(path: Path, role: str = "image") -> DpxHeader:
    """The fields of a DPX header this module uses; InputError when it is no DPX, FormatError when its pixels are
    stored in an order we do not read."""
    try:
        with open(path, "rb") as f:
            head = f.read(HEADER_BYTES)
    except OSError as e:
        raise InputError(f"{role} {path} cannot be read ({e.strerror}); check the path") from None
    order = {b"SDPX": ">", b"XPDS": "<"}.get(head[:4])
    if order is None or len(head) < HEADER_BYTES:
        raise InputError(f"{role} {path} is not a DPX file (no SDPX magic or a truncated header); is it a valid "
                         "image?")
    orientation = struct.unpack(order + "H", head[768:770])[0]
    low, high = struct.unpack(order + "I", head[784:788])[0], struct.unpack(order + "I", head[792:796])[0]
    header = DpxHeader(transfer=head[801], bits=head[803], orientation=orientation,
                       ref_low=None if low == _UNDEFINED else low, ref_high=None if high in (_UNDEFINED, 0) else high)
    if header.orientation > 3:
        raise FormatError(f"{role} {path} is DPX stored in transposed order (orientation {header.orientation}); "
                          "re-export it left to right, top to bottom")
    return header


def read_dpx(path: Path, role: str = "image", light: bool = True) -> np.ndarray:
    """A DPX image as RGB(A) uint8: log and linear colour mapped to sRGB when `light`, else codes as they are."""
    path = Path(path)
    header = read_header(path, role)
    if light and header.kind == "refused":
        raise FormatError(f"{role} {path} is DPX with transfer {header.transfer_name}, which is not read; convert it "
                          "to EXR (scene-linear) or to BT.709 video codes")
    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
            alpha = len(frame.format.components) in (2, 4)  # grey or colour, with alpha
            x = frame.to_ndarray(format="rgba64le" if alpha else "rgb48le")  # [H, W, 3|4] uint16, full range
    except (av.FFmpegError, StopIteration, OSError, ValueError) as e:
        raise InputError(f"{role} {path} cannot be read as a DPX ({e}); is it a valid image?") from None
    if header.orientation & 1:
        x = x[:, ::-1]
    if header.orientation & 2:
        x = x[::-1]
    rgb = np.ascontiguousarray(x[..., :3])
    if light and header.kind != "video":
        table = _cineon_table(*header.cineon_codes()) if header.kind == "log" else _LINEAR16
        rgb8 = hdr.scene_linear_to_sdr(table[rgb])
    else:
        rgb8 = _to_8bit(rgb)
    return rgb8 if x.shape[-1] == 3 else np.dstack([rgb8, _to_8bit(x[..., 3])])


def _to_8bit(codes: np.ndarray) -> np.ndarray:
    return ((codes.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


_LINEAR16 = (np.arange(65536) / 65535.0).astype(np.float32)  # [65536] code -> scene-linear


@cache
def _cineon_table(black: float, white: float) -> np.ndarray:
    """[65536] float32: 16-bit code -> scene-linear by the Cineon curve (10-bit reference codes black, white)."""
    code10 = np.arange(65536) * (1023 / 65535)
    per_code = DENSITY_PER_CODE / NEGATIVE_GAMMA
    k = 10.0 ** ((black - white) * per_code)
    return ((10.0 ** ((code10 - white) * per_code) - k) / (1.0 - k)).astype(np.float32)
