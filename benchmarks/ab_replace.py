"""Is one version of `paistudio replace` faster than another? Paired, order-balanced renders on this noisy VM.

    python benchmarks/ab_replace.py --a 6c182ea --b HEAD [--pairs 6] [--size 1080p] [--preset veryfast]
    python benchmarks/ab_replace.py --a HEAD --b . --clip FG.mp4 --ref BG.jpg --matte segment

`--a` / `--b` are git revisions of this repository (checked out into temporary worktrees) or `.` for the
working tree. Each pair renders the throughput benchmark's green-screen clip (`benchmarks/throughput.py`: 10 s,
tracking crosses, camera pan and push-in, one reference) once with each version, in a fresh process, the order
alternating from pair to pair (A B, B A, ...): on this shared VM the speed drifts by 20 % within minutes, and the
second render of a back-to-back pair is often the faster one, so neither an unpaired nor a fixed-order comparison
can be trusted. It prints every pair, the mean wall time of each version, and how many pairs B won, and whether
the two versions' outputs decode to the same frames (a speed change should not change the picture). The same
revision on both sides (`--a HEAD --b HEAD`) measures the noise itself. `--clip`/`--ref` (and `--matte`) render
another shot instead, e.g. real plain footage with `--matte segment`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from throughput import CRF, SIZES, bench_inputs  # noqa: E402


def _source(rev: str, tree: Path) -> Path:
    """The `src` folder of revision `rev`, checked out at `tree` (`.`: the working tree's own)."""
    if rev == ".":
        return ROOT / "src"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), rev], check=True)
    return tree / "src"


def _render(src: Path, clip: Path, ref: Path, out: Path, preset: str, matte: str | None) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, "-m", "paistudio.cli", "replace", str(clip), "--ref", str(ref), "-o", str(out),
           "--overwrite", "--quiet", "--preset", preset, "--crf", str(CRF)] + (["--matte", matte] if matte else [])
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _frames_digest(video: Path) -> str:
    """A hash of the decoded frames (container bytes may differ where the pictures do not)."""
    import av

    digest = hashlib.sha256()
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            digest.update(frame.to_ndarray(format="rgb24").tobytes())
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="git revision (or .) of version A")
    parser.add_argument("--b", required=True, help="git revision (or .) of version B")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--size", default="1080p", choices=sorted(SIZES))
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--clip", type=Path, help="render this foreground instead of the benchmark's clip")
    parser.add_argument("--ref", type=Path, help="its reference image (with --clip)")
    parser.add_argument("--matte", help="--matte for replace (e.g. segment)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "paistudio-bench")
    args = parser.parse_args()
    if args.pairs < 1:
        parser.error("--pairs must be >= 1")
    if (args.clip is None) != (args.ref is None):
        parser.error("--clip and --ref go together")
    args.workdir.mkdir(parents=True, exist_ok=True)
    clip, ref = (args.clip, args.ref) if args.clip else bench_inputs(args.workdir, args.size, 10.0)
    trees = Path(tempfile.mkdtemp(prefix="paistudio-ab-"))
    try:
        src = {"A": _source(args.a, trees / "A"), "B": _source(args.b, trees / "B")}
        shot = f"{clip.name}{f' --matte {args.matte}' if args.matte else ''}" if args.clip else args.size
        print(f"A = {args.a}, B = {args.b}; {shot}, x264 {args.preset}, crf {CRF}; wall seconds per render\n")
        print("| pair | order | A s | B s |")
        print("|---|---|---|---|")
        times: dict[str, list[float]] = {"A": [], "B": []}
        for i in range(args.pairs):
            order = "AB" if i % 2 == 0 else "BA"
            for v in order:
                times[v].append(_render(src[v], clip, ref, args.workdir / f"ab_{v}.mp4", args.preset, args.matte))
            print(f"| {i + 1} | {order[0]} then {order[1]} | {times['A'][-1]:.2f} | {times['B'][-1]:.2f} |", flush=True)
        mean = {v: sum(t) / len(t) for v, t in times.items()}
        wins = sum(b < a for a, b in zip(times["A"], times["B"]))
        print(f"| mean | | {mean['A']:.2f} | {mean['B']:.2f} |")
        print(f"\nB / A mean wall time: {mean['B'] / mean['A']:.3f}; B faster in {wins} of {args.pairs} pairs")
        same = _frames_digest(args.workdir / "ab_A.mp4") == _frames_digest(args.workdir / "ab_B.mp4")
        print(f"outputs: {'the same frames' if same else 'DIFFERENT frames'} (last pair)")
    finally:
        for tree in (trees / "A", trees / "B"):
            if tree.exists():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
        shutil.rmtree(trees, ignore_errors=True)


if __name__ == "__main__":
    main()
