"""Colour LUTs (.cube) on the foreground: known answers for 3D and 1D tables, the file checks, the job."""

import numpy as np
import pytest

import paistudio
from paistudio.errors import InputError
from paistudio.io.lut import ColourLut, check_cube
from paistudio.io.video import probe, read_chunks
from tests.media import green_screen_clip, textured_background, write_cube, write_image, write_sequence, write_video


def _colours():
    return np.random.default_rng(0).integers(0, 256, (32, 48, 3), dtype=np.uint8)


def test_3d_lut_that_swaps_channels(tmp_path):
    """Tetrahedral interpolation of a linear map is exact: (r, g, b) -> (g, b, r) within rounding."""
    lut = ColourLut(write_cube(tmp_path / "swap.cube", lambda c: c[:, [1, 2, 0]]))
    x = _colours()
    assert lut.kind == "3D"
    assert np.abs(lut.apply(x).astype(int) - x[..., [1, 2, 0]]).max() <= 1


def test_1d_lut_that_inverts(tmp_path):
    lut = ColourLut(write_cube(tmp_path / "neg.cube", lambda c: 1 - c, size=256, dims=1))
    x = _colours()
    assert lut.kind == "1D"
    assert np.abs(lut.apply(x).astype(int) - (255 - x.astype(int))).max() <= 1


@pytest.mark.parametrize("text, name, message", [
    (None, "missing.cube", "does not exist"),
    ("LUT_3D_SIZE 2\n0 0 0\n", "a.3dl", "is not a .cube file"),
    ("TITLE \"x\"\n0 0 0\n", "nosize.cube", "has no LUT_1D_SIZE / LUT_3D_SIZE line"),
    ("LUT_3D_SIZE 2\n0 0 0\n1 1 1\n", "short.cube", "declares 3D size 2 \\(8 entries\\) but holds 2")])
def test_bad_lut_files_are_named(tmp_path, text, name, message):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(InputError, match=message):
        check_cube(path)


def test_frames_are_graded_on_decode_and_alpha_is_kept(tmp_path):
    frames = [np.dstack([_colours(), np.full((32, 48), 100, np.uint8)]) for _ in range(3)]
    info = probe(write_sequence(tmp_path / "seq", frames))
    info.lut = str(write_cube(tmp_path / "swap.cube", lambda c: c[:, [1, 2, 0]]))
    got = np.concatenate(list(read_chunks(info)))
    assert np.abs(got[..., :3].astype(int) - np.stack(frames)[..., [1, 2, 0]]).max() <= 1
    assert (got[..., 3] == 100).all()


def test_replace_with_a_lut(tmp_path):
    """The job grades the foreground before keying and compositing, and the record names the LUT."""
    frames, alpha, fg, _ = green_screen_clip(6, 128, 80, seed=3)
    video = write_video(tmp_path / "fg.mp4", frames, options={"crf": "0"})
    ref = write_image(tmp_path / "r.png", textured_background(128, 80))
    cube = write_cube(tmp_path / "warm.cube", lambda c: np.clip(c * [1.2, 1.0, 0.8], 0, 1))
    with pytest.raises(InputError, match="LUT .* does not exist"):
        paistudio.replace(video, [ref], tmp_path / "x.mp4", lut=tmp_path / "nope.cube")
    record = paistudio.replace(video, [ref], tmp_path / "o.mkv", lut=cube, codec="ffv1", relight=False)
    assert record["inputs"]["foreground"]["lut"] == str(cube)
    assert record["settings"]["foreground"]["lut"] == str(cube)
    out = np.concatenate(list(read_chunks(probe(tmp_path / "o.mkv"))))[..., :3].astype(float)
    solid = np.stack(alpha) > 0.99
    src = np.stack(fg).astype(float)
    want = np.clip(src * [1.2, 1.0, 0.8], 0, 255)
    assert np.abs(out[solid] - want[solid]).mean() < 3.0 < np.abs(out[solid] - src[solid]).mean()
