"""The optional person segmenter (MediaPipe selfie model, fetched from the package index by the test)."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mediapipe")

from paistudio.comp.segment import PERSON_MODEL_ENV, fetch_person_model  # noqa: E402
from paistudio.data.foreground import SEGMENTERS, PersonSegmenter  # noqa: E402
from paistudio.errors import InputError  # noqa: E402

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return fetch_person_model(tmp_path_factory.mktemp("person_model"))


def test_registered_and_needs_its_model(monkeypatch, tmp_path):
    assert SEGMENTERS["person"] is PersonSegmenter
    monkeypatch.setenv(PERSON_MODEL_ENV, str(tmp_path / "missing.tflite"))
    with pytest.raises(InputError, match=PERSON_MODEL_ENV):
        PersonSegmenter()


def test_masks_are_binary_and_shaped(model):
    frames = np.random.default_rng(0).integers(0, 255, (3, 96, 128, 3), dtype=np.uint8)
    masks = PersonSegmenter(str(model)).masks(frames)
    assert masks.shape == (3, 96, 128) and masks.dtype == np.uint8 and set(np.unique(masks)) <= {0, 255}


@pytest.mark.real
@pytest.mark.skipif(not (REAL / "davis16_scooter-black").is_dir(), reason="../shared/data/real is not here")
def test_finds_the_rider_on_a_davis_clip(model):
    import cv2

    clip = REAL / "davis16_scooter-black"
    frames = np.stack([cv2.cvtColor(cv2.imread(str(clip / "frames" / f"{i:05d}.jpg")), cv2.COLOR_BGR2RGB)
                       for i in range(8, 12)])
    truth = np.stack([cv2.imread(str(clip / "masks" / f"{i:05d}.png"), 0) > 127 for i in range(8, 12)])
    pred = PersonSegmenter(str(model)).masks(frames) > 127
    iou = (pred & truth).sum() / (pred | truth).sum()
    print(f"scooter-black IoU {iou:.3f}")
    assert iou > 0.4  # a weak segmenter for full-body shots


def test_auto_uses_it_for_footage_without_masks_or_screen(model, monkeypatch):
    from paistudio.data.foreground import foreground_masks

    frames = np.random.default_rng(1).integers(0, 255, (2, 64, 96, 3), dtype=np.uint8)
    monkeypatch.setenv(PERSON_MODEL_ENV, str(model))
    _, how = foreground_masks(frames, None, "auto")
    assert how == "person"
    monkeypatch.setenv(PERSON_MODEL_ENV, str(model) + ".missing")
    with pytest.raises(InputError, match="no green or blue screen"):
        foreground_masks(frames, None, "auto")
