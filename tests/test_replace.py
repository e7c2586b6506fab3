"""End to end: `paistudio replace` / `render` on synthetic green-screen clips with known answers."""

import json
from fractions import Fraction

import av
import numpy as np
import pytest

import paistudio
from paistudio.io.video import probe, read_chunks
from tests.media import (centred_crop, composite_linear, green_screen_clip, textured_background, view,
                         write_image, write_video)

W, H, N = 192, 112, 30
FPS = Fraction(24000, 1001)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A marker green screen + a new world seen through the same camera: references and ground truth."""
    d = tmp_path_factory.mktemp("scene")
    frames, alpha, fg, path = green_screen_clip(N, W, H, markers=True, spill=0.3, seed=2)
    world = textured_background(W * 2, H * 2, seed=7)
    to0 = centred_crop(world.shape[1], world.shape[0], W, H)
    truth_bg = np.stack([view(world, to0, path[t], (W, H)) for t in range(N)])
    fg_video = write_video(d / "fg.mp4", frames, fps=FPS, audio_hz=48000, options={"crf": "12"})
    refs = {name: write_image(d / f"{name}.png", truth_bg[t]) for name, t in
            (("begin", 0), ("middle", (N - 1) // 2), ("end", N - 1))}
    truth = np.stack([composite_linear(fg[t], alpha[t], truth_bg[t]) for t in range(N)])
    return {"dir": d, "fg": fg_video, "refs": refs, "alpha": alpha, "truth": truth, "truth_bg": truth_bg, "path": path}


def _read(path):
    return np.concatenate(list(read_chunks(probe(path))))


def test_replace_keeps_frames_rate_timestamps_and_audio(scene, tmp_path):
    out = tmp_path / "out.mp4"
    record = paistudio.replace(scene["fg"], [scene["refs"]["begin"]], out)
    src, dst = probe(scene["fg"]), probe(out)
    assert dst.n_frames == src.n_frames == N
    assert dst.fps == FPS
    assert [p * dst.time_base for p in dst.pts] == [p * src.time_base for p in src.pts]
    assert dst.has_audio
    with av.open(str(scene["fg"])) as a, av.open(str(out)) as b:
        assert [bytes(p) for p in a.demux(a.streams.audio[0]) if p.size] == \
               [bytes(p) for p in b.demux(b.streams.audio[0]) if p.size]
    assert record["output"]["frames"] == N
    assert record["engine"]["camera"]["source"] == "tracked-backing"
    for kind in ("shot", "camera", "record"):
        assert (tmp_path / f"out.{kind}.json").is_file()
    assert json.loads((tmp_path / "out.record.json").read_text())["inputs"]["references"][0]["anchor_frame"] == 0


def test_background_moves_with_the_camera(scene, tmp_path):
    """Three anchored references + tracked markers: the output matches the ground-truth composite."""
    out = tmp_path / "out.mp4"
    refs = [scene["refs"][k] for k in ("begin", "middle", "end")]
    paistudio.replace(scene["fg"], refs, out, relight=False)
    got = _read(out).astype(np.float32)
    bg_region = scene["alpha"] == 0
    err = np.abs(got - scene["truth"].astype(np.float32)).mean(axis=-1)
    static = np.abs(scene["truth_bg"][0].astype(np.float32)[None] - scene["truth"].astype(np.float32)).mean(axis=-1)
    ours, still = err[bg_region].mean(), static[bg_region].mean()
    assert ours < 12.0, ours  # codec + tracking error only
    assert ours < still / 3, (ours, still)  # a static plate is far worse


def test_opaque_foreground_is_preserved(scene, tmp_path):
    out = tmp_path / "out.mp4"
    paistudio.replace(scene["fg"], [scene["refs"]["begin"]], out, relight=False, codec="h264", crf=0)
    got = _read(out).astype(np.float32)
    src = _read(scene["fg"]).astype(np.float32)
    inner = scene["alpha"] == 1.0
    # erode away from the edge band: interior foreground pixels pass through (up to YUV rounding)
    import cv2
    inner = np.stack([cv2.erode(m.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0 for m in inner])
    assert np.abs(got - src).mean(axis=-1)[inner].mean() < 1.5


def test_render_from_saved_shot_reproduces_output(scene, tmp_path):
    out = tmp_path / "out.mp4"
    paistudio.replace(scene["fg"], [scene["refs"]["begin"], scene["refs"]["end"]], out)
    first = _read(out)
    shot = paistudio.Shot.load(tmp_path / "out.shot.json")
    shot.output.path = str(tmp_path / "again.mp4")
    paistudio.render(shot)
    np.testing.assert_array_equal(first, _read(tmp_path / "again.mp4"))


def test_prores_with_alpha_and_layers(scene, tmp_path):
    out = tmp_path / "out.mov"
    paistudio.replace(scene["fg"], [f"{scene['refs']['begin']}@0", f"{scene['refs']['end']}@75%"], out,
                      codec="prores4444", layers=tmp_path / "layers")
    info = probe(out)
    assert info.has_alpha and info.n_frames == N
    alpha_out = np.concatenate(list(read_chunks(info)))[..., 3].astype(np.float32) / 255
    assert np.abs(alpha_out - scene["alpha"]).mean() < 0.03
    for layer, channels in (("foreground", 4), ("alpha", None), ("background", 3)):
        files = sorted((tmp_path / "layers" / layer).glob("*.png"))
        assert len(files) == N
    record = json.loads((tmp_path / "out.record.json").read_text())
    assert [r["anchor_frame"] for r in record["inputs"]["references"]] == [0, round(0.75 * (N - 1))]


def test_camera_moves_and_path_file_round_trip(scene, tmp_path):
    out = tmp_path / "a.mp4"
    paistudio.replace(scene["fg"], [scene["refs"]["begin"]], out, camera="pan=0.1,zoom=1.05")
    saved = json.loads((tmp_path / "a.camera.json").read_text())
    assert saved["source"] == "moves" and len(saved["frames"]) == N
    paistudio.replace(scene["fg"], [scene["refs"]["begin"]], tmp_path / "b.mp4", camera=str(tmp_path / "a.camera.json"))
    assert np.abs(_read(out).astype(int) - _read(tmp_path / "b.mp4").astype(int)).mean() < 0.5


def test_flat_backing_one_reference_warns_static(tmp_path):
    frames, *_ = green_screen_clip(12, 128, 80, markers=False, seed=4)
    fg = write_video(tmp_path / "flat.mp4", frames)
    ref = write_image(tmp_path / "r.png", textured_background(128, 80))
    record = paistudio.replace(fg, [ref], tmp_path / "o.mp4")
    assert record["engine"]["camera"]["source"] == "static"
    assert any("static" in w for w in record["warnings"])


def test_image_sequence_and_matte_file(tmp_path):
    from tests.media import write_sequence
    frames, alpha, *_ = green_screen_clip(10, 128, 80, seed=5)
    seq = write_sequence(tmp_path / "fg", frames)
    matte = write_sequence(tmp_path / "matte", [np.repeat((a * 255).astype(np.uint8)[..., None], 3, -1) for a in alpha])
    ref = write_image(tmp_path / "r.png", textured_background(128, 80))
    record = paistudio.replace(seq, [ref], tmp_path / "o.mp4", matte=matte, fps=Fraction(25))
    info = probe(tmp_path / "o.mp4")
    assert info.n_frames == 10 and info.fps == 25
    assert record["engine"]["matte"]["mode"] == "file"


@pytest.mark.parametrize("layout, channel", [("matte in RGB, solid alpha", "red"), ("matte in alpha", "alpha")])
def test_rgba_matte_file_is_read_where_the_matte_is(tmp_path, layout, channel):
    """An RGBA export of a black-and-white matte has a solid alpha channel: read from it, every pixel was foreground."""
    from tests.media import write_sequence
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
    from tests.media import write_sequence
    frames, alpha, fg, _ = green_screen_clip(8, 128, 80, seed=6)
    rgba = [np.dstack([f, (a * 255).round().astype(np.uint8)]) for f, a in zip(fg, alpha)]
    seq = write_sequence(tmp_path / "rgba", rgba)
    ref = write_image(tmp_path / "r.png", textured_background(128, 80))
    record = paistudio.replace(seq, [ref], tmp_path / "o.mkv", relight=False, codec="ffv1")
    assert record["engine"]["matte"]["mode"] == "alpha"
    got = _read(tmp_path / "o.mkv")
    solid = alpha == 1.0
    np.testing.assert_array_equal(got[solid][:, :3], fg[solid])  # lossless: solid foreground passes bit-exact


def test_corrupt_frame_mid_sequence_leaves_nothing(tmp_path):
    from paistudio.errors import InputError
    from tests.media import write_sequence
    frames, *_ = green_screen_clip(8, 128, 80, seed=7)
    seq = write_sequence(tmp_path / "fg", frames)
    (seq / "00005.png").write_bytes(b"broken")
    ref = write_image(tmp_path / "r.png", textured_background(128, 80))
    with pytest.raises(InputError, match="00005.png"):
        paistudio.replace(seq, [ref], tmp_path / "o.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fg", "r.png"]


def test_odd_frame_size_is_kept_with_a_warning(tmp_path):
    frames, *_ = green_screen_clip(4, 131, 77, seed=8)
    fg = write_video(tmp_path / "odd.mkv", frames, pix_fmt="yuv444p")
    ref = write_image(tmp_path / "r.png", textured_background(131, 77))
    record = paistudio.replace(fg, [ref], tmp_path / "o.mp4")
    info = probe(tmp_path / "o.mp4")
    assert (info.width, info.height, info.n_frames) == (131, 77, 4)
    assert any("odd frame size" in w for w in record["warnings"])


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
    got_on = _read(tmp_path / "on.mkv")[..., :3].astype(np.float32)
    got_off = _read(tmp_path / "off.mkv")[..., :3].astype(np.float32)
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
    from tests.media import write_sequence
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
    err = {name: np.abs(_read(tmp_path / f"{name}.mkv")[6:, ..., :3] - truth).mean(axis=-1)[leg].mean()
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
    from tests.media import write_sequence
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


def test_tracker_checks_backward_on_plain_footage_only(scene, tmp_path, monkeypatch):
    """The tracker's forward-backward check is skipped on a screen (printed markers track cleanly without it) and
    kept for plain footage with a matte file (natural backgrounds need it)."""
    from paistudio.comp import analysis
    from tests.media import write_sequence
    seen = []

    class Recording(analysis.BackingTracker):
        def __init__(self, scale, check_backward=True):
            super().__init__(scale, check_backward)
            seen.append(check_backward)

    monkeypatch.setattr(analysis, "BackingTracker", Recording)
    key = paistudio.replace(scene["fg"], [scene["refs"]["begin"]], tmp_path / "key.mp4")
    plain = write_sequence(tmp_path / "plain", scene["truth"])
    matte = write_sequence(tmp_path / "matte", [np.repeat((a * 255).astype(np.uint8)[..., None], 3, -1)
                                                for a in scene["alpha"]])
    file = paistudio.replace(plain, [scene["refs"]["begin"]], tmp_path / "plain.mp4", matte=matte, fps=FPS)
    assert (key["engine"]["matte"]["mode"], file["engine"]["matte"]["mode"]) == ("key", "file")
    assert seen == [False, True]
    assert key["engine"]["camera"]["source"] == file["engine"]["camera"]["source"] == "tracked-backing"


def test_anamorphic_footage_keeps_its_pixel_aspect_and_round_references(tmp_path):
    """HDV-style storage: 120x90 pixels 4/3 wide, shown as 160x90. A disc in a square-pixel reference must stay a
    disc on screen: 3/4 as wide as tall in stored pixels, and the output must say its pixels are 4/3 wide."""
    frames = [textured_background(120, 90, seed=t) for t in range(4)]
    fg = write_video(tmp_path / "hdv.mp4", frames, pixel_aspect=Fraction(4, 3))
    from tests.media import write_sequence
    matte = write_sequence(tmp_path / "matte", [np.zeros((90, 120, 3), np.uint8)] * 4)  # no subject: the plate
    yy, xx = np.mgrid[:90, :160]
    ref = np.full((90, 160, 3), 255, np.uint8)
    ref[(xx - 79.5) ** 2 + (yy - 44.5) ** 2 <= 30 ** 2] = 0  # radius 30 in square pixels
    ref_path = write_image(tmp_path / "disc.png", ref)
    out = tmp_path / "out.mp4"
    record = paistudio.replace(fg, [str(ref_path)], out, matte=matte, camera="static")
    assert record["inputs"]["foreground"]["pixel_aspect"] == "4/3"
    with av.open(str(out)) as c:
        assert c.streams.video[0].sample_aspect_ratio == Fraction(4, 3)
    dark = next(read_chunks(probe(out)))[0, ..., 1] < 128
    cols, rows = np.flatnonzero(dark.any(0)), np.flatnonzero(dark.any(1))
    assert abs(len(cols) - 45) <= 2 and abs(len(rows) - 61) <= 2, (len(cols), len(rows))  # 60 * 3/4 wide, 60 tall


def test_the_source_timecode_is_kept(tmp_path):
    """A camera original's start timecode (a tmcd track) must survive, or the render cannot be conformed."""
    frames, *_ = green_screen_clip(6, 128, 80, seed=4)
    fg = write_video(tmp_path / "A001.mov", frames, timecode="01:02:03:04")
    ref = write_image(tmp_path / "r.png", textured_background(128, 80))
    for name, codec in (("o.mp4", "h264"), ("o.mov", "prores4444"), ("o.mkv", "ffv1")):
        record = paistudio.replace(fg, [ref], tmp_path / name, codec=codec)
        assert record["inputs"]["foreground"]["timecode"] == "01:02:03:04"
        assert probe(tmp_path / name).timecode == "01:02:03:04"
    untimed = write_video(tmp_path / "plain.mp4", frames)
    paistudio.replace(untimed, [ref], tmp_path / "p.mp4")
    assert probe(untimed).timecode is None and probe(tmp_path / "p.mp4").timecode is None


def test_png_outputs_keep_a_numbered_sequences_frame_numbers(tmp_path):
    """plate.1001.png ... in, 1001.png ... out (and in --layers), so the render lines up with the plate."""
    frames, alpha, *_ = green_screen_clip(4, 64, 48, seed=2)
    src = tmp_path / "plate"
    src.mkdir()
    for i, f in enumerate(frames):
        write_image(src / f"plate.{1001 + i:04d}.png", f)
    ref = write_image(tmp_path / "r.png", textured_background(64, 48))
    paistudio.replace(src, [ref], tmp_path / "out", codec="png", layers=tmp_path / "layers")
    names = ["1001.png", "1002.png", "1003.png", "1004.png"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == names
    assert sorted(p.name for p in (tmp_path / "layers" / "alpha").iterdir()) == names
    from tests.media import write_sequence
    plain = write_sequence(tmp_path / "plain", frames)  # 00000.png ...: numbered from 0 already
    paistudio.replace(plain, [ref], tmp_path / "out2", codec="png")
    assert sorted(p.name for p in (tmp_path / "out2").iterdir()) == [f"{i:05d}.png" for i in range(4)]


def test_every_audio_track_is_copied(tmp_path):
    """Camera originals carry several mono tracks: all of them are passed through, each packet unchanged."""
    frames, *_ = green_screen_clip(12, 128, 80, seed=4)
    fg = write_video(tmp_path / "cam.mov", frames, audio_hz=48000, audio_tracks=3)
    ref = write_image(tmp_path / "r.png", textured_background(128, 80))
    out = tmp_path / "o.mov"
    paistudio.replace(fg, [ref], out)
    for k in range(3):  # each track read from the start of fresh containers
        with av.open(str(fg)) as a, av.open(str(out)) as b:
            assert len(b.streams.audio) == 3
            sent = [bytes(p) for p in a.demux(a.streams.audio[k]) if p.size]
            assert sent and [bytes(p) for p in b.demux(b.streams.audio[k]) if p.size] == sent


def test_audio_a_container_does_not_play_is_converted_with_a_warning(tmp_path):
    """PCM from a camera's .mov cannot play from an .mp4 (FFmpeg writes it, QuickTime and browsers do not play it):
    the render converts it to AAC, says so, and the record tells which track was copied and which converted."""
    frames, *_ = green_screen_clip(12, 128, 80, seed=4)
    fg = write_video(tmp_path / "cam.mov", frames, audio_hz=48000, audio_codec="pcm_s16le")
    ref = write_image(tmp_path / "r.png", textured_background(128, 80))
    record = paistudio.replace(fg, [ref], tmp_path / "o.mp4")
    assert record["output"]["audio"] == [{"codec": "aac", "from": "pcm_s16le", "copied": False, "bit_rate": 128000}]
    assert any(w.startswith("audio track 1 is pcm_s16le, which .mp4 files do not carry") for w in record["warnings"])
    with av.open(str(tmp_path / "o.mp4")) as c:
        assert c.streams.audio[0].codec_context.name == "aac"
    record = paistudio.replace(fg, [ref], tmp_path / "o.mov")  # .mov carries PCM: copied, no warning
    assert record["output"]["audio"] == [{"codec": "pcm_s16le", "from": "pcm_s16le", "copied": True}]
    assert not any(w.startswith("audio") for w in record["warnings"])


def test_audio_that_cannot_be_converted_stops_the_job_with_a_named_error(tmp_path):
    """Ten channels have no AAC layout: a FormatError before the render (it used to be a traceback from the muxer),
    nothing at the output path; Matroska takes the track as it is."""
    import subprocess
    import imageio_ffmpeg
    from paistudio.errors import FormatError
    fg = tmp_path / "ten.mkv"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
                    "color=c=0x00B140:s=128x80:r=24:d=0.5", "-f", "lavfi", "-i",
                    "aevalsrc=sin(880*PI*t)|0|0|0|0|0|0|0|0|0:s=48000:d=0.5", "-c:v", "libx264", "-c:a", "pcm_s16le",
                    "-shortest", str(fg)], check=True)
    ref = write_image(tmp_path / "r.png", textured_background(128, 80))
    with pytest.raises(FormatError, match="pcm_s16le audio cannot be converted to aac.*write .mkv"):
        paistudio.replace(fg, [ref], tmp_path / "o.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.png", "ten.mkv"]
    record = paistudio.replace(fg, [ref], tmp_path / "o.mkv")
    assert record["output"]["audio"] == [{"codec": "pcm_s16le", "from": "pcm_s16le", "copied": True}]


def test_record_names_the_reference_colour_profile(tmp_path):
    from PIL import Image
    from tests.media import icc_rgb_profile
    frames, *_ = green_screen_clip(6, 128, 80, seed=4)
    fg = write_video(tmp_path / "fg.mp4", frames)
    p3 = icc_rgb_profile("Display P3 (test)", [(0.680, 0.320), (0.265, 0.690), (0.150, 0.060)], (0.3127, 0.3290), 2.2)
    Image.fromarray(textured_background(128, 80)).save(tmp_path / "phone.png", icc_profile=p3)
    plain = write_image(tmp_path / "plain.png", textured_background(128, 80))
    record = paistudio.replace(fg, [tmp_path / "phone.png", plain], tmp_path / "o.mp4")
    refs = record["inputs"]["references"]
    assert refs[0]["converted_from"] == "Display P3 (test)" and "converted_from" not in refs[1]


def test_dnxhr_refuses_frames_below_its_minimum_before_rendering(tmp_path):
    from paistudio.errors import FormatError
    frames, *_ = green_screen_clip(4, 128, 80, seed=4)
    fg = write_video(tmp_path / "fg.mp4", frames)
    ref = write_image(tmp_path / "r.png", textured_background(128, 80))
    with pytest.raises(FormatError, match="dnxhr needs frames of at least 256x120, the foreground is 128x80"):
        paistudio.replace(fg, [ref], tmp_path / "o.mov", codec="dnxhr")
    assert not (tmp_path / "o.mov").exists() and not list(tmp_path.glob("o.*"))


def test_small_reference_and_missing_sequence_rate_are_warned(tmp_path):
    from tests.media import write_sequence
    frames, *_ = green_screen_clip(4, 128, 80, seed=4)
    small = write_image(tmp_path / "small.png", textured_background(64, 40))
    full = write_image(tmp_path / "full.png", textured_background(128, 80))
    seq = write_sequence(tmp_path / "seq", frames)
    record = paistudio.replace(seq, [small, full], tmp_path / "o.mp4")
    warned = [w for w in record["warnings"] if w.startswith("reference")]
    assert warned == [f"reference {small} is 64x40: enlarged 2.0x to cover the 128x80 frame, so the background will "
                      "look soft; give a larger image"]
    assert any(w.startswith("the foreground is an image sequence and no frame rate was given: rendered at 24 fps")
               for w in record["warnings"])
    record = paistudio.replace(seq, [full], tmp_path / "o2.mp4", fps=Fraction(25))
    assert not any("frame rate" in w or w.startswith("reference") for w in record["warnings"])
    video = write_video(tmp_path / "fg.mp4", frames, fps=Fraction(24))
    record = paistudio.replace(video, [full], tmp_path / "o3.mp4", fps=Fraction(25))
    assert any(w.startswith("--fps applies to image sequences: the video's own rate (24/1)") for w in record["warnings"])
    assert probe(tmp_path / "o3.mp4").fps == 24


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
    from tests.media import write_sequence
    frames, alpha, fg, _ = green_screen_clip(20, 128, 80, seed=6)
    rgba = [np.dstack([f, (a * 255).round().astype(np.uint8) if i >= 10 else np.full(a.shape, 255, np.uint8)])
            for i, (f, a) in enumerate(zip(fg, alpha))]  # a slate: opaque for 10 frames
    seq = write_sequence(tmp_path / "rgba", rgba)
    ref = write_image(tmp_path / "r.png", textured_background(128, 80))
    record = paistudio.replace(seq, [ref], tmp_path / "o.mp4", fps=Fraction(24))
    assert record["engine"]["matte"]["mode"] == "alpha"
