"""`paistudio demo` / `make demo`: render the bundled sample shot (samples/walk, made by samples/make_sample.py)."""

from __future__ import annotations

from pathlib import Path

from .errors import InputError
from .progress import Progress
from .shot import CameraSpec, OutputSpec, Reference, Shot, Source


def sample_folder() -> Path:
    """The sample shipped in the repository (found from the source tree; not part of the wheel)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "samples" / "walk"
        if (candidate / "foreground.mp4").is_file():
            return candidate
    raise InputError("the bundled sample (samples/walk) was not found; run from a clone of the repository")


def demo_shot(out_dir: Path) -> Shot:
    sample = sample_folder()
    return Shot(
        foreground=Source(str(sample / "foreground.mp4")),
        references=[Reference(str(sample / f"{name}.jpg")) for name in ("begin", "middle", "end")],
        output=OutputSpec(str(out_dir / "walk_composite.mp4"), overwrite=True, layers=str(out_dir / "walk_layers")),
        camera=CameraSpec("auto"),
    )


def run_demo(out_dir: Path, progress: Progress | None = None) -> dict:
    from .api import render
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return render(demo_shot(out_dir), progress)
