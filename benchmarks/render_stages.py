"""Where the time of a composite render goes: each stage of `paistudio replace` timed on its own.

    python benchmarks/render_stages.py [--size 1080p] [--frames 96] [--preset veryfast]

On the throughput benchmark's green-screen clip (`benchmarks/throughput.py`: tracking crosses, camera pan and
push-in, one reference) it runs the engine's preparation once (analysis pass, camera, plate setup, relight plan:
the engine's own timings), then times the render pass's stages one after another on the first `--frames`
frames, OpenCV on one thread, so each stage's cost is its own: decode (with YUV → RGB), key (inside the
analysis pass's box), plate warp, the per-frame foreground work (edge unmixing, relighting, composite), the
writer's hand-off (`packed_frame` and swscale's RGB → YUV) alone, then `VideoSink.write` (hand-off and
x264), whose difference is x264 itself. Wall and process-CPU milliseconds per frame; x264 runs its own
threads, so its CPU exceeds its wall time. In a real render these overlap on four threads (decode, matte, composite,
writer) plus x264's, on a machine they saturate (about 190 % CPU on 2 cores). It calls the composite engine's
per-frame steps (`_key_boxes`, `_frame`) directly, as the render pass (`CompositeEngine.chunks`) does, so it
follows those methods if they change.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from av.video.reformatter import VideoReformatter
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from throughput import CRF, SIZES, bench_inputs, frame_bench_args  # noqa: E402
from paistudio.engines import make_engine  # noqa: E402
from paistudio.io.video import read_chunks  # noqa: E402
from paistudio.io.writer import BT709, VideoSink, packed_frame  # noqa: E402
from paistudio.job import prepare_job  # noqa: E402
from paistudio.progress import Silent  # noqa: E402
from paistudio.shot import Shot  # noqa: E402


class _Meter:
    def __init__(self):
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def time(self, name: str, fn, *args):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn(*args)
        self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - wall
        self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - cpu
        return result


def main() -> None:
    args = frame_bench_args(__doc__, frames=96, min_frames=4, preset=True)
    w, h = SIZES[args.size]
    clip, ref = bench_inputs(args.workdir, args.size, 10.0)
    out = args.workdir / "stages.mp4"
    shot = Shot.from_dict({"foreground": {"path": str(clip)}, "references": [{"path": str(ref)}],
                           "output": {"path": str(out), "overwrite": True, "preset": args.preset, "crf": CRF}})
    job = prepare_job(shot)
    engine = make_engine("composite", job)
    start = time.perf_counter()
    engine.prepare(Silent())  # the analysis pass keeps its threads: this is its real wall time
    prepare_s = time.perf_counter() - start

    cv2.setNumThreads(1)
    m = _Meter()
    reader = read_chunks(job.info, chunk=4)
    chunks = []
    while sum(len(c) for c in chunks) < args.frames:
        chunk = m.time("decode (+ YUV → RGB)", next, reader, None)
        if chunk is None:
            break
        chunks.append(chunk)
    reader.close()
    n = sum(len(c) for c in chunks)
    boxes, backing, t = engine._key_boxes(), engine.matte.backing, 0
    # every output frame kept for the writer stages, its pages touched now: the engine reuses a few chunk buffers,
    # so first-touch page faults are not part of its per-frame cost
    composites = np.empty((n, h, w, 3), np.uint8)
    composites.fill(0)
    for chunk in chunks:
        alphas = m.time("key", engine.matte.alphas, chunk, None if boxes is None else boxes[t:t + len(chunk)])
        for frame, alpha in zip(chunk, alphas):
            m.time("plate warp", engine.plate.frame, t, composites[t])
            m.time("edges + relight + composite", engine._frame, frame, alpha, composites[t], t, True, backing,
                   None if boxes is None else boxes[t])
            t += 1
    scaler = VideoReformatter()
    for f in composites:  # the writer's own conversion, timed alone (the result is dropped)
        m.time("writer hand-off (packed_frame + RGB → YUV)",
               lambda x: scaler.reformat(packed_frame(x), format="yuv420p", src_colorspace=BT709,
                                         dst_colorspace=BT709, dst_color_range=1, threads=0), f)
    sink = VideoSink(out, "h264", w, h, job.info.fps, job.info.time_base, preset=args.preset, crf=CRF)

    def write_all():
        for i, f in enumerate(composites):
            sink.write(f[None], job.info.pts[i:i + 1])
        sink.close()  # flushes the frames x264 still holds
    m.time("VideoSink.write: hand-off + x264 (x264's own threads)", write_all)

    print(f"{args.size}, {n} frames, x264 {args.preset} crf {CRF}; engine preparation {prepare_s:.2f} s wall "
          f"({', '.join(f'{k} {v:.2f}' for k, v in engine.timings.items())})\n")
    print("| stage | wall ms per frame | CPU ms per frame |")
    print("|---|---|---|")
    for name in m.wall:
        print(f"| {name} | {m.wall[name] / n * 1000:.1f} | {m.cpu[name] / n * 1000:.1f} |")
    hand_off = "writer hand-off (packed_frame + RGB → YUV)"
    sink_key = next(k for k in m.wall if k.startswith("VideoSink"))
    print(f"| x264 alone (the two rows above, subtracted) | {(m.wall[sink_key] - m.wall[hand_off]) / n * 1000:.1f} "
          f"| {(m.cpu[sink_key] - m.cpu[hand_off]) / n * 1000:.1f} |")
    out.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
