"""The input's audio in the output: every track, copied packet for packet where the output container carries its
codec (`AUDIO_AS_IS`), decoded and encoded again where it does not (`AudioTrack`), interleaved with the video by time
(`AudioTracks`, which the video sink drives)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

from ..errors import FormatError

# audio codecs each output container carries as they are, limited to what that container's players play (FFmpeg's
# muxers accept more: PCM or Vorbis in .mp4, DTS in .mov, which QuickTime and browsers do not play); Matroska
# carries every codec. A track in any other codec is converted (`AudioTrack`).
AUDIO_AS_IS = {
    "mp4": frozenset({"aac", "mp3", "mp2", "ac3", "eac3", "alac", "flac", "opus"}),
    "mov": frozenset({"aac", "mp3", "mp2", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be",
                      "pcm_s32le", "pcm_s32be", "pcm_f32le", "pcm_f32be", "pcm_f64le", "pcm_f64be", "pcm_alaw",
                      "pcm_mulaw"}),
}
AAC_BITS_PER_CHANNEL = 96_000  # a converted lossy track: AAC at 96 kb/s a channel (at least 128 kb/s)
AAC_MAX_RATE = 96_000  # the highest sample rate AAC codes; above it the track is resampled to 48 kHz
_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "4.0", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}  # FFmpeg's defaults
_PCM_OF = {"s16": "pcm_s16le", "s16p": "pcm_s16le", "u8": "pcm_s16le", "u8p": "pcm_s16le", "s32": "pcm_s24le",
           "s32p": "pcm_s24le", "flt": "pcm_f32le", "fltp": "pcm_f32le", "dbl": "pcm_f64le", "dblp": "pcm_f64le"}


def audio_target(codec: str, lossless: bool, sample_format: str, container: str) -> str | None:
    """The codec an input audio track is written in to `container` ("mp4", "mov", "matroska"); None: as it is.

    Lossless codecs become PCM in .mov (nothing lost; 32-bit integer samples as 24-bit, what lossless sources carry);
    everything else becomes AAC, the codec every .mp4 player plays."""
    kept = AUDIO_AS_IS.get(container)
    if kept is None or codec in kept:
        return None
    if lossless and container == "mov":
        return _PCM_OF.get(sample_format, "pcm_s24le")
    return "aac"


class AudioTrack:
    """One input audio track in the output: its packets copied, or decoded and encoded again (`audio_target`).

    A converted track is timed by its sample count from its first sample's time: containers that store times in
    milliseconds give short frames (TrueHD's 40 samples) repeated timestamps, which no muxer accepts."""

    def __init__(self, source: av.audio.stream.AudioStream, output: av.container.OutputContainer, container: str):
        cc = source.codec_context
        self.source_codec = cc.name
        target = audio_target(cc.name, bool(source.codec.lossless), cc.format.name if cc.format else "", container)
        self.codec = target or cc.name
        self.copied = target is None
        self.bit_rate: int | None = None
        if self.copied:
            self.stream = output.add_stream_from_template(source)
            return
        self._rate = cc.sample_rate
        rate = cc.sample_rate if target != "aac" or cc.sample_rate <= AAC_MAX_RATE else 48_000
        # a layout without channel positions ("2 channels", from PCM in Matroska) as the usual one for that count
        layout = _LAYOUTS.get(cc.channels, cc.layout.name) if cc.layout.name.endswith("channels") else cc.layout.name
        self.stream = output.add_stream(target, rate=rate, layout=layout)
        self.stream.format = av.Codec(target, "w").audio_formats[0]  # else PyAV takes the decoded frames' format
        if target == "aac":
            self.bit_rate = max(128_000, AAC_BITS_PER_CHANNEL * cc.channels)
            self.stream.bit_rate = self.bit_rate
        try:  # now, so that a track that cannot be converted stops the job before it renders
            self.stream.codec_context.open()
        except av.FFmpegError as e:  # e.g. a channel count AAC has no layout for
            raise self._error(e) from None
        self._next: int | None = None  # the next decoded sample's time, in 1 / source rate

    def describe(self) -> dict:
        d = {"codec": self.codec, "from": self.source_codec, "copied": self.copied}
        if self.bit_rate:
            d["bit_rate"] = self.bit_rate
        if not self.copied and self.stream.rate != self._rate:
            d["sample_rate"] = {"from": self._rate, "to": self.stream.rate}
        return d

    def packets(self, packet: av.Packet) -> list[av.Packet]:
        """What this input packet becomes in the output."""
        if self.copied:
            packet.stream = self.stream
            return [packet]
        try:
            frames = packet.decode()
        except av.FFmpegError:  # a damaged audio packet: dropped, as players do, rather than the whole render
            return []
        out = []
        for frame in frames:
            if self._next is None:
                self._next = round(float(frame.pts * frame.time_base) * self._rate) if frame.pts is not None else 0
            frame.pts, frame.time_base = self._next, Fraction(1, self._rate)
            self._next += frame.samples
            out.extend(self._encode(frame))
        return out

    def flush(self) -> list[av.Packet]:
        """A converted track's last packets, held in its encoder."""
        return [] if self.copied else self._encode(None)

    def _encode(self, frame: av.AudioFrame | None) -> list[av.Packet]:
        try:
            return list(self.stream.encode(frame))
        except av.FFmpegError as e:
            raise self._error(e) from None

    def _error(self, e: Exception) -> FormatError:
        return FormatError(f"the input's {self.source_codec} audio cannot be converted to {self.codec} ({e}); "
                           "write .mkv to keep it as it is, or give --no-audio")


class AudioTracks:
    """Every audio track of the input (camera originals carry several mono tracks), interleaved with the video by
    time: copied packet by packet where the output container carries the codec, converted where not."""

    def __init__(self, source: Path, output: av.container.OutputContainer, container: str):
        self._input = av.open(str(source))
        streams = list(self._input.streams.audio)
        try:
            self.tracks = {s.index: AudioTrack(s, output, container) for s in streams}  # input index -> output track
        except BaseException:
            self._input.close()
            raise
        self._packets = self._input.demux(*streams)  # in file order: interleaved by time
        self._pending: av.Packet | None = None
        self._output = output

    def mux_until(self, seconds: float | None) -> None:
        """Mux every audio packet that starts before `seconds` (all remaining, and the converters' ends, when None)."""
        while True:
            if self._pending is None:
                packet = next(self._packets, None)
                if packet is None:
                    if seconds is None:
                        for track in self.tracks.values():
                            self._output.mux(track.flush())
                    return
                if packet.dts is None or packet.size == 0:
                    continue
                self._pending = packet
            p = self._pending
            start = float(p.pts * p.stream.time_base) if p.pts is not None else 0.0
            if seconds is not None and start > seconds:
                return
            self._output.mux(self.tracks[p.stream.index].packets(p))
            self._pending = None

    def close(self) -> None:
        self._input.close()
