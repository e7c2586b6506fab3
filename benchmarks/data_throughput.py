"""Dataset pipeline throughput: clips per second and peak memory of `paistudio data build`, 1 and 2 workers.

Each run builds the shared DAVIS clips (../shared/data/real/davis16_*) from scratch into a temporary folder, in
a child process; the script samples the resident memory of that process and all its descendants every 0.1 s
(the sum over the tree: what the machine must hold) and reports the peak. Clips/s counts input clips over the
wall time of the whole build (shot splitting, motion filter, green-screen videos, clean-plate references,
captions, encoding, shards).

    .venv/bin/python benchmarks/data_throughput.py [--src ../shared/data/real] [--max-side 854] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tree_rss_mib(pid: int) -> float:
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total / 1024


def run(src: Path, workers: int, max_side: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix="data_bench_"))
    code = ("import json, sys; from paistudio.data.build import build; from paistudio.data.settings import BuildSettings;"
            f"m = build({str(src)!r}, {str(out / 'ds')!r}, BuildSettings(max_side={max_side}), workers={workers});"
            "print(json.dumps({'samples': m['samples'], 'shards': len(m['shards']), 'failures': m['failures'],"
            " 'filtered': len(m['filtered'])}))")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, _tree_rss_mib(proc.pid))
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"build failed:\n{stderr[-2000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result.update(workers=workers, seconds=round(wall, 1), peak_mib=round(peak))
    shutil.rmtree(out, ignore_errors=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, default=ROOT.parent / "shared" / "data" / "real")
    ap.add_argument("--max-side", type=int, default=854)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    clips = sorted(p for p in args.src.glob("davis16_*") if (p / "masks").is_dir())
    if not clips:
        raise SystemExit(f"no DAVIS clips under {args.src}")
    with tempfile.TemporaryDirectory() as d:
        # the pipeline refuses inputs that leave its source root (symlinks included), so the clips are copied to a
        # temporary root outside the repository (they are non-commercial data: never into the repo)
        src = Path(d) / "src"
        for c in clips:
            shutil.copytree(c / "frames", src / c.name / "frames")
            shutil.copytree(c / "masks", src / c.name / "masks")
        frames = sum(len(list((c / "frames").iterdir())) for c in clips)
        rows = [run(src, w, args.max_side) for w in args.workers]
    print(f"{len(clips)} DAVIS clips ({frames} frames, max side {args.max_side} px), {os.cpu_count()} CPUs\n")
    print("| workers | wall s | clips/s | frames/s | samples | filtered | failures | peak memory (MiB, process tree) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['workers']} | {r['seconds']} | {len(clips) / r['seconds']:.3f} | {frames / r['seconds']:.1f} | "
              f"{r['samples']} | {r['filtered']} | {len(r['failures'])} | {r['peak_mib']} |")
    base = rows[0]["seconds"]
    for r in rows[1:]:
        print(f"\n{r['workers']} workers: {base / r['seconds']:.2f}x the speed of {rows[0]['workers']}")


if __name__ == "__main__":
    main()
