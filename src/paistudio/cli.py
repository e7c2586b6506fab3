"""`paistudio` command line: a thin layer over `paistudio.api`. Errors become one line and a non-zero exit."""

from __future__ import annotations

import os
import sys
from fractions import Fraction
from pathlib import Path
from typing import List, Optional

import typer

from .errors import PaiStudioError, RenderInterrupted

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Cinematic video background replacement.")


def _progress(quiet: bool):
    from .progress import RichProgress, Silent
    return Silent() if quiet else RichProgress()


def _finish(record: dict, quiet: bool) -> None:
    for w in record.get("warnings", []):
        typer.echo(f"warning: {w}", err=True)
    if not quiet:
        t = record["timings"]
        typer.echo(f"wrote {record['output']['path']} ({record['output']['frames']} frames, "
                   f"{t['render_fps']} fps render, {t['total_s']} s total)")


@app.command()
def replace(
    foreground: Path = typer.Argument(..., help="Foreground video (mp4/mov/mkv/webm) or a folder of frames."),
    ref: List[str] = typer.Option(..., "--ref", help="Background image, optionally anchored: img.jpg@12 | @1.5s | @75%. 1-3 times."),
    output: Path = typer.Option(..., "-o", "--output", help="Output video (or folder with --codec png, dpx or exr)."),
    matte: str = typer.Option("auto", help="auto | key | alpha | segment (people in plain footage) | a matte video/folder (white = foreground)."),
    backing: str = typer.Option("auto", help="Screen colour for keying: auto | green | blue."),
    camera: str = typer.Option("auto", help="auto | static | PATH.json | moves like pan=0.2,tilt=0,zoom=1.1."),
    codec: str = typer.Option("h264", help="h264 | hevc | prores422hq | dnxhr | prores4444 | ffv1 | png | dpx "
                                           "(10-bit) | exr (half, linear); alpha kept in prores4444, ffv1, png."),
    layers: Optional[Path] = typer.Option(None, help="Also write foreground RGBA, alpha and plate PNGs into this folder."),
    layers_codec: str = typer.Option("png", "--layers-codec", help="png | exr: the layers as PNGs, or as half-float "
                                                                   "linear EXRs (the foreground premultiplied)."),
    engine: str = typer.Option("composite", help="composite (CPU, no weights) | dit (diffusion model, needs --model)."),
    model: Optional[Path] = typer.Option(None, help="dit: a paistudio checkpoint folder or a local diffusers Wan folder."),
    steps: int = typer.Option(30, help="dit: denoising steps."),
    guidance: float = typer.Option(5.0, help="dit: prompt guidance scale (1 = off)."),
    sampler: str = typer.Option("unipc", help="dit: unipc | euler."),
    seed: int = typer.Option(0, help="dit: noise seed."),
    prompt: Optional[str] = typer.Option(None, help="dit: the structured prompt as JSON, or a .json file."),
    paste_back: str = typer.Option("on", "--paste-back", help="dit: on | off: put the opaque foreground back."),
    relight: str = typer.Option("on", help="on | off: match foreground exposure/white balance to the plate."),
    despill: str = typer.Option("on", help="on | off: unmix the screen colour from edges."),
    fade: str = typer.Option("on", help="on | off: key frames where the screen is darker (a fade, an exposure dip) "
                                        "at the screen's own level, and keep the fade on the output."),
    repair: str = typer.Option("auto", help="auto | on | off: fill holes and briefly lost parts of the matte; auto: "
                                            "matte files and --matte segment, on: keys too (never an alpha channel)."),
    complete: str = typer.Option("auto", help="auto | on | off: plain footage: add parts of the subject the matte "
                                              "cut off (they look like it and do not move with the camera); auto: "
                                              "--matte segment, on: matte files too (may take in look-alike "
                                              "background)."),
    refine: str = typer.Option("on", help="on | off: guided-filter refinement of a segmented matte's edge."),
    edge_blur: str = typer.Option("on", "--edge-blur", help="on | off: soften the edge to a blurrier plate."),
    light_wrap: float = typer.Option(0.0, help="0-1: the plate's light wrapped onto the subject's rim (0 = off; "
                                               "it changes opaque edge pixels)."),
    grain: str = typer.Option("off", help="on | off: give a subject cleaner than the plate the plate's grain."),
    quality: str = typer.Option("full", help="full | fast: fast switches repair, completion, refine, edge blur, "
                                             "light wrap, grain and parallax off (the other options then change nothing)."),
    parallax: str = typer.Option("on", help="on | off: move references along their residual flow between anchors "
                                            "when the scene has depth (off: one homography per frame)."),
    relight_direction: float = typer.Option(0.0, help="0-1: shade the subject with the plate's light direction "
                                                      "(0 = off; a creative control, it costs accuracy on DAVIS)."),
    contact_shadow: float = typer.Option(0.0, help="0-1: darken the floor under the subject's feet (0 = off)."),
    ref_fit: str = typer.Option("frame", "--ref-fit", help="frame: a reference is what its anchor frame sees | sweep: "
                                                           "one reference is the whole background the camera sweeps "
                                                           "over (nothing made up; the anchor frame sees part of it)."),
    fps: Optional[str] = typer.Option(None, help="Frame rate of a frame folder, e.g. 24 or 24000/1001."),
    lut: Optional[Path] = typer.Option(None, help="A .cube LUT (1D or 3D) for the foreground's colour, applied on "
                                                  "decode: camera log (S-Log3, LogC, V-Log) to Rec.709, or a look."),
    crf: int = typer.Option(18, help="H.264 quality, 0-51 (lower = better)."),
    preset: str = typer.Option("veryfast", help="H.264 preset (ultrafast ... veryslow)."),
    no_audio: bool = typer.Option(False, "--no-audio", help="Do not pass the input's audio through."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Replace the background of FOREGROUND with 1-3 anchored reference images."""
    from . import api
    record = api.replace(foreground, ref, output, matte=matte, backing=backing, camera=camera, codec=codec,
                         layers=layers, layers_codec=layers_codec, overwrite=overwrite, audio=not no_audio,
                         engine=engine,
                         relight=_switch("relight", relight), despill=_switch("despill", despill),
                         stages=_stages(quality, repair=repair, complete=complete,
                                        refine=_switch("refine", refine),
                                        edge_blur=_switch("edge-blur", edge_blur), light_wrap=light_wrap,
                                        grain=_switch("grain", grain), parallax=_switch("parallax", parallax),
                                        relight_direction=relight_direction, contact_shadow=contact_shadow,
                                        fade=_switch("fade", fade), reference_fit=ref_fit),
                         fps=_fps(fps), lut=lut, crf=crf, preset=preset, prompt=_prompt(prompt),
                         dit={"model": str(model) if model else None, "steps": steps, "guidance": guidance,
                              "sampler": sampler, "seed": seed, "paste_back": _switch("paste-back", paste_back)},
                         progress=_progress(quiet))
    _finish(record, quiet)


@app.command()
def render(
    shot_file: Path = typer.Argument(..., help="A shot.json (e.g. the NAME.shot.json that replace wrote)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write here instead of the shot's output."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """Render a saved Shot."""
    from . import api
    from .shot import Shot
    shot = Shot.load(shot_file)
    if output is not None:
        shot.output.path = str(output)
    shot.output.overwrite = overwrite or shot.output.overwrite
    _finish(api.render(shot, _progress(quiet)), quiet)


@app.command()
def demo(out: Path = typer.Option(Path("demo_output"), help="Folder for the demo's results."),
         quiet: bool = typer.Option(False, "--quiet", "-q")):
    """Render the bundled sample shot (green screen with tracking markers, camera pan + push-in)."""
    from .demo import run_demo
    record = run_demo(out, _progress(quiet))
    _finish(record, quiet)
    typer.echo(f"demo output: {Path(record['output']['path']).resolve()}")


@app.command("app")
def web_app(host: str = typer.Option("127.0.0.1", help="Address to serve on (127.0.0.1: this machine only)."),
            port: int = typer.Option(7860, help="Port to serve on."),
            workdir: Optional[Path] = typer.Option(None, help="Folder for the renders (default: a paistudio-app "
                                                               "folder in the system's temporary directory).")):
    """Serve the local web app: the replace form in a browser, with progress, preview and the render record."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: it reads it then
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise PaiStudioError("the web app needs gradio: pip install -e '.[app]' (or pip install 'paistudio[app]')") \
            from None
    from .app import launch
    typer.echo(f"serving on http://{host}:{port} (Ctrl-C stops it)", err=True)
    launch(host, port, workdir)


BENCH_HELP = """Score engines on the Cine-Restore benchmark: restore cases from clip folders (frames/ + masks/),
engines and the static/ffmpeg baselines run on them, metrics against the original clips."""


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
             help=BENCH_HELP)
def bench(ctx: typer.Context):
    """Options take several values each (`--track markers flat plain`), so they are parsed with argparse."""
    import argparse

    from .eval.bench import ABLATABLE
    from .eval.cases import TRACKS
    parser = argparse.ArgumentParser(prog="paistudio bench", description=BENCH_HELP)
    parser.add_argument("--clips", nargs="+", type=Path, required=True,
                        help="clip folders (frames/, masks/) or folders of them, e.g. ../shared/data/real")
    parser.add_argument("--out", type=Path, required=True, help="results folder (cases, outputs, results.json, report.md)")
    parser.add_argument("--track", nargs="+", default=["markers", "flat"], choices=TRACKS)
    parser.add_argument("--engine", nargs="+", default=["composite"], help="composite and/or dit")
    parser.add_argument("--refs", nargs="+", type=int, default=[1, 3], help="reference counts to run (1, 2, 3)")
    parser.add_argument("--defects", action="store_true", help="also run the robustness track (damaged input masks)")
    parser.add_argument("--ablate", nargs="+", default=[], choices=list(ABLATABLE),
                        help="also run the composite engine with each of these stages toggled from its default "
                             "(methods composite-no-STAGE / composite-with-STAGE; a mode, repair or complete, runs both "
                             "off and on)")
    parser.add_argument("--background", type=Path,
                        help="new background photo for the plain track (default: the repository's samples/walk/middle.jpg)")
    parser.add_argument("--lpips", type=Path, help="local TorchScript LPIPS weights (else LPIPS is not reported)")
    parser.add_argument("--seed", type=int, default=0, help="base seed of the cases (perturbation, defects, screen); each clip mixes in a hash of its name")
    parser.add_argument("--dit-model", type=Path, help="checkpoint folder for --engine dit (paistudio or diffusers Wan)")
    parser.add_argument("--dit-steps", type=int, default=30, help="denoising steps of the dit engine")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="clips scored at once, each in its own process (default: 2 on a machine with 2+ cores)")
    parser.add_argument("--quiet", "-q", action="store_true")
    args = parser.parse_args(ctx.args)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    from .eval.bench import BenchSpec, run_bench
    from .progress import RichProgress, Silent
    background = args.background
    if background is None and "plain" in args.track:
        background = _sample_photo()
        if background is not None and not args.quiet:
            typer.echo(f"plain track: replacing backgrounds with {background} (choose another with --background)", err=True)
    spec = BenchSpec(clips=args.clips, out=args.out, tracks=args.track, engines=args.engine, refs=args.refs,
                     defects=args.defects, background=background, lpips=args.lpips, seed=args.seed,
                     dit_model=args.dit_model, dit_steps=args.dit_steps, ablate=args.ablate)
    results = run_bench(spec, Silent() if args.quiet else RichProgress("clips"), workers=args.workers)
    for w in results["warnings"]:
        typer.echo(f"warning: {w}", err=True)
    typer.echo(f"wrote {args.out / 'results.json'} and {args.out / 'report.md'} "
               f"({len(results['rows'])} results, {results['seconds']['total']} s)")


@app.command()
def train(
    config: Path = typer.Option(..., "--config", help="Training config, e.g. configs/train/tiny.toml."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Train (or resume) the PAI-Studio DiT as the config says; writes checkpoints, logs and OUT/final/."""
    from .model import require_torch
    require_torch()
    from .progress import RichProgress, Silent
    from .train.config import TrainConfig
    from .train.loop import train as run_training
    cfg = TrainConfig.load(config)
    try:
        summary = run_training(cfg, Silent() if quiet else RichProgress("steps"))
    except KeyboardInterrupt:
        raise RenderInterrupted("training interrupted; run the same command again to resume from the last "
                                "checkpoint") from None
    if summary["resumed_from"]:
        typer.echo(f"resumed from step {summary['resumed_from']}")
    loss = "" if summary["last_loss"] is None else f", last loss {summary['last_loss']:.4f}"
    typer.echo(f"trained {summary['steps']} steps{loss}; model in {summary['final']}")


data_app = typer.Typer(no_args_is_help=True, help="Build and inspect training datasets (CineStudio-style).")
app.add_typer(data_app, name="data")


@data_app.command("build")
def data_build(
    src: Path = typer.Option(..., "--src", help="Folder of videos / clip folders (frames/ + masks/), or a list file."),
    out: Path = typer.Option(..., "--out", help="Dataset folder (shards/, items/, manifest.json); re-runs resume."),
    workers: int = typer.Option(1, help="Items processed at once (processes)."),
    ray_address: Optional[str] = typer.Option(None, help="Run on Ray Data instead: auto | local | ray://HOST:PORT."),
    min_shot: int = typer.Option(16, help="Shortest shot kept, frames."),
    max_shot: int = typer.Option(81, help="Longer shots are cut into pieces of this many frames."),
    max_side: int = typer.Option(854, help="Frames are downscaled to this longer side."),
    segmenter: str = typer.Option("auto", help="auto (given masks, else chroma key) | given | chroma | a registered one."),
    defects: float = typer.Option(0.0, help="Share of samples whose green-screen video is cut with damaged masks."),
    seed: int = typer.Option(0, help="Seed of the perturbations and defects."),
    crf: int = typer.Option(12, help="H.264 quality of the stored videos (masks are lossless)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Run the dataset pipeline: shots, motion filter, foreground, green screen, references, captions, shards."""
    from .data.build import build
    from .data.settings import BuildSettings
    from .progress import RichProgress, Silent
    if workers < 1:
        raise PaiStudioError("--workers must be at least 1")
    settings = BuildSettings(min_shot=min_shot, max_shot=max_shot, max_side=max_side, segmenter=segmenter,
                             defects=defects, seed=seed, crf=crf)
    try:
        m = build(src, out, settings, workers=workers, ray_address=ray_address,
                  progress=Silent() if quiet else RichProgress("items"))
    except KeyboardInterrupt:
        raise RenderInterrupted("build interrupted; finished items are kept, run the same command to resume") from None
    typer.echo(f"{out}: {len(m['shards'])} shards, {m['samples']} samples, {len(m['filtered'])} filtered, "
               f"{len(m['failures'])} failures")
    for f in m["failures"]:
        typer.echo(f"failed: {f['source']}: {f['reason']}", err=True)


@data_app.command("inspect")
def data_inspect(
    dataset: Path = typer.Argument(..., help="A dataset folder written by `paistudio data build`."),
    sheet: Optional[Path] = typer.Option(None, help="Contact sheet PNG (default DATASET/contact_sheet.png)."),
    n: int = typer.Option(8, help="Random samples on the contact sheet."),
):
    """Counts, failures and a contact sheet of random samples."""
    from .data.build import inspect
    s = inspect(dataset, sheet, n)
    typer.echo(f"{dataset}: {s['shards']} shards, {s['samples']} samples, {s['filtered']} filtered, "
               f"{len(s['failures'])} failures, {s['pending']} pending, {s['bytes'] / 1e6:.1f} MB")
    for f in s["failures"]:
        typer.echo(f"failed: {f['source']}: {f['reason']}")
    if "contact_sheet" in s:
        typer.echo(f"contact sheet: {s['contact_sheet']}")


def _prompt(text: str | None) -> dict | None:
    """--prompt: JSON text or a .json file holding the structured prompt's fields."""
    import json

    from .shot import PROMPT_FIELDS
    if text is None:
        return None
    raw = text
    if text.endswith(".json"):
        try:
            raw = Path(text).read_text()
        except OSError as e:
            raise PaiStudioError(f"--prompt file {text} cannot be read ({e.strerror})") from None
    try:
        d = json.loads(raw)
    except json.JSONDecodeError as e:
        raise PaiStudioError(f"--prompt is not valid JSON ({e.msg}); give e.g. '{{\"caption\": \"...\"}}'") from None
    if not isinstance(d, dict) or any(k not in PROMPT_FIELDS or not isinstance(v, str) for k, v in d.items()):
        raise PaiStudioError(f"--prompt must be a JSON object of strings with fields among {list(PROMPT_FIELDS)}")
    return d


def _sample_photo() -> Path | None:
    """The bundled sample's middle reference (our own landscape), when running from a clone of the repository."""
    from .demo import sample_folder
    try:
        return sample_folder() / "middle.jpg"
    except PaiStudioError:
        return None


FAST_OFF = {"repair": "off", "complete": "off", "refine": False, "edge_blur": False, "light_wrap": 0.0, "grain": False,
            "parallax": False}  # what --quality fast switches off: the optional per-frame stages


def _stages(quality: str, **stages) -> dict:
    if quality not in ("full", "fast"):
        raise PaiStudioError(f"--quality takes full or fast, not '{quality}'")
    return {**stages, **FAST_OFF} if quality == "fast" else stages


def _switch(name: str, value: str) -> bool:
    if value.lower() in ("on", "true", "1", "yes"):
        return True
    if value.lower() in ("off", "false", "0", "no"):
        return False
    raise PaiStudioError(f"--{name} takes on or off, not '{value}'")


def _fps(text: str | None) -> Fraction | None:
    if text is None:
        return None
    from .shot import frame_rate
    try:
        value = frame_rate(text)
    except (ValueError, ZeroDivisionError):
        raise PaiStudioError(f"--fps '{text}' is not a frame rate like 24 or 24000/1001") from None
    if value <= 0:
        raise PaiStudioError("--fps must be positive")
    return value


def main() -> None:
    """Entry point: usage errors are typer's (exit 2); our named errors become one line and their exit code."""
    try:
        app()
    except PaiStudioError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)


if __name__ == "__main__":
    main()
