"""Per-frame cost of handing frames to the H.264 writer: the numpy → PyAV copy and the RGB → YUV conversion.

    python benchmarks/frame_io.py [--sizes 1080p 4k] [--frames 48] [--repeats 5]

On a textured frame of each size it times, interleaved over `--repeats` rounds (best round reported, wall and
CPU time of the process, so threads are counted):
- `av.VideoFrame.from_ndarray` against `paistudio.io.writer.packed_frame` (the row copy the writer uses);
- swscale's RGB → yuv420p conversion (BT.709, limited range) with its own slice threads (`threads=0`, auto:
  what the writer uses) and on the calling thread alone (`threads=1`); both include the packed_frame copy.
Slice threads use a little more CPU and less wall time on the writer's thread. In 6 order-balanced pairs of
1080p renders the two settings were within 1 % of each other, so the writer keeps auto.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import av
from av.video.reformatter import VideoReformatter
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paistudio.io.writer import BT709, packed_frame  # noqa: E402
from tests.media import textured_background  # noqa: E402

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080), "4k": (3840, 2160)}


def _timed(fn, frames: list[np.ndarray]) -> tuple[float, float]:
    """Wall and process-CPU milliseconds per frame of fn(frame)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for f in frames:
        fn(f)
    n = len(frames)
    return (time.perf_counter() - wall) / n * 1000, (time.process_time() - cpu) / n * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["1080p", "4k"], choices=sorted(SIZES))
    parser.add_argument("--frames", type=int, default=48, help="frames per timing")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds; the best is reported")
    args = parser.parse_args()
    if args.frames < 1 or args.repeats < 1:
        parser.error("--frames and --repeats must be >= 1")

    print(f"best of {args.repeats} interleaved rounds of {args.frames} frames; ms per frame, wall / CPU\n")
    print("| size | from_ndarray | packed_frame | swscale RGB→YUV, threads=0 (auto) | swscale RGB→YUV, threads=1 |")
    print("|---|---|---|---|---|")
    for name in args.sizes:
        w, h = SIZES[name]
        base = textured_background(w, h, seed=3)
        frames = [np.roll(base, 7 * i, axis=1) for i in range(args.frames)]
        scalers = {0: VideoReformatter(), 1: VideoReformatter()}

        def convert(threads):
            return lambda f: scalers[threads].reformat(packed_frame(f), format="yuv420p", src_colorspace=BT709,
                                                      dst_colorspace=BT709, dst_color_range=1, threads=threads)

        cases = {"from_ndarray": lambda f: av.VideoFrame.from_ndarray(f, format="rgb24"),
                 "packed_frame": packed_frame, "sws0": convert(0), "sws1": convert(1)}
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.repeats):
            for key, fn in cases.items():
                t = _timed(fn, frames)
                best[key] = min(best.get(key, t), t, key=lambda x: x[1])
        cells = " | ".join(f"{best[k][0]:.2f} / {best[k][1]:.2f}" for k in cases)
        print(f"| {name} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
