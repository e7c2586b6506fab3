"""The benchmark on a real DAVIS clip (skipped when ../shared/data is absent): the composite engine must beat the
static baseline on Motion Consistency and MSE where the camera can be recovered, and report the rest honestly."""

from pathlib import Path

import pytest

from paistudio.eval.bench import BenchSpec, run_bench

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CLIP = DATA / "real" / "davis16_kite-surf"  # 50 frames, camera ~4.3 px/frame over the sea
PHOTO = DATA / "backgrounds" / "mountain_landscape.jpg"

pytestmark = [pytest.mark.real, pytest.mark.skipif(not CLIP.is_dir() or not PHOTO.is_file(),
                                                   reason="../shared/data is absent")]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("real_bench")
    return run_bench(BenchSpec(clips=[CLIP], out=out, tracks=["markers", "flat", "plain"], refs=[1, 3],
                               background=PHOTO)), out


def _m(results, track, method, refs):
    row = next(r for r in results[0]["rows"] if (r["track"], r["method"], r["refs"]) == (track, method, refs))
    assert row["status"] == "ok", row["status"]
    return row


def test_markers_track_follows_the_real_camera(results):
    ours, static = _m(results, "markers", "composite", 3), _m(results, "markers", "static", 3)
    assert ours["camera_source"] == "tracked-backing"
    assert ours["metrics"]["motion_consistency"] > 0.9 > 0.1 > static["metrics"]["motion_consistency"]
    assert ours["metrics"]["mse"] < 0.6 * static["metrics"]["mse"]  # measured 0.0101 against 0.0245
    assert ours["metrics"]["ssim"] > static["metrics"]["ssim"]


def test_flat_track_and_plain_track(results):
    ours, static = _m(results, "flat", "composite", 3), _m(results, "flat", "static", 3)
    assert ours["metrics"]["mse"] < static["metrics"]["mse"]  # the references blend across anchors
    assert ours["metrics"]["motion_consistency"] > static["metrics"]["motion_consistency"]
    plain, plain_static = _m(results, "plain", "composite", 1), _m(results, "plain", "static", 1)
    assert plain["metrics"]["mse"] is None  # no background ground truth on this track
    assert plain["metrics"]["motion_consistency"] > 0.7 > 0.1 > plain_static["metrics"]["motion_consistency"]
    assert plain["metrics"]["ssim_fg"] > 0.9


def test_report_names_the_camera_and_the_paper(results):
    md = (results[1] / "report.md").read_text()
    assert "| davis16_kite-surf | markers | 3 | tracked-backing |" in md
    assert "reported on the paper's test set" in md
