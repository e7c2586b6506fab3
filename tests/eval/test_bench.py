"""The benchmark end to end on synthetic clip folders (a textured world, a known camera pan, a walking figure)."""

import json
from dataclasses import asdict
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from paistudio.errors import InputError, OutputError
from paistudio.eval.bench import ABLATE_STRENGTH, BenchSpec, ClipScorer, find_clips, run_bench
from paistudio.shot import Stages
from paistudio.eval.defects import apply_defects, draw_defects
from paistudio.eval.metrics import Lpips
from paistudio.eval.restore import load_clip
from tests.media import textured_background, write_clip_folder, write_image

W, H, N = 240, 144, 24


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    write_clip_folder(d / "pan_a", W, H, N, seed=11, pan=0.2)
    write_clip_folder(d / "pan_b", W, H, N, seed=12, pan=-0.15, zoom=1.0)
    photo = write_image(d / "photo.png", textured_background(320, 200, seed=3))
    return d, photo


@pytest.fixture(scope="module")
def results(clips, tmp_path_factory):
    d, photo = clips
    out = tmp_path_factory.mktemp("bench")
    spec = BenchSpec(clips=[d], out=out, tracks=["markers", "flat", "plain"], engines=["composite", "dit"],
                     refs=[1, 3], defects=True, background=photo)
    return run_bench(spec, workers=2), out  # two clips, two worker processes


def _row(results, clip, track, method, refs):
    rows = [r for r in results["rows"] if (r["clip"], r["track"], r["method"], r["refs"]) == (clip, track, method, refs)]
    assert len(rows) == 1, (clip, track, method, refs, len(rows))
    return rows[0]


def test_every_case_method_and_reference_count_is_scored(results):
    res, out = results
    assert res["clips"] == ["pan_a", "pan_b"]
    for clip in res["clips"]:
        for track in ("markers", "flat", "markers+defects", "flat+defects"):
            for refs in (1, 3):
                for method in ("composite", "static", "ffmpeg"):
                    assert _row(res, clip, track, method, refs)["status"] == "ok"
                assert _row(res, clip, track, "dit", refs)["status"].startswith("unavailable")
        for track in ("plain", "plain+defects"):  # one reference only: the new photo
            assert _row(res, clip, track, "composite", 1)["status"] == "ok"
            assert not [r for r in res["rows"] if r["clip"] == clip and r["track"] == track and r["refs"] == 3]
    per_frame = json.loads((out / "per_frame" / "pan_a" / "markers" / "composite-3ref.json").read_text())
    assert len(per_frame["mse"]) == N and len(per_frame["ssim_fg"]) == N
    assert (out / "outputs" / "pan_a" / "flat" / "ffmpeg.mp4").is_file()
    assert json.loads((out / "results.json").read_text())["rows"] == res["rows"]
    assert not res["lpips_available"] and any("LPIPS" in w for w in res["warnings"])


def test_composite_beats_the_static_baseline_on_motion_and_mse(results):
    res, _ = results
    for clip in res["clips"]:
        ours = _row(res, clip, "markers", "composite", 3)
        static = _row(res, clip, "markers", "static", 3)
        assert ours["camera_source"] == "tracked-backing"
        assert ours["metrics"]["motion_consistency"] > 0.85, ours["metrics"]
        assert static["metrics"]["motion_consistency"] < 0.3, static["metrics"]
        assert ours["metrics"]["mse"] < static["metrics"]["mse"]
        flat = _row(res, clip, "flat", "composite", 3)
        assert flat["camera_source"] == "references"
        assert flat["metrics"]["motion_consistency"] > _row(res, clip, "flat", "static", 3)["metrics"]["motion_consistency"] + 0.4
        assert flat["metrics"]["mse_bg"] < _row(res, clip, "flat", "static", 3)["metrics"]["mse_bg"]


def test_plain_track_scores_motion_and_foreground_only(results):
    res, _ = results
    m = _row(res, "pan_a", "plain", "composite", 1)["metrics"]
    assert m["mse"] is None and m["ssim"] is None and m["mse_bg"] is None  # no background ground truth
    assert m["motion_consistency"] > 0.85  # the photo moves with the clip's real camera (tracked on its background)
    assert m["ssim_fg"] > 0.8  # the original foreground is kept (relit a little towards the photo)
    assert _row(res, "pan_a", "plain", "static", 1)["metrics"]["motion_consistency"] < 0.3


def test_defects_hurt_the_foreground(results):
    res, _ = results
    clean = _row(res, "pan_a", "markers", "composite", 3)["metrics"]
    damaged = _row(res, "pan_a", "markers+defects", "composite", 3)["metrics"]
    assert damaged["mse_fg"] > clean["mse_fg"]


def test_report_table_plots_and_strips(results):
    res, out = results
    md = (out / "report.md").read_text()
    assert "## Track `markers`" in md and "## Track `plain+defects`" in md
    assert "| PAI-Studio (paper) | 3 | 0.0065 | 0.789 | 0.197 | 0.894 |" in md
    assert "reported on the paper's test set, not these clips" in md
    assert "Composite beats static on Motion Consistency (by more than 0.05) and MSE" in md
    assert "dit: unavailable" in md
    for track in ("markers", "flat", "plain", "markers_defects"):
        assert (out / "plots" / f"per_clip_{track}.png").stat().st_size > 5000
    strips = sorted((out / "strips").glob("*.png"))
    assert strips and strips[0].stat().st_size > 5000


def test_ground_truth_scores_perfectly_against_itself(clips):
    clip = load_clip(clips[0] / "pan_a")
    scorer = ClipScorer(clip.frames, clip.masks, Lpips(None))
    summary, _ = scorer.score(clip.frames, pixel_gt=True)
    assert summary["mse"] == 0.0 and summary["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert summary["motion_consistency"] == pytest.approx(1.0)
    assert summary["flicker"] == scorer.gt_flicker < 0.02  # the floor of the flow-warp residual
    still = np.repeat(clip.frames[:1], N, axis=0)
    assert scorer.score(still, pixel_gt=True)[0]["motion_consistency"] < 0.05


def test_edge_mse_sees_what_the_fg_and_bg_regions_leave_out(clips):
    """An output wrong only within 2 px of the true outline (a soft or haloed matte edge): fg and bg MSE stay 0,
    edge MSE does not; on the plain track (no background truth) edge MSE is not reported."""
    import cv2
    clip = load_clip(clips[0] / "pan_a")
    scorer = ClipScorer(clip.frames, clip.masks, Lpips(None))
    out = clip.frames.copy()
    k = np.ones((5, 5), np.uint8)
    for t, m in enumerate(clip.masks):
        out[t][cv2.subtract(cv2.dilate(m, k), cv2.erode(m, k)) > 0] = (0, 255, 0)
    summary, per = scorer.score(out, pixel_gt=True)
    assert summary["mse_fg"] == 0.0 and summary["mse_bg"] == 0.0
    assert summary["mse_edge"] > 0.05 and len(per["mse_edge"]) == len(out)
    assert scorer.score(clip.frames, pixel_gt=True)[0]["mse_edge"] == 0.0
    assert scorer.score(out, pixel_gt=False)[0]["mse_edge"] is None


def test_defects_are_seeded_and_stay_near_the_subject():
    mask = np.zeros((120, 160), np.uint8)
    mask[30:100, 60:100] = 255
    p = draw_defects(4)
    assert p == draw_defects(4) and p != draw_defects(5)
    json.dumps(p)
    damaged = apply_defects(mask, p)
    lost = (mask > 0) & (damaged == 0)
    added = (mask == 0) & (damaged > 0)
    assert 0.03 < lost.sum() / (mask > 0).sum() < 0.4  # holes and a limb, not the whole subject
    assert added.any()
    ys, xs = np.nonzero(added)
    assert xs.min() > 60 - 40 and xs.max() < 100 + 40 and ys.min() > 30 - 40 and ys.max() < 100 + 40


def test_bad_bench_input(tmp_path, clips):
    with pytest.raises(InputError, match="no clip folders"):
        find_clips([tmp_path])
    with pytest.raises(InputError, match="does not exist"):
        find_clips([tmp_path / "nope"])
    with pytest.raises(InputError, match="plain track needs"):
        run_bench(BenchSpec(clips=[clips[0]], out=tmp_path / "o", tracks=["plain"]))
    with pytest.raises(InputError, match="unknown engine"):
        run_bench(BenchSpec(clips=[clips[0]], out=tmp_path / "o", engines=["magic"]))
    with pytest.raises(InputError, match="reference counts"):
        run_bench(BenchSpec(clips=[clips[0]], out=tmp_path / "o", refs=[4]))
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        run_bench(BenchSpec(clips=[clips[0]], out=tmp_path / "file"))
    with pytest.raises(OutputError, match="cannot create"):
        run_bench(BenchSpec(clips=[clips[0]], out=tmp_path / "file" / "sub"))


def test_cli(tmp_path, clips):
    cmd = [sys.executable, "-m", "paistudio.cli", "bench", "--clips", str(clips[0] / "pan_b"), "--out",
           str(tmp_path / "r"), "--track", "markers", "plain", "--refs", "1", "-q"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "results.json" in done.stdout
    rows = json.loads((tmp_path / "r" / "results.json").read_text())["rows"]
    assert {(r["method"], r["refs"]) for r in rows} == {("composite", 1), ("static", 1), ("ffmpeg", 1)}
    assert {r["track"] for r in rows} == {"markers", "plain"}  # plain: the bundled sample photo by default
    case = json.loads((tmp_path / "r" / "cases" / "pan_b" / "plain" / "case.json").read_text())
    assert case["settings"]["background"]["path"].endswith("samples/walk/middle.jpg")
    missing = subprocess.run(cmd[:5] + [str(tmp_path / "nope")] + cmd[6:], capture_output=True, text=True)
    assert missing.returncode == 3 and missing.stderr.startswith("error:") and "Traceback" not in missing.stderr
    bad = subprocess.run(cmd + ["--track", "sideways"], capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    assert not Path(tmp_path / "nope").exists()


def test_report_notes_explain_a_row():
    from paistudio.eval.report import _note
    still = {"metrics": {"gt_background_px_per_frame": 0.1}, "camera_source": "static"}
    assert "nearly still (0.10 px/frame)" in _note(still) and "fell back to a static plate" in _note(still)
    assert _note({"metrics": {"gt_background_px_per_frame": 4.0}, "camera_source": "tracked-backing"}) == ""


def test_background_speed_of_the_original_is_recorded(results):
    m = _row(results[0], "pan_a", "markers", "composite", 3)["metrics"]
    assert 0.5 < m["gt_background_px_per_frame"] < 5  # the synthetic pan moves ~2 px per frame


def test_ablation_runs_the_composite_engine_with_each_stage_off(clips, tmp_path):
    d, _ = clips
    spec = BenchSpec(clips=[d / "pan_a"], out=tmp_path / "abl", tracks=["flat"], engines=["composite"], refs=[1],
                     ablate=["relight", "despill", "light_wrap"])
    res = run_bench(spec)
    methods = [r["method"] for r in res["rows"]]
    assert methods == ["composite", "composite-no-despill", "composite-no-relight", "composite-with-light_wrap",
                       "static", "ffmpeg"]
    assert all(r["status"] == "ok" for r in res["rows"])
    outs = {r["method"]: (tmp_path / "abl" / r["output"]).read_bytes() for r in res["rows"]}
    assert outs["composite"] != outs["composite-no-relight"] != outs["composite-no-despill"]
    shot = json.loads((tmp_path / "abl" / "outputs" / "pan_a" / "flat" / "composite-no-relight-1ref.shot.json").read_text())
    defaults = asdict(Stages())
    assert shot["stages"] == {**defaults, "relight": False}  # one stage toggled, every other at its default
    wrap = json.loads((tmp_path / "abl" / "outputs" / "pan_a" / "flat" / "composite-with-light_wrap-1ref.shot.json")
                      .read_text())
    assert wrap["stages"] == {**defaults, "light_wrap": ABLATE_STRENGTH}  # a default-off stage is tried at a strength
    assert outs["composite-with-light_wrap"] != outs["composite"]
    md = (tmp_path / "abl" / "report.md").read_text()
    assert "| composite-no-relight | 1 |" in md
    with pytest.raises(InputError, match="cannot ablate"):
        BenchSpec(clips=[d], out=tmp_path / "x", ablate=["sharpen"]).check()


def test_a_mode_stage_is_ablated_both_ways():
    from paistudio.eval.bench import ablation_methods, ablation_stages
    assert ablation_methods("complete") == ["composite-no-complete", "composite-with-complete"]
    assert ablation_stages("composite-no-complete") == {"complete": "off"}
    assert ablation_stages("composite-with-repair") == {"repair": "on"}  # keys too, not only what auto repairs
    assert ablation_methods("relight") == ["composite-no-relight"]
    assert ablation_methods("grain") == ["composite-with-grain"]
