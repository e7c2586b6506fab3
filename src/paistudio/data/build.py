"""The runner of `paistudio data build` / `inspect`.

Each item (a video or clip folder) runs steps 2-8 in one worker and becomes one shard, or a "filtered" or
"failed" record with the reason. State lives in the output folder, so a run can be killed at any point:

    OUT/shards/ID.tar     complete shards (written as ID.tar.tmp-PID, renamed when complete)
    OUT/items/ID.json     one record per finished item (written after its shard): ok | filtered | failed
    OUT/manifest.json     rewritten after every item and at the end; lists only complete shards
    OUT/build.log         timings (not part of the dataset)

A re-run skips items with a record (ids hash the input's bytes and the settings), retries failed ones, and
removes stale temporary files. Outputs are deterministic: a killed and resumed build equals a clean one.
Local runs use a process pool (or none for one worker); `ray_address` runs the same function with Ray Data.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..errors import PaiStudioError
from ..io.atomic import write_text_atomic
from ..progress import Progress, Silent
from .ingest import Item, discover, item_id
from .settings import DATASET_FORMAT, DATASET_VERSION, BuildSettings

SHOT_WIDTH = 160  # shot detection runs on frames this wide


def _fit(shape: tuple[int, int], max_side: int) -> tuple[int, int]:
    h, w = shape
    s = min(1.0, max_side / max(h, w))
    return max(2, round(w * s / 2) * 2), max(2, round(h * s / 2) * 2)  # even sizes for H.264 4:2:0


def _frames(item: Item, max_side: int, masks: bool = True
            ) -> tuple[Iterator[tuple[np.ndarray, np.ndarray | None]], int, Fraction]:
    """(iterator of (frame, mask or None) at the working size, frame count, fps); raises for bad input.
    `masks=False` skips reading a clip's masks (the shot-detection pass needs only frames)."""
    from ..io.images import read_image
    from ..io.video import probe, read_chunks

    if item.kind == "video":
        info = probe(item.path, role="video")
        size = _fit((info.height, info.width), max_side)

        def gen():
            for chunk in read_chunks(info, chunk=8, alpha=False, size=size if size != (info.width, info.height) else None):
                for f in chunk:
                    yield f, None
        return gen(), info.n_frames, info.fps
    from ..eval.restore import clip_files

    files, mask_files = clip_files(item.path)
    if not masks:
        mask_files = None
    first = read_image(files[0], "frame")
    size = _fit(first.shape[:2], max_side)

    def gen():
        for i, p in enumerate(files):
            f = read_image(p, "frame")[..., :3]
            if f.shape[:2] != first.shape[:2]:
                raise PaiStudioError(f"frame {p.name} differs in size from {files[0].name}")
            m = None
            if mask_files is not None:
                m = read_image(mask_files[i], "mask")[..., 0]
                if m.shape != f.shape[:2]:
                    raise PaiStudioError(f"mask {mask_files[i].name} does not match its frame's size")
                m = cv2.resize(np.where(m > 127, 255, 0).astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
            if (f.shape[1], f.shape[0]) != size:
                f = cv2.resize(f, size, interpolation=cv2.INTER_AREA)
            yield f, m
    return gen(), len(files), Fraction(24)


def process_item(item: Item, iid: str, out: Path, settings: BuildSettings) -> dict:
    """Steps 2-8 for one item; writes OUT/shards/ID.tar when any shot is kept; returns the item record."""
    from .caption import make_caption
    from .foreground import foreground_masks
    from .greenscreen import green_videos
    from .motion import keep, measure
    from .references import references
    from .shards import sample_members, write_shard
    from .shots import detect_cuts, shot_ranges

    record = {"id": iid, "source": item.rel, "kind": item.kind}
    t0 = time.perf_counter()
    try:
        # pass 1: shot boundaries on small frames (streamed)
        frames, n, fps = _frames(item, settings.max_side, masks=False)
        small = (cv2.resize(f, (SHOT_WIDTH, max(2, round(f.shape[0] * SHOT_WIDTH / f.shape[1]))),
                            interpolation=cv2.INTER_AREA) for f, _ in frames)
        cuts = detect_cuts(small, fps, settings.shot_threshold, min_len=max(2, settings.min_shot // 2))
        ranges = shot_ranges(cuts, n, settings.min_shot, settings.max_shot)
        record.update(frames=n, fps=f"{fps.numerator}/{fps.denominator}", cuts=cuts, shots=[list(r) for r in ranges])
        # pass 2: each kept range, one at a time (memory bounded by max_shot frames)
        members, samples, filtered = [], [], []
        frames, _, _ = _frames(item, settings.max_side)
        buf_f, buf_m, index = [], [], 0
        for k, (s, e) in enumerate(ranges):
            while index < e:
                f, m = next(frames)
                if index >= s:
                    buf_f.append(f)
                    buf_m.append(m)
                index += 1
            fr = np.stack(buf_f)
            given = None if buf_m[0] is None else np.stack(buf_m)
            buf_f, buf_m = [], []
            key = f"{iid}-{k:03d}"
            masks, how = foreground_masks(fr, given, settings.segmenter)
            motion = measure(fr, masks)
            why = keep(motion, settings)
            if why:
                filtered.append({"shot": [s, e], "reason": why, "motion": motion.to_dict()})
                continue
            seed = (int(iid[:8], 16) + 7919 * k + settings.seed) % 2**31
            defects = bool(np.random.default_rng(seed).random() < settings.defects)
            green, perturbed, params = green_videos(fr, masks, seed, defects)
            refs, anchors, inpainted = references(fr, masks, fps)
            caption = make_caption(settings.captioner, fr, {"motion": motion, "frames": e - s, "fps": fps})
            meta = {"key": key, "source": item.rel, "shot": [s, e], "frames": e - s, "fps": record["fps"],
                    "size": [int(fr.shape[2]), int(fr.shape[1])], "anchors": anchors, "caption": caption,
                    "motion": motion.to_dict(), "foreground": how, "inpainted_share": inpainted,
                    "augment": params, "settings": settings.digest()}
            members += sample_members(key, {"target": fr, "green": green, "perturbed": perturbed, "mask": masks,
                                            "references": refs, "meta": meta}, fps, settings.crf)
            samples.append(key)
        record["filtered"] = filtered
        if samples:
            shard = out / "shards" / f"{iid}.tar"
            record.update(status="ok", samples=samples, shard=f"shards/{shard.name}", **write_shard(shard, members))
        else:
            record.update(status="filtered", samples=[],
                          reason="no shot passed the filters" if ranges else "no shot long enough")
    except PaiStudioError as e:
        record.update(status="failed", reason=str(e))
    except Exception as e:  # a bug or a library error on odd input: recorded, the run goes on
        record.update(status="failed", reason=f"{type(e).__name__}: {e}",
                      trace=traceback.format_exc(limit=3).splitlines()[-3:])
    write_text_atomic(out / "items" / f"{iid}.json", json.dumps(record, sort_keys=True, indent=1) + "\n")
    with open(out / "build.log", "a") as log:
        log.write(json.dumps({"id": iid, "source": item.rel, "status": record["status"],
                              "seconds": round(time.perf_counter() - t0, 2)}) + "\n")
    return record


def _process(args) -> dict:  # picklable entry for the pool / Ray
    item, iid, out, settings = args
    return process_item(item, iid, Path(out), settings)


def write_manifest(out: Path, settings: BuildSettings, plan: list[tuple[Item, str]], discovered_failures) -> dict:
    records = []
    for item, iid in plan:
        p = out / "items" / f"{iid}.json"
        if p.is_file():
            records.append(json.loads(p.read_text()))
    ok = [r for r in records if r["status"] == "ok" and (out / r["shard"]).is_file()]
    manifest = {
        "format": DATASET_FORMAT, "version": DATASET_VERSION, "settings": settings.to_dict(),
        "settings_digest": settings.digest(),
        "shards": [{"file": r["shard"], "id": r["id"], "source": r["source"], "samples": r["samples"],
                    "bytes": r["bytes"], "sha256": r["sha256"]} for r in ok],
        "samples": sum(len(r["samples"]) for r in ok),
        "filtered": [{"source": r["source"], "reason": r.get("reason", "")} for r in records if r["status"] == "filtered"],
        "failures": sorted([{"source": f.source, "reason": f.reason} for f in discovered_failures] +
                           [{"source": r["source"], "reason": r["reason"]} for r in records if r["status"] == "failed"],
                           key=lambda d: d["source"]),
        "pending": len(plan) - len(records),
    }
    write_text_atomic(out / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def build(src: str | Path, out: str | Path, settings: BuildSettings = BuildSettings(), workers: int = 1,
          ray_address: str | None = None, progress: Progress | None = None) -> dict:
    """Build (or resume) the dataset of `src` into `out`; returns the manifest."""
    from ..errors import OutputError

    progress = progress or Silent()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file; give a folder for the dataset")
    if out.is_dir() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise OutputError(f"--out {out} is a non-empty folder that holds no dataset; give a new or a dataset folder")
    if Path(src).resolve() == out.resolve() or out.resolve().is_relative_to(Path(src).resolve()):
        raise OutputError(f"--out {out} is inside the source {src}; the build would read its own output")
    try:
        for sub in ("shards", "items"):
            (out / sub).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create the dataset folder {out} ({e.strerror}); choose a folder you can write to") from None
    for stale in list((out / "shards").glob("*.tmp-*")) + list((out / "items").glob("*.tmp*")):
        stale.unlink(missing_ok=True)  # a killed run's half-written files
    items, failures = discover(src)
    digest = settings.digest()
    plan = [(it, item_id(it, digest)) for it in items]
    todo = []
    for it, iid in plan:
        rec = out / "items" / f"{iid}.json"
        if rec.is_file():
            r = json.loads(rec.read_text())
            if r["status"] != "failed" and (r["status"] != "ok" or (out / r["shard"]).is_file()):
                continue
        todo.append((it, iid, str(out), settings))
    write_manifest(out, settings, plan, failures)
    progress.phase("build", len(todo))
    for _ in _run(todo, workers, ray_address):
        write_manifest(out, settings, plan, failures)
        progress.advance(1)
    progress.close()
    return write_manifest(out, settings, plan, failures)


def _run(todo: list, workers: int, ray_address: str | None) -> Iterator[dict]:
    if not todo:
        return
    if ray_address:
        yield from _run_ray(todo, ray_address, workers)
    elif workers <= 1 or len(todo) == 1:
        for args in todo:
            yield _process(args)
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed
        with ProcessPoolExecutor(max_workers=min(workers, len(todo))) as pool:
            for fut in as_completed([pool.submit(_process, a) for a in todo]):
                yield fut.result()


def _run_ray(todo: list, address: str, workers: int) -> Iterator[dict]:
    """The same per-item function on Ray Data (`address`: "auto", "local" or ray://HOST:PORT)."""
    try:
        import ray
    except ImportError:
        raise PaiStudioError("--ray-address needs Ray: pip install 'ray[data]'") from None
    ray.init(address=None if address == "local" else address, ignore_reinit_error=True, log_to_driver=False)
    try:
        ds = ray.data.from_items([{"args": a} for a in todo]).repartition(len(todo))
        # fractional CPUs: on small machines whole-CPU actors can starve the driver (seen on 2 cores)
        results = ds.map(lambda row: {"record": _process(row["args"])}, num_cpus=0.5 if workers <= 2 else 1)
        for row in results.iter_rows():
            yield row["record"]
    finally:
        ray.shutdown()


def inspect(root: str | Path, sheet: str | Path | None = None, n: int = 8, seed: int = 0) -> dict:
    """Counts and failures of a dataset, and a contact sheet PNG of `n` random samples (reference begin |
    target middle | green-screen middle | reference end per row)."""
    from .shards import read_manifest, read_sample

    root = Path(root)
    m = read_manifest(root)
    keys = [(s["file"], k) for s in m["shards"] for k in s["samples"]]
    summary = {"shards": len(m["shards"]), "samples": len(keys), "filtered": len(m["filtered"]),
               "failures": m["failures"], "pending": m["pending"],
               "bytes": sum(s["bytes"] for s in m["shards"])}
    if keys:
        rng = np.random.default_rng(seed)
        pick = [keys[i] for i in sorted(rng.choice(len(keys), size=min(n, len(keys)), replace=False))]
        rows = []
        for shard, key in pick:
            s = read_sample(root / shard, key, videos=("target", "green"))
            mid = len(s["target"]) // 2
            row = [s["references"]["begin"], s["target"][mid], s["green"][mid], s["references"]["end"]]
            h = 120
            rows.append(np.concatenate([cv2.resize(x, (round(x.shape[1] * h / x.shape[0]), h)) for x in row], 1))
        width = max(r.shape[1] for r in rows)
        sheet_img = np.concatenate([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in rows])
        sheet = Path(sheet) if sheet else root / "contact_sheet.png"
        with_tmp = sheet.with_name(sheet.name + ".tmp.png")
        cv2.imwrite(str(with_tmp), cv2.cvtColor(sheet_img, cv2.COLOR_RGB2BGR))
        os.replace(with_tmp, sheet)
        summary["contact_sheet"] = str(sheet)
    return summary
