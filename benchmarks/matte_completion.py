"""What matte completion (`comp.complete`, `--complete on`) recovers and what it wrongly adds, on real clips.

    python benchmarks/matte_completion.py [--clips ../shared/data/real] [--seed 0] [--every 1]

For every clip folder with masks: the benchmark's defects (`eval.defects`, the seed per clip as `paistudio bench`
draws it: holes, a dropped limb, an occluding blob) damage each true mask; the camera is tracked outside the
damaged masks (as the engine tracks plain footage outside its matte); `MatteCompleter` runs over every frame of
the damaged masks and, separately, of the clean ones. Per clip and in total it prints
- missed: share of the solid subject (true mask eroded 3 px, the bench's foreground region) outside the matte;
- false: background (outside the true mask dilated 7 px, the bench's background region) inside the matte, as a
  share of the solid subject's area;
before and after completion, for the damaged and the clean masks, and the time per frame.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from paistudio.comp.blocks import disc  # noqa: E402
from paistudio.comp.complete import CompleteSettings, MatteCompleter  # noqa: E402
from paistudio.eval.bench import BG_DILATE_PX, FG_ERODE_PX, clip_seed  # noqa: E402
from paistudio.eval.defects import apply_defects, draw_defects  # noqa: E402
from paistudio.eval.restore import Clip, load_clip, track_clip  # noqa: E402


def counts(true: np.ndarray, matte: np.ndarray) -> np.ndarray:
    """[subject px, subject px missed, background px taken]."""
    fg = cv2.erode(true, disc(FG_ERODE_PX)) > 127
    bg = cv2.dilate(true, disc(BG_DILATE_PX)) <= 127
    m = matte > 127
    return np.array([fg.sum(), (fg & ~m).sum(), (bg & m).sum()], np.float64)


def run(clip: Clip, masks: np.ndarray, every: int, settings: CompleteSettings) -> tuple[np.ndarray, np.ndarray, float]:
    """Counts before and after completion over the clip, and seconds per completed frame."""
    h = track_clip(Clip(clip.name, clip.frames, masks, clip.fps)).homographies
    size = clip.frames.shape[2], clip.frames.shape[1]
    completer = MatteCompleter(h, size, settings)
    before, after, spent = np.zeros(3), np.zeros(3), 0.0
    for t, (frame, matte) in enumerate(zip(clip.frames, masks)):
        start = time.perf_counter()
        done = completer.complete(frame, matte, t)
        spent += time.perf_counter() - start
        if t % every == 0:
            before += counts(clip.masks[t], matte)
            after += counts(clip.masks[t], done)
    return before, after, spent / len(masks)


def shares(c: np.ndarray) -> tuple[float, float]:
    return c[1] / max(c[0], 1), c[2] / max(c[0], 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", default=str(ROOT.parent / "shared" / "data" / "real"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--every", type=int, default=1, help="score every Nth frame (completion runs on all)")
    ap.add_argument("--only", nargs="*", help="clip folder names to run (default: all with masks)")
    ap.add_argument("--work-px", type=int, default=CompleteSettings.work_px)
    ap.add_argument("--iterations", type=int, default=CompleteSettings.iterations)
    args = ap.parse_args()
    settings = CompleteSettings(work_px=args.work_px, iterations=args.iterations)
    folders = sorted(p for p in Path(args.clips).iterdir() if (p / "masks").is_dir()
                     and (not args.only or p.name in args.only))
    if not folders:
        sys.exit(f"no clip folders with masks/ under {args.clips}")
    print(f"settings: {settings}\n")
    print("| clip | damaged: missed before → after | damaged: false before → after | clean: false after | "
          "clean: missed after | ms per frame |")
    print("|---|---|---|---|---|---|")
    total = np.zeros((4, 3))
    ms = []
    for folder in folders:
        clip = load_clip(folder)
        params = draw_defects(clip_seed(args.seed, clip.name))
        damaged = np.stack([apply_defects(m, params) for m in clip.masks])
        d0, d1, sec = run(clip, damaged, args.every, settings)
        c0, c1, _ = run(clip, clip.masks, args.every, settings)
        total += np.stack([d0, d1, c0, c1])
        ms.append(sec * 1000)
        (dm0, df0), (dm1, df1), (cm1, cf1) = shares(d0), shares(d1), shares(c1)
        print(f"| {clip.name} | {dm0:.3f} → {dm1:.3f} | {df0:.3f} → {df1:.3f} | {cf1:.3f} | {cm1:.3f} | "
              f"{sec * 1000:.0f} |", flush=True)
    (dm0, df0), (dm1, df1), (cm1, cf1) = shares(total[0]), shares(total[1]), shares(total[3])
    print(f"| all ({len(folders)} clips) | {dm0:.3f} → {dm1:.3f} | {df0:.3f} → {df1:.3f} | {cf1:.3f} | {cm1:.3f} | "
          f"{np.mean(ms):.0f} |")
    print(f"\nmissed subject recovered on damaged masks: {1 - dm1 / max(dm0, 1e-9):.0%}; "
          f"background wrongly added: {df1 - df0:+.3f} (damaged), {cf1:+.3f} (clean) of the subject's area")


if __name__ == "__main__":
    main()
