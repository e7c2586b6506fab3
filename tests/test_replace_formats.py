"""End to end: what the inputs' containers and pictures carry reaches the output (pixel aspect, timecode, frame
numbers, audio tracks, colour profiles) and what a format cannot take is said (warnings, named errors)."""

from fractions import Fraction

import av
import numpy as np
import pytest

import paistudio
from paistudio.io.video import probe, read_chunks
from tests.media import (green_screen_clip, textured_background, write_image, write_sequence, write_video)


def test_odd_frame_size_is_kept_with_a_warning(tmp_path):
    frames, *_ = green_screen_clip(4, 131, 77, seed=8)
    fg = write_video(tmp_path / "odd.mkv", frames, pix_fmt="yuv444p")
    ref = write_image(tmp_path / "r.png", textured_background(131, 77))
    record = paistudio.replace(fg, [ref], tmp_path / "o.mp4")
    info = probe(tmp_path / "o.mp4")
    assert (info.width, info.height, info.n_frames) == (131, 77, 4)
    assert any("odd frame size" in w for w in record["warnings"])


def test_anamorphic_footage_keeps_its_pixel_aspect_and_round_references(tmp_path):
    """HDV-style storage: 120x90 pixels 4/3 wide, shown as 160x90. A disc in a square-pixel reference must stay a
    disc on screen: 3/4 as wide as tall in stored pixels, and the output must say its pixels are 4/3 wide."""
    frames = [textured_background(120, 90, seed=t) for t in range(4)]
    fg = write_video(tmp_path / "hdv.mp4", frames, pixel_aspect=Fraction(4, 3))
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
    plain = write_sequence(tmp_path / "plain", frames)  # 00000.png ...: numbered from 0 already
    paistudio.replace(plain, [ref], tmp_path / "out2", codec="png")
    assert sorted(p.name for p in (tmp_path / "out2").iterdir()) == [f"{i:05d}.png" for i in range(4)]


def test_dpx_and_exr_sequences_for_the_compositor(tmp_path):
    """--codec dpx: 10-bit RGB frames whose 8-bit codes come back exactly, tagged BT.709 (not log); --codec exr:
    half floats holding each code's linear light. Both numbered like PNGs (the source's own numbers); both are
    folders, and a clip's audio gets a warning, not a silent drop."""
    from paistudio.comp.colour import SRGB_TO_LINEAR
    from paistudio.errors import FormatError
    from paistudio.io.dpx import read_dpx, read_header
    from paistudio.io.images import half_float_planes
    frames, *_ = green_screen_clip(3, 64, 48, seed=2)
    src = tmp_path / "plate"
    src.mkdir()
    for i, f in enumerate(frames):
        write_image(src / f"plate.{1001 + i:04d}.png", f)
    ref = write_image(tmp_path / "r.png", textured_background(64, 48))
    paistudio.replace(src, [ref], tmp_path / "png", camera="static", codec="png")  # the same picture, to compare
    png = sorted((tmp_path / "png").iterdir())
    for codec in ("dpx", "exr"):
        paistudio.replace(src, [ref], tmp_path / codec, camera="static", codec=codec)
        files = sorted((tmp_path / codec).iterdir())
        assert [p.name for p in files] == [f"{1001 + i}.{codec}" for i in range(3)]
        picture = np.concatenate(list(read_chunks(probe(tmp_path / "png"))))[..., :3]  # [T, H, W, 3]
        for f, want in zip(files, picture):
            if codec == "dpx":
                assert read_header(f).transfer == 6 and read_header(f).bits == 10
                assert np.array_equal(read_dpx(f), want)
            else:
                with av.open(str(f)) as c:
                    frame = next(c.decode(video=0))
                    light = half_float_planes(frame)
                assert frame.format.name.startswith("gbrpf16")  # half floats
                assert np.abs(light - SRGB_TO_LINEAR[want]).max() <= 2 ** -11  # one half ulp just below 1.0
    assert len(png) == 3
    with pytest.raises(FormatError, match="--codec exr writes a folder of frames"):
        paistudio.replace(src, [ref], tmp_path / "o.exr", codec="exr")
    clip = write_video(tmp_path / "a.mp4", frames, audio_hz=48000)
    record = paistudio.replace(clip, [ref], tmp_path / "dpx_audio", codec="dpx")
    assert any(w.startswith("a DPX sequence carries no audio") for w in record["warnings"])


def test_exr_layers_for_the_compositor(tmp_path):
    """--layers-codec exr: the foreground premultiplied in linear light (RGBA), the matte as coverage (Y) and the
    plate in linear light, each matching the PNG layers of the same render within half-float precision."""
    from paistudio.comp.colour import SRGB_TO_LINEAR
    from paistudio.io.images import half_float_planes
    frames, *_ = green_screen_clip(3, 64, 48, seed=2)
    fg = write_video(tmp_path / "fg.mkv", frames, codec="ffv1", pix_fmt="bgr0")
    ref = write_image(tmp_path / "r.png", textured_background(64, 48))
    for codec in ("png", "exr"):
        paistudio.replace(fg, [ref], tmp_path / f"{codec}.mp4", camera="static", layers=tmp_path / codec,
                          layers_codec=codec)

    def exr(path):
        with av.open(str(path)) as c:
            frame = next(c.decode(video=0))
            return frame.format.name, half_float_planes(frame)

    for i in range(3):
        png_fg = np.concatenate(list(read_chunks(probe(tmp_path / "png" / "foreground"))))[i]  # [H, W, 4] straight
        fmt, got = exr(tmp_path / "exr" / "foreground" / f"{i:05d}.exr")
        a = png_fg[..., 3:] / 255.0
        assert fmt.startswith("gbrapf16") and np.abs(got[..., 3:] - a).max() <= 2 ** -11
        assert np.abs(got[..., :3] - SRGB_TO_LINEAR[png_fg[..., :3]] * a).max() <= 2 ** -10  # premultiplied
        fmt, matte = exr(tmp_path / "exr" / "alpha" / f"{i:05d}.exr")
        png_alpha = np.concatenate(list(read_chunks(probe(tmp_path / "png" / "alpha"))))[i, ..., 0]
        assert fmt.startswith("grayf16") and np.abs(matte - png_alpha / 255.0).max() <= 2 ** -11
        fmt, plate = exr(tmp_path / "exr" / "background" / f"{i:05d}.exr")
        png_plate = np.concatenate(list(read_chunks(probe(tmp_path / "png" / "background"))))[i, ..., :3]
        assert np.abs(plate - SRGB_TO_LINEAR[png_plate]).max() <= 2 ** -11
    with pytest.raises(paistudio.errors.ShotError, match="layers_codec"):
        paistudio.replace(fg, [ref], tmp_path / "x.mp4", layers=tmp_path / "x", layers_codec="tiff")


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
