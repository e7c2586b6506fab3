"""`paistudio app`: the local web app, a form over `paistudio.replace` (gradio, the optional `app` extra).

It serves on 127.0.0.1 by default and sends nothing anywhere: no share link, no analytics, system fonts. The form's
values become the same `replace` call the CLI makes (`replace_arguments`, testable without gradio); a render shows
its phase, frames, fps and ETA on the page, and ends with the output (a preview when the browser can play it, the
file to download), its render record and its warnings. Bad input is the same named one-line error as on the command
line. Renders run one at a time (they use every core); each writes a new file in the work folder.
"""

from __future__ import annotations

import glob
import itertools
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError, PaiStudioError

CODEC_SUFFIX = {"h264": ".mp4", "hevc": ".mp4", "prores422hq": ".mov", "prores4444": ".mov", "dnxhr": ".mov",
                "ffv1": ".mkv"}  # the app's outputs are single files (PNG folders are the CLI's)
PREVIEWABLE = {"h264"}  # codecs a browser plays
PRESETS = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"]
MATTE_MODES = ["auto", "key", "segment", "file"]
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 7860


@dataclass
class AppForm:
    """What the page's form holds (file inputs as local paths, as gradio hands them over)."""

    foreground: str | None
    references: list[tuple[str | None, str]] = field(default_factory=list)  # (image path, anchor text; "" = default)
    matte_mode: str = "auto"  # auto | key | segment | file
    matte_file: str | None = None
    backing: str = "auto"
    camera: str = "auto"  # auto | static | moves like pan=0.2,zoom=1.1
    camera_file: str | None = None  # a camera path file (overrides `camera`)
    codec: str = "h264"
    preset: str = "veryfast"
    crf: int = 18
    quality: str = "full"
    reference_fit: str = "frame"  # frame | sweep (one reference covering the camera's whole move)
    relight: bool = True
    despill: bool = True
    audio: bool = True


def replace_arguments(form: AppForm, output: Path) -> dict:
    """Keyword arguments of `paistudio.replace` for the form (an InputError names a missing or wrong field)."""
    from .cli import FAST_OFF
    if not form.foreground:
        raise InputError("give a foreground video file (for a folder of frames use the command line)")
    refs = [(path, anchor.strip().lstrip("@") or None) for path, anchor in form.references if path]
    if not refs:
        raise InputError("give at least one background reference image")
    if form.matte_mode not in MATTE_MODES:
        raise InputError(f"matte must be one of {MATTE_MODES}, not '{form.matte_mode}'")
    if form.matte_mode == "file" and not form.matte_file:
        raise InputError("matte 'file' needs a matte video or image: upload one, or choose auto")
    if form.codec not in CODEC_SUFFIX:
        raise InputError(f"codec must be one of {sorted(CODEC_SUFFIX)}, not '{form.codec}'")
    matte = form.matte_file if form.matte_mode == "file" else form.matte_mode
    stages = {**(FAST_OFF if form.quality == "fast" else {}), "reference_fit": form.reference_fit}
    return {"foreground": form.foreground, "references": refs, "output": output, "matte": matte,
            "backing": form.backing, "camera": form.camera_file or (form.camera.strip() or "auto"), "codec": form.codec,
            "preset": form.preset, "crf": int(form.crf), "relight": bool(form.relight), "despill": bool(form.despill),
            "audio": bool(form.audio), "stages": stages}


def output_path(workdir: Path, foreground: str, codec: str) -> Path:
    """A new file in `workdir` named after the foreground: NAME-001.mp4, NAME-002.mov, ... (a number no file has
    yet, whatever its extension: the render's sidecars, NAME-001.record.json and the like, must not collide)."""
    stem = Path(foreground).stem or "output"
    for n in itertools.count(1):
        if not any(workdir.glob(f"{glob.escape(stem)}-{n:03d}.*")):
            return workdir / f"{stem}-{n:03d}{CODEC_SUFFIX[codec]}"


class PageProgress:
    """paistudio's Progress protocol onto a gradio progress bar: phase, frames done of total, fps, ETA."""

    def __init__(self, bar):
        self.bar = bar
        self.name, self.total, self.done, self.start = "", 0, 0, time.perf_counter()

    def phase(self, name: str, total: int) -> None:
        self.name, self.total, self.done, self.start = name, total, 0, time.perf_counter()
        self.bar((0, max(1, total)), desc=f"{name}: 0/{total} frames")

    def advance(self, n: int = 1) -> None:
        self.done += n
        elapsed = time.perf_counter() - self.start
        fps = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / fps if fps > 0 else 0.0
        self.bar((self.done, max(1, self.total)),
                 desc=f"{self.name}: {self.done}/{self.total} frames, {fps:.1f} fps, ETA {eta:.0f} s")

    def close(self) -> None:
        pass


def render_form(form: AppForm, workdir: Path, progress=None) -> tuple[Path, dict]:
    """Run the form's render into a new file in `workdir`; returns the output and its record."""
    from . import api
    kwargs = replace_arguments(form, Path())  # the form is checked before anything is created
    workdir.mkdir(parents=True, exist_ok=True)
    kwargs["output"] = out = output_path(workdir, form.foreground, form.codec)
    return out, api.replace(kwargs.pop("foreground"), kwargs.pop("references"), kwargs.pop("output"),
                            progress=progress, **kwargs)


def build_app(workdir: Path):
    """The gradio Blocks of the page (gradio is imported here, not at module import)."""
    import gradio as gr

    def run(foreground, matte_mode, matte_file, backing, ref1, anchor1, ref2, anchor2, ref3, anchor3, camera,
            camera_file, codec, preset, crf, quality, reference_fit, relight, despill, audio, progress=gr.Progress()):
        form = AppForm(foreground=foreground, references=[(ref1, anchor1 or ""), (ref2, anchor2 or ""),
                                                          (ref3, anchor3 or "")],
                       matte_mode=matte_mode, matte_file=matte_file, backing=backing, camera=camera or "auto",
                       camera_file=camera_file, codec=codec, preset=preset, crf=int(crf), quality=quality,
                       reference_fit=reference_fit, relight=relight, despill=despill, audio=audio)
        try:
            out, record = render_form(form, workdir, PageProgress(progress))
        except PaiStudioError as e:
            raise gr.Error(str(e), print_exception=False) from None
        warnings = "\n".join(f"- {w}" for w in record.get("warnings", [])) or "No warnings."
        t = record["timings"]
        summary = (f"Wrote **{out.name}**: {record['output']['frames']} frames, {t['render_fps']} fps render, "
                   f"{t['total_s']} s in all.\n\n**Warnings**\n\n{warnings}")
        text = json.dumps(record, indent=2)  # as text: a JSON component would take its {"path": ...} parts for files
        return (str(out) if codec in PREVIEWABLE else None), str(out), text, summary

    with gr.Blocks(title="PAI-Studio", analytics_enabled=False) as page:
        gr.Markdown("# PAI-Studio: background replacement\nA foreground video (green or blue screen, a matte, an "
                    "alpha channel, or people in plain footage) and 1–3 background images anchored in time; the "
                    "background moves with the original camera. CPU composite engine.")
        with gr.Row():
            with gr.Column():
                foreground = gr.File(label="Foreground video", type="filepath", height=120)
                with gr.Row():
                    matte_mode = gr.Radio(MATTE_MODES, value="auto", label="Matte",
                                          info="auto: alpha channel or screen key; segment: people in plain footage")
                    backing = gr.Radio(["auto", "green", "blue"], value="auto", label="Screen")
                matte_file = gr.File(label="Matte file (for Matte = file; white = foreground)", type="filepath",
                                     height=110)
                refs = []
                for i, hint in enumerate(["begin", "end when 2, middle when 3", "end"]):
                    with gr.Row():
                        refs.append(gr.File(label=f"Reference {i + 1}", type="filepath", scale=3, height=110))
                        refs.append(gr.Textbox(label="Anchor", placeholder=f"default: {hint}; or @12, @1.5s, @75%",
                                               scale=2))
                with gr.Row():
                    camera = gr.Textbox(value="auto", label="Camera", info="auto | static | pan=0.2,tilt=0,zoom=1.1")
                    reference_fit = gr.Radio(["frame", "sweep"], value="frame", label="Reference fit",
                                             info="sweep: one photo covers the camera's whole move")
                    camera_file = gr.File(label="Camera path file (JSON)", type="filepath", height=110)
                with gr.Row():
                    codec = gr.Dropdown(list(CODEC_SUFFIX), value="h264", label="Codec")
                    preset = gr.Dropdown(PRESETS, value="veryfast", label="x264/x265 preset")
                    crf = gr.Slider(0, 51, value=18, step=1, label="CRF")
                with gr.Row():
                    quality = gr.Radio(["full", "fast"], value="full", label="Quality")
                    relight = gr.Checkbox(value=True, label="Relight")
                    despill = gr.Checkbox(value=True, label="Despill")
                    audio = gr.Checkbox(value=True, label="Keep audio")
                go = gr.Button("Render", variant="primary")
            with gr.Column():
                preview = gr.Video(label="Output (preview: H.264 only)", interactive=False)
                download = gr.File(label="Output file", interactive=False)
                summary = gr.Markdown()
                record = gr.Code(label="Render record (also saved beside the output)", language="json",
                                 interactive=False)
        go.click(run, inputs=[foreground, matte_mode, matte_file, backing, *refs, camera, camera_file, codec, preset,
                              crf, quality, reference_fit, relight, despill, audio],
                 outputs=[preview, download, record, summary], api_name="replace", concurrency_limit=1)
    return page


def launch(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, workdir: Path | None = None, block: bool = True):
    """Serve the app; returns the running Blocks when `block` is False (tests close it)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    workdir = Path(workdir) if workdir else Path(tempfile.gettempdir()) / "paistudio-app"
    page = build_app(workdir)
    page.queue(default_concurrency_limit=1)
    import gradio as gr
    fonts = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])  # no web fonts
    page.launch(server_name=host, server_port=port, share=False, prevent_thread_lock=not block, quiet=not block,
                inbrowser=False, allowed_paths=[str(workdir)], theme=fonts)
    return page
