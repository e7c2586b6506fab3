"""What a TIFF's first image holds, from its tags alone: whether its samples are floating point (scene-linear by
the convention of compositing and HDR tools) and whether its alpha is premultiplied.

OpenCV decodes float TIFFs but says nothing of their alpha; Pillow does not open RGB float TIFFs at all. Reading
three tags (BitsPerSample 258, ExtraSamples 338, SampleFormat 339) of the first IFD answers both without decoding.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

_TYPES = {1: "B", 3: "H", 4: "I"}  # BYTE, SHORT, LONG: the types these tags use
SAMPLE_FORMAT_FLOAT = 3
EXTRA_ASSOCIATED_ALPHA = 1


@dataclass(frozen=True)
class FloatTiff:
    bits: int  # 16 (half), 32 or 64
    premultiplied: bool  # ExtraSamples says associated alpha (or there is no alpha: nothing to undo)


def float_layout(path: str | Path) -> FloatTiff | None:
    """The float layout of a TIFF's first image; None when its samples are integers or it is not a readable TIFF
    (classic TIFF; BigTIFF is left to the decoder)."""
    try:
        with open(path, "rb") as f:
            data = f.read(8)
            order = {b"II": "<", b"MM": ">"}.get(data[:2])
            if order is None or struct.unpack(order + "H", data[2:4])[0] != 42:
                return None
            (ifd,) = struct.unpack(order + "I", data[4:8])
            f.seek(ifd)
            (count,) = struct.unpack(order + "H", f.read(2))
            entries = f.read(12 * count)
            tags = {}
            for i in range(count):
                tag, kind, n, value = struct.unpack(order + "HHI4s", entries[12 * i:12 * i + 12])
                if tag in (258, 338, 339) and kind in _TYPES:
                    tags[tag] = _values(f, order, _TYPES[kind], n, value)
    except (OSError, struct.error):
        return None
    if SAMPLE_FORMAT_FLOAT not in tags.get(339, ()):
        return None
    bits = tags.get(258, (32,))[0]
    return FloatTiff(bits=bits, premultiplied=EXTRA_ASSOCIATED_ALPHA in tags.get(338, (EXTRA_ASSOCIATED_ALPHA,)))


def _values(f, order: str, code: str, n: int, field: bytes) -> tuple[int, ...]:
    """A tag's n values: in the entry's 4 bytes when they fit, else at the offset those bytes hold."""
    size = struct.calcsize(code) * n
    if size <= 4:
        raw = field[:size]
    else:
        f.seek(struct.unpack(order + "I", field)[0])
        raw = f.read(size)
    return struct.unpack(order + code * n, raw)
