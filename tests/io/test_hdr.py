"""HDR (HLG, PQ) and BT.2020 sources are converted to SDR BT.709 on decode, with known answers.

Grey signal levels through the standards' formulas and our documented mapping (HDR reference white 203 cd/m² as
SDR 1.0, a shoulder above 0.8, the sRGB curve):
- HLG 0.75 (BT.2408's reference white): scene light 0.265, OOTF at 1000 cd/m² → 203 cd/m² → 1.0 → shoulder
  0.8 + 0.2 (1 − e⁻¹) = 0.926 → sRGB code 246.6;
- HLG 0.5: scene light 1/12 → 4.926 · (1/12)^1.2 = 0.250 of reference white → sRGB code 136.9;
- HLG 1.0: 1000 cd/m² → 4.93 → shoulder ≈ 1.0 → 255;
- PQ 0.5807: 203 cd/m² → 246.6, like HLG's reference white.
"""

from pathlib import Path

import numpy as np
import pytest

from paistudio.io import hdr
from paistudio.io.video import probe, read_chunks
from paistudio.job import prepare_job
from paistudio.shot import Shot
from tests.media import textured_background, write_image, write_video

W, H = 64, 32
# lossless, and one frame thread without B-frames: x265's threaded lookahead now and then gave the second packet a
# timestamp the Matroska muxer refused ("Invalid argument", twice in about 30 full runs)
X265_PARAMS = "log-level=error:lossless=1:bframes=0:frame-threads=1:pools=none"


def write_tagged(path: Path, levels, trc: int, primaries: int = hdr.PRIMARIES_BT2020) -> Path:
    """A lossless 10-bit HEVC clip (as phone footage is; Matroska, which holds 4:4:4 HEVC where this mp4 muxer
    does not) whose frames are grey stripes at the given signal levels."""
    rgb = np.zeros((H, W, 3), np.uint16)
    for i, v in enumerate(levels):
        rgb[:, i * W // len(levels):(i + 1) * W // len(levels)] = round(v * 65535)
    return write_video(path, [rgb, rgb], codec="libx265", pix_fmt="yuv444p10le",
                       options={"x265-params": X265_PARAMS}, colour=(primaries, trc))


def stripes(path: Path, n: int, role: str = "foreground") -> np.ndarray:
    info = probe(path, role=role)
    frame = next(read_chunks(info, chunk=1))[0]
    return np.array([frame[H // 2, (2 * i + 1) * W // (2 * n)] for i in range(n)])  # [n, 3] the stripes' centres


def test_hlg_greys_land_on_the_known_sdr_codes(tmp_path):
    clip = write_tagged(tmp_path / "hlg.mkv", [0.5, 0.75, 1.0], hdr.TRC_HLG)
    info = probe(clip)
    assert info.to_sdr and info.describe()["converted_from"] == "HLG, BT.2020"
    got = stripes(clip, 3)
    assert (got.max(1) - got.min(1) <= 1).all(), got  # grey stays grey
    np.testing.assert_allclose(got[:, 1], [136.9, 246.6, 255], atol=2)


def test_pq_reference_white_matches_hlg_reference_white(tmp_path):
    got = stripes(write_tagged(tmp_path / "pq.mkv", [0.0, 0.5807], hdr.TRC_PQ), 2)
    np.testing.assert_allclose(got[:, 1], [0, 246.6], atol=2)


def test_a_matte_tagged_hlg_is_read_as_coded(tmp_path):
    """A matte's values are coverage: the tags must not tone-map them."""
    clip = write_tagged(tmp_path / "matte.mkv", [0.25, 0.5], hdr.TRC_HLG)
    assert not probe(clip, role="matte").to_sdr
    np.testing.assert_allclose(stripes(clip, 2, role="matte")[:, 1], [63.75, 127.5], atol=2)


def test_an_hlg_clip_with_alpha_keeps_its_alpha(tmp_path):
    """ProRes 4444 in HLG: the colour is converted, the alpha channel is not."""
    rgba = np.zeros((H, W, 4), np.uint16)
    rgba[..., :3] = round(0.75 * 65535)
    rgba[..., 3] = 32768
    clip = write_video(tmp_path / "hlg.mov", [rgba, rgba], codec="prores_ks", pix_fmt="yuva444p10le",
                       options={"profile": "4"}, colour=(hdr.PRIMARIES_BT2020, hdr.TRC_HLG))
    info = probe(clip)
    assert info.to_sdr and info.has_alpha
    px = next(read_chunks(info, chunk=1))[0, H // 2, W // 2]
    np.testing.assert_allclose(px, [246.6, 246.6, 246.6, 128], atol=2)


def test_conversion_maths():
    assert hdr.pq_to_nits(np.array([0.0, 0.5807, 1.0])) == pytest.approx([0, 203, 10000], abs=0.5)
    assert hdr.hlg_to_scene(np.array([0.0, 0.5, 1.0])) == pytest.approx([0, 1 / 12, 1], abs=1e-6)
    x = np.linspace(0, 3, 301)  # up to 3x reference white (609 cd/m²): highlights stay apart
    y = hdr.tone(x)
    assert np.all(np.diff(y) > 0) and y[-1] < 1
    assert hdr.tone(np.array([10000 / 203])) <= 1  # PQ's 10,000 cd/m² peak: white, never above
    assert hdr.tone(np.array([0.5, hdr.KNEE])) == pytest.approx([0.5, hdr.KNEE])  # identity below the knee
    slope = (hdr.tone(np.array([hdr.KNEE + 1e-6])) - hdr.KNEE) / 1e-6
    assert slope == pytest.approx(1, abs=1e-4)  # no kink at the knee
    # BT.2020 -> BT.709: grey stays grey; a saturated BT.2020 green lies outside BT.709 (red and blue clip to 0)
    grey = np.full((1, 1, 3), 30000, np.uint16)
    out = hdr.to_sdr(grey, 14, hdr.PRIMARIES_BT2020)  # an SDR transfer (BT.2020 10-bit), wide primaries
    assert out.max() - out.min() <= 1
    green = np.zeros((1, 1, 3), np.uint16)
    green[..., 1] = 40000
    r, g, b = hdr.to_sdr(green, 14, hdr.PRIMARIES_BT2020)[0, 0]
    assert r == 0 and b == 0 and g > 150


def test_an_hdr_foreground_is_named_in_the_warnings_and_the_record(tmp_path):
    clip = write_tagged(tmp_path / "hlg.mkv", [0.75], hdr.TRC_HLG)
    ref = write_image(tmp_path / "ref.png", textured_background(W, H))
    job = prepare_job(Shot.from_dict({"foreground": {"path": str(clip)}, "references": [{"path": str(ref)}],
                                      "output": {"path": str(tmp_path / "out.mp4")}}))
    assert any("HLG, BT.2020: converted to SDR BT.709" in w for w in job.warnings), job.warnings
    sdr_clip = tmp_path / "sdr.mkv"
    write_tagged(sdr_clip, [0.75], trc=1, primaries=1)
    assert not probe(sdr_clip).to_sdr and "converted_from" not in probe(sdr_clip).describe()


def test_exr_scene_linear_maps_to_known_srgb_codes(tmp_path):
    """1.0 is white: 0.18 -> 118 and 0.5 -> 188 (sRGB), 1.0 -> 247 (the shoulder above 0.8, as HDR reference white),
    a red at 2.0 (luminance 0.43, below the knee) clips to 255; NaN and negatives are black."""
    from paistudio.io.images import read_exr
    from tests.media import write_exr
    values = [0.0, 0.18, 0.5, 1.0, float("nan"), -0.5]
    x = np.zeros((2, len(values), 3), np.float32)
    x[0] = np.array(values, np.float32)[:, None]
    x[1, :, 0] = 2.0
    for half in (False, True):  # half floats (the usual EXR, Nuke's default) as well as 32-bit ones
        img = read_exr(write_exr(tmp_path / f"a{half}.exr", x, half=half))
        assert img.shape == (2, len(values), 3) and img.dtype == np.uint8
        assert img[0, :, 1].tolist() == [0, 118, 188, 247, 0, 0]
        assert (img[0, :, 0] == img[0, :, 1]).all() and tuple(img[1, 0]) == (255, 0, 0)
    bright = np.zeros((1, 3, 3), np.float32)
    bright[0, :, 0], bright[0, :, 1], bright[0, :, 2] = [4.0, 0.9, 0.05], [4.0, 0.1, 0.05], [4.0, 0.1, 0.9]
    full, half = (read_exr(write_exr(tmp_path / f"b{h}.exr", bright, half=h)) for h in (False, True))
    assert full[0, 0].tolist() == [255, 255, 255] and np.abs(half.astype(int) - full).max() <= 1  # 4.0 is not 1.0


def test_exr_alpha_is_unpremultiplied_and_a_matte_is_read_as_coverage(tmp_path):
    from paistudio.io.images import read_exr
    from tests.media import write_exr
    x = np.zeros((2, 2, 4), np.float32)
    x[..., :3], x[..., 3] = 0.09, 0.5  # premultiplied: straight colour 0.18 at half coverage
    img = read_exr(write_exr(tmp_path / "a.exr", x))
    assert tuple(img[0, 0]) == (118, 118, 118, 128)
    assert tuple(read_exr(write_exr(tmp_path / "h.exr", x, half=True))[0, 0]) == (118, 118, 118, 128)
    matte = read_exr(write_exr(tmp_path / "m.exr", np.full((2, 2), 0.5, np.float32)), light=False)
    assert tuple(matte[0, 0]) == (128, 128, 128)  # coverage, not light: no sRGB curve


def test_exr_sequence_foreground_and_reference(tmp_path):
    import paistudio
    from paistudio.io.images import load_reference, reference_profile
    from paistudio.io.video import probe
    from tests.media import green_screen_clip, textured_background, write_exr
    frames, alpha, *_ = green_screen_clip(4, 64, 48, seed=2)
    folder = tmp_path / "plate"
    folder.mkdir()
    from paistudio.comp.colour import SRGB_TO_LINEAR as lin  # [256] code -> linear: the frames as scene-linear EXR
    for i, f in enumerate(frames):
        write_exr(folder / f"plate.{1001 + i}.exr", lin[f])
    matte = tmp_path / "matte"
    matte.mkdir()
    for i, a in enumerate(alpha):
        write_exr(matte / f"m.{1001 + i}.exr", a.astype(np.float32))
    info = probe(folder)
    assert info.kind == "sequence" and info.to_sdr and info.describe()["converted_from"] == "scene-linear EXR"
    assert not probe(matte, role="matte").to_sdr
    bg = tmp_path / "bg.exr"
    write_exr(bg, lin[textured_background(64, 48)])
    assert reference_profile(bg) == "scene-linear EXR" and load_reference(bg).shape == (48, 64, 3)
    record = paistudio.replace(folder, [bg], tmp_path / "o.mov", matte=matte, codec="prores4444")
    assert record["inputs"]["references"][0]["converted_from"] == "scene-linear EXR"
    assert any(w.startswith("the foreground is scene-linear EXR: converted to SDR BT.709 on decode (1.0 taken as white")
               for w in record["warnings"])
    out = np.concatenate(list(read_chunks(probe(tmp_path / "o.mov"))))
    assert np.abs(out[..., 3].astype(int) - (np.stack(alpha) * 255).round()).mean() < 1.5  # the matte as coverage


def test_float_tiff_is_scene_linear_like_exr(tmp_path):
    """A float TIFF (Nuke's and Photoshop's 32-bit) is read as scene-linear, not as 0..1 display codes (0.18 was
    code 46): the EXR's known codes. Its alpha is unpremultiplied only when ExtraSamples says associated (or says
    nothing, as EXR's convention); integer TIFFs are unchanged; a float TIFF reference is read, not refused."""
    from paistudio.io.images import load_reference, read_image, reference_profile, scene_encoding
    from paistudio.io.video import probe
    from tests.media import textured_background, write_float_tiff, write_image
    grey = np.array([0.0, 0.18, 0.5, 1.0], np.float32)
    rgb = np.repeat(np.repeat(grey[None, :, None], 3, -1), 2, 0)  # [2, 4, 3]
    for i, order in enumerate("<>"):
        img = read_image(write_float_tiff(tmp_path / f"g{i}.tif", rgb, order=order))
        assert img[0, :, 1].tolist() == [0, 118, 188, 247]
    coverage = read_image(tmp_path / "g0.tif", light=False)
    assert coverage[0, :, 1].tolist() == [0, 46, 128, 255]  # a matte: values as they are
    rgba = np.dstack([rgb * 0.5, np.full((2, 4), 0.5, np.float32)])  # premultiplied at half coverage
    assert read_image(write_float_tiff(tmp_path / "a1.tif", rgba, extra_samples=1))[0, 1].tolist() == [118] * 3 + [128]
    assert read_image(write_float_tiff(tmp_path / "a0.tif", rgba))[0, 1].tolist() == [118] * 3 + [128]
    straight = read_image(write_float_tiff(tmp_path / "a2.tif", rgba, extra_samples=2))
    assert straight[0, 1].tolist() == [85] * 3 + [128]  # 0.09 taken as straight colour: not divided by the alpha
    assert scene_encoding(tmp_path / "g0.tif") == "scene-linear float TIFF"
    ints = write_image(tmp_path / "i.tif", textured_background(8, 6))
    assert scene_encoding(ints) is None and reference_profile(ints) is None
    bg = write_float_tiff(tmp_path / "bg.tif", rgb)
    assert load_reference(bg)[0, :, 1].tolist() == [0, 118, 188, 247]
    assert reference_profile(bg) == "scene-linear float TIFF"
    folder = tmp_path / "seq"
    folder.mkdir()
    for i in range(3):
        write_float_tiff(folder / f"f.{i + 1:04d}.tif", rgb)
    info = probe(folder)
    assert info.to_sdr and info.describe()["converted_from"] == "scene-linear float TIFF"
    assert not probe(folder, role="matte").to_sdr
