"""Colour look-up tables (.cube, 1D or 3D) applied to the foreground on decode: camera log footage (S-Log3,
LogC, V-Log) to Rec.709, or any look the shot is meant to be seen in, before it is keyed and composited.

FFmpeg's `lut3d` / `lut1d` filters read the file and interpolate (tetrahedral for 3D); they are run once over
every 8-bit colour (a 4096 x 4096 image of all 2^24), which gives a full table (about a second, once per LUT). A
frame is then one table look-up per pixel: the same codes as the filter at about a third of its CPU
(`benchmarks/lut_apply.py`).
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from ..errors import InputError

_SIZE = re.compile(r"^\s*LUT_(1D|3D)_SIZE\s+(\d+)\s*$", re.MULTILINE)


def check_cube(path: str | Path) -> str:
    """The LUT's kind ("1D" or "3D") after checking the file is a readable .cube; InputError naming the problem."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"LUT {path} does not exist; check the path")
    if path.suffix.lower() != ".cube":
        raise InputError(f"LUT {path} is not a .cube file; export the LUT as .cube (Resolve, OCIO's ociobakelut)")
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        raise InputError(f"LUT {path} cannot be read ({e})") from None
    sizes = _SIZE.findall(text)
    if len(sizes) != 1:
        raise InputError(f"LUT {path} has {'no' if not sizes else 'more than one'} LUT_1D_SIZE / LUT_3D_SIZE line; "
                         "it is not a valid .cube")
    kind, n = sizes[0][0], int(sizes[0][1])
    rows = sum(1 for line in text.splitlines() if re.match(r"^\s*[-+.\d]", line))
    want = n ** 3 if kind == "3D" else n
    if rows != want:
        raise InputError(f"LUT {path} declares {kind} size {n} ({want} entries) but holds {rows}; re-export it")
    return kind


class ColourLut:
    """`apply(rgb)`: RGB uint8 `[..., 3]` through the LUT."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.kind = check_cube(self.path)
        self._table: np.ndarray | None = None  # [2^24] words, looked up (built, or shared) on first use

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """RGB uint8 `[H, W, 3]` (or a chunk `[T, H, W, 3]`) through the LUT, a new array."""
        if rgb.ndim == 4:
            return np.stack([self.apply(f) for f in rgb])
        if self._table is None:
            self._table = _table(str(self.path.resolve()), self.path.stat().st_mtime_ns, self.kind)
        table = self._table
        bgra = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGRA, dstCn=4)  # [H, W, 4]
        index = bgra.view("<u4")[..., 0]  # [H, W]: a << 24 | r << 16 | g << 8 | b, a = 255
        np.bitwise_and(index, np.uint32(0xFFFFFF), out=index)
        out = table.take(index)  # [H, W] words: bytes r, g, b, 0
        return cv2.cvtColor(out.view(np.uint8).reshape(rgb.shape[:2] + (4,)), cv2.COLOR_RGBA2RGB)


@functools.lru_cache(maxsize=2)
def _table(path: str, mtime_ns: int, kind: str) -> np.ndarray:
    """[2^24] little-endian words: the LUT's output for colour r << 16 | g << 8 | b, as bytes r, g, b, 0."""
    side = 4096
    i = np.arange(side * side, dtype=np.uint32)
    every = np.stack([(i >> 16) & 255, (i >> 8) & 255, i & 255], -1).astype(np.uint8).reshape(side, side, 3)
    graph = av.filter.Graph()
    src = graph.add_buffer(width=side, height=side, format="rgb24", time_base=Fraction(1, 24))
    lut = graph.add("lut3d", file=path, interp="tetrahedral") if kind == "3D" else graph.add("lut1d", file=path)
    sink = graph.add("buffersink")
    src.link_to(lut)
    lut.link_to(sink)
    try:
        graph.configure()
        frame = av.VideoFrame.from_ndarray(every, format="rgb24")
        frame.pts = 0
        graph.push(frame)
        out = graph.pull().to_ndarray(format="rgb24").reshape(-1, 3)
    except av.FFmpegError as e:
        raise InputError(f"LUT {path} cannot be applied ({e}); re-export it as a .cube") from None
    table = np.zeros((side * side, 4), np.uint8)
    table[:, :3] = out
    return table.view("<u4").reshape(-1)
