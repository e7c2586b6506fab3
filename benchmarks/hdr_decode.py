"""What the HDR → SDR conversion (`paistudio.io.hdr`) adds to decoding an HDR clip.

    python benchmarks/hdr_decode.py [--size 1080p] [--frames 48] [--repeats 3]

Synthesises a 10-bit HEVC clip tagged HLG / BT.2020 (like a phone's HDR video) from a textured frame panning
sideways, then reads it with `read_chunks` at full size (the render pass) and at the analysis pass's width,
with the conversion on (what a render does) and off (the same decode read as coded: the anchor), interleaved
over `--repeats` rounds; the best round is reported. Wall and process-CPU milliseconds per frame.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paistudio.comp.analysis import analysis_scale  # noqa: E402
from paistudio.io import hdr  # noqa: E402
from paistudio.io.video import probe, read_chunks  # noqa: E402
from tests.media import textured_background, write_video  # noqa: E402

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080), "4k": (3840, 2160)}


def _read(info, size) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    n = sum(len(c) for c in read_chunks(info, size=size))
    return (time.perf_counter() - wall) / n * 1000, (time.process_time() - cpu) / n * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1080p", choices=sorted(SIZES))
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.frames < 1 or args.repeats < 1:
        parser.error("--frames and --repeats must be >= 1")
    w, h = SIZES[args.size]
    with tempfile.TemporaryDirectory() as tmp:
        base = (textured_background(w + args.frames * 4, h, seed=3).astype(np.uint16) * 257)
        frames = [np.ascontiguousarray(base[:, 4 * i:4 * i + w]) for i in range(args.frames)]
        clip = write_video(Path(tmp) / "hlg.mkv", frames, codec="libx265", pix_fmt="yuv420p10le",
                           options={"x265-params": "log-level=error", "crf": "18", "preset": "ultrafast"},
                           colour=(hdr.PRIMARIES_BT2020, hdr.TRC_HLG))
        on = probe(clip)
        assert on.to_sdr, "the clip should be read as HDR"
        off = dataclasses.replace(on, to_sdr=False)
        s = analysis_scale(on)
        small = (max(16, round(w * s)), max(16, round(h * s)))
        cases = {(name, label): (info, size) for name, size in (("full size", None), (f"{small[0]}x{small[1]}", small))
                 for label, info in (("off", off), ("on", on))}
        best: dict = {}
        for _ in range(args.repeats):
            for key, (info, size) in cases.items():
                t = _read(info, size)
                best[key] = min(best.get(key, t), t, key=lambda x: x[1])
    print(f"{args.size} HLG / BT.2020 10-bit HEVC, {args.frames} frames, best of {args.repeats}; ms per frame, "
          "wall / CPU\n")
    print("| read at | as coded (anchor) | converted to SDR | conversion adds (CPU) |")
    print("|---|---|---|---|")
    for name in dict.fromkeys(k[0] for k in cases):
        a, b = best[(name, "off")], best[(name, "on")]
        print(f"| {name} | {a[0]:.1f} / {a[1]:.1f} | {b[0]:.1f} / {b[1]:.1f} | {b[1] - a[1]:+.1f} |")


if __name__ == "__main__":
    main()
