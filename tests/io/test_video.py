from fractions import Fraction

import av
import numpy as np
import pytest

from paistudio.errors import FormatError, InputError, ReferenceImageError
from paistudio.io.images import fit_cover, load_reference
from paistudio.io.video import probe, read_chunks
from tests.media import write_image, write_sequence, write_video


def _frames(n=10, w=64, h=48):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    return [np.roll(base, i, axis=1) for i in range(n)]


def test_probe_video_exact_rate_count_and_timestamps(tmp_path):
    path = write_video(tmp_path / "a.mp4", _frames(12), fps=Fraction(24000, 1001))
    info = probe(path)
    assert (info.width, info.height, info.n_frames) == (64, 48, 12)
    assert info.fps == Fraction(24000, 1001)
    times = [p * info.time_base for p in info.pts]
    assert times == [Fraction(1001, 24000) * i for i in range(12)]
    chunks = list(read_chunks(info, chunk=5))
    assert [len(c) for c in chunks] == [5, 5, 2]
    assert chunks[0].shape == (5, 48, 64, 3) and chunks[0].dtype == np.uint8


def test_probe_sequence_natural_order_and_rgba(tmp_path):
    frames = [np.dstack([f, np.full(f.shape[:2], 200, np.uint8)]) for f in _frames(11)]
    folder = write_sequence(tmp_path / "seq", frames)
    for i in range(11):  # unpadded numbers: natural order puts f10 last, where name order puts it after f1
        (folder / f"{i:05d}.png").rename(folder / f"f{i}.png")
    info = probe(folder, fps=Fraction(25))
    assert info.kind == "sequence" and info.has_alpha and info.n_frames == 11 and info.fps == 25
    data = np.concatenate(list(read_chunks(info)))
    assert data.shape == (11, 48, 64, 4)
    np.testing.assert_array_equal(data[10], frames[10])


def test_missing_input(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        probe(tmp_path / "nope.mp4")


def test_image_where_video_expected(tmp_path):
    img = write_image(tmp_path / "still.png", _frames(1)[0])
    with pytest.raises(InputError, match="single image"):
        probe(img)


def test_corrupt_video(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    with pytest.raises(InputError, match="corrupt or truncated|cannot be opened"):
        probe(bad)


def test_truncated_video(tmp_path):
    path = write_video(tmp_path / "a.mp4", _frames(30))
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # moov atom (at the end) is lost
    with pytest.raises(InputError):
        probe(cut)


def test_zero_frame_video(tmp_path):
    path = tmp_path / "empty.mkv"
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        out.start_encoding()  # header only, no frames
    assert path.stat().st_size > 0
    with pytest.raises(InputError, match="zero frames|cannot be opened|no video"):
        probe(path)


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no images"):
        probe(tmp_path / "empty")


def test_sequence_with_a_missing_frame_is_refused(tmp_path):
    """A frame a render dropped would shift every later frame in time: a named error lists what is missing."""
    folder = write_sequence(tmp_path / "seq", _frames(12))
    for i in range(12):
        (folder / f"{i:05d}.png").rename(folder / f"plate.{1001 + i}.png")
    (folder / "plate.1004.png").unlink()
    (folder / "plate.1009.png").unlink()
    with pytest.raises(InputError, match=r"plate\.####\.png is missing 2 frame\(s\) between 1001 and 1012: 1004, 1009"):
        probe(folder)


def test_sequence_on_twos_is_one_sequence(tmp_path):
    folder = write_sequence(tmp_path / "seq", _frames(4))
    for i in range(4):
        (folder / f"{i:05d}.png").rename(folder / f"shot_{1001 + 2 * i:04d}.png")
    info = probe(folder)
    assert info.n_frames == 4 and info.frame_numbers == [1001, 1003, 1005, 1007]


def test_folder_with_two_sequences_is_refused(tmp_path):
    """A plate and its matte side by side were read as one sequence of interleaved frames."""
    folder = write_sequence(tmp_path / "seq", _frames(3))
    for i in range(3):
        write_image(folder / f"matte.{i:05d}.png", _frames(1)[0])
    with pytest.raises(InputError, match=r"more than one image sequence \(#####\.png, matte\.#####\.png\)"):
        probe(folder)
    write_image(folder / "thumbnail.png", _frames(1)[0])
    for i in range(3):
        (folder / f"matte.{i:05d}.png").unlink()
    with pytest.raises(InputError, match=r"\(#####\.png, thumbnail\.png\)"):
        probe(folder)


def test_sequence_with_mixed_sizes(tmp_path):
    folder = write_sequence(tmp_path / "seq", _frames(3))
    write_image(folder / "00003.png", np.zeros((10, 10, 3), np.uint8))
    info = probe(folder)
    with pytest.raises(FormatError, match="one size"):
        list(read_chunks(info))


def test_reference_exif_orientation(tmp_path):
    from PIL import Image
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = 255  # left half white
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 CW on display
    im.save(tmp_path / "r.jpg", exif=exif.tobytes(), quality=95)
    ref = load_reference(tmp_path / "r.jpg")
    assert ref.shape == (40, 20, 3)
    assert ref[:15].mean() > 200 and ref[25:].mean() < 50  # the white half is now on top


def test_reference_16bit_png(tmp_path):
    import cv2
    arr = np.full((8, 8), 65535, np.uint16)
    cv2.imwrite(str(tmp_path / "r16.png"), arr)
    ref = load_reference(tmp_path / "r16.png")
    assert ref.shape == (8, 8, 3) and ref.min() == 255


def test_reference_errors(tmp_path):
    with pytest.raises(ReferenceImageError, match="does not exist"):
        load_reference(tmp_path / "none.jpg")
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    with pytest.raises(ReferenceImageError, match="cannot be read"):
        load_reference(tmp_path / "junk.jpg")
    write_image(tmp_path / "big.png", np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(ReferenceImageError, match="over the"):
        load_reference(tmp_path / "big.png", max_pixels=5000)


def test_fit_cover_crops_the_centre():
    wide = np.zeros((100, 400, 3), np.uint8)
    wide[:, 150:250] = 255
    out = fit_cover(wide, (100, 100))
    assert out.shape == (100, 100, 3) and out.min() == 255  # the centre band fills the frame
    tall = np.zeros((400, 100, 3), np.uint8)
    tall[:100] = 255
    out = fit_cover(tall, (200, 100))
    assert out.shape == (100, 200, 3) and out.max() == 0  # the top (white) part is cropped away


@pytest.mark.parametrize("name, codec, pix_fmt", [("a.mkv", "libx264", "yuv420p"), ("a.webm", "libvpx-vp9", "yuv420p"),
                                                   ("a.mov", "libx264", "yuv420p")])
def test_container_formats(tmp_path, name, codec, pix_fmt):
    path = write_video(tmp_path / name, _frames(6), fps=Fraction(25), codec=codec, pix_fmt=pix_fmt)
    info = probe(path)
    assert info.n_frames == 6 and info.fps == 25
    assert sum(len(c) for c in read_chunks(info)) == 6


def test_prores4444_alpha_is_read(tmp_path):
    frames = [np.dstack([f, np.full(f.shape[:2], 77, np.uint8)]) for f in _frames(4)]
    path = write_video(tmp_path / "a.mov", frames, codec="prores_ks", pix_fmt="yuva444p10le")
    info = probe(path)
    assert info.has_alpha
    alpha = np.concatenate(list(read_chunks(info)))[..., 3]
    assert abs(int(np.median(alpha)) - 77) <= 1


@pytest.mark.parametrize("codec", ["libvpx-vp9", "libvpx"])
def test_webm_alpha_is_read(tmp_path, codec):
    """VP9 and VP8 keep alpha beside the picture, which FFmpeg's own decoders drop (the clip was keyed as if it had
    none): it is read with libvpx's decoder, frame by frame where the subject is."""
    frames = []
    for t in range(6):
        f = np.zeros((48, 64, 4), np.uint8)
        f[10:40, 8 + 4 * t:28 + 4 * t] = (190, 130, 90, 255)
        frames.append(f)
    path = write_video(tmp_path / "a.webm", frames, codec=codec, pix_fmt="yuva420p", options={"auto-alt-ref": "0"})
    info = probe(path)
    assert info.has_alpha and info.decoder == codec and info.n_frames == 6
    back = np.concatenate(list(read_chunks(info)))
    want = np.stack(frames)[..., 3]
    assert np.mean(np.abs(back[..., 3].astype(int) - want) > 64) < 0.01  # [T, H, W]: the box, not a blank plane
    assert np.array_equal(back[:, 25, 30, 3] > 128, want[:, 25, 30] > 128)
    plain = write_video(tmp_path / "p.webm", [f[..., :3] for f in frames], codec=codec, pix_fmt="yuv420p")
    assert not probe(plain).has_alpha and probe(plain).decoder is None


def test_display_rotation_is_applied(tmp_path):
    """Phone footage stores landscape pixels plus a display rotation: frames come out upright."""
    path = tmp_path / "rot.mp4"
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = 64, 32, "yuv420p"
        s.set_display_rotation(90)  # counter-clockwise
        for _ in range(3):
            a = np.zeros((32, 64, 3), np.uint8)
            a[:, :16] = 255  # a white band on the left
            for p in s.encode(av.VideoFrame.from_ndarray(a, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    info = probe(path)
    assert (info.width, info.height) == (32, 64)
    frames = np.concatenate(list(read_chunks(info)))
    assert frames.shape == (3, 64, 32, 3)
    assert frames[0, -10:].mean() > 200 and frames[0, :40].mean() < 30  # the band is now at the bottom
    small = next(read_chunks(info, size=(16, 32)))
    assert small.shape == (3, 32, 16, 3)


SRGB_PRIMARIES = [(0.64, 0.33), (0.30, 0.60), (0.15, 0.06)]
P3_PRIMARIES = [(0.680, 0.320), (0.265, 0.690), (0.150, 0.060)]
D65 = (0.3127, 0.3290)


def _tagged_reference(path, profile):
    from PIL import Image
    arr = np.full((8, 12, 3), 128, np.uint8)
    arr[0, 0] = (200, 100, 50)
    Image.fromarray(arr).save(path, icc_profile=profile)
    return path


def test_reference_in_another_colour_profile_is_converted_to_srgb(tmp_path):
    """Pixels tagged linear-light RGB (sRGB primaries, gamma 1): code 128 is linear 0.502, which sRGB codes as 188;
    read as sRGB (the old behaviour) it stayed 128."""
    from paistudio.io.images import reference_profile
    from tests.media import icc_rgb_profile
    path = _tagged_reference(tmp_path / "lin.png", icc_rgb_profile("linear RGB", SRGB_PRIMARIES, D65, 1.0))
    ref = load_reference(path)
    assert np.abs(ref[1, 1].astype(int) - 188).max() <= 1
    assert np.abs(ref[0, 0].astype(int) - (229, 168, 122)).max() <= 1  # 255 * srgb(code / 255) per channel
    assert reference_profile(path) == "linear RGB"


def test_display_p3_reference_keeps_its_saturation(tmp_path):
    """A phone photo in Display P3: its colours are more saturated than the same codes in sRGB, so converting
    spreads the channels apart (read as sRGB, they looked washed out)."""
    from tests.media import icc_rgb_profile
    ref = load_reference(_tagged_reference(tmp_path / "p3.png", icc_rgb_profile("P3", P3_PRIMARIES, D65, 2.2)))
    r, g, b = ref[0, 0].astype(int)
    assert r > 205 and b < 40 and abs(g - 100) <= 10  # from (200, 100, 50)
    assert np.abs(ref[1, 1].astype(int) - 128).max() <= 2  # a grey stays grey (gamma 2.2 against sRGB's curve)


def test_srgb_or_broken_profile_leaves_the_pixels_alone(tmp_path):
    from PIL import ImageCms
    from paistudio.io.images import reference_profile
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for name, profile in (("srgb.png", srgb), ("broken.png", b"not a profile at all" * 8)):
        path = _tagged_reference(tmp_path / name, profile)
        ref = load_reference(path)
        assert tuple(ref[0, 0]) == (200, 100, 50) and tuple(ref[1, 1]) == (128, 128, 128)
        assert reference_profile(path) is None


@pytest.mark.parametrize("keyint", ["1000", "8"])
def test_sample_frames_spread_over_the_clip(tmp_path, keyint):
    """With one keyframe (decode on from it, at most SAMPLE_DECODE_LIMIT frames) or many (seek near each time): the
    samples come from across the clip, not its first frames."""
    from paistudio.io.video import SAMPLE_DECODE_LIMIT, sample_frames
    frames = [np.full((48, 64, 3), 5 * i, np.uint8) for i in range(40)]  # frame i has level 5 i
    path = write_video(tmp_path / "ramp.mp4", frames, options={"g": keyint, "crf": "0"})
    info = probe(path)
    got = sample_frames(info, count=5)
    levels = [int(round(f.mean() / 5)) for f in got]
    want = [0, 10, 20, 29, 39]  # evenly spaced
    assert len(got) == 5 and all(abs(a - b) <= 1 for a, b in zip(levels, want)), levels
    assert SAMPLE_DECODE_LIMIT >= 40  # the one-keyframe case above relies on reaching frame 39 from frame 0
    seq = write_sequence(tmp_path / "seq", frames)
    assert [int(round(f.mean() / 5)) for f in sample_frames(probe(seq), count=5)] == want


def _joined_ts(tmp_path, sizes):
    """Two MPEG-TS clips joined byte for byte (what `cat a.ts b.ts` makes): their timestamps overlap."""
    import subprocess
    import imageio_ffmpeg
    parts = []
    for i, size in enumerate(sizes):
        part = tmp_path / f"part{i}.ts"
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
                        f"color=c=0x00B140:s={size}:r=24:d=0.5", "-c:v", "libx264", "-f", "mpegts", str(part)],
                       check=True)
        parts.append(part.read_bytes())
    joined = tmp_path / "joined.ts"
    joined.write_bytes(b"".join(parts))
    return joined


def test_joined_clips_with_repeated_timestamps_are_refused(tmp_path):
    with pytest.raises(InputError, match=r"gives 12 frame\(s\) the same time as another .*-fflags \+genpts"):
        probe(_joined_ts(tmp_path, ["64x48", "64x48"]))


def test_a_frame_size_change_mid_stream_is_a_named_error(tmp_path):
    import subprocess
    import imageio_ffmpeg
    fixed = tmp_path / "fixed.mkv"  # the joined clip with fresh timestamps: only the size change is left
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(_joined_ts(tmp_path, ["64x48", "96x64"])),
                    "-c", "copy", "-fflags", "+genpts", str(fixed)], check=True)
    info = probe(fixed)
    with pytest.raises(InputError, match="changes its frame size at frame 12 \\(96x64 after 64x48\\)"):
        list(read_chunks(info))
