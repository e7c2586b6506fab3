"""The Python API; the CLI is a thin layer over these two functions."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Sequence

from .job import prepare_job, run_job
from .progress import Progress
from .shot import Anchor, CameraSpec, DitSpec, MatteSpec, OutputSpec, Reference, Shot, Source, Stages, StructuredPrompt


def render(shot: Shot, progress: Progress | None = None) -> dict:
    """Render a Shot; returns the render record (also written beside the output as NAME.record.json)."""
    return run_job(prepare_job(shot), progress)


def replace(foreground: str | Path, references: Sequence[str | Path | tuple], output: str | Path, *,
            matte: str | Path | None = None, backing: str = "auto", camera: str = "auto",
            codec: str = "h264", layers: str | Path | None = None, layers_codec: str = "png",
            overwrite: bool = False, audio: bool = True,
            engine: str = "composite", relight: bool = True, despill: bool = True, fps: Fraction | None = None,
            crf: int = 18, preset: str = "veryfast", prompt: dict | None = None, dit: dict | None = None,
            stages: dict | None = None, lut: str | Path | None = None, progress: Progress | None = None) -> dict:
    """Replace the background of `foreground` with 1–3 `references` and write `output`.

    references: paths, `path@anchor` strings (`@12` frame, `@1.5s`, `@75%`) or (path, anchor) tuples.
    matte: None/"auto" (alpha channel or chroma key), "key", "alpha", "segment" (person segmentation of plain
        footage), or a matte video/folder path.
    camera: "auto", "static", a path file, or moves like "pan=0.2,zoom=1.1".
    prompt: the structured prompt's fields (used by the dit engine, recorded by both).
    dit: DitSpec fields for engine="dit", e.g. {"model": "ckpt/", "steps": 30, "guidance": 5.0, "seed": 0}.
    stages: further Stages fields of the composite engine, e.g. {"contact_shadow": 0.4, "repair": "off"}.
    """
    refs = []
    for i, r in enumerate(references):
        if isinstance(r, tuple):
            path, anchor = r
            refs.append(Reference(str(path), None if anchor is None else Anchor.parse(str(anchor), f"references[{i}]")))
        else:
            refs.append(Reference.parse(str(r), f"references[{i}]"))
    if matte is None or str(matte) in ("auto", "key", "alpha", "segment"):
        matte_spec = MatteSpec(mode=str(matte or "auto"), backing=backing)
    else:
        matte_spec = MatteSpec(mode="file", path=str(matte), backing=backing)
    shot = Shot(
        foreground=Source(str(foreground), fps, str(lut) if lut else None),
        references=refs,
        output=OutputSpec(str(output), codec=codec, layers=str(layers) if layers else None, layers_codec=layers_codec,
                          overwrite=overwrite, audio=audio, crf=crf, preset=preset),
        matte=matte_spec,
        camera=CameraSpec.parse(str(camera)),
        prompt=StructuredPrompt(**(prompt or {})),
        stages=Stages.from_dict({"engine": engine, "relight": relight, "despill": despill, **(stages or {})}),
        dit=DitSpec(**(dit or {})),
    )
    return render(shot, progress)
