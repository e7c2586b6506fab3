"""What a foreground LUT (`--lut`) costs: FFmpeg's lut3d filter on every frame against our full 8-bit table.

    python benchmarks/lut_apply.py [--size 1080p] [--frames 20]

On a photo-like frame (the throughput benchmark's reference image, `benchmarks/throughput.py`) and on random
colours (the worst case for the table's cache), it times per frame, in one process: FFmpeg's `lut3d`
(tetrahedral, rgb24 in and out, as `io.lut` builds its table with), and `ColourLut.apply` (one look-up per pixel
in the 2^24-entry table); and once, the table's construction. The LUT is a 33^3 warm grade. Wall and process-CPU
milliseconds; FFmpeg's filter runs slice threads, so its CPU exceeds its wall time.
"""

from __future__ import annotations

import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from throughput import SIZES, frame_bench_args, reference  # noqa: E402
from paistudio.io.lut import ColourLut, _table  # noqa: E402
from tests.media import write_cube  # noqa: E402


def _timed(fn, frames: int) -> tuple[float, float]:
    fn()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(frames):
        fn()
    return (time.perf_counter() - wall) / frames * 1000, (time.process_time() - cpu) / frames * 1000


def _filter(cube: Path, width: int, height: int):
    graph = av.filter.Graph()
    src = graph.add_buffer(width=width, height=height, format="rgb24", time_base=Fraction(1, 24))
    lut = graph.add("lut3d", file=str(cube), interp="tetrahedral")
    sink = graph.add("buffersink")
    src.link_to(lut)
    lut.link_to(sink)
    graph.configure()
    count = [0]

    def run(image: np.ndarray) -> np.ndarray:
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = count[0]
        count[0] += 1
        graph.push(frame)
        return graph.pull().to_ndarray(format="rgb24")
    return run


def main() -> None:
    args = frame_bench_args(__doc__, frames=20, min_frames=1)
    w, h = SIZES[args.size]
    photo = cv2.cvtColor(cv2.imread(str(reference(args.workdir, args.size))), cv2.COLOR_BGR2RGB)
    noise = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    cube = write_cube(args.workdir / "warm.cube", lambda c: np.clip(c ** 0.9 * [1.1, 1.0, 0.85], 0, 1), size=33)
    lut = ColourLut(cube)
    start = time.perf_counter()
    _table(str(cube.resolve()), cube.stat().st_mtime_ns, "3D")
    build_s = time.perf_counter() - start
    ffmpeg = _filter(cube, w, h)
    same = np.abs(lut.apply(photo).astype(int) - ffmpeg(photo).astype(int)).max()
    print(f"{args.size} frames, 33^3 LUT, {args.frames} frames each; table built once in {build_s:.2f} s; "
          f"largest difference table vs filter: {same} code(s)\n")
    print("| frame | lut3d filter wall ms | lut3d CPU ms | table wall ms | table CPU ms |")
    print("|---|---|---|---|---|")
    for name, image in (("photo-like", photo), ("random colours", noise)):
        fw, fc = _timed(lambda: ffmpeg(image), args.frames)
        tw, tc = _timed(lambda: lut.apply(image), args.frames)
        print(f"| {name} | {fw:.1f} | {fc:.1f} | {tw:.1f} | {tc:.1f} |")


if __name__ == "__main__":
    main()
