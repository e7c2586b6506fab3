"""Temporal PE cloning at toy scale: the paper's ablation, reproduced on CPU whatever the outcome.

Two `tiny` models are trained identically on synthetic panning shots (`train.cases.SyntheticPanning`: a camera
pans over a texture at a random speed; a disc moves in front) with 1-3 references per sample; they differ only in
the references' time ids:
  cloned      reference k sits at the latent time of the frame it depicts (begin / middle / end)
  sequential  references sit after the video (t = F, F+1, ...), the usual in-context layout without cloning
Both are then sampled on held-out shots, and each generated anchor frame's background (pixels the disc does not
cover) is compared with the reference it should match (PSNR, dB); the whole video is compared with the ground
truth, and the frames between anchors with the true background (interpolation).

    .venv/bin/python benchmarks/tiny_ablation.py [--steps 5000] [--cases 512] [--eval 32] [--out runs/ablation]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    d = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    mse = d[mask].mean() if mask is not None else d.mean()
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-10)))


def train_variant(ref_time: str, args, out: Path) -> tuple[Path, float, list[float]]:
    from paistudio.train.config import TrainConfig
    from paistudio.train.loop import train

    run = out / ref_time
    shutil.rmtree(run, ignore_errors=True)
    cfg = TrainConfig.from_dict({
        "model": {"preset": "tiny", "overrides": {"ref_time": ref_time}},
        "data": {"kind": "synthetic", "cases": args.cases, "frames": 9, "width": 32, "height": 32, "seed": 0},
        "train": {"steps": args.steps, "lr": 2e-3, "warmup_steps": 100, "ema_decay": 0.995, "log_every": 100,
                  "out": str(run), "seed": 0},
        "augment": {"perturb": False, "mask_defects": 0.0, "ref_count": [1, 3], "prompt_dropout": 0.0,
                    "ref_dropout": 0.0}})
    t0 = time.perf_counter()
    summary = train(cfg)
    return run / "final", time.perf_counter() - t0, summary["losses"]


def evaluate(model_dir: Path, args) -> dict:
    from paistudio.model.checkpoint import load_bundle
    from paistudio.model.pipeline import DitPipeline
    from paistudio.shot import default_anchors
    from paistudio.train.augment import green_screen
    from paistudio.train.cases import SyntheticPanning

    pipe = DitPipeline(load_bundle(model_dir))
    held_out = SyntheticPanning(args.eval, 9, 32, seed=1)
    rows = {}
    for n_refs in (3, 2):
        scores: dict[str, list[float]] = {"begin": [], "middle": [], "end": [], "between": [], "video": []}
        for i in range(args.eval):
            case = held_out.case(i)
            anchors = default_anchors(n_refs, 9)
            refs = np.stack([case.backgrounds[a] for a in anchors])
            video = pipe(green_screen(case.target, case.alpha), refs, anchors, case.prompt, steps=args.sample_steps,
                         guidance=1.0, seed=i)
            bg = case.alpha < 0.01
            for name, frame in (("begin", 0), ("middle", 4), ("end", 8)):
                scores[name].append(psnr(video[frame], case.backgrounds[frame], bg[frame]))
            between = [t for t in range(9) if t not in anchors]
            scores["between"].append(np.mean([psnr(video[t], case.backgrounds[t], bg[t]) for t in between]))
            scores["video"].append(psnr(video, case.target))
        rows[n_refs] = {k: round(float(np.mean(v)), 2) for k, v in scores.items()}
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--cases", type=int, default=512)
    ap.add_argument("--eval", type=int, default=32)
    ap.add_argument("--sample-steps", type=int, default=10)
    ap.add_argument("--out", type=Path, default=Path("runs/ablation"))
    args = ap.parse_args()
    import torch
    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    started = time.perf_counter()
    for variant in ("cloned", "sequential"):
        model_dir, seconds, losses = train_variant(variant, args, args.out)
        results[variant] = {"train_s": round(seconds, 1), "loss_first_100": round(float(np.mean(losses[:100])), 4),
                            "loss_last_500": round(float(np.mean(losses[-500:])), 4),
                            "eval": evaluate(model_dir, args)}
        print(f"{variant}: trained in {seconds:.0f} s", flush=True)
    total = time.perf_counter() - started
    (args.out / "results.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                       "results": results, "total_s": round(total, 1)}, indent=2))
    print(f"\n{args.steps} steps per model on {args.cases} synthetic panning shots (1-3 references each), "
          f"evaluated on {args.eval} held-out shots, {args.sample_steps} Euler steps, no guidance; {total / 60:.1f} min")
    print("Background PSNR (dB) of the generated frame against the reference it should match; 'between' = frames "
          "without a reference against the true background; 'video' = whole video against the ground truth.\n")
    print("| reference time ids | refs | begin | middle | end | between | video | final loss |")
    print("|---|---|---|---|---|---|---|---|")
    for variant, r in results.items():
        for n_refs, e in r["eval"].items():
            mid = "-" if n_refs == 2 else f"{e['middle']:.2f}"
            print(f"| {variant} | {n_refs} | {e['begin']:.2f} | {mid} | {e['end']:.2f} | {e['between']:.2f} | "
                  f"{e['video']:.2f} | {r['loss_last_500']:.4f} |")
    print("\n(with 2 references the middle frame has none: it is counted under 'between')")


if __name__ == "__main__":
    main()
