"""End to end: where alpha comes from and what the matte stages do to it (matte files, alpha channels, keys
that need a look further in, repair and completion)."""

from fractions import Fraction

import numpy as np
import pytest

import paistudio
from paistudio.io.video import probe, read_chunks
from tests.media import (green_screen_clip, read_video, textured_background, write_image, write_sequence, write_video)


@pytest.mark.parametrize("layout, channel", [("matte in RGB, solid alpha", "red"), ("matte in alpha", "alpha")])
def test_rgba_matte_file_is_read_where_the_matte_is(tmp_path, layout, channel):
    """An RGBA export of a black-and-white matte has a solid alpha channel: read from it, every pixel was foreground."""
    frames, alpha, *_ = green_screen_clip(6, 128, 80, seed=5)
    fg = write_video(tmp_path / "fg.mp4", frames, options={"crf": "12"})
    codes = [(a * 255).round().astype(np.uint8) for a in alpha]
    if channel == "red":
        mattes = [np.dstack([c, c, c, np.full_like(c, 255)]) for c in codes]
    else:
        mattes = [np.dstack([np.zeros_like(c)] * 3 + [c]) for c in codes]
    matte = write_sequence(tmp_path / "matte", mattes)
    ref = write_image(tmp_path / "r.png", textured_background(128, 80))
    record = paistudio.replace(fg, [ref], tmp_path / "o.mkv", matte=matte, codec="ffv1",
                               stages={"repair": "off", "complete": "off"})
    assert record["engine"]["matte"]["matte"]["channel"] == channel
    got = np.concatenate(list(read_chunks(probe(tmp_path / "o.mkv"))))[..., 3]
    assert np.abs(got.astype(int) - np.stack(codes)).mean() < 2.0


def test_rgba_input_uses_its_own_alpha(tmp_path):
    frames, alpha, fg, _ = green_screen_clip(8, 128, 80, seed=6)
    rgba = [np.dstack([f, (a * 255).round().astype(np.uint8)]) for f, a in zip(fg, alpha)]
    seq = write_sequence(tmp_path / "rgba", rgba)
    ref = write_image(tmp_path / "r.png", textured_background(128, 80))
    record = paistudio.replace(seq, [ref], tmp_path / "o.mkv", relight=False, codec="ffv1")
    assert record["engine"]["matte"]["mode"] == "alpha"
    got = read_video(tmp_path / "o.mkv")
    solid = alpha == 1.0
    np.testing.assert_array_equal(got[solid][:, :3], fg[solid])  # lossless: solid foreground passes bit-exact


def test_a_hole_in_the_keyed_subject_is_repaired_and_reported(tmp_path):
    """A screen-coloured patch inside the subject keys out as a hole: with repair the plate no longer shows
    through it, and the record says how much was filled; with --repair off (and auto, for a key) the plate shows."""
    import cv2
    from tests.media import GREEN_BACKING
    frames, alpha, fg, _ = green_screen_clip(12, 320, 192, markers=False, seed=5)
    holed = frames.copy()
    hole = np.zeros(alpha.shape, bool)
    for t in range(len(frames)):
        solid = cv2.erode((alpha[t] >= 0.99).astype(np.uint8), np.ones((7, 7), np.uint8))
        ys, xs = np.nonzero(solid)
        cy, cx = int(np.median(ys)), int(np.median(xs))
        m = np.zeros(alpha.shape[1:], np.uint8)
        cv2.circle(m, (cx, cy), 3, 1, -1)
        hole[t] = (m > 0) & (solid > 0)
        holed[t][hole[t]] = GREEN_BACKING
    src = write_video(tmp_path / "fg.mp4", holed, options={"crf": "10"})
    red = np.zeros((192, 320, 3), np.uint8)
    red[..., 0] = 230  # a plate unlike the subject: where it shows through, the error is large
    ref = write_image(tmp_path / "red.png", red)
    auto = paistudio.replace(src, [ref], tmp_path / "auto.mkv", codec="ffv1", relight=False)
    assert "repair" not in auto["engine"]  # a key's holes usually show the real screen: auto leaves them
    on = paistudio.replace(src, [ref], tmp_path / "on.mkv", codec="ffv1", relight=False, stages={"repair": "on"})
    off = paistudio.replace(src, [ref], tmp_path / "off.mkv", codec="ffv1", relight=False, stages={"repair": "off"})
    got_on = read_video(tmp_path / "on.mkv")[..., :3].astype(np.float32)
    got_off = read_video(tmp_path / "off.mkv")[..., :3].astype(np.float32)
    truth = fg.astype(np.float32)
    err_on = np.abs(got_on - truth).mean(axis=-1)[hole].mean()
    err_off = np.abs(got_off - truth).mean(axis=-1)[hole].mean()
    print(f"hole error: repair on {err_on:.1f}, off {err_off:.1f}")
    assert err_on < 0.35 * err_off
    summary = on["engine"]["repair"]
    assert summary["frames"] == 12 and summary["frames_repaired"] >= 10 and summary["filled_px"] >= 10 * 20
    assert "repair" not in off["engine"]


@pytest.mark.parametrize("setting, mode, applies", [
    ("auto", "file", True), ("auto", "segment", True), ("auto", "key", False), ("auto", "alpha", False),
    ("on", "key", True), ("on", "alpha", False), ("off", "file", False),
])
def test_which_mattes_are_repaired(setting, mode, applies):
    from paistudio.comp.engine import repairs
    assert repairs(setting, mode) is applies


def test_matte_completion_gives_back_a_leg_the_matte_file_cut_off(tmp_path):
    """Plain footage whose matte file lacks the left leg in every frame: with --complete on the leg is
    composited from the frame (the camera is tracked on the footage's own background), off the plate shows."""
    from tests.comp.test_complete import frames as walking
    from tests.comp.test_repair import drop_leg
    clip = list(walking(14))
    seq = write_sequence(tmp_path / "fg", [f for f, _ in clip])
    mattes = [drop_leg(a) for _, a in clip]
    matte = write_sequence(tmp_path / "matte", [np.repeat(m[..., None], 3, -1) for m in mattes])
    red = np.zeros((240, 320, 3), np.uint8)
    red[..., 0] = 230
    ref = write_image(tmp_path / "red.png", red)
    kw = {"matte": matte, "fps": Fraction(24), "codec": "ffv1", "relight": False}
    on = paistudio.replace(seq, [ref], tmp_path / "on.mkv", stages={"complete": "on"}, **kw)
    off = paistudio.replace(seq, [ref], tmp_path / "off.mkv", **kw)  # auto: a matte file is taken as authored
    assert on["engine"]["camera"]["source"] == "tracked-backing"
    leg = np.stack([(a > 250) & (m == 0) for (_, a), m in zip(clip, mattes)])[6:]
    truth = np.stack([f for f, _ in clip])[6:].astype(np.float32)
    err = {name: np.abs(read_video(tmp_path / f"{name}.mkv")[6:, ..., :3] - truth).mean(axis=-1)[leg].mean()
           for name in ("on", "off")}
    print(f"leg error: completion on {err['on']:.1f}, off {err['off']:.1f}")
    assert err["on"] < 0.3 * err["off"]
    assert on["engine"]["complete"]["frames_completed"] >= 12 and "complete" not in off["engine"]


@pytest.mark.parametrize("stage", ["repair", "complete"])
def test_an_error_in_a_matte_stage_thread_reaches_the_caller_and_nothing_is_written(stage, tmp_path, monkeypatch):
    """Repair and completion run on their own threads in the render pass: an error there stops the render
    with that error, and the output path stays empty."""
    from paistudio.comp.complete import MatteCompleter
    from paistudio.comp.repair import MatteRepairer
    from paistudio.errors import InputError
    from tests.comp.test_complete import frames as walking
    clip = list(walking(10))
    seq = write_sequence(tmp_path / "fg", [f for f, _ in clip])
    matte = write_sequence(tmp_path / "matte", [np.repeat(a[..., None], 3, -1) for _, a in clip])
    ref = write_image(tmp_path / "r.png", textured_background(320, 240))
    # completion's per-frame work runs on its pool's threads, two frames of a chunk at once
    cls, method = {"repair": (MatteRepairer, "repair"), "complete": (MatteCompleter, "_complete")}[stage]
    original, calls = getattr(cls, method), []

    def failing(self, *args):
        calls.append(1)
        if len(calls) == 6:
            raise InputError(f"{stage} failed on purpose")
        return original(self, *args)

    monkeypatch.setattr(cls, method, failing)
    with pytest.raises(InputError, match=f"{stage} failed on purpose"):
        paistudio.replace(seq, [ref], tmp_path / "o.mp4", matte=matte, fps=Fraction(24),
                          stages={"complete": "on", "repair": "on"})
    # frames 4..7 form the failing frame's chunk: the other completion thread may finish them, no later chunk starts
    assert len(calls) == 6 if stage == "repair" else 6 <= len(calls) <= 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fg", "matte", "r.png"]


def test_matte_completion_on_a_key_is_skipped_with_a_warning(tmp_path):
    frames, *_ = green_screen_clip(6, 128, 80, seed=4)
    fg = write_video(tmp_path / "fg.mp4", frames)
    ref = write_image(tmp_path / "r.png", textured_background(128, 80))
    auto = paistudio.replace(fg, [ref], tmp_path / "a.mp4")
    assert "complete" not in auto["engine"] and not any("completion" in w for w in auto["warnings"])
    record = paistudio.replace(fg, [ref], tmp_path / "o.mp4", stages={"complete": "on"})
    assert "complete" not in record["engine"]
    assert any("matte completion applies to plain footage" in w and "key matte on a screen" in w
               for w in record["warnings"])


@pytest.mark.parametrize("setting, mode, screen, applies", [
    ("auto", "segment", False, True), ("auto", "file", False, False), ("on", "file", False, True),
    ("on", "file", True, False), ("on", "key", True, False), ("on", "alpha", False, False),
    ("off", "segment", False, False),
])
def test_which_mattes_are_completed(setting, mode, screen, applies):
    from paistudio.comp.engine import completes
    assert completes(setting, mode, screen) is applies


def test_green_screen_after_a_fade_from_black_is_still_found(tmp_path):
    """Black, then a fade up: screen detection on the first frames alone found no screen and refused the clip."""
    frames, *_ = green_screen_clip(36, 128, 80, seed=4)
    faded = [np.clip(f.astype(np.float32) * np.clip((i - 10) / 8, 0, 1), 0, 255).astype(np.uint8)
             for i, f in enumerate(frames)]  # frames 0-10 black, full picture from frame 18
    fg = write_video(tmp_path / "fade.mp4", faded)
    ref = write_image(tmp_path / "r.png", textured_background(128, 80))
    record = paistudio.replace(fg, [ref], tmp_path / "o.mp4")
    assert record["engine"]["matte"]["mode"] == "key" and record["engine"]["matte"]["backing"]["kind"] == "green"


def test_alpha_channel_opaque_in_the_first_frames_is_still_used(tmp_path):
    frames, alpha, fg, _ = green_screen_clip(20, 128, 80, seed=6)
    rgba = [np.dstack([f, (a * 255).round().astype(np.uint8) if i >= 10 else np.full(a.shape, 255, np.uint8)])
            for i, (f, a) in enumerate(zip(fg, alpha))]  # a slate: opaque for 10 frames
    seq = write_sequence(tmp_path / "rgba", rgba)
    ref = write_image(tmp_path / "r.png", textured_background(128, 80))
    record = paistudio.replace(seq, [ref], tmp_path / "o.mp4", fps=Fraction(24))
    assert record["engine"]["matte"]["mode"] == "alpha"
