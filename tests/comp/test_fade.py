"""Fades on keyed footage (`comp.fade`): the screen's brightness measured per frame, taken out before keying and put
back on the composite."""

from __future__ import annotations

import numpy as np

import paistudio
from paistudio.comp.fade import FadeFollower, apply_gain, screen_gain
from paistudio.comp.key import Backing
from paistudio.io.video import probe, read_chunks
from tests.media import GREEN_BACKING, backing_plate, green_screen_clip, textured_background, write_image, write_video

BACKING = Backing(GREEN_BACKING, "green")


def _faded(frame: np.ndarray, gain: float) -> np.ndarray:
    return apply_gain(frame.copy(), gain)


def test_screen_gain_measures_the_screens_level():
    screen = backing_plate(160, 96, GREEN_BACKING, markers=True, seed=1)[:96, :160]
    for g in (0.2, 0.5, 0.8, 1.0):
        assert abs(screen_gain(_faded(screen, g), BACKING) - g) < 0.02, g
    assert screen_gain(np.zeros((96, 160, 3), np.uint8), BACKING) is None  # black: nothing to measure
    assert screen_gain(textured_background(160, 96), BACKING) is None  # no screen in the picture
    big = np.ascontiguousarray(np.repeat(np.repeat(_faded(screen, 0.5), 8, 0), 8, 1))  # measured on a small copy
    assert abs(screen_gain(big, BACKING) - 0.5) < 0.02


def _follow(measured):
    f = FadeFollower()
    return [f.follow(m) for m in measured]


def test_only_real_fades_are_applied():
    """A ramp is followed frame by frame (rounded to 1/256); one odd frame, small dips, brighter frames and black
    frames are not fades."""
    step = [round(g * 256) / 256 for g in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)]
    assert _follow([None, None, 0.3, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]) == \
        [1.0, 1.0, step[0], step[0], *step[1:], 1.0, 1.0]
    assert _follow([1.0, 1.0, 1.0, 0.4, 1.0, 1.0]) == [1.0] * 6  # a close-up on green clothes
    assert _follow([0.95, 1.2, 0.9, 0.86, 0.05, 0.04, 0.05]) == [1.0] * 7  # dips the key absorbs; all but black
    frame = textured_background(64, 48)
    back = apply_gain(apply_gain(frame.copy(), 0.5), 2.0)
    assert np.abs(back.astype(int) - frame).max() <= 2  # linear light halved and doubled: codes come back


def test_a_faded_green_screen_is_keyed_and_the_fade_kept(tmp_path):
    """A clip fading up from 30 % of its light: without the stage the dark screen stays as a green veil over the
    new background; with it each faded frame matches the unfaded clip's composite faded the same way."""
    n, w, h = 8, 128, 80
    frames, *_ = green_screen_clip(n, w, h, seed=5)
    ramp = [0.3, 0.45, 0.6, 0.75] + [1.0] * (n - 4)
    faded = np.stack([_faded(f, g) for f, g in zip(frames, ramp)])
    ref = write_image(tmp_path / "bg.png", textured_background(w, h, seed=9))
    outs = {}
    for name, clip, fade in (("clean", frames, True), ("on", faded, True), ("off", faded, False)):
        src = write_video(tmp_path / f"{name}.mkv", clip, codec="ffv1", pix_fmt="bgr0")
        record = paistudio.replace(src, [ref], tmp_path / f"{name}_out.mkv", codec="ffv1", camera="static",
                                   stages={"fade": fade})
        outs[name] = np.concatenate(list(read_chunks(probe(tmp_path / f"{name}_out.mkv"))))[..., :3].astype(int)
        if name == "on":
            fade = record["engine"]["fade"]
            assert fade["frames"] == 4 and 0.28 <= fade["lowest_gain"] <= 0.36, fade
            darker = f"the screen is darker in {fade['frames']} of 8 frames"
            assert any(w.startswith(darker) for w in record["warnings"])
    for t, g in enumerate(ramp[:4]):
        want = _faded(outs["clean"][t].astype(np.uint8), g).astype(int)
        on, off = np.abs(outs["on"][t] - want).mean(), np.abs(outs["off"][t] - want).mean()
        assert on < 2.0 and off > 4 * on, (t, on, off)
    assert np.abs(outs["on"][4:] - outs["clean"][4:]).mean() < 1.0  # after the fade: the clip as it is


def test_an_unfaded_clip_is_untouched_by_the_stage(tmp_path):
    frames, *_ = green_screen_clip(6, 96, 64, seed=2)
    src = write_video(tmp_path / "fg.mkv", frames, codec="ffv1", pix_fmt="bgr0")
    ref = write_image(tmp_path / "bg.png", textured_background(96, 64))
    got = []
    for fade in (True, False):
        record = paistudio.replace(src, [ref], tmp_path / f"o{fade}.mkv", codec="ffv1", stages={"fade": fade})
        assert "fade" not in record["engine"]
        got.append(np.concatenate(list(read_chunks(probe(tmp_path / f"o{fade}.mkv")))))
    assert np.array_equal(*got)
