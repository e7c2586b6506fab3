"""Where the relighting defaults come from: the natural exposure prior and the shrinkage that undoes most of the
benchmark's illumination perturbation, measured on the shared DAVIS clips.

1. Prior: on every unperturbed clip, the solid foreground's luminance against the plate's in a ring around it
   (the relighter's own `measure`; the original frame stands in for the plate), in stops.
2. Recovery: each clip's foreground gets several seeded illumination perturbations (`eval.restore`); the shipped
   relighter (`plan_gains` → `apply_gains`, per frame, smoothed over time, optional `apply_ramp`) corrects it
   with the prior measured on the OTHER clips (leave-one-out), and the foreground MSE against the original
   frames is averaged over clips and seeds, for a sweep of settings. Half resolution, every second frame.

    .venv/bin/python benchmarks/relight_prior.py [--clips ../shared/data/real] [--seeds 4]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from paistudio.comp.colour import luminance
from paistudio.comp.relight import Relighter, RelightSettings, measure
from paistudio.eval.restore import load_clip, illumination_perturbation

ROOT = Path(__file__).resolve().parents[1]
SEED0 = 100  # perturbation seeds SEED0, SEED0 + 1, ... (not the bench's, so the two do not share draws)


def _load(folder: Path):
    clip = load_clip(folder)
    frames = np.stack([cv2.resize(f, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA) for f in clip.frames])[::2]
    size = (frames.shape[2], frames.shape[1])
    masks = np.stack([cv2.resize(m, size, interpolation=cv2.INTER_NEAREST) for m in clip.masks])[::2]
    return frames, masks


def _samples(frames, masks, plates):
    return [measure(f, m, p) for f, m, p in zip(frames, masks, plates)]


def _natural_stops(frames, masks) -> float:
    stops = [np.log2(luminance(s.fg) / luminance(s.plate)) for s in _samples(frames, masks, frames) if s is not None]
    return float(np.mean(stops))


def _fg_mse(frames, masks, truth, relighter: Relighter | None) -> float:
    err, n = 0.0, 0
    for t, (f, m, g) in enumerate(zip(frames, masks, truth)):
        x, y, w, h = cv2.boundingRect(m)
        if w == 0:
            continue
        box = (slice(y, y + h), slice(x, x + w))
        out = f[box] if relighter is None else relighter.apply(np.ascontiguousarray(f[box]), t)
        sel = m[box] > 127
        d = (out[sel].astype(np.float32) - g[box][sel]) / 255.0
        err, n = err + float((d * d).sum()), n + d.size
    return err / max(n, 1)


VARIANTS = {  # name → settings (None: no relighting); the prior is set per clip (leave-one-out) unless 0 here
    "relight off": None,
    "previous default (grey world 0.35, no prior)": RelightSettings(strength=0.35, wb_strength=0.35, prior_stops=0.0,
                                                                    max_stops=0.5, sigma_frames=6.0),
    "exposure 0.1": RelightSettings(strength=0.1),
    "exposure 0.2": RelightSettings(strength=0.2),
    "exposure 0.3 (default)": RelightSettings(),
    "exposure 0.4": RelightSettings(strength=0.4),
    "exposure 0.5": RelightSettings(strength=0.5),
    "exposure 0.3, no prior": RelightSettings(prior_stops=0.0),
    "exposure 0.3, white balance 0": RelightSettings(wb_strength=0.0),
    "exposure 0.3, white balance 0.35": RelightSettings(wb_strength=0.35),
    "exposure 0.3, direction 0.2": RelightSettings(direction=0.2),
    "exposure 0.3, direction 0.5": RelightSettings(direction=0.5),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=Path, default=ROOT.parent / "shared" / "data" / "real")
    ap.add_argument("--seeds", type=int, default=4)
    args = ap.parse_args()
    t0 = time.perf_counter()
    folders = sorted(d for d in args.clips.iterdir() if (d / "masks").is_dir())
    if not folders:
        raise SystemExit(f"no clip folders with masks/ under {args.clips}")
    clips = {d.name: _load(d) for d in folders}
    prior = {name: _natural_stops(f, m) for name, (f, m) in clips.items()}
    print("| clip | foreground vs surroundings (stops, unperturbed) |\n|---|---|")
    for name, v in prior.items():
        print(f"| {name} | {v:+.2f} |")
    values = np.array(list(prior.values()))
    print(f"\nmean {values.mean():+.2f} stops, spread (std) {values.std():.2f} stops over {len(values)} clips\n")
    scores: dict[str, list[float]] = {k: [] for k in VARIANTS}
    for name, (frames, masks) in clips.items():
        loo = float(np.mean([v for k, v in prior.items() if k != name]))
        for s in range(args.seeds):
            pert, _ = illumination_perturbation(frames, masks.astype(np.float32) / 255.0, seed=SEED0 + s)
            samples = _samples(pert, masks, frames)
            for label, settings in VARIANTS.items():
                relighter = None
                if settings is not None:
                    if settings.prior_stops != 0.0:
                        settings = replace(settings, prior_stops=loo)
                    relighter = Relighter(settings)
                    relighter.plan(samples)
                scores[label].append(_fg_mse(pert, masks, frames, relighter))
    base = np.array(scores["relight off"])
    print(f"| relighting | fg MSE ↓ (mean of {len(base)} perturbed clips) | vs off | clips better than off |")
    print("|---|---|---|---|")
    for label, v in scores.items():
        v = np.array(v)
        print(f"| {label} | {v.mean():.5f} | {v.mean() / base.mean() - 1:+.1%} | {(v < base).sum()} of {len(v)} |")
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
