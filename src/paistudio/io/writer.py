"""Video and image-sequence sinks with exact timestamps and the input's audio.

Formats (`codec`):
- `h264`: libx264 yuv420p, tagged BT.709 (primaries, transfer, matrix; limited range), in .mp4/.mov/.mkv.
- `hevc`: libx265 yuv420p, tagged as H.264 is and `hvc1` (what Apple players need), in .mp4/.mov/.mkv.
- `prores422hq`: ProRes 422 HQ (prores_ks, yuv422p10le, BT.709) in .mov: the editing intermediate, no alpha.
- `dnxhr`: DNxHR HQ (dnxhd, yuv422p, BT.709) in .mov, for Avid; no alpha.
- `prores4444`: ProRes 4444 (prores_ks, yuva444p10le) in .mov; the alpha channel carries the foreground matte.
- `ffv1`: lossless FFV1 (bgra) in .mkv; alpha as for ProRes. Matroska stores times in milliseconds.
- `png`: a folder of RGBA PNGs `00000.png …`, or the source sequence's own frame numbers (no audio).
- `dpx`: a folder of 10-bit RGB DPX frames, numbered as PNGs, their header saying BT.709 video codes (no alpha).
- `exr`: a folder of half-float RGB OpenEXR frames, uncompressed (FFmpeg's encoder has only RLE and ZIP, and ZIP
  costs 20 times the time for 30 % less space on a photographic 1080p frame), the picture's sRGB decoded to linear
  light: display linear, BT.709 primaries, white at 1.0 (no alpha: EXR's is premultiplied, the composite opaque).
  As layers (`--layers-codec exr`) it also takes RGBA frames, written premultiplied, and grey mattes, written as
  coverage (a single Y channel).

Each frame keeps its input timestamp (`pts` in the input's time base), so the frame count, the frame rate
(24000/1001 stays 24000/1001) and every frame time are preserved. Every audio track of the input goes along,
copied where the container carries its codec, converted where it does not (`io.audio`). The
sink writes to the path it is given; `paistudio.io.atomic` supplies a temporary one.
"""

from __future__ import annotations

import functools
from fractions import Fraction
from pathlib import Path

import av
from av.video.reformatter import VideoReformatter
import cv2
import numpy as np

from ..comp.colour import SRGB_TO_LINEAR
from ..errors import FormatError
from .audio import AudioTrack, AudioTracks

CONTAINERS = {"h264": {".mp4", ".mov", ".mkv", ".m4v"}, "hevc": {".mp4", ".mov", ".mkv", ".m4v"},
              "prores422hq": {".mov"}, "dnxhr": {".mov"}, "prores4444": {".mov"}, "ffv1": {".mkv"}}
CODEC_ALPHA = {"h264": False, "hevc": False, "prores422hq": False, "dnxhr": False, "prores4444": True, "ffv1": True,
               "png": True, "dpx": False, "exr": False}
SEQUENCE_CODECS = ("png", "dpx", "exr")  # written as a folder of numbered frames
_X26X = ("h264", "hevc")  # the CRF codecs: --crf and --preset apply
_PIX_FMT = {"prores422hq": "yuv422p10le", "dnxhr": "yuv422p", "prores4444": "yuva444p10le", "ffv1": "bgra"}
_OPTIONS = {"prores422hq": {"profile": "3"}, "dnxhr": {"profile": "dnxhr_hq"}, "prores4444": {"profile": "4"}}
BT709 = 1


MIN_SIZE = {"dnxhr": (256, 120)}  # FFmpeg's DNxHR encoder refuses smaller frames


def check_frame_size(codec: str, width: int, height: int) -> None:
    """Raise FormatError when the codec cannot take frames of this size."""
    w, h = MIN_SIZE.get(codec, (1, 1))
    if width < w or height < h:
        raise FormatError(f"--codec {codec} needs frames of at least {w}x{h}, the foreground is {width}x{height}; "
                          "use --codec prores422hq")


def check_output_format(path: Path, codec: str) -> None:
    """Raise FormatError when the output name does not suit the codec."""
    if codec in SEQUENCE_CODECS:
        if path.suffix:
            raise FormatError(f"--codec {codec} writes a folder of frames; give a folder name without extension, not "
                              f"{path.name}")
        return
    allowed = CONTAINERS[codec]
    if path.suffix.lower() not in allowed:
        raise FormatError(f"--codec {codec} cannot be written to '{path.suffix or 'no extension'}'; "
                          f"use {' or '.join(sorted(allowed))}")


class VideoSink:
    """Writes RGB/RGBA uint8 frames with given timestamps. Use as a context manager or call close()."""

    def __init__(self, path: Path, codec: str, width: int, height: int, fps: Fraction, time_base: Fraction,
                 audio_from: Path | None = None, crf: int = 18, preset: str = "veryfast", bitexact: bool = False,
                 pixel_aspect: Fraction = Fraction(1), timecode: str | None = None,
                 frame_numbers: list[int] | None = None, number_digits: int = 5):
        self.path, self.codec = Path(path), codec
        self.alpha = CODEC_ALPHA[codec]
        self.count = 0
        self._audio = None
        self.audio_tracks: list[AudioTrack] = []  # what each input audio track became (copied or converted)
        self._container = None
        self._numbers, self._digits = frame_numbers, number_digits  # PNG names (default 00000, 00001, ...)
        self._stills: dict[int, av.CodecContext] = {}  # a sequence's DPX or EXR encoder, by channel count
        if codec in SEQUENCE_CODECS:
            self.path.mkdir(parents=True, exist_ok=True)
            return
        fmt = {".mkv": "matroska", ".mov": "mov", ".mp4": "mp4", ".m4v": "mp4"}[self.path.suffix.lower()]
        # bitexact: no random segment ids or version strings in the container (the dataset's shards must be
        # byte-identical across runs; Matroska otherwise writes a random SegmentUID)
        self._container = av.open(str(self.path), "w", format=fmt,
                                  container_options={"fflags": "+bitexact"} if bitexact else None)
        stream = self._container.add_stream(_ENCODERS[codec], rate=fps)
        stream.width, stream.height = width, height
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        if codec in _X26X:
            odd = width % 2 or height % 2
            stream.pix_fmt = "yuv444p" if odd else "yuv420p"  # 4:2:0 needs even sizes
            if codec == "h264":
                stream.options = {"crf": str(crf), "preset": preset, "threads": "auto", **_x264_cpu_option()}
                stream.thread_type = "FRAME"  # x264 frame threads (PyAV's default, slices, is ~12 % slower here)
            else:
                stream.options = {"crf": str(crf), "preset": preset, "x265-params": "log-level=error"}
                if fmt != "matroska":
                    stream.codec_tag = "hvc1"  # QuickTime and iOS play only this HEVC sample entry
        else:
            stream.pix_fmt = _PIX_FMT[codec]
            stream.options = _OPTIONS.get(codec, {})
        if codec != "ffv1":  # the YUV codecs say what they hold: BT.709, limited range (as the conversion writes)
            cc = stream.codec_context
            cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range = BT709, BT709, BT709, 1
        if pixel_aspect != 1:  # anamorphic: players stretch the stored frame back to its display shape
            stream.codec_context.sample_aspect_ratio = Fraction(pixel_aspect)
        if timecode:  # mov/mp4 write it as a timecode track, Matroska as a tag
            stream.metadata["timecode"] = timecode
        self._stream = stream
        self._time_base = time_base
        self._frame_ticks = max(1, round(1 / (Fraction(fps) * Fraction(time_base))))  # one frame in time-base units
        self._last_dts: int | None = None
        self._scaler = VideoReformatter()  # reused: keeps one threaded swscale context for the whole clip
        if audio_from is not None:
            try:
                self._audio = AudioTracks(audio_from, self._container, fmt)
            except BaseException:
                self.abandon()
                raise
            self.audio_tracks = list(self._audio.tracks.values())

    def write(self, frames: np.ndarray, pts: list[int]) -> None:
        """Write a chunk `[T, H, W, 3|4]` (or `[T, H, W]` grey, PNG only) with one timestamp (input time base) per frame."""
        for frame, ts in zip(frames, pts):
            if self.codec in SEQUENCE_CODECS:
                number = self._numbers[self.count] if self._numbers else self.count
                name = self.path / f"{number:0{self._digits}d}.{self.codec}"
                if self.codec == "png":
                    if frame.ndim == 3:
                        frame = cv2.cvtColor(frame, cv2.COLOR_RGBA2BGRA if frame.shape[-1] == 4 else cv2.COLOR_RGB2BGR)
                    cv2.imwrite(str(name), frame, [cv2.IMWRITE_PNG_COMPRESSION, 1])
                else:
                    channels = 1 if frame.ndim == 2 else frame.shape[-1]
                    if channels not in self._stills:
                        self._stills[channels] = _still_encoder(self.codec, frame.shape[1], frame.shape[0], channels)
                    name.write_bytes(_encode_still(self._stills[channels], frame))
            else:
                self._encode(frame, ts)
            self.count += 1

    def _encode(self, frame: np.ndarray, ts: int) -> None:
        vf = packed_frame(frame)
        if self.codec == "ffv1":
            vf = self._scaler.reformat(vf, format=self._stream.pix_fmt, threads=0)
        else:
            vf = self._scaler.reformat(vf, format=self._stream.pix_fmt, src_colorspace=BT709, dst_colorspace=BT709,
                                       dst_color_range=1, threads=0)
        vf.pts = ts
        vf.time_base = self._time_base
        for packet in self._stream.encode(vf):
            self._mux_video(packet)
        if self._audio is not None:
            self._audio.mux_until(float(ts * self._time_base))

    def _mux_video(self, packet: av.Packet) -> None:
        if self.codec == "hevc" and packet.pts is not None:
            packet.dts = plausible_dts(packet.pts, packet.dts, self._last_dts, self._frame_ticks)
            self._last_dts = packet.dts
        self._container.mux(packet)

    def close(self) -> None:
        if self._container is None:
            return
        try:
            for packet in self._stream.encode():
                self._mux_video(packet)
            if self._audio is not None:
                self._audio.mux_until(None)
        finally:
            if self._audio is not None:
                self._audio.close()
            self._container.close()
            self._container = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.close()
        else:  # the render failed: drop the file's end rather than flush into it (which could fail again, hiding why)
            self.abandon()

    def abandon(self) -> None:
        """Close without flushing the encoders; what was written is left for the caller to delete."""
        if self._audio is not None:
            self._audio.close()
        if self._container is not None:
            try:
                self._container.close()
            except av.FFmpegError:
                pass
            self._container = None


DPX_BT709 = 6  # SMPTE 268M transfer and colorimetric code of ITU-R BT.709 (FFmpeg writes 4, unspecified video)


_STILL_FORMATS = {("dpx", 3): "gbrp10le", ("exr", 3): "gbrpf32le", ("exr", 4): "gbrapf32le", ("exr", 1): "grayf32le"}


def _still_encoder(codec: str, width: int, height: int, channels: int = 3) -> av.CodecContext:
    """FFmpeg's DPX (10-bit planar RGB) or EXR (half float, uncompressed; RGB, RGBA or Y) encoder; one packet is one
    file."""
    if (codec, channels) not in _STILL_FORMATS:
        raise FormatError(f"--codec {codec} does not take {channels}-channel frames")
    ctx = av.CodecContext.create(codec, "w")
    ctx.width, ctx.height, ctx.time_base = width, height, Fraction(1, 25)
    ctx.pix_fmt = _STILL_FORMATS[(codec, channels)]
    if codec == "exr":
        ctx.options = {"format": "half", "compression": "none"}
    ctx.open()
    return ctx


def _encode_still(ctx: av.CodecContext, img: np.ndarray) -> bytes:
    """One uint8 frame as the bytes of a DPX (RGB `[H, W, 3]`) or EXR file (RGB; straight RGBA `[H, W, 4]`, written
    premultiplied as EXR stores it; a grey `[H, W]` matte, written as coverage)."""
    h, w = img.shape[:2]
    if ctx.name == "dpx":
        # 8 -> 10 bits by repeating the top bits: 0 and 255 land on 0 and 1023 exactly
        planes = [(img[..., c].astype(np.uint16) << 2) | (img[..., c] >> 6) for c in (1, 2, 0)]
        dtype = np.uint16
    elif img.ndim == 2:
        planes, dtype = [img.astype(np.float32) / 255.0], np.float32
    else:
        alpha = img[..., 3].astype(np.float32) / 255.0 if img.shape[-1] == 4 else None
        planes = [SRGB_TO_LINEAR[img[..., c]] for c in (1, 2, 0)]  # planar G, B, R in linear light
        if alpha is not None:
            planes = [p * alpha for p in planes] + [alpha]
        dtype = np.float32
    frame = av.VideoFrame(w, h, ctx.pix_fmt)
    for plane, values in zip(frame.planes, planes):
        rows = np.frombuffer(plane, dtype).reshape(h, plane.line_size // np.dtype(dtype).itemsize)
        rows[:, :w] = values
    frame.pts = 0
    data = b"".join(bytes(p) for p in ctx.encode(frame))
    if ctx.name == "dpx":  # say what the codes are: BT.709 video, so readers do not take them for log
        data = data[:801] + bytes([DPX_BT709, DPX_BT709]) + data[803:]
    return data


REORDER_FRAMES = 32  # a decode time further than this many frames before its presentation time is not a real one


def plausible_dts(pts: int, dts: int | None, last_dts: int | None, frame_ticks: int) -> int:
    """The packet's decode time, or a valid one in its place. FFmpeg's libx265 wrapper hands a two-frame clip's
    packets uninitialised decode times (values like -2.6e18, seen 35 times in 40 under load), which the mp4 muxer
    refuses ("Not yet implemented"). A time after the presentation, far before it, or not after the last one is
    replaced: by the presentation time, kept after the last decode time."""
    floor = None if last_dts is None else last_dts + 1
    if dts is not None and dts <= pts and pts - dts <= REORDER_FRAMES * frame_ticks and (floor is None or dts >= floor):
        return dts
    return pts if floor is None else max(pts, floor)


def packed_frame(rgb: np.ndarray) -> av.VideoFrame:
    """A PyAV frame holding RGB `[H, W, 3]` or RGBA `[H, W, 4]` uint8, copied row-wise into its (padded) plane.

    Same pixels as `av.VideoFrame.from_ndarray` in about half its time (`benchmarks/frame_io.py`: 0.7 against
    1.3 ms for a 1080p frame).
    """
    h, w, c = rgb.shape
    vf = av.VideoFrame(w, h, "rgba" if c == 4 else "rgb24")
    plane = vf.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(h, plane.line_size)  # [H, line_size] incl. padding
    np.copyto(rows[:, :w * c], rgb.reshape(h, w * c))
    return vf


_ENCODERS = {"h264": "libx264", "hevc": "libx265", "prores422hq": "prores_ks", "dnxhr": "dnxhd",
             "prores4444": "prores_ks", "ffv1": "ffv1"}


@functools.cache
def _x264_cpu_option() -> dict[str, str]:
    """Keep x264 off its AVX-512 code on CPUs that have it: there its macroblock-tree rate control reads memory
    it never wrote, so the same frames encode to different streams from run to run (seen with the bundled x264
    on this project's Xeon machine). Capping it at AVX2 makes every encode reproducible at the same speed.
    On CPUs without AVX-512 x264 keeps its own detection (forcing a level the CPU lacks would crash it)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    return {"x264-params": "asm=avx2"} if " avx512f" in flags and " avx2" in flags else {}
