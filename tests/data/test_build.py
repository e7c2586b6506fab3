import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction

import numpy as np
import pytest

pytest.importorskip("scenedetect")

from paistudio.data.build import build, inspect  # noqa: E402
from paistudio.data.caption import make_caption  # noqa: E402
from paistudio.data.ingest import discover  # noqa: E402
from paistudio.data.motion import Motion, keep, measure  # noqa: E402
from paistudio.data.settings import BuildSettings  # noqa: E402
from paistudio.data.shards import read_manifest, read_sample  # noqa: E402
from paistudio.data.shots import detect_cuts, shot_ranges  # noqa: E402
from paistudio.io.video import probe, read_chunks  # noqa: E402
from tests.media import write_clip_folder  # noqa: E402

from .inputs import H, W, bad_inputs, escaping_inputs, good_inputs, hard_cut_video  # noqa: E402

SETTINGS = BuildSettings(min_shot=12, max_shot=24, crf=18)


def _dataset_bytes(root):
    """What must match between two builds: the manifest and every shard, byte for byte."""
    files = {"manifest.json": (root / "manifest.json").read_bytes()}
    for p in sorted((root / "shards").glob("*.tar")):
        files[p.name] = p.read_bytes()
    return files


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    src = good_inputs(d / "raw")
    bad_inputs(d / "raw" / "bad")
    return src, build(src, d / "ds", SETTINGS), d / "ds"


def test_build_writes_shards_and_records_every_bad_input(built):
    src, manifest, out = built
    assert manifest["version"] == 1 and manifest["samples"] == 3 and len(manifest["shards"]) == 3
    reasons = {f["source"]: f["reason"] for f in manifest["failures"]}
    assert set(reasons) == {"bad/corrupt.mp4", "bad/empty.mp4", "bad/truncated.mp4", "bad/mismatched", "bad/unreadable"}
    assert "cannot be opened" in reasons["bad/corrupt.mp4"] or "corrupt" in reasons["bad/corrupt.mp4"]
    assert "masks" in reasons["bad/mismatched"]
    assert "unreadable" in reasons["bad/unreadable"] or "cannot" in reasons["bad/unreadable"]
    assert not list((out / "shards").glob("*.tmp*"))


def test_a_sample_holds_every_part_with_the_right_shapes(built):
    _, manifest, out = built
    shard = next(s for s in manifest["shards"] if s["source"] == "clip0")
    s = read_sample(out / shard["file"], shard["samples"][0], videos=("target", "green", "perturbed", "mask"))
    meta = s["meta"]
    assert meta["frames"] == 24 and meta["size"] == [W, H] and meta["foreground"] == "given"
    for name in ("target", "green", "perturbed"):
        assert s[name].shape == (24, H, W, 3)
    assert s["mask"].shape == (24, H, W) and set(np.unique(s["mask"])) <= set(range(0, 256))
    assert meta["anchors"] == {"begin": 0, "middle": 11, "end": 23}
    assert set(s["references"]) == {"begin", "middle", "end"} and s["references"]["end"].shape == (H, W, 3)
    # the green screen is green where the mask is background, the perturbed version differs on the subject only
    bg = s["mask"] < 20
    assert np.abs(s["green"][bg].astype(int) - [0, 177, 64]).mean() < 12
    fg = s["mask"] > 235
    assert np.abs(s["perturbed"][fg].astype(int) - s["green"][fg].astype(int)).mean() > 3
    assert np.abs(s["perturbed"][bg].astype(int) - s["green"][bg].astype(int)).mean() < 2
    assert "perturbation" in meta["augment"] and meta["caption"]["camera_motion_analysis"].startswith("the camera")
    assert meta["motion"]["camera_speed"] > 0.002  # the clip's camera pans


def test_the_training_loader_reads_the_shards(built, tmp_path):
    pytest.importorskip("torch")
    from paistudio.train.config import TrainConfig
    from paistudio.train.loop import train

    _, _, out = built
    cfg = TrainConfig.from_dict({"model": {"preset": "tiny"},
                                 "data": {"kind": "dataset", "path": str(out), "frames": 9, "width": 32, "height": 32},
                                 "train": {"steps": 2, "out": str(tmp_path / "run"), "log_every": 1}})
    summary = train(cfg)
    assert len(summary["losses"]) == 2 and all(np.isfinite(summary["losses"]))


def test_rebuilds_are_identical_and_resume_skips_finished_items(built, tmp_path):
    src, _, out = built
    again = build(src, tmp_path / "ds2", SETTINGS)
    assert _dataset_bytes(tmp_path / "ds2") == _dataset_bytes(out)
    log_before = (out / "build.log").read_text().splitlines()
    build(src, out, SETTINGS)
    log_after = (out / "build.log").read_text().splitlines()[len(log_before):]
    retried = sorted(json.loads(line)["source"] for line in log_after)
    assert retried == sorted(f["source"] for f in again["failures"])  # only the failed ones run again
    assert _dataset_bytes(tmp_path / "ds2") == _dataset_bytes(out)


def test_two_workers_give_the_same_dataset(built, tmp_path):
    src, _, out = built
    build(src, tmp_path / "ds3", SETTINGS, workers=2)
    assert _dataset_bytes(tmp_path / "ds3") == _dataset_bytes(out)


def test_killing_the_build_loses_no_finished_work(tmp_path):
    src = good_inputs(tmp_path / "raw", n_clips=4)
    clean = tmp_path / "clean"
    build(src, clean, SETTINGS)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "paistudio.cli", "data", "build", "--src", str(src), "--out", str(out), "--quiet",
           "--min-shot", "12", "--max-shot", "24", "--crf", "18"]
    env = dict(os.environ)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "items").glob("*.json"))) < 2:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list((out / "items").glob("*.json")))
    assert 1 <= done < 5, "the kill should land mid-run"
    m = json.loads((out / "manifest.json").read_text())
    assert all((out / s["file"]).is_file() for s in m["shards"])  # the manifest never lists a partial shard
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert _dataset_bytes(out) == _dataset_bytes(clean)


def test_inputs_escaping_the_root_are_refused(tmp_path):
    (tmp_path / "outside").mkdir()
    root = escaping_inputs(tmp_path / "root", tmp_path / "outside")
    items, failures = discover(root)
    assert [i.rel for i in items] == ["ok.mp4"]
    assert [f.source for f in failures] == ["link.mp4"] and "escapes the source root" in failures[0].reason
    items, failures = discover(root / "list.txt")
    assert [i.rel for i in items] == ["ok.mp4"]
    assert [f.source for f in failures] == ["../outside/secret.mp4"]


def test_shots_split_at_a_hard_cut_and_follow_the_length_rules(tmp_path):
    video = hard_cut_video(tmp_path / "cut.mp4", 24, 30)
    frames = np.concatenate(list(read_chunks(probe(video))))
    cuts = detect_cuts(frames, Fraction(24))
    assert cuts == [24]
    assert shot_ranges(cuts, 54, 12, 24) == [(0, 24), (24, 48)]  # 48..54 is too short to keep
    assert shot_ranges([], 30, 12, 100) == [(0, 30)]
    assert shot_ranges([5], 30, 12, 100) == [(5, 30)]


def test_motion_measures_the_camera_and_filters():
    import tempfile
    from pathlib import Path

    from paistudio.eval.restore import load_clip
    with tempfile.TemporaryDirectory() as d:
        clip, _, _ = write_clip_folder(Path(d) / "c", W, H, 16, seed=3, pan=0.25, zoom=1.0)
        c = load_clip(clip)
    m = measure(c.frames, c.masks)
    # pan=0.25 of the frame over 15 steps: the content moves ~1.7 % of the width per frame, leftwards
    assert 0.01 < m.camera_speed < 0.025 and m.camera_dx < 0 and abs(m.camera_dy) < m.camera_speed / 3
    assert keep(m, BuildSettings()) is None
    assert "camera speed" in keep(m, BuildSettings(camera_speed=(0.0, 0.005)))
    still = Motion(0.0, 0.0, 0.0, 0.0, 0.001, 0.2)
    cap = make_caption("template", None, {"motion": still, "frames": 48, "fps": Fraction(24)})
    assert cap["camera_motion_analysis"].startswith("static camera") and cap["caption"].startswith("A 2.0 s shot")
    pan = make_caption("template", None, {"motion": m, "frames": 16, "fps": Fraction(24)})
    assert "pans right" in pan["camera_motion_analysis"]


def test_inspect_reports_counts_and_writes_a_contact_sheet(built, tmp_path):
    _, manifest, out = built
    s = inspect(out, tmp_path / "sheet.png", n=2)
    assert s["samples"] == 3 and len(s["failures"]) == 5 and (tmp_path / "sheet.png").is_file()
    import cv2
    sheet = cv2.imread(str(tmp_path / "sheet.png"))
    assert sheet.shape[0] == 2 * 124
    r = subprocess.run([sys.executable, "-m", "paistudio.cli", "data", "inspect", str(out)], capture_output=True,
                       text=True)
    assert r.returncode == 0 and "3 samples" in r.stdout and "failed: bad/empty.mp4" in r.stdout
    r = subprocess.run([sys.executable, "-m", "paistudio.cli", "data", "inspect", str(tmp_path)], capture_output=True,
                       text=True)
    assert r.returncode == 3 and "no manifest.json" in r.stderr and "Traceback" not in r.stderr


def test_manifest_errors_are_named(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "other", "version": 9}))
    from paistudio.errors import InputError
    with pytest.raises(InputError, match="this paistudio reads"):
        read_manifest(tmp_path)


def test_ray_data_runs_the_same_steps(built, tmp_path):
    """Only where Ray is installed (it is an optional, 600 MB dependency; CI does not install it)."""
    pytest.importorskip("ray")
    src, _, out = built
    build(src, tmp_path / "ray", SETTINGS, workers=2, ray_address="local")
    assert _dataset_bytes(tmp_path / "ray") == _dataset_bytes(out)


def test_bad_output_folders_are_named(tmp_path):
    from paistudio.errors import OutputError

    src = tmp_path / "src"
    src.mkdir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        build(src, tmp_path / "file", SETTINGS)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="holds no dataset"):
        build(src, tmp_path / "busy", SETTINGS)
    with pytest.raises(OutputError, match="inside the source"):
        build(src, src / "ds", SETTINGS)
    r = subprocess.run([sys.executable, "-m", "paistudio.cli", "data", "build", "--src", str(tmp_path / "nope"),
                        "--out", str(tmp_path / "ds")], capture_output=True, text=True)
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr
