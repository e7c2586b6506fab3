"""The dataset pipeline on the shared DAVIS clips (skipped when ../shared is absent)."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("scenedetect")

from paistudio.data.build import build  # noqa: E402
from paistudio.data.settings import BuildSettings  # noqa: E402
from paistudio.data.shards import read_sample  # noqa: E402

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
pytestmark = [pytest.mark.real, pytest.mark.skipif(not (REAL / "davis16_kite-surf").is_dir(),
                                                   reason="../shared/data/real is not here")]


def test_davis_clip_becomes_a_sample_the_trainer_reads(tmp_path):
    settings = BuildSettings(max_side=428, min_shot=16, max_shot=49)
    m = build(REAL / "davis16_kite-surf", tmp_path / "ds", settings)
    assert m["samples"] >= 1 and not m["failures"], m["failures"]
    shard = m["shards"][0]
    s = read_sample(tmp_path / "ds" / shard["file"], shard["samples"][0], videos=("target", "mask", "green"))
    meta = s["meta"]
    assert meta["foreground"] == "given" and meta["frames"] == 49 and meta["size"] == [428, 240]
    assert s["target"].shape == (49, 240, 428, 3)
    # the surfer is removed from the references: where the mask covers the begin frame, the reference differs
    covered = s["mask"][0] > 127
    assert covered.sum() > 100
    assert np.abs(s["references"]["begin"][covered].astype(int) - s["target"][0][covered].astype(int)).mean() > 10
    assert meta["motion"]["camera_speed"] > 0.002  # the DAVIS camera follows the surfer
    print("kite-surf:", meta["motion"], meta["caption"]["camera_motion_analysis"])

    pytest.importorskip("torch")
    from paistudio.train.cases import ShardCases
    case = ShardCases(tmp_path / "ds", 9, (64, 32)).case(0)
    assert case.target.shape == (9, 32, 64, 3) and sorted(case.backgrounds) == [0, 4, 8]


def test_footage_without_masks_or_screen(tmp_path, monkeypatch):
    clip = REAL / "sam2_bedroom"
    if not clip.is_dir():
        pytest.skip("sam2_bedroom is not in ../shared")
    # without a person segmenter: recorded as a failure with the reason
    monkeypatch.setenv("PAISTUDIO_PERSON_MODEL", str(tmp_path / "missing.tflite"))
    m = build(clip, tmp_path / "ds", BuildSettings(max_side=320))
    assert m["samples"] == 0 and len(m["failures"]) == 1
    assert "no green or blue screen" in m["failures"][0]["reason"]
    # with it (installed by make test): the person segmenter makes the masks
    pytest.importorskip("mediapipe")
    from paistudio.comp.segment import fetch_person_model
    monkeypatch.setenv("PAISTUDIO_PERSON_MODEL", str(fetch_person_model(tmp_path / "model")))
    m = build(clip, tmp_path / "ds2", BuildSettings(max_side=320))
    assert m["samples"] >= 1, m["failures"]
    shard = m["shards"][0]
    assert read_sample(tmp_path / "ds2" / shard["file"], shard["samples"][0], videos=())["meta"]["foreground"] == "person"
