"""`--matte segment`: person segmentation of plain footage (MediaPipe selfie model, installed by make test)."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mediapipe")

from paistudio.comp.segment import PERSON_MODEL_ENV, PersonSegmenter, person_model_path  # noqa: E402
from paistudio.errors import InputError  # noqa: E402

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
PERSON_CLIPS = {"kite-surf": 0.45, "scooter-black": 0.5, "paragliding-launch": 0.6, "breakdance": 0.1,
                "motocross-jump": 0.25, "bmx-trees": 0.2}  # IoU floors, a little under what was measured


@pytest.fixture(scope="module")
def model():
    try:
        return person_model_path()
    except InputError as e:
        pytest.skip(str(e))


def test_missing_model_is_a_named_error(monkeypatch, tmp_path):
    monkeypatch.setenv(PERSON_MODEL_ENV, str(tmp_path / "none.tflite"))
    with pytest.raises(InputError, match="make install-model"):
        PersonSegmenter()


def test_alpha_is_soft_uint8_and_state_is_per_pass(model):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (4, 72, 128, 3), dtype=np.uint8)
    seg = PersonSegmenter(model)
    a = seg.alphas(frames)
    assert a.shape == (4, 72, 128) and a.dtype == np.uint8
    again = PersonSegmenter(model).alphas(frames)
    assert np.array_equal(a, again)  # a fresh pass gives the same matte
    seg.close()


def test_fast_guided_filter_snaps_a_blurred_matte_to_the_guide_edge():
    """A step in the guide and the same step blurred (sigma 6) as the confidence: the filter puts a jump into the
    output exactly at the guide's edge (the blurred input rises by at most 0.07 a pixel), keeps the flat parts,
    stays close to the exact filter, and applies a gain and offset exactly."""
    import cv2

    from paistudio.comp.segment import fast_guided_filter
    w, h = 320, 180
    guide = np.full((h, w), 40, np.uint8)
    guide[:, 160:] = 210
    src = cv2.GaussianBlur((guide > 128).astype(np.float32), (0, 0), 6)
    out = fast_guided_filter(guide, src, 8, 1e-3)
    assert out.shape == (h, w) and out.dtype == np.float32
    steps_in, steps_out = np.diff(src[90]), np.diff(out[90])
    assert steps_in.max() < 0.08 and int(np.argmax(steps_out)) == 159 and steps_out[159] > 0.4
    assert np.abs(out[:, :100]).max() < 0.01 and np.abs(out[:, 220:] - 1).max() < 0.01
    exact = cv2.ximgproc.guidedFilter(guide.astype(np.float32) / 255, src, 8, 1e-3)
    assert np.abs(out - exact).mean() < 0.01
    ramped = fast_guided_filter(guide, src, 8, 1e-3, gain=1 / 0.3, offset=-0.35 / 0.3)  # the segmenter's ramp
    np.testing.assert_allclose(ramped, (out - 0.35) / 0.3, atol=1e-4)


def _clip(name, n=30):
    import cv2
    d = REAL / f"davis16_{name}"
    files = sorted((d / "frames").iterdir())[:n]
    frames = np.stack([cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files])
    truth = np.stack([cv2.imread(str(d / "masks" / f"{f.stem}.png"), 0) > 127 for f in files])
    return frames, truth


@pytest.mark.real
@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/real is not here")
def test_person_clips_iou_and_less_flicker_than_the_raw_model(model):
    """Also: matte completion (`--complete auto` completes segmentation) raises IoU on every person clip."""
    from paistudio.comp.complete import MatteCompleter
    from paistudio.eval.restore import Clip, track_clip
    gains = []
    for name, floor in PERSON_CLIPS.items():
        frames, truth = _clip(name)
        alpha = PersonSegmenter(model).alphas(frames)
        ours = alpha > 127
        raw = PersonSegmenter(model, smoothing=0, refine_radius=0).alphas(frames) > 127
        completer = MatteCompleter(track_clip(Clip(name, frames, alpha)).homographies, frames.shape[2:0:-1])
        done = np.stack([completer.complete(f, a, t) for t, (f, a) in enumerate(zip(frames, alpha))]) > 127
        iou = lambda m: float(np.mean((m & truth).sum((1, 2)) / np.maximum((m | truth).sum((1, 2)), 1)))  # noqa: E731
        flicker = lambda m: float(np.mean(np.abs(np.diff(m.astype(np.float32), axis=0))))  # noqa: E731
        print(f"{name}: IoU {iou(ours):.3f} ({iou(done):.3f} completed), flicker {flicker(ours):.4f} "
              f"(raw model {flicker(raw):.4f})")
        assert iou(ours) >= floor
        assert flicker(ours) < flicker(raw)
        gains.append(iou(done) - iou(ours))
    assert min(gains) > 0 and np.mean(gains) > 0.01, gains


@pytest.mark.real
@pytest.mark.skipif(not (REAL / "davis16_kite-surf").is_dir(), reason="../shared/data/real is not here")
def test_replace_plain_footage_with_matte_segment(model, tmp_path):
    import paistudio
    from paistudio.io.video import probe
    from tests.media import textured_background, write_image

    ref = write_image(tmp_path / "sky.png", textured_background(854, 480, seed=4))
    record = paistudio.replace(REAL / "davis16_kite-surf" / "frames", [str(ref)], tmp_path / "out.mp4",
                               matte="segment", camera="static")
    assert record["engine"]["matte"]["mode"] == "segment"
    assert record["engine"]["complete"]["frames"] == record["engine"]["repair"]["frames"]  # auto: both run
    assert probe(tmp_path / "out.mp4").n_frames == len(list((REAL / "davis16_kite-surf" / "frames").iterdir()))


def test_quiet_segment_render_prints_nothing_but_its_warning(model, tmp_path):
    """No start-up notices from TF Lite, and no traceback at exit from a segmenter left to the garbage collector
    (both used to reach the terminal of a `--quiet` render). The clip has nobody in it: the one line printed is
    the warning that says so (the render is the plate alone)."""
    import os
    import subprocess
    import sys

    from tests.media import textured_background, write_image, write_video

    rng = np.random.default_rng(1)
    frames = np.repeat(textured_background(160, 96, seed=2)[None], 6, 0)
    frames[:, 30:70, 60:100] = rng.integers(0, 255, (6, 40, 40, 3), dtype=np.uint8)
    fg = write_video(tmp_path / "plain.mp4", frames)
    ref = write_image(tmp_path / "ref.png", textured_background(160, 96, seed=3))
    proc = subprocess.run([sys.executable, "-m", "paistudio.cli", "replace", str(fg), "--matte", "segment",
                           "--ref", str(ref), "-o", str(tmp_path / "out.mp4"), "--quiet"],
                          capture_output=True, text=True, env={**os.environ, PERSON_MODEL_ENV: str(model)},
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr.startswith("warning: --matte segment found no person in 6 of 6 frames")
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert (tmp_path / "out.mp4").is_file()
