"""Cost of the parallax flow in the plate renderer: setup and per-frame time, homography only vs parallax flow.

A synthetic two-layer scene (a far wall and a near band moving 2.5x faster, a camera panning) with three
references at begin/middle/end; the plate of every frame between the anchors is rendered with `parallax=False`
(two perspective warps and a blend) and `parallax=True` (the residual flow applied: two remaps). One thread for
OpenCV, median of the per-frame times; the near band's mean absolute error against the true view is printed
beside the times.

    .venv/bin/python benchmarks/plate_parallax.py [--sizes 720p 1080p]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paistudio.comp.plate import PlateRenderer  # noqa: E402
from tests.media import two_layer_scene  # noqa: E402

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
FRAMES = 49
FAR_PX, NEAR_PX = 2.0, 5.0  # image motion per frame of the far wall and the near band


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["720p", "1080p"], choices=sorted(SIZES))
    args = ap.parse_args()
    cv2.setNumThreads(1)
    print("| size | plate | setup s | ms per frame (median) | near-band error (8-bit, mean abs) |")
    print("|---|---|---|---|---|")
    for name in args.sizes:
        w, h = SIZES[name]
        frames, path, band = two_layer_scene(FRAMES, w, h, FAR_PX, NEAR_PX)
        anchors = [0, FRAMES // 2, FRAMES - 1]
        refs = [frames[a] for a in anchors]
        inner = (band, slice(w // 8, w - w // 8))
        for parallax in (False, True):
            t0 = time.perf_counter()
            plate = PlateRenderer(refs, anchors, path, (w, h), parallax=parallax)
            setup = time.perf_counter() - t0
            out = np.empty((h, w, 3), np.uint8)
            times, errs = [], []
            for t in range(1, FRAMES - 1):
                if t in anchors:
                    continue
                t0 = time.perf_counter()
                plate.frame(t, out=out)
                times.append(time.perf_counter() - t0)
                errs.append(float(np.abs(out[inner].astype(np.float32) - frames[t][inner]).mean()))
            label = "parallax flow" if parallax else "homography"
            print(f"| {name} | {label} | {setup:.2f} | {1000 * np.median(times):.1f} | {np.mean(errs):.2f} |", flush=True)


if __name__ == "__main__":
    main()
