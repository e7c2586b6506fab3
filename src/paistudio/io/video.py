"""Streaming readers for video files and image-sequence folders.

`probe()` opens a source and checks it (exists, is a video or a folder of frames, has frames, decodes); it
reads every packet's timestamp without decoding, so the frame count, the exact frame rate (a Fraction:
23.976 stays 24000/1001) and the timestamps are known before any work starts; it also reads what the output
must keep or the decode must undo: pixel aspect, start timecode, a sequence's frame numbers, colour tags (HDR /
BT.2020), interlacing. `read_chunks()` then yields upright, progressive, SDR BT.709 RGB(A) uint8 chunks
`[T, H, W, C]` (deinterlaced with bwdif, converted by `io.hdr` where the tags say so); memory stays flat in clip
length.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import cv2
from av.video.reformatter import VideoReformatter
import numpy as np

from ..errors import FormatError, InputError
from . import hdr
from .images import IMAGE_EXTENSIONS, read_image, scene_encoding
from .lut import ColourLut

VIDEO_EXTENSIONS = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mxf"}
DEFAULT_SEQUENCE_FPS = Fraction(24)
_INTERLACED = (2, 3, 4, 5)  # AVFieldOrder: TT, BB, TB, BT (the field coded first, then the one displayed first)
_TOP_SHOWN_FIRST = (2, 5)  # TT and BT display the top field first; BB and TB the bottom one
_ALPHA_FORMATS = ("yuva", "rgba", "bgra", "argb", "abgr", "gbrap", "ya8", "ya16", "pal8")
# VP8/VP9 in WebM carry alpha beside the picture (Matroska's BlockAdditional, `alpha_mode` 1 on the track); only
# libvpx's decoders read it, FFmpeg's own ones drop it
_ALPHA_DECODERS = {"vp9": "libvpx-vp9", "vp8": "libvpx"}


@dataclass
class VideoInfo:
    """What a source is, read once before rendering."""

    path: Path
    kind: str  # "video" | "sequence"
    width: int
    height: int
    n_frames: int
    fps: Fraction  # exact frame rate
    time_base: Fraction  # unit of `pts`
    pts: list[int] = field(repr=False)  # presentation timestamp of each frame, in display order
    has_alpha: bool = False
    has_audio: bool = False
    codec: str = ""
    files: list[Path] = field(default_factory=list, repr=False)  # the frames of a sequence
    transfer: int | None = None  # FFmpeg's colour tags of a video (AVColorTransferCharacteristic, AVColorPrimaries)
    primaries: int | None = None
    to_sdr: bool = False  # frames are converted to SDR BT.709 on decode (`io.hdr`): HDR / BT.2020 video, EXR, log DPX
    interlaced: bool = False  # fields: frames are deinterlaced on decode (bwdif)
    pixel_aspect: Fraction = Fraction(1)  # width / height of a stored pixel as displayed (anamorphic: not 1)
    timecode: str | None = None  # the first frame's timecode (a mov/mp4 tmcd track or a tag), e.g. "01:00:00:00"
    frame_numbers: list[int] | None = field(default=None, repr=False)  # a sequence's own (shot_1001.png: 1001, ...)
    number_digits: int = 5  # their zero padding
    decoder: str | None = None  # a decoder other than FFmpeg's default for the codec (VP8/VP9 alpha: libvpx's)
    lut: str | None = None  # a .cube file the colour goes through on decode (`io.lut`), set by the job

    @property
    def converted_from(self) -> str:
        """What the frames were converted from to SDR, e.g. "HLG, BT.2020" or "scene-linear EXR"."""
        if self.kind == "sequence":
            return scene_encoding(self.files[0]) or "display codes"
        return hdr.describe(self.transfer, self.primaries)

    @property
    def duration(self) -> float:
        return self.n_frames / float(self.fps)

    def describe(self) -> dict:
        d = {"path": str(self.path), "kind": self.kind, "width": self.width, "height": self.height,
             "frames": self.n_frames, "fps": f"{self.fps.numerator}/{self.fps.denominator}",
             "codec": self.codec, "alpha": self.has_alpha, "audio": self.has_audio}
        if self.to_sdr:
            d["converted_from"] = self.converted_from
        if self.interlaced:
            d["deinterlaced"] = True
        if self.pixel_aspect != 1:
            d["pixel_aspect"] = f"{self.pixel_aspect.numerator}/{self.pixel_aspect.denominator}"
        if self.timecode:
            d["timecode"] = self.timecode
        if self.lut:
            d["lut"] = self.lut
        return d


def probe(path: str | Path, fps: Fraction | None = None, role: str = "foreground") -> VideoInfo:
    """Check a source and read its layout. `fps` sets a sequence's rate (default 24)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{role} {path} does not exist; check the path")
    if path.is_dir():
        return _probe_sequence(path, fps or DEFAULT_SEQUENCE_FPS, role)
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        raise InputError(f"{role} {path} is a single image; give a video file or a folder of frames")
    return _probe_video(path, role)


def _probe_video(path: Path, role: str) -> VideoInfo:
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError) as e:
        raise InputError(f"{role} {path} cannot be opened as a video ({_short(e)}); is it corrupt or truncated?") from None
    try:
        if not container.streams.video:
            raise InputError(f"{role} {path} has no video stream; give a video file")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        pts: list[int] = []
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                pts.append(packet.pts if packet.pts is not None else (pts[-1] + 1 if pts else 0))
        except av.FFmpegError as e:
            raise InputError(f"{role} {path} is corrupt or truncated ({_short(e)}); re-export it") from None
        if not pts:
            raise InputError(f"{role} {path} has zero frames; give a video with at least one frame")
        pts.sort()
        repeats = len(pts) - len(set(pts))
        if repeats:  # no output can carry them, and which of two frames comes first is unknown
            raise InputError(f"{role} {path} gives {repeats} frame(s) the same time as another (clips joined "
                             "end to end, or a broken mux); re-export it with fresh timestamps, e.g. "
                             "ffmpeg -i IN -c copy -fflags +genpts OUT")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate:
            raise FormatError(f"{role} {path} has no frame rate; re-export it with a constant frame rate")
        fps = Fraction(rate).limit_denominator(1001 * 1000)
        width, height = ctx.width, ctx.height
        fmt = ctx.pix_fmt or ""
        has_alpha = any(fmt.startswith(p) for p in _ALPHA_FORMATS)
        decoder = None
        if ctx.name in _ALPHA_DECODERS and _tag(stream.metadata, "alpha_mode") == "1":
            decoder, has_alpha = _ALPHA_DECODERS[ctx.name], True
        trc, primaries = ctx.color_trc, ctx.color_primaries
        info = VideoInfo(path, "video", width, height, len(pts), fps, Fraction(stream.time_base), pts,
                         has_alpha=has_alpha, has_audio=bool(container.streams.audio), codec=ctx.name,
                         transfer=trc, primaries=primaries,
                         # a matte's values are coverage, not light: read as coded
                         to_sdr=role != "matte" and hdr.needs_conversion(trc, primaries),
                         interlaced=ctx.field_order in _INTERLACED,
                         pixel_aspect=Fraction(stream.sample_aspect_ratio or 1) or Fraction(1),
                         timecode=_timecode(container), decoder=decoder)
    finally:
        container.close()
    _check_first_frame(info, role)
    return info


def _tag(tags: dict, name: str) -> str | None:
    """A metadata tag by name whatever its case (Matroska spells them in capitals), or None."""
    return next((str(v) for k, v in tags.items() if k.lower() == name and v), None)


def _timecode(container) -> str | None:
    """The start timecode: the video stream's tag, a timecode (tmcd) track's, or the container's."""
    for tags in [s.metadata for s in container.streams.video] + [s.metadata for s in container.streams
                                                                 if s.type == "data"] + [container.metadata]:
        if (timecode := _tag(tags, "timecode")) is not None:
            return timecode
    return None


def _check_first_frame(info: VideoInfo, role: str) -> None:
    """Decode one frame so a file with readable headers but broken data fails now, not mid-render."""
    try:
        first = next(read_chunks(info, chunk=1), None)
    except InputError:
        raise
    if first is None:
        raise InputError(f"{role} {info.path} has no decodable frames; is it corrupt or truncated?")
    if first.shape[1:3] != (info.height, info.width):
        if first.shape[1:3] == (info.width, info.height):  # a display rotation by a quarter turn
            info.pixel_aspect = 1 / info.pixel_aspect
        info.height, info.width = first.shape[1:3]


_FRAME_NUMBER = re.compile(r"(\d+)\.[^.]+$")  # the digits just before the extension: plate.1001.png -> 1001
_SHOWN_MISSING = 8  # missing frame numbers an error lists


def _natural_key(p: Path):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.name)]


def _sequence_name(p: Path) -> str:
    """`plate.####.png` for plate.1001.png (the digits before the extension as #), or the name if it has none."""
    m = _FRAME_NUMBER.search(p.name)
    return p.name if m is None else p.name[:m.start(1)] + "#" * len(m.group(1)) + p.name[m.end(1):]


def _check_one_sequence(files: list[Path], folder: Path, role: str) -> None:
    """A folder of numbered frames must hold one sequence, without holes: two sequences side by side (a plate and
    its matte) or a frame a render dropped would otherwise be read as frames in the wrong place. Equal steps
    (frames on twos: 1001, 1003, ...) are a sequence; names without numbers are taken in natural order."""
    numbered = {}
    for p in files:
        m = _FRAME_NUMBER.search(p.name)
        if m is not None:
            key = (p.name[:m.start(1)], p.suffix.lower())
            numbered.setdefault(key, []).append(int(m.group(1)))
    if not numbered:
        return
    names = sorted({_sequence_name(p) for p in files if _FRAME_NUMBER.search(p.name)} |
                   {p.name for p in files if not _FRAME_NUMBER.search(p.name)})
    if len(numbered) > 1 or len(files) > sum(len(v) for v in numbered.values()):
        shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
        raise InputError(f"{role} folder {folder} holds more than one image sequence ({shown}); put each sequence "
                         "in a folder of its own")
    numbers = sorted(next(iter(numbered.values())))
    steps = {b - a for a, b in zip(numbers, numbers[1:])}
    if len(steps) > 1:
        step = min(steps)
        present = set(numbers)
        missing = [n for n in range(numbers[0], numbers[-1] + 1, step or 1) if n not in present]
        shown = ", ".join(map(str, missing[:_SHOWN_MISSING])) + (", ..." if len(missing) > _SHOWN_MISSING else "")
        raise InputError(f"{role} sequence {folder / names[0]} is missing {len(missing)} frame(s) between "
                         f"{numbers[0]} and {numbers[-1]}: {shown}; render or copy them in (a hole would shift "
                         "every later frame in time)")


def _probe_sequence(folder: Path, fps: Fraction, role: str) -> VideoInfo:
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")),
                   key=_natural_key)
    if not files:
        raise InputError(f"{role} folder {folder} holds no images (png, jpg, tif); give a folder of frames")
    _check_one_sequence(files, folder, role)
    codec = files[0].suffix[1:].lower()
    # scene-linear and log colour (EXR, DPX) is mapped to SDR; a matte's values are coverage
    light = role != "matte" and scene_encoding(files[0]) is not None
    first = read_image(files[0], role=f"{role} frame", light=light)
    has_alpha = first.shape[2] == 4
    info = VideoInfo(folder, "sequence", first.shape[1], first.shape[0], len(files), Fraction(fps),
                     1 / Fraction(fps), list(range(len(files))), has_alpha=has_alpha, codec=codec,
                     files=files, to_sdr=light)
    numbers = [_FRAME_NUMBER.search(f.name) for f in files]
    if all(numbers) and len({int(m.group(1)) for m in numbers}) == len(files):  # every frame numbered, no repeats
        info.frame_numbers = [int(m.group(1)) for m in numbers]
        widths = {len(m.group(1)) for m in numbers}
        info.number_digits = widths.pop() if len(widths) == 1 else 5  # the source's padding, if it has one
    return info


def read_chunks(info: VideoInfo, chunk: int = 8, alpha: bool | None = None,
                size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """Yield uint8 chunks `[T, H, W, 3]` (or `[..., 4]` when `alpha`, default: the source has alpha).

    `size` = (w, h) delivers frames downscaled (area filter) — for a video, inside the colour conversion,
    which is much cheaper than converting at full size and resizing.
    """
    alpha = info.has_alpha if alpha is None else alpha
    if info.kind == "sequence":
        frames = _read_sequence(info, chunk, alpha)
        if size is not None:
            frames = (np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in c]) for c in frames)
    else:
        frames = _read_video(info, chunk, alpha, size)
    if info.lut is None:
        yield from frames
        return
    lut = ColourLut(info.lut)
    for c in frames:
        yield _graded(c, lut)


def _graded(frames: np.ndarray, lut: "ColourLut") -> np.ndarray:
    """Frames `[T, H, W, C]` with their colour through the LUT (alpha kept), in place."""
    for f in frames:
        f[..., :3] = lut.apply(f[..., :3])
    return frames


SAMPLE_DECODE_LIMIT = 48  # frames decoded at most from a keyframe towards a sample's time (long-GOP files)


def sample_frames(info: VideoInfo, count: int = 8) -> np.ndarray:
    """About `count` frames spread over the whole clip, `[T, H, W, C]` uint8 as `read_chunks` gives them, for decisions
    that the first frames alone get wrong (a fade from black or a slate before the green screen shows).

    A video seeks to the keyframe before each of `count` evenly spaced times and decodes on towards it, at most
    SAMPLE_DECODE_LIMIT frames (so a file with one keyframe costs a bounded decode, not the whole clip); where it
    cannot seek, or needs a special decoder, its first frames are used."""
    n = info.n_frames
    picks = sorted({int(round(i)) for i in np.linspace(0, n - 1, min(count, n))})
    if info.kind == "sequence":
        frames = np.stack([_sequence_frame(info, info.files[i], info.has_alpha) for i in picks])
        return frames if info.lut is None else _graded(frames, ColourLut(info.lut))
    first = next(read_chunks(info, chunk=count))
    if info.decoder is not None or n <= len(first):
        return first
    fmt = "rgba" if info.has_alpha else "rgb24"
    sdr = (info.transfer, info.primaries) if info.to_sdr else None
    out = []
    try:
        with av.open(str(info.path)) as container:
            stream = container.streams.video[0]
            scaler = VideoReformatter()
            for i in picks:
                container.seek(info.pts[i], stream=stream, backward=True)
                frame = None
                for frame in itertools.islice(container.decode(stream), SAMPLE_DECODE_LIMIT):
                    if frame.pts is not None and frame.pts >= info.pts[i]:
                        break
                if frame is not None:
                    out.append(_upright(frame, fmt, scaler, None, sdr))
    except av.FFmpegError:
        return first
    out = [f for f in out if f.shape == first[0].shape]
    if not out:
        return first
    return np.stack(out) if info.lut is None else _graded(np.stack(out), ColourLut(info.lut))


def _sequence_frame(info: VideoInfo, path: Path, alpha: bool) -> np.ndarray:
    """One frame of a sequence, RGB or RGBA (an opaque alpha added where a frame has none)."""
    img = read_image(path, role="frame", light=info.to_sdr)
    if img.shape[:2] != (info.height, info.width):
        raise FormatError(f"frame {path.name} is {img.shape[1]}x{img.shape[0]}, the sequence is "
                          f"{info.width}x{info.height}; all frames must have one size")
    if img.shape[2] != (4 if alpha else 3):
        img = img[..., :3] if not alpha else np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])
    return img


def _read_sequence(info: VideoInfo, chunk: int, alpha: bool) -> Iterator[np.ndarray]:
    buf = []
    for p in info.files:
        buf.append(_sequence_frame(info, p, alpha))
        if len(buf) == chunk:
            yield np.stack(buf)
            buf = []
    if buf:
        yield np.stack(buf)


def _read_video(info: VideoInfo, chunk: int, alpha: bool, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    fmt = "rgba" if alpha else "rgb24"
    try:
        container = av.open(str(info.path))
    except av.FFmpegError as e:
        raise InputError(f"{info.path} cannot be opened ({_short(e)})") from None
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        scaler = VideoReformatter()  # reused: one threaded swscale context for the whole clip
        buf = []
        try:
            sdr = (info.transfer, info.primaries) if info.to_sdr else None
            frames = container.decode(stream) if info.decoder is None else _decode_with(info.decoder, container, stream)
            coded = None
            for i, frame in enumerate(_deinterlaced(stream, frames) if info.interlaced else frames):
                coded = coded or (frame.width, frame.height)
                if (frame.width, frame.height) != coded:
                    raise InputError(f"{info.path} changes its frame size at frame {i} ({frame.width}x{frame.height} "
                                     f"after {coded[0]}x{coded[1]}); split it where it changes, or re-export it at "
                                     "one size")
                buf.append(_upright(frame, fmt, scaler, size, sdr))
                if len(buf) == chunk:
                    yield np.stack(buf)
                    buf = []
        except av.FFmpegError as e:
            raise InputError(f"{info.path} is corrupt or truncated ({_short(e)}); re-export it") from None
        if buf:
            yield np.stack(buf)
    finally:
        container.close()


def _decode_with(decoder: str, container, stream) -> Iterator[av.VideoFrame]:
    """The stream's frames through a named decoder (the demuxer's last, empty packet flushes it)."""
    ctx = av.CodecContext.create(decoder, "r")
    ctx.thread_type = "AUTO"
    for packet in container.demux(stream):
        yield from ctx.decode(packet)


def _deinterlaced(stream, frames: Iterator[av.VideoFrame]) -> Iterator[av.VideoFrame]:
    """Frames through FFmpeg's bwdif, one frame out for each frame in (the frame count and rate are kept; each
    frame keeps its first field, the other interpolated), only frames flagged interlaced touched. The field order
    is the stream's: x264's interlaced streams say top first there but leave the frames' own flag at bottom first."""
    parity = "tff" if stream.codec_context.field_order in _TOP_SHOWN_FIRST else "bff"
    graph = av.filter.Graph()
    src = graph.add_buffer(template=stream)
    bwdif = graph.add("bwdif", f"mode=send_frame:parity={parity}:deint=interlaced")
    sink = graph.add("buffersink")
    src.link_to(bwdif)
    bwdif.link_to(sink)
    graph.configure()
    for frame in itertools.chain(frames, [None]):  # None flushes the frame bwdif holds back (it looks ahead)
        graph.push(frame)
        while True:
            try:
                yield graph.pull()
            except (BlockingIOError, av.EOFError):
                break


def _upright(frame: av.VideoFrame, fmt: str, scaler: VideoReformatter, size=None, sdr=None) -> np.ndarray:
    """RGB(A) of a frame as it is meant to be seen: a display rotation (phone footage) is applied."""
    turns = (frame.rotation or 0) % 360 // 90  # counter-clockwise quarter turns
    if turns % 2 and size is not None:
        size = (size[1], size[0])
    rgb = _to_rgb(frame, fmt, scaler, size, sdr)
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def _to_rgb(frame: av.VideoFrame, fmt: str, scaler: VideoReformatter, size=None, sdr=None) -> np.ndarray:
    """RGB(A) with the frame's own matrix; untagged HD is taken as BT.709 and SD as BT.601 (what players do).
    `sdr` = (transfer, primaries): decode to 16 bits and convert HDR / BT.2020 to SDR BT.709 (`io.hdr`)."""
    cs = frame.colorspace
    if cs in (0, 2):  # RGB or unspecified
        cs = None if frame.format.name.startswith(("rgb", "bgr", "gbr", "argb", "abgr")) else (
            1 if frame.height >= 720 else 5)
    w, h = size if size is not None else (None, None)
    interp = "AREA" if size is not None else None
    if sdr is not None:
        fmt = "rgba64le" if fmt == "rgba" else "rgb48le"
    colours = {"src_colorspace": cs, "dst_colorspace": cs} if cs else {}
    out = scaler.reformat(frame, w, h, format=fmt, interpolation=interp, threads=1, **colours).to_ndarray()
    if sdr is None:
        return out
    rgb = hdr.to_sdr(out[..., :3], *sdr)
    return np.dstack([rgb, (out[..., 3] >> 8).astype(np.uint8)]) if out.shape[-1] == 4 else rgb


def _short(e: Exception) -> str:
    return str(e).split(":")[0] if len(str(e)) > 120 else str(e)
