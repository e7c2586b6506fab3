"""Where alpha comes from: a chroma key, a matte video/folder, or the input's own alpha channel.

`open_matte()` decides once (auto: the input's alpha when it has a real one, else a green/blue key) and
returns a `MatteSource` whose `alphas(chunk, index)` gives uint8 alpha `[T, H, W]` for a chunk of frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import FormatError, InputError
from ..io.video import VideoInfo, probe, read_chunks, sample_frames
from ..shot import MatteSpec
from .key import Backing, ChromaKeyer, clean_matte, detect_backing


@dataclass
class MatteSource:
    mode: str  # "key" | "file" | "alpha" | "segment"
    backing: Backing | None = None  # the screen colour (key mode), used again for unmixing edges
    keyer: ChromaKeyer | None = None
    matte_info: VideoInfo | None = None
    _matte_iter: Iterator[np.ndarray] | None = None
    _matte_buf: np.ndarray | None = None
    segmenter: object | None = None  # comp.segment.PersonSegmenter (segment mode)
    matte_channel: str = "alpha"  # which channel of a matte file holds it: "alpha" (RGBA files) or "red" (grey ones)

    def alphas(self, chunk: np.ndarray, boxes: np.ndarray | None = None) -> np.ndarray:
        """Alpha `[T, H, W]` uint8 for RGB(A) frames `[T, H, W, C]`; consumes a matte file in step.

        `boxes` `[T, 4]` (x0, y0, x1, y1; -1 = unknown) limit keying to where the analysis pass found the
        foreground: alpha is 0 outside, and the key costs only the box's area.
        """
        if self.mode == "alpha":
            return np.ascontiguousarray(chunk[..., 3])
        if self.mode == "segment":
            return self.segmenter.alphas(chunk[..., :3])
        if self.mode == "file":
            return self._next_matte(len(chunk))
        out = np.zeros(chunk.shape[:3], np.uint8)
        for i, f in enumerate(chunk):
            x0, y0, x1, y1 = boxes[i] if boxes is not None and boxes[i][0] >= 0 else (0, 0, f.shape[1], f.shape[0])
            if x1 > x0 and y1 > y0:
                out[i, y0:y1, x0:x1] = clean_matte(self.keyer.alpha(np.ascontiguousarray(f[y0:y1, x0:x1, :3])))
        return out

    def _next_matte(self, n: int) -> np.ndarray:
        parts, have = [], 0
        while have < n:
            if self._matte_buf is None or len(self._matte_buf) == 0:
                self._matte_buf = next(self._matte_iter, None)
                if self._matte_buf is None:
                    raise FormatError(f"matte {self.matte_info.path} ended before the foreground; "
                                      "give a matte with one frame per foreground frame")
            take = min(n - have, len(self._matte_buf))
            parts.append(self._matte_buf[:take])
            self._matte_buf = self._matte_buf[take:]
            have += take
        m = np.concatenate(parts)
        return np.ascontiguousarray(m[..., 3] if self.matte_channel == "alpha" else m[..., 0])

    def restart(self, size: tuple[int, int] | None = None) -> "MatteSource":
        """A fresh copy for another pass over the clip (a matte file read at `size`, default full size)."""
        if self.mode == "segment":  # new timestamps and temporal state for the new pass
            from .segment import PersonSegmenter
            return MatteSource("segment", segmenter=PersonSegmenter(self.segmenter.model))
        if self.mode != "file":
            return self
        return MatteSource("file", self.backing, None, self.matte_info,
                           _matte_chunks(self.matte_info, self.matte_channel, size), matte_channel=self.matte_channel)

    def close(self) -> None:
        """Release what this source holds open (a segmenter's graph, a matte file's reader); idempotent."""
        if self.segmenter is not None:
            self.segmenter.close()
        if self._matte_iter is not None and hasattr(self._matte_iter, "close"):
            self._matte_iter.close()

    def describe(self) -> dict:
        d = {"mode": self.mode}
        if self.backing is not None:
            d["backing"] = {"kind": self.backing.kind, "rgb": list(self.backing.rgb)}
        if self.matte_info is not None:
            d["matte"] = {**self.matte_info.describe(), "channel": self.matte_channel}
        return d


def _matte_chunks(info: VideoInfo, channel: str, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    return read_chunks(info, chunk=8, alpha=channel == "alpha", size=size)


def _matte_channel(info: VideoInfo) -> str:
    """Where a matte file keeps the matte: its alpha channel, unless that is solid while the picture is not (an RGBA
    export of a black-and-white matte: read from the alpha, every pixel would be foreground)."""
    if not info.has_alpha:
        return "red"
    first = next(read_chunks(info, chunk=8, alpha=True))
    solid = int(first[..., 3].min()) == 255
    return "red" if solid and int(first[..., :3].max()) > int(first[..., :3].min()) else "alpha"


def open_matte(spec: MatteSpec, fg: VideoInfo, sample: np.ndarray) -> MatteSource:
    """Choose the alpha source for `fg`; `sample` is a few first frames `[T, H, W, C]` for screen detection (frames
    from the whole clip are looked at when they show none)."""
    if spec.mode == "file":
        info = probe(Path(spec.path), fps=fg.fps, role="matte")
        if (info.width, info.height) != (fg.width, fg.height):
            raise FormatError(f"matte is {info.width}x{info.height} but the foreground is {fg.width}x{fg.height}; "
                              "give a matte of the same size")
        if info.n_frames != fg.n_frames:
            raise FormatError(f"matte has {info.n_frames} frames but the foreground has {fg.n_frames}; "
                              "give one matte frame per foreground frame")
        channel = _matte_channel(info)
        return MatteSource("file", None, None, info, _matte_chunks(info, channel), matte_channel=channel)
    if spec.mode == "segment":
        from .segment import PersonSegmenter
        return MatteSource("segment", segmenter=PersonSegmenter())
    has_real_alpha = fg.has_alpha and sample.shape[-1] == 4 and int(sample[..., 3].min()) < 255
    if fg.has_alpha and not has_real_alpha and spec.mode == "auto":  # opaque at first (a slate): look further in
        later = sample_frames(fg)
        has_real_alpha = later.shape[-1] == 4 and int(later[..., 3].min()) < 255
    if spec.mode == "alpha" or (spec.mode == "auto" and has_real_alpha):
        if not fg.has_alpha:
            raise InputError(f"foreground {fg.path} has no alpha channel; use --matte key or --matte FILE")
        return MatteSource("alpha")
    rgb = sample[..., :3]
    backing = detect_backing(rgb)
    if backing is None or (spec.backing != "auto" and backing.kind != spec.backing):
        # the first frames may be a fade from black or a slate: look over the whole clip before giving up
        rgb = sample_frames(fg)[..., :3]
        backing = detect_backing(rgb)
    if spec.backing != "auto":
        if backing is None or backing.kind != spec.backing:
            backing = _forced_backing(rgb, spec.backing)
    if backing is None:
        raise InputError(f"no green or blue screen found in {fg.path}; give a matte with --matte FILE "
                         "(or an RGBA input)")
    return MatteSource("key", backing, ChromaKeyer(backing))


def _forced_backing(rgb: np.ndarray, kind: str) -> Backing:
    """The user says which screen it is: take the median of the pixels where that channel dominates."""
    c = 1 if kind == "green" else 2
    px = rgb.reshape(-1, 3).astype(np.int16)
    others = np.delete(px, c, axis=1).max(axis=1)
    sel = px[px[:, c] - others > 20]
    if len(sel) < 0.05 * len(px):
        raise InputError(f"the foreground does not show a {kind} screen; check --backing or give --matte FILE")
    return Backing(tuple(int(v) for v in np.median(sel, axis=0)), kind)
