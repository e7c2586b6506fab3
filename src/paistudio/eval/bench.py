"""`paistudio bench`: the Cine-Restore benchmark — build restore cases, run engines and baselines, score.

For every clip folder (frames/ + masks/) and track (`eval.cases.TRACKS`), a cached case is built; every engine
asked for (`composite`, or `dit` when it exists) runs with each reference count, and the two baselines
(`eval.baselines`, begin reference only, so one render serves every reference count) run once. Each output
is scored against the original clip (`ClipScorer.score`) and the results land in `OUT/results.json`, with per-frame
metrics in `OUT/per_frame/`, videos in `OUT/outputs/`, and the Markdown report and plots (`eval.report`).
"""

from __future__ import annotations

import functools
import json
import platform
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .. import __version__
from ..errors import EngineUnavailable, InputError, OutputError, PaiStudioError
from ..io.atomic import write_text_atomic
from ..io.video import probe, read_chunks
from ..progress import Progress, Silent
from ..shot import Stages
from .baselines import BASELINES, ffmpeg_binary, render_ffmpeg, render_static
from .cases import REF_NAMES, TRACKS, ClipSource, build_case
from .metrics import FlickerMeter, Lpips, edge_band, green_excess_in_band, mse, ssim_map
from .motion import background_tracks, motion_consistency
from .report import is_ablation
from .restore import SCREEN_GREEN, load_clip, track_clip

ENGINES = ("composite", "dit")
ABLATABLE = ("relight", "despill", "fade", "parallax", "repair", "complete", "refine", "edge_blur", "light_wrap",
             "grain", "contact_shadow")
BG_DILATE_PX = 7  # background = outside the true mask dilated this much (soft edges and halo excluded)
FG_ERODE_PX = 3  # foreground = the true mask eroded this much (the solid subject, for preservation)
SSIM_REACH_PX = 5  # SSIM's window (Gaussian sigma 1.5, 11 px) reaches this far: masked SSIM keeps this clear of the edge
TRACK_DILATE_PX = 12  # motion tracks start and are hidden outside the mask dilated this much
GRID_STEP = 16  # px between Motion Consistency query points (854x480: ~1,300 points before the mask)
FLICKER_SCALE = 0.5  # flicker is measured at half resolution (the optical flow dominates its cost)
CASE_SEED = 0
ABLATE_STRENGTH = 0.25  # the strength a stage whose default is 0 (light_wrap, contact_shadow) is tried at


def ablation_methods(stage: str) -> list[str]:
    """The method names of the composite engine with `stage` toggled from its default: composite-no-STAGE for a
    stage that is on by default, composite-with-STAGE for one that is off, both for a mode (repair, complete),
    whose default `auto` is on for some mattes and off for others."""
    if isinstance(_default(stage), str):
        return [f"composite-no-{stage}", f"composite-with-{stage}"]
    return [f"composite-{'no' if _default(stage) else 'with'}-{stage}"]


def ablation_stages(method: str) -> dict:
    """Stages fields of an ablation method: the one stage toggled (a strength stage to 0 or ABLATE_STRENGTH)."""
    stage = method.split("-", 2)[2]
    d = _default(stage)
    if isinstance(d, bool):
        return {stage: not d}
    if isinstance(d, str):  # a mode (repair, complete): "off", or "on" for every matte it can apply to
        return {stage: "off" if method.startswith("composite-no-") else "on"}
    return {stage: 0.0 if d else ABLATE_STRENGTH}


def _default(stage: str):
    return getattr(Stages(), stage)


@dataclass
class BenchSpec:
    clips: list[Path]  # clip folders, or folders holding clip folders
    out: Path
    tracks: list[str] = field(default_factory=lambda: ["markers", "flat"])
    engines: list[str] = field(default_factory=lambda: ["composite"])
    refs: list[int] = field(default_factory=lambda: [1, 3])
    defects: bool = False  # also score the robustness track (inputs built from damaged masks)
    background: Path | None = None  # the plain track's new background photo
    lpips: Path | None = None  # local TorchScript LPIPS weights
    seed: int = CASE_SEED
    ablate: list[str] = field(default_factory=list)  # stages to also run toggled: composite-no-/with-STAGE
    dit_model: Path | None = None  # checkpoint folder for the dit engine (else its rows say "unavailable")
    dit_steps: int = 30

    def check(self) -> None:
        bad = [t for t in self.tracks if t not in TRACKS]
        if bad:
            raise InputError(f"unknown track {bad[0]!r}; choose from {', '.join(TRACKS)}")
        bad = [e for e in self.engines if e not in ENGINES]
        if bad:
            raise InputError(f"unknown engine {bad[0]!r}; choose from {', '.join(ENGINES)}")
        bad = [a for a in self.ablate if a not in ABLATABLE]
        if bad:
            raise InputError(f"cannot ablate {bad[0]!r}; choose stages from {', '.join(ABLATABLE)}")
        bad = [r for r in self.refs if r not in (1, 2, 3)]
        if bad or not self.refs:
            raise InputError(f"--refs takes reference counts 1, 2 or 3, not {bad or 'nothing'}")
        if "plain" in self.tracks and self.background is None:
            raise InputError("the plain track needs a new background photo: give --background IMG")
        if self.background is not None and not Path(self.background).is_file():
            raise InputError(f"background photo {self.background} does not exist")


def find_clips(paths: list[Path]) -> list[Path]:
    """Clip folders (with frames/) among `paths` and their direct subfolders, sorted by name, deduplicated."""
    found: dict[str, Path] = {}
    for p in paths:
        p = Path(p)
        if not p.is_dir():
            raise InputError(f"clip folder {p} does not exist; give folders with frames/ and masks/")
        if (p / "frames").is_dir():
            found[str(p.resolve())] = p
            continue
        for child in sorted(p.iterdir()):
            if (child / "frames").is_dir():
                found[str(child.resolve())] = child
    if not found:
        raise InputError(f"no clip folders (with frames/ and masks/) in {', '.join(map(str, paths))}")
    return sorted(found.values(), key=lambda c: c.name)


# ---------------------------------------------------------------------------------------------- scoring

class ClipScorer:
    """Everything about one clip's ground truth that every output of it is scored against (computed once)."""

    def __init__(self, gt: np.ndarray, masks: np.ndarray, lpips: Lpips):
        self.gt, self.masks, self.lpips = gt, masks, lpips
        disc = lambda r: cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))  # noqa: E731
        self.bg = np.stack([cv2.bitwise_not(cv2.dilate(m, disc(BG_DILATE_PX))) for m in masks])  # [T, H, W]
        self.fg = np.stack([cv2.erode(m, disc(FG_ERODE_PX)) for m in masks])
        # SSIM averages windows: count only windows that lie wholly on one side of the outline
        self.bg_ssim = np.stack([cv2.erode(b, disc(SSIM_REACH_PX)) for b in self.bg])
        self.fg_ssim = np.stack([cv2.erode(f, disc(SSIM_REACH_PX)) for f in self.fg])
        self.hide = np.stack([cv2.dilate(m, disc(TRACK_DILATE_PX)) for m in masks])
        self.query = cv2.bitwise_not(self.hide[0])
        self.gt_tracks = background_tracks(gt, self.query, GRID_STEP, self.hide)
        self.flicker = FlickerMeter(gt, masks, FLICKER_SCALE)
        self.band = np.stack([edge_band(m) for m in masks])  # [T, H, W] where edge spill is measured
        self.gt_green = _nanmean([green_excess_in_band(f, b) for f, b in zip(gt, self.band)])
        self.gt_flicker = self.flicker(gt)
        self.gt_motion_px = _median_step(self.gt_tracks)  # how fast the original background moves

    def score(self, out: np.ndarray, pixel_gt: bool) -> tuple[dict, dict]:
        """(summary metrics, per-frame lists) of an output `[T, H, W, 3]`; `pixel_gt` False on the plain track,
        whose background has no ground truth (whole-frame and background metrics are then None)."""
        if out.shape != self.gt.shape:
            raise InputError(f"output frames {out.shape} do not match the clip's {self.gt.shape}")
        per = {k: [] for k in ("mse", "ssim", "mse_bg", "ssim_bg", "mse_fg", "ssim_fg", "mse_edge", "lpips",
                               "green_excess")}
        for t in range(len(out)):
            smap = ssim_map(out[t], self.gt[t])
            bg, fg = self.bg_ssim[t] > 0, self.fg_ssim[t] > 0
            if pixel_gt:
                per["mse"].append(mse(out[t], self.gt[t]))
                per["ssim"].append(float(smap.mean()))
                per["mse_bg"].append(mse(out[t], self.gt[t], self.bg[t]))
                per["ssim_bg"].append(float(smap[bg].mean()) if bg.any() else float("nan"))
                per["mse_edge"].append(mse(out[t], self.gt[t], self.band[t]))  # the edge mixes in the original bg
                if self.lpips.available:
                    per["lpips"].append(self.lpips(out[t], self.gt[t]))
            per["mse_fg"].append(mse(out[t], self.gt[t], self.fg[t]))
            per["ssim_fg"].append(float(smap[fg].mean()) if fg.any() else float("nan"))
            per["green_excess"].append(green_excess_in_band(out[t], self.band[t]))
        summary = {k: (_nanmean(v) if v else None) for k, v in per.items()}
        out_tracks = background_tracks(out, self.query, GRID_STEP, self.hide)
        summary["motion_consistency"] = _finite(motion_consistency(out_tracks, self.gt_tracks))
        summary["flicker"] = _finite(self.flicker(out))
        return summary, {k: [_finite(x) for x in v] for k, v in per.items() if v}


def _median_step(tracks) -> float:
    """Median per-frame displacement (px) of the background points visible at both ends of a step; NaN if none."""
    both = tracks.visible[:-1] & tracks.visible[1:]
    steps = np.linalg.norm(np.diff(tracks.points, axis=0), axis=-1)[both]
    return float(np.median(steps)) if steps.size else float("nan")


def _nanmean(values) -> float | None:
    a = np.asarray([v for v in values if v is not None], np.float64)
    a = a[np.isfinite(a)]
    return float(a.mean()) if len(a) else None


def _finite(x) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def _read(path: Path) -> np.ndarray:
    return np.concatenate(list(read_chunks(probe(path))))


# ---------------------------------------------------------------------------------------------- runs

@dataclass
class Row:
    clip: str
    track: str  # markers | flat | plain, with "+defects" for the robustness track
    method: str  # composite | composite-no-STAGE / composite-with-STAGE (ablations) | dit | static | ffmpeg
    refs: int
    status: str  # ok | unavailable: … | failed: …
    metrics: dict = field(default_factory=dict)
    camera_source: str | None = None
    render_s: float | None = None
    output: str | None = None


def _ref_args(case: Path, count: int) -> list[tuple[Path, str]]:
    """(path, anchor frame) of the case's references that a run with `count` references uses."""
    anchors = json.loads((case / "case.json").read_text())["anchors"]
    return [(case / "refs" / f"{name}.png", str(anchors[name])) for name in REF_NAMES[count]]


def _render(method: str, case: Path, count: int, out: Path, dit: dict | None = None) -> dict | None:
    """Run one method on a case; returns the render record (None for the ffmpeg baseline)."""
    meta = json.loads((case / "case.json").read_text())
    matte = case / "matte" if meta["backing"] == "plain" else None
    fg, begin = case / "foreground.mp4", case / "refs" / "begin.png"
    if method == "static":
        return render_static(fg, begin, out, matte)
    if method == "ffmpeg":
        render_ffmpeg(fg, begin, out, None if matte else SCREEN_GREEN, matte, meta["fps"], meta["frames"])
        return None
    stages = {}
    if is_ablation(method):  # the composite engine with one stage toggled from its default
        stages = ablation_stages(method)
        method = "composite"
    if method == "dit" and not (dit and dit.get("model")):
        raise EngineUnavailable("no model weights given (--dit-model DIR); none can be downloaded here")
    from ..api import replace
    return replace(fg, _ref_args(case, count), out, matte=str(matte) if matte else None, engine=method,
                   overwrite=True, crf=16, progress=Silent(), dit=dit if method == "dit" else None, stages=stages)


def run_bench(spec: BenchSpec, progress: Progress | None = None, workers: int = 1) -> dict:
    """Run the benchmark described by `spec`; writes OUT/results.json and the report, returns the results.

    `workers` > 1 scores that many clips at once in separate processes (the renders inside are threaded,
    but scoring is mostly one core: two workers keep both cores of a small machine busy).
    """
    progress = progress or Silent()
    spec.check()
    clips = find_clips(spec.clips)
    lpips = Lpips(spec.lpips)
    out = Path(spec.out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file; give a folder for the benchmark's results")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create the results folder {out} ({e.strerror}); choose a writable place") from None
    tracks = [(t, False) for t in spec.tracks] + ([(t, True) for t in spec.tracks] if spec.defects else [])
    warnings: list[str] = []
    try:
        ffmpeg_binary()
        baselines = list(BASELINES)
    except EngineUnavailable as e:
        baselines = ["static"]
        warnings.append(str(e))
    if not lpips.available:
        warnings.append(f"LPIPS not reported: {lpips.reason}")
    rows: list[dict] = []
    timings: dict[str, float] = {}
    started = time.perf_counter()
    progress.phase("clips", len(clips))
    # longest clips first, so that two workers finish together instead of one idling at the end
    jobs = [(c, spec, tracks, baselines) for c in sorted(clips, key=_frame_count, reverse=True)]
    if workers > 1 and len(clips) > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(max_workers=min(workers, len(clips))) as pool:
            for result in pool.map(_bench_clip, jobs):
                _collect(result, rows, warnings, timings, progress)
    else:
        for job in jobs:
            _collect(_bench_clip(job), rows, warnings, timings, progress)
    rows.sort(key=lambda r: (r["clip"], r["track"], method_rank(r["method"]), r["refs"]))
    results = {"format": "paistudio.bench", "version": 1, "paistudio": __version__,
               "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(spec).items()},
               "clips": [c.name for c in clips], "lpips_available": lpips.available, "warnings": warnings,
               "rows": rows, "seconds": {"total": round(time.perf_counter() - started, 1), "workers": workers,
                                         "per_clip": timings},
               "versions": {"python": platform.python_version(), "numpy": np.__version__, "opencv": cv2.__version__}}
    results["settings"]["clips"] = [str(c) for c in spec.clips]
    write_text_atomic(out / "results.json", json.dumps(results, indent=1) + "\n")
    from .report import write_report
    write_report(results, out)
    progress.close()
    return results


METHODS = ENGINES + BASELINES


def method_rank(method: str) -> tuple[int, str]:
    """Table order: composite, its ablations, dit, then the baselines."""
    if is_ablation(method):
        return (1, method)
    return ({"composite": 0, "dit": 2}.get(method, 3 + (BASELINES.index(method) if method in BASELINES else 9)), method)


def _frame_count(clip_dir: Path) -> int:
    return sum(1 for _ in (clip_dir / "frames").iterdir())


def _collect(result, rows, warnings, timings, progress) -> None:
    clip_rows, clip_warnings, name, seconds = result
    rows.extend(clip_rows)
    warnings.extend(clip_warnings)
    if seconds is not None:
        timings[name] = seconds
    progress.advance(1)


def clip_seed(seed: int, clip_name: str) -> int:
    """The case seed of one clip: `seed` mixed with a stable hash of the clip's name, so every clip gets its own
    perturbation, screen and defects (one draw for all clips would test one lighting change 15 times)."""
    return (seed * 1_000_003 + zlib.crc32(clip_name.encode())) % 2**31


def _bench_clip(job) -> tuple[list[dict], list[str], str, float | None]:
    """Every case of one clip, rendered and scored (runs in a worker process when there are several)."""
    clip_dir, spec, tracks, baselines = job
    t0 = time.perf_counter()
    try:
        clip = load_clip(clip_dir)
        if clip.masks is None:
            raise InputError(f"{clip_dir} has no masks/")
    except PaiStudioError as e:
        return [], [f"clip {clip_dir.name} skipped: {e}"], clip_dir.name, None
    out = Path(spec.out)
    scorer = ClipScorer(clip.frames, clip.masks, Lpips(spec.lpips))
    source = functools.cache(lambda: ClipSource(clip, track_clip(clip)))  # shared by every track of the clip
    rows: list[Row] = []
    for track, defects in tracks:
        name = track + ("+defects" if defects else "")
        case = build_case(clip_dir, out / "cases" / clip.name / name, track, seed=clip_seed(spec.seed, clip.name),
                          defects=defects,
                          background=spec.background if track == "plain" else None, source=source)
        counts = [1] if track == "plain" else spec.refs  # the plain track has one reference: the new photo
        variants = list(spec.engines) + [m for a in spec.ablate for m in ablation_methods(a)]
        runs = [(e, k) for e in variants for k in counts] + [(b, 0) for b in baselines]
        for method, count in runs:
            dit = {"model": str(spec.dit_model), "steps": spec.dit_steps} if spec.dit_model else None
            rows.extend(_run_one(method, count, counts, case, clip.name, name, out, scorer, track != "plain", dit))
    return [asdict(r) for r in rows], [], clip.name, round(time.perf_counter() - t0, 2)


def _run_one(method, count, counts, case, clip_name, track_name, out, scorer, pixel_gt, dit=None) -> list[Row]:
    """Render and score one method on one case; a baseline's row is repeated for every reference count."""
    label = f"{method}-{count}ref" if count else method
    video = out / "outputs" / clip_name / track_name / f"{label}.mp4"
    video.parent.mkdir(parents=True, exist_ok=True)
    report_counts = [count] if count else counts
    t0 = time.perf_counter()
    try:
        record = _render(method, case, count, video, dit)
    except EngineUnavailable as e:
        return [Row(clip_name, track_name, method, k, f"unavailable: {e}") for k in report_counts]
    except PaiStudioError as e:
        return [Row(clip_name, track_name, method, k, f"failed: {e}") for k in report_counts]
    render_s = round(time.perf_counter() - t0, 2)
    try:
        summary, per_frame = scorer.score(_read(video), pixel_gt)
    except InputError as e:  # a method that changed the frame count or size is reported, not averaged
        return [Row(clip_name, track_name, method, k, f"failed: {e}") for k in report_counts]
    per_path = out / "per_frame" / clip_name / track_name / f"{label}.json"
    per_path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(per_path, json.dumps(per_frame) + "\n")
    summary["gt_green_excess"] = scorer.gt_green
    summary["gt_flicker"] = _finite(scorer.gt_flicker)
    summary["gt_background_px_per_frame"] = _finite(scorer.gt_motion_px)
    source = record["engine"].get("camera", {}).get("source") if record else "static"
    return [Row(clip_name, track_name, method, k, "ok", summary, source, render_s, str(video.relative_to(out)))
            for k in report_counts]
