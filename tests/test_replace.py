"""End to end: `paistudio replace` / `render` on synthetic green-screen clips with known answers."""

import json
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

import paistudio
from paistudio.io.video import probe, read_chunks
from tests.media import (centred_crop, composite_linear, green_screen_clip, read_video, textured_background, view,
                         write_image, write_sequence, write_video)

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
    got = read_video(out).astype(np.float32)
    bg_region = scene["alpha"] == 0
    err = np.abs(got - scene["truth"].astype(np.float32)).mean(axis=-1)
    static = np.abs(scene["truth_bg"][0].astype(np.float32)[None] - scene["truth"].astype(np.float32)).mean(axis=-1)
    ours, still = err[bg_region].mean(), static[bg_region].mean()
    assert ours < 12.0, ours  # codec + tracking error only
    assert ours < still / 3, (ours, still)  # a static plate is far worse


def test_opaque_foreground_is_preserved(scene, tmp_path):
    out = tmp_path / "out.mp4"
    paistudio.replace(scene["fg"], [scene["refs"]["begin"]], out, relight=False, codec="h264", crf=0)
    got = read_video(out).astype(np.float32)
    src = read_video(scene["fg"]).astype(np.float32)
    inner = scene["alpha"] == 1.0
    # erode away from the edge band: interior foreground pixels pass through (up to YUV rounding)
    inner = np.stack([cv2.erode(m.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0 for m in inner])
    assert np.abs(got - src).mean(axis=-1)[inner].mean() < 1.5


def test_render_from_saved_shot_reproduces_output(scene, tmp_path):
    out = tmp_path / "out.mp4"
    paistudio.replace(scene["fg"], [scene["refs"]["begin"], scene["refs"]["end"]], out)
    first = read_video(out)
    shot = paistudio.Shot.load(tmp_path / "out.shot.json")
    shot.output.path = str(tmp_path / "again.mp4")
    paistudio.render(shot)
    np.testing.assert_array_equal(first, read_video(tmp_path / "again.mp4"))


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
    assert np.abs(read_video(out).astype(int) - read_video(tmp_path / "b.mp4").astype(int)).mean() < 0.5


def test_a_camera_looking_past_the_reference_is_said(scene, tmp_path):
    """A pan of 0.6 frame widths over one frame-sized reference: the last frame is 60 % made-up fill, and the
    warning and the record say how much; a small move stays quiet."""
    record = paistudio.replace(scene["fg"], [scene["refs"]["begin"]], tmp_path / "far.mp4", camera="pan=0.6")
    fill = record["engine"]["plate"]["fill"]
    assert abs(fill["largest_share"] - 0.6) <= 0.04 and fill["frames_over_10pct"] > N // 2, fill
    said = f"frames (up to {fill['largest_share']:.0%} of the frame), where the background is made-up fill"
    assert any(w.endswith("or --ref-fit sweep (the photo then covers the whole move)") for w in record["warnings"])
    assert any(w.startswith("the camera looks past the reference in ") and said in w
               for w in record["warnings"]), record["warnings"]
    zoomed = paistudio.replace(scene["fg"], [scene["refs"]["begin"]], tmp_path / "zoom.mp4", camera="zoom=4")
    assert zoomed["engine"]["plate"]["fill"]["scale_range"] == [1.0, 4.0]
    enlarged = f"the camera path enlarges the reference 4.0x at frame {N - 1}:"
    assert any(w.startswith(enlarged) for w in zoomed["warnings"])
    quiet = paistudio.replace(scene["fg"], [scene["refs"]["begin"]], tmp_path / "near.mp4", camera="pan=0.1")
    assert not any("looks past" in w or "camera path" in w for w in quiet["warnings"])
    assert quiet["engine"]["plate"]["fill"]["largest_share"] <= 0.11


def test_ref_fit_sweep_covers_the_cameras_whole_move(tmp_path):
    """--ref-fit sweep with a photo three frames wide and a pan of 0.6 frame widths: the photo is placed to cover
    the 1.6-frame sweep (centred: the first frame sees its part from 0.7 W), so nothing is made up and each frame
    is the photo seen through the camera; with more than one reference it is a named error."""
    from paistudio.errors import ShotError
    w, h, n = 96, 64, 12
    frames = [textured_background(w, h, seed=t) for t in range(n)]
    fg = write_video(tmp_path / "fg.mkv", frames, codec="ffv1", pix_fmt="bgr0")
    matte = write_sequence(tmp_path / "matte", [np.zeros((h, w, 3), np.uint8)] * n)  # no subject: the plate
    photo = textured_background(3 * w, h, seed=11)
    ref = write_image(tmp_path / "wide.png", photo)
    out = tmp_path / "o.mkv"
    record = paistudio.replace(fg, [ref], out, matte=matte, camera="pan=0.6", codec="ffv1", relight=False,
                               stages={"reference_fit": "sweep"})
    plate = record["engine"]["plate"]
    assert plate["fill"]["largest_share"] == 0.0 and plate["sweep"]["enlarged"] == 1.0
    assert not any("looks past" in x for x in record["warnings"])
    got = read_video(out)[..., :3].astype(float)
    x0 = round(0.7 * w)
    assert np.abs(got[0] - photo[:, x0:x0 + w]).max() <= 1  # the anchor frame: its part of the photo
    shift = x0 + 0.6 * w  # the last frame looks 0.6 W further right
    want = cv2.warpAffine(photo, np.float64([[1, 0, -shift], [0, 1, 0]]), (w, h), flags=cv2.INTER_LINEAR)
    assert np.abs(got[-1][:, 2:-2] - want[:, 2:-2]).mean() < 1.0
    with pytest.raises(ShotError, match="sweep takes one reference, not 2"):
        paistudio.replace(fg, [ref, ref], tmp_path / "two.mkv", codec="ffv1", stages={"reference_fit": "sweep"})


def test_flat_backing_one_reference_warns_static(tmp_path):
    frames, *_ = green_screen_clip(12, 128, 80, markers=False, seed=4)
    fg = write_video(tmp_path / "flat.mp4", frames)
    ref = write_image(tmp_path / "r.png", textured_background(128, 80))
    record = paistudio.replace(fg, [ref], tmp_path / "o.mp4")
    assert record["engine"]["camera"]["source"] == "static"
    assert any("static" in w for w in record["warnings"])


def test_image_sequence_and_matte_file(tmp_path):
    frames, alpha, *_ = green_screen_clip(10, 128, 80, seed=5)
    seq = write_sequence(tmp_path / "fg", frames)
    matte = write_sequence(tmp_path / "matte", [np.repeat((a * 255).astype(np.uint8)[..., None], 3, -1) for a in alpha])
    ref = write_image(tmp_path / "r.png", textured_background(128, 80))
    record = paistudio.replace(seq, [ref], tmp_path / "o.mp4", matte=matte, fps=Fraction(25))
    info = probe(tmp_path / "o.mp4")
    assert info.n_frames == 10 and info.fps == 25
    assert record["engine"]["matte"]["mode"] == "file"


def test_corrupt_frame_mid_sequence_leaves_nothing(tmp_path):
    from paistudio.errors import InputError
    frames, *_ = green_screen_clip(8, 128, 80, seed=7)
    seq = write_sequence(tmp_path / "fg", frames)
    (seq / "00005.png").write_bytes(b"broken")
    ref = write_image(tmp_path / "r.png", textured_background(128, 80))
    with pytest.raises(InputError, match="00005.png"):
        paistudio.replace(seq, [ref], tmp_path / "o.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fg", "r.png"]


def test_tracker_checks_backward_on_plain_footage_only(scene, tmp_path, monkeypatch):
    """The tracker's forward-backward check is skipped on a screen (printed markers track cleanly without it) and
    kept for plain footage with a matte file (natural backgrounds need it)."""
    from paistudio.comp import analysis
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
