"""The benchmark's report: a Markdown table like the paper's Cine-Restore table, per-clip plots, frame strips.

Written from results.json alone (`write_report(results, out)`), so a report can be remade without rerunning.
Means are over the cases a method scored ("no measurement" cases, e.g. Motion Consistency on a featureless
output, are left out and counted separately). The paper's own numbers are shown beside ours, labelled: they
come from its test set, not these clips.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from ..io.atomic import write_text_atomic
from ..io.video import probe, read_chunks

# (method, refs) -> metrics reported in the paper (Cine-Restore table); None where not reported
PAPER = {("PAI-Studio (paper)", 1): {"mse": 0.0164, "ssim": 0.717, "lpips": 0.303, "motion_consistency": 0.872},
         ("PAI-Studio (paper)", 3): {"mse": 0.0065, "ssim": 0.789, "lpips": 0.197, "motion_consistency": 0.894},
         ("VACE (paper)", None): {"mse": 0.0270, "ssim": 0.595, "motion_consistency": 0.792},
         ("Runway Aleph (paper)", None): {"motion_consistency": 0.323}}
COLUMNS = [("mse", "MSE ↓", 4), ("ssim", "SSIM ↑", 3), ("lpips", "LPIPS ↓", 3), ("motion_consistency", "Motion Cons. ↑", 3),
           ("mse_bg", "bg MSE ↓", 4), ("ssim_fg", "fg SSIM ↑", 3), ("mse_fg", "fg MSE ↓", 4),
           ("mse_edge", "edge MSE ↓", 4), ("green_excess", "edge green ↓", 4), ("flicker", "fg flicker ↓", 4)]
METHOD_ORDER = {"composite": 0, "dit": 1, "static": 2, "ffmpeg": 3}
ENGINES = ("composite", "dit")  # methods whose result depends on the reference count (and the composite ablations)


def is_ablation(method: str) -> bool:
    """composite-no-STAGE / composite-with-STAGE: the composite engine with one stage toggled."""
    return method.startswith(("composite-no-", "composite-with-"))


def _by_refs(method: str) -> bool:
    return method in ENGINES or is_ablation(method)


def _order(method: str) -> float:
    return 0.5 if is_ablation(method) else METHOD_ORDER.get(method, 9)
MC_MARGIN = 0.05  # Motion Consistency must exceed the static baseline's by this much to count as better


def _fmt(v, digits: int) -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{digits}f}"


def summarise(rows: list[dict]) -> dict:
    """{(track, method, refs): {metric: mean, "cases": n, "no_measurement": {metric: n}}} over ok rows."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        if r["status"] == "ok":
            groups[(r["track"], r["method"], r["refs"])].append(r["metrics"])
    out = {}
    for key, ms in groups.items():
        entry: dict = {"cases": len(ms), "no_measurement": {}}
        for col, _, _ in COLUMNS + [("gt_green_excess", "", 0), ("gt_flicker", "", 0)]:
            vals = [m.get(col) for m in ms]
            have = [v for v in vals if v is not None]
            entry[col] = float(np.mean(have)) if have else None
            if len(have) < len(vals) and col == "motion_consistency":
                entry["no_measurement"][col] = len(vals) - len(have)
        out[key] = entry
    return out


def markdown(results: dict) -> str:
    rows = results["rows"]
    summary = summarise(rows)
    lines = ["# Cine-Restore benchmark", "",
             f"Clips: {len(results['clips'])} ({', '.join(results['clips'])}). "
             f"Settings: tracks {results['settings']['tracks']}, engines {results['settings']['engines']}, "
             f"references {results['settings']['refs']}, defects {results['settings']['defects']}, "
             f"seed {results['settings']['seed']}. Run time {results['seconds']['total']} s.", "",
             "Metrics against the original clip: MSE and SSIM (frames in [0, 1], whole frame; bg = outside the "
             "dilated true mask, fg = inside the eroded mask), LPIPS only with local weights, Motion Consistency "
             "(background point tracks, direction agreement; 1 = moves like the original camera, 0 = static or "
             "opposite), edge MSE = MSE in the 4 px band around the true outline (the pixels neither bg nor fg "
             "covers: matte edges, halos), edge green = mean max(0, G − max(R, B)) in that band, fg flicker = "
             "foreground change not explained by the ground truth's optical flow. `static` and `ffmpeg` use the "
             "begin reference only, so their rows repeat across reference counts. The plain track has no "
             "background ground truth (only motion, edge and foreground metrics) and one reference.", ""]
    for w in results.get("warnings", []):
        lines.append(f"> {w}")
    if results.get("warnings"):
        lines.append("")
    tracks = sorted({k[0] for k in summary}, key=lambda t: (t.split("+")[0] != "markers", t))
    header = "| method | refs | " + " | ".join(c[1] for c in COLUMNS) + " | cases |"
    rule = "|---|---|" + "---|" * len(COLUMNS) + "---|"
    for track in tracks:
        keys = sorted((k for k in summary if k[0] == track), key=lambda k: (_order(k[1]), k[1], k[2]))
        gt = summary[keys[0]] if keys else {}
        lines += [f"## Track `{track}`", "",
                  f"Ground truth itself: edge green {_fmt(gt.get('gt_green_excess'), 4)}, "
                  f"fg flicker {_fmt(gt.get('gt_flicker'), 4)}.", "", header, rule]
        for k in keys:
            e = summary[k]
            nm = e["no_measurement"].get("motion_consistency")
            note = f" ({nm} without a Motion Consistency measurement)" if nm else ""
            lines.append(f"| {k[1]} | {k[2]} | " + " | ".join(_fmt(e.get(c), d) for c, _, d in COLUMNS)
                         + f" | {e['cases']}{note} |")
        if not track.startswith("plain"):
            for (name, refs), vals in PAPER.items():
                lines.append(f"| {name} | {refs or '–'} | " + " | ".join(_fmt(vals.get(c), d) for c, _, d in COLUMNS)
                             + " | reported on the paper's test set, not these clips |")
        lines.append("")
    lines += _per_clip(rows)
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        lines += ["## Not scored", ""] + sorted({f"- {r['clip']} / {r['track']} / {r['method']}: {r['status']}"
                                                 for r in failed}) + [""]
    return "\n".join(lines) + "\n"


def _per_clip(rows: list[dict]) -> list[str]:
    """Composite against static per clip and track, at the largest reference count run."""
    by = {(r["clip"], r["track"], r["method"], r["refs"]): r for r in rows if r["status"] == "ok"}
    lines = ["## Per clip: composite against the static baseline", "",
             "| clip | track | refs | camera used | MC composite | MC static | MSE composite | MSE static | beats static | note |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(c, t, k) for c, t, m, k in by if m == "composite"})
    best = {}
    for c, t, k in keys:
        best[(c, t)] = max(k, best.get((c, t), 0))
    wins = total = 0
    for (c, t), k in sorted(best.items()):
        ours, static = by[(c, t, "composite", k)], by.get((c, t, "static", k))
        if static is None:
            continue
        mo, ms = ours["metrics"].get("motion_consistency"), static["metrics"].get("motion_consistency")
        eo, es = ours["metrics"].get("mse"), static["metrics"].get("mse")
        checks = []  # a win needs a real margin: noise-level differences (e.g. a static camera) are not wins
        if mo is not None and ms is not None:
            checks.append(mo > ms + MC_MARGIN)
        if eo is not None and es is not None:
            checks.append(eo < es)
        verdict = "–" if not checks else ("yes" if all(checks) else "no")
        total += verdict != "–"
        wins += verdict == "yes"
        lines.append(f"| {c} | {t} | {k} | {ours.get('camera_source') or '–'} | {_fmt(mo, 3)} | {_fmt(ms, 3)} | "
                     f"{_fmt(eo, 4)} | {_fmt(es, 4)} | {verdict} | {_note(ours)} |")
    lines += ["", f"Composite beats static on Motion Consistency (by more than {MC_MARGIN}) and MSE (where both are "
              f"measured) in {wins} of {total} clip/track pairs.", ""]
    return lines


STILL_CAMERA_PX = 0.5  # original background moving less than this per frame: no camera motion to follow


def _note(row: dict) -> str:
    """What explains a row's numbers, from what the run recorded (empty when nothing stands out)."""
    notes = []
    speed = row["metrics"].get("gt_background_px_per_frame")
    if speed is not None and speed < STILL_CAMERA_PX:
        notes.append(f"original camera nearly still ({speed:.2f} px/frame): Motion Consistency follows scene motion")
    if row.get("camera_source") == "static":
        notes.append("camera not recovered: the engine fell back to a static plate")
    return "; ".join(notes)


def write_report(results: dict, out: Path) -> None:
    """OUT/report.md, OUT/plots/per_clip_*.png (when matplotlib is installed) and OUT/strips/*.png."""
    out = Path(out)
    write_text_atomic(out / "report.md", markdown(results))
    _plots(results, out)
    _strips(results, out)


def _plots(results: dict, out: Path) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        results["warnings"].append("plots skipped: matplotlib is not installed (pip install 'paistudio[bench]')")
        write_text_atomic(out / "report.md", markdown(results))
        return
    (out / "plots").mkdir(exist_ok=True)
    rows = [r for r in results["rows"] if r["status"] == "ok"]
    for track in sorted({r["track"] for r in rows}):
        sel = [r for r in rows if r["track"] == track]
        clips = sorted({r["clip"] for r in sel})
        # baselines use the begin reference whatever the count: one bar each
        series = sorted({(r["method"], r["refs"] if _by_refs(r["method"]) else None) for r in sel},
                        key=lambda s: (_order(s[0]), s[0], s[1] or 0))
        fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.2 * len(clips) + 4), 4.5))
        for ax, metric, title in ((axes[0], "motion_consistency", "Motion Consistency ↑"), (axes[1], "mse", "MSE ↓")):
            width = 0.8 / max(1, len(series))
            for i, (m, k) in enumerate(series):
                vals = []
                for c in clips:
                    r = next((r for r in sel if r["clip"] == c and r["method"] == m and k in (None, r["refs"])), None)
                    v = None if r is None else r["metrics"].get(metric)
                    vals.append(np.nan if v is None else v)
                ax.bar(np.arange(len(clips)) + i * width, vals, width, label=m if k is None else f"{m} ({k} ref)")
            ax.set_xticks(np.arange(len(clips)) + 0.4 - width / 2, [c.replace("davis16_", "") for c in clips],
                          rotation=45, ha="right", fontsize=8)
            ax.set_title(f"{title} — {track}")
        axes[0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "plots" / f"per_clip_{track.replace('+', '_')}.png", dpi=90)
        plt.close(fig)


def _strips(results: dict, out: Path, max_strips: int = 4) -> None:
    """Middle frames side by side: input | references | composite | static | ground truth, for a few cases."""
    ok = {(r["clip"], r["track"], r["method"], r["refs"]): r for r in results["rows"] if r["status"] == "ok"}
    cases = sorted({(c, t, k) for c, t, m, k in ok if m == "composite" and not t.startswith("plain")})
    (out / "strips").mkdir(exist_ok=True)
    for c, t, k in cases[:max_strips]:
        case = out / "cases" / c / t
        meta = json.loads((case / "case.json").read_text())
        mid = meta["frames"] // 2
        tiles = [("input", _frame(case / "foreground.mp4", mid))]
        refs = [cv2.cvtColor(cv2.imread(str(case / "refs" / f"{n}.png")), cv2.COLOR_BGR2RGB) for n in meta["anchors"]]
        h, w = tiles[0][1].shape[:2]
        thumbs = [cv2.resize(r, (w // len(refs), h // len(refs))) for r in refs]
        tiles.append(("references", _stack_thumbs(thumbs, h, w)))
        for m in ("composite", "static"):
            r = ok.get((c, t, m, k))
            if r is not None:
                tiles.append((f"{m} ({k} ref)" if m == "composite" else m, _frame(out / r["output"], mid)))
        tiles.append(("ground truth", _frame(case / "gt.mp4", mid)))
        strip = np.hstack([_label(img, name) for name, img in tiles])
        cv2.imwrite(str(out / "strips" / f"{c}_{t.replace('+', '_')}_{k}ref.png"), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))


def _frame(path: Path, t: int) -> np.ndarray:
    for i, chunk in enumerate(read_chunks(probe(path), chunk=1)):
        if i == t:
            return chunk[0][..., :3]
    raise ValueError(f"{path} has no frame {t}")


def _stack_thumbs(thumbs: list[np.ndarray], h: int, w: int) -> np.ndarray:
    canvas = np.full((h, w, 3), 32, np.uint8)
    x = 0
    y = (h - thumbs[0].shape[0]) // 2
    for th in thumbs:
        canvas[y:y + th.shape[0], x:x + th.shape[1]] = th
        x += th.shape[1]
    return canvas


def _label(img: np.ndarray, text: str) -> np.ndarray:
    img = img.copy()
    cv2.rectangle(img, (0, 0), (img.shape[1], 28), (0, 0, 0), -1)
    cv2.putText(img, text, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return img
