"""Run one Shot: check every input before any work, drive an engine, write outputs atomically, keep a record.

Nothing appears at the output path until the render has finished: video, layers and sidecars
(`NAME.shot.json`, `NAME.camera.json`, `NAME.record.json`) are written under temporary names and renamed
at the end; Ctrl-C or a crash removes them.
"""

from __future__ import annotations

import json
import platform
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .errors import InputError, OutputError, ReferenceImageError, RenderInterrupted
from .io.atomic import atomic_path, check_writable, write_text_atomic
from .io.pipeline import BackgroundWriter
from .io.images import cover, load_reference, reference_profile
from .io.lut import check_cube
from .io.video import VideoInfo, probe
from .io.writer import SEQUENCE_CODECS, VideoSink, check_frame_size, check_output_format
from .progress import Progress, Silent
from .shot import Shot, default_anchors


SOFT_REFERENCE = 1.5  # a reference enlarged more than this to cover the frame gets a warning (it will look soft)


@dataclass
class Job:
    shot: Shot
    info: VideoInfo  # the foreground
    refs: list[np.ndarray]  # references fitted to the frame size, in anchor order
    anchors: list[int]  # frame index of each reference, increasing
    ref_paths: list[str]
    warnings: list[str] = field(default_factory=list)
    ref_profiles: list[str | None] = field(default_factory=list)  # the colour profile each was converted from to sRGB
    # each reference whole, scaled as for its crop, and where the crop starts in it (None: nothing was cut)
    ref_surrounds: list[tuple[np.ndarray, tuple[int, int]] | None] = field(default_factory=list)
    # as loaded, kept only for --ref-fit sweep (fitted once the camera is known); else freed after the fit above
    ref_originals: list[np.ndarray] = field(default_factory=list)

    @property
    def output(self) -> Path:
        return Path(self.shot.output.path)

    def sidecar(self, kind: str) -> Path:
        out = self.output
        return out.with_name(f"{out.stem if out.suffix else out.name}.{kind}.json")


def prepare_job(shot: Shot) -> Job:
    """Validate the shot against its files; raises a named error before anything is written."""
    shot.validate()
    info = probe(shot.foreground.path, fps=shot.foreground.fps, role="foreground")
    if shot.foreground.lut:
        check_cube(shot.foreground.lut)
        info.lut = shot.foreground.lut
        if info.kind == "sequence" and info.codec == "dpx":
            info.to_sdr = False  # a LUT for log or linear DPX expects the file's own codes, not our view of them
    _check_output(shot, info)
    n = info.n_frames
    if any(r.anchor is not None for r in shot.references):
        anchors = [r.anchor.resolve(n, info.fps, f"references[{i}].anchor") for i, r in enumerate(shot.references)]
    else:
        if n < len(shot.references):
            raise ReferenceImageError(f"{len(shot.references)} references but the clip has only {n} frame(s); "
                                      "give fewer references")
        anchors = default_anchors(len(shot.references), n)
    if len(set(anchors)) != len(anchors):
        dup = next(a for a in anchors if anchors.count(a) > 1)
        raise ReferenceImageError(f"two references are anchored at frame {dup}; give each its own anchor")
    order = sorted(range(len(anchors)), key=anchors.__getitem__)
    size = (info.width, info.height)
    paths = [shot.references[i].path for i in order]
    originals = [load_reference(p) for p in paths]
    covered = [cover(r, size, float(info.pixel_aspect)) for r in originals]
    refs = [np.ascontiguousarray(img[y0:y0 + info.height, x0:x0 + info.width]) for img, (x0, y0) in covered]
    surrounds = [None if img.shape[:2] == (info.height, info.width) else (img, xy) for img, xy in covered]
    job = Job(shot, info, refs, [anchors[i] for i in order], paths, ref_profiles=[reference_profile(p) for p in paths],
              ref_surrounds=surrounds,
              ref_originals=originals if shot.stages.reference_fit == "sweep" else [])
    job.warnings.extend(_input_warnings(job, originals))
    return job


def _input_warnings(job: Job, originals: list[np.ndarray]) -> list[str]:
    """What the inputs will cost the render, or what was assumed or converted, each in one line."""
    shot, info, out = job.shot, job.info, []
    for path, ref in zip(job.ref_paths, originals):
        enlarged = max(info.width * float(info.pixel_aspect) / ref.shape[1], info.height / ref.shape[0])
        if enlarged > SOFT_REFERENCE:
            out.append(f"reference {path} is {ref.shape[1]}x{ref.shape[0]}: enlarged {enlarged:.1f}x to cover "
                       f"the {info.width}x{info.height} frame, so the background will look soft; give a "
                       "larger image")
    if info.kind == "sequence" and shot.foreground.fps is None:
        out.append(f"the foreground is an image sequence and no frame rate was given: rendered at "
                   f"{info.fps} fps; give --fps (e.g. 25 or 24000/1001) if it was shot at another")
    elif info.kind == "video" and shot.foreground.fps is not None and shot.foreground.fps != info.fps:
        out.append(f"--fps applies to image sequences: the video's own rate ({info.describe()['fps']}) and "
                   "timestamps were kept")
    if info.interlaced:
        out.append("the foreground is interlaced: deinterlaced on decode (bwdif, each frame keeps its first "
                   "field, so the frame count and rate stay the input's)")
    if info.to_sdr:
        if info.kind != "sequence":
            white = "HDR reference white 203 cd/m² scaled to SDR white"
        else:
            white = "the log's reference white taken as white" if info.converted_from.startswith("Cineon") else \
                "1.0 taken as white"
        out.append(f"the foreground is {info.converted_from}: converted to SDR BT.709 on decode ({white}, "
                   "light above 0.8 of it rolled off); the output is SDR BT.709")
    return out


def _check_output(shot: Shot, info: VideoInfo) -> None:
    out = Path(shot.output.path)
    check_output_format(out, shot.output.codec)
    check_frame_size(shot.output.codec, info.width, info.height)
    inputs = [shot.foreground.path, shot.matte.path, shot.camera.path] + [r.path for r in shot.references]
    resolved = out.resolve()
    for p in filter(None, inputs):
        if Path(p).resolve() == resolved:
            raise OutputError(f"output {out} is also an input; choose another output path")
    check_writable(out, shot.output.overwrite)
    if shot.output.layers:
        layers = Path(shot.output.layers)
        if layers.resolve() == resolved:
            raise OutputError("--layers must be a folder other than the output")
        check_writable(layers, shot.output.overwrite)


def run_job(job: Job, progress: Progress | None = None) -> dict:
    """Render `job` with its engine and write every output; returns the render record."""
    from .engines import make_engine

    progress = progress or Silent()
    shot, info = job.shot, job.info
    started = time.perf_counter()
    engine = make_engine(shot.stages.engine, job)
    with ExitStack() as stack:
        try:
            engine.prepare(progress)
            video_tmp = stack.enter_context(atomic_path(job.output))
            audio = Path(info.path) if (shot.output.audio and info.has_audio and info.kind == "video") else None
            if audio is not None and shot.output.codec in SEQUENCE_CODECS:
                job.warnings.append(f"a {shot.output.codec.upper()} sequence carries no audio; the input's audio was "
                                    "not written")
                audio = None
            sink = stack.enter_context(VideoSink(video_tmp, shot.output.codec, info.width, info.height, info.fps,
                                                 info.time_base, audio_from=audio, crf=shot.output.crf,
                                                 preset=shot.output.preset, pixel_aspect=info.pixel_aspect,
                                                 timecode=info.timecode, **_numbering(info)))
            job.warnings.extend(_audio_warnings(sink, job.output.suffix))
            if info.pixel_aspect != 1 and (shot.output.codec in SEQUENCE_CODECS or shot.output.layers):
                job.warnings.append(f"the foreground's pixels are {info.describe()['pixel_aspect']} wide (anamorphic) "
                                    "and image frames (the output or --layers) do not say so: stretch them to the "
                                    "display shape yourself")
            if shot.output.codec in ("h264", "hevc") and (info.width % 2 or info.height % 2):
                name = {"h264": "H.264", "hevc": "HEVC"}[shot.output.codec]
                job.warnings.append(f"odd frame size {info.width}x{info.height}: {name} written as 4:4:4 (yuv444p), "
                                    "which some players cannot play; crop to even sizes or use --codec prores422hq")
            layers = _open_layers(stack, job) if shot.output.layers else None
            render_start = time.perf_counter()

            def write(item):
                chunk, pts = item
                frames = np.concatenate([chunk.composite, chunk.alpha[..., None]], -1) if sink.alpha else chunk.composite
                sink.write(frames, pts)
                if layers is not None:
                    layers["foreground"].write(chunk.foreground, pts)
                    layers["alpha"].write(chunk.alpha, pts)
                    layers["background"].write(chunk.plate, pts)

            writer = BackgroundWriter(write)
            index = 0
            try:
                for chunk in engine.chunks(progress, layers=layers is not None):
                    writer.put((chunk, info.pts[index:index + len(chunk.composite)]))
                    index += len(chunk.composite)
            except BaseException:
                writer.abort()
                raise
            writer.close()
            if index != info.n_frames:
                raise InputError(f"foreground {info.path} decoded only {index} of its {info.n_frames} frames; "
                                 "it is corrupt or truncated, re-export it")
            render_s = time.perf_counter() - render_start
            record = _record(job, engine, index, time.perf_counter() - started, render_s,
                             [t.describe() for t in sink.audio_tracks])
            _write_sidecars(job, engine, record)
        except KeyboardInterrupt:
            raise RenderInterrupted("interrupted; nothing was written at the output path") from None
        finally:
            engine.close()
            progress.close()
    return record


def _audio_warnings(sink: VideoSink, suffix: str) -> list[str]:
    """One warning for each audio track the output container does not carry as it is (the sink converted it)."""
    out = []
    for k, track in enumerate(sink.audio_tracks):
        if track.copied:
            continue
        how = (f"AAC at {track.bit_rate // 1000} kb/s (lossy)" if track.codec == "aac"
               else f"PCM ({track.codec}), nothing lost")
        rate = track.describe().get("sample_rate")
        if rate:
            how += f", resampled from {rate['from'] / 1000:g} to {rate['to'] / 1000:g} kHz (AAC's limit is 96)"
        out.append(f"audio track {k + 1} is {track.source_codec}, which {suffix} files do not carry (or players do not "
                   f"play from them), so it was converted to {how}; write .mkv to keep it unchanged")
    return out


def _open_layers(stack: ExitStack, job: Job) -> dict[str, VideoSink]:
    folder = stack.enter_context(atomic_path(Path(job.shot.output.layers)))
    folder.mkdir(parents=True)
    info = job.info
    codec = job.shot.output.layers_codec
    return {name: stack.enter_context(VideoSink(folder / name, codec, info.width, info.height, info.fps, info.time_base,
                                                **_numbering(info)))
            for name in ("foreground", "alpha", "background")}


def _numbering(info: VideoInfo) -> dict:
    """Frame-folder outputs take a numbered sequence's own frame numbers (plate.1001.png -> 1001.png), so they line
    up."""
    return {"frame_numbers": info.frame_numbers, "number_digits": info.number_digits}


def _record(job: Job, engine, frames: int, total_s: float, render_s: float, audio: list[dict]) -> dict:
    import av
    import cv2

    shot = job.shot
    return {
        "paistudio": __version__,
        "output": {"path": str(job.output), "codec": shot.output.codec, "frames": frames,
                   "layers": shot.output.layers, "audio": audio},
        "inputs": {"foreground": job.info.describe(),
                   "references": [{"path": p, "anchor_frame": a, **({"converted_from": c} if c else {})}
                                  for p, a, c in zip(job.ref_paths, job.anchors, job.ref_profiles)]},
        "settings": shot.to_dict(),
        "engine": engine.report(),
        "timings": {"total_s": round(total_s, 3), "render_s": round(render_s, 3),
                    "render_fps": round(frames / render_s, 2) if render_s > 0 else None},
        "camera_path": str(job.sidecar("camera")) if getattr(engine, "camera", None) is not None else None,
        "warnings": job.warnings,
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "av": av.__version__,
                     "opencv": cv2.__version__},
    }


def _write_sidecars(job: Job, engine, record: dict) -> None:
    from .comp.path import save_path

    camera = getattr(engine, "camera", None)
    if camera is not None:
        with atomic_path(job.sidecar("camera")) as tmp:
            save_path(tmp, camera.homographies, {"source": camera.source, "width": job.info.width,
                                                 "height": job.info.height})
    job.shot.save(job.sidecar("shot"))
    write_text_atomic(job.sidecar("record"), json.dumps(record, indent=2, default=str) + "\n")
