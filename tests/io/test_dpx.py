"""DPX frames and references: the header's transfer and orientation decide what the codes mean (`io.dpx`)."""

from __future__ import annotations

import numpy as np
import pytest

from paistudio.errors import FormatError, InputError
from paistudio.io import hdr
from paistudio.io.dpx import read_dpx, read_header
from tests.media import write_dpx


def _cineon(code10: float, black: float = 95, white: float = 685) -> float:
    """The Cineon curve written out: 10-bit code -> scene-linear (0.002 density a code, negative gamma 0.6)."""
    k = 10 ** ((black - white) * 0.002 / 0.6)
    return (10 ** ((code10 - white) * 0.002 / 0.6) - k) / (1 - k)


def _grey_row(codes) -> np.ndarray:
    return np.repeat(np.array([codes], np.uint16)[..., None], 3, -1)  # [1, N, 3]


def _srgb(light: float) -> int:
    return int(hdr.scene_linear_to_sdr(np.full((1, 1, 3), light, np.float32))[0, 0, 1])


def test_video_coded_dpx_is_rounded_to_8_bits(tmp_path):
    """FFmpeg's own files say transfer 4 (unspecified video): display codes, 10 bits rounded to 8."""
    codes = [0, 100, 512, 1023]
    img = read_dpx(write_dpx(tmp_path / "v.dpx", _grey_row(codes)))
    assert img.shape == (1, 4, 3) and img.dtype == np.uint8
    assert img[0, :, 0].tolist() == [round(c * 255 / 1023) for c in codes] == [0, 25, 128, 255]
    assert read_header(tmp_path / "v.dpx").describe() is None


def test_log_dpx_follows_the_cineon_curve_to_the_exr_view(tmp_path):
    """Printing density (a film scan): code 95 is black, 685 white (as EXR 1.0: 247), 470 about 18 % grey; above
    white the shoulder rolls off. 10-bit and 16-bit files of the same codes read alike."""
    codes = [95, 300, 470, 685, 900]
    want = [_srgb(_cineon(c)) for c in codes]
    assert want[0] == 0 and want[3] == 247 == _srgb(1.0) and abs(_cineon(470) - 0.18) < 0.01
    ten = read_dpx(write_dpx(tmp_path / "l10.dpx", _grey_row(codes), transfer=1))
    assert ten[0, :, 1].tolist() == want
    sixteen = np.round(np.array(codes) * 65535 / 1023).astype(np.uint16)
    assert read_dpx(write_dpx(tmp_path / "l16.dpx", _grey_row(sixteen), bits=16, transfer=3))[0, :, 1].tolist() == want
    assert read_header(tmp_path / "l10.dpx").describe() == "Cineon log DPX (printing density)"
    # without light (a matte, or codes for a --lut) the codes are taken as they are
    assert read_dpx(tmp_path / "l10.dpx", light=False)[0, :, 1].tolist() == [round(c * 255 / 1023) for c in codes]


def test_log_dpx_uses_the_headers_reference_codes(tmp_path):
    img = read_dpx(write_dpx(tmp_path / "r.dpx", _grey_row([100, 400, 700]), transfer=1, ref_codes=(100, 700)))
    assert img[0, :, 1].tolist() == [0, _srgb(_cineon(400, 100, 700)), 247]


def test_linear_dpx_is_scene_linear(tmp_path):
    codes = np.round(np.array([0.0, 0.18, 0.5, 1.0]) * 65535).astype(np.uint16)
    img = read_dpx(write_dpx(tmp_path / "lin.dpx", _grey_row(codes), bits=16, transfer=2))
    assert img[0, :, 1].tolist() == [0, 118, 188, 247]  # as the EXR test's known codes
    assert read_header(tmp_path / "lin.dpx").describe() == "scene-linear DPX"


@pytest.mark.parametrize("orientation, where", [(0, (0, 0)), (1, (0, 2)), (2, (1, 0)), (3, (1, 2))])
def test_dpx_orientation_is_undone(tmp_path, orientation, where):
    """The first stored pixel is red: mirrored orders put it at another corner of the picture."""
    codes = np.zeros((2, 3, 3), np.uint16)
    codes[0, 0, 0] = 1023
    img = read_dpx(write_dpx(tmp_path / "o.dpx", codes, orientation=orientation))
    assert np.argwhere(img[..., 0] > 128).tolist() == [list(where)]


def test_dpx_rgba_keeps_its_alpha(tmp_path):
    codes = np.zeros((2, 2, 4), np.uint16)
    codes[..., :3], codes[..., 3] = 65535, 32896  # white at half coverage (straight alpha, DPX's convention)
    img = read_dpx(write_dpx(tmp_path / "a.dpx", codes, bits=16))
    assert img.shape == (2, 2, 4) and tuple(img[0, 0]) == (255, 255, 255, 128)


def test_dpx_that_cannot_be_read_is_a_named_error(tmp_path):
    from paistudio.io.video import probe
    (tmp_path / "adx").mkdir()
    with pytest.raises(FormatError, match="transfer BT.2100, which is not read"):
        read_dpx(write_dpx(tmp_path / "pq.dpx", _grey_row([512]), transfer=17))
    assert read_dpx(tmp_path / "pq.dpx", light=False)[0, 0, 0] == 128  # as a matte: coverage codes, whatever the curve
    with pytest.raises(FormatError, match="transfer SMPTE ADX, which is not read"):
        probe(write_dpx(tmp_path / "adx" / "f.0001.dpx", _grey_row([512]), transfer=13).parent)
    with pytest.raises(FormatError, match="transposed order"):
        read_dpx(write_dpx(tmp_path / "t.dpx", _grey_row([512]), orientation=4))
    (tmp_path / "bad.dpx").write_bytes(b"JUNK" + bytes(2000))
    with pytest.raises(InputError, match="is not a DPX file"):
        read_dpx(tmp_path / "bad.dpx")
    short = write_dpx(tmp_path / "short.dpx", _grey_row([512] * 64))
    short.write_bytes(short.read_bytes()[:-200])  # header intact, pixels cut
    with pytest.raises(InputError, match="cannot be read as a DPX"):
        read_dpx(short)


def _log_codes(images: np.ndarray) -> np.ndarray:
    """sRGB uint8 images as the 10-bit Cineon log codes of their linear light: the curve inverted."""
    from paistudio.comp.colour import SRGB_TO_LINEAR
    k = 10 ** ((95 - 685) * 0.002 / 0.6)
    light = SRGB_TO_LINEAR[images].astype(np.float64)
    return np.clip(np.round(685 + np.log10(light * (1 - k) + k) * 0.6 / 0.002), 0, 1023).astype(np.uint16)


def test_log_dpx_sequence_foreground_and_reference(tmp_path):
    """A film-scan sequence renders like its EXR twin: converted on decode, the record and a warning say so; with
    --lut the LUT gets the file's log codes instead."""
    import paistudio
    from paistudio.io.images import load_reference, reference_profile
    from paistudio.io.video import probe, read_chunks
    from paistudio.job import prepare_job
    from paistudio.shot import Shot
    from tests.media import green_screen_clip, textured_background, write_cube
    frames, alpha, *_ = green_screen_clip(4, 64, 48, seed=2)
    folder = tmp_path / "plate"
    folder.mkdir()
    for i, codes in enumerate(_log_codes(np.stack(frames))):
        write_dpx(folder / f"scan.{1001 + i}.dpx", codes, transfer=1)
    info = probe(folder)
    assert info.kind == "sequence" and info.codec == "dpx" and info.to_sdr
    assert info.describe()["converted_from"] == "Cineon log DPX (printing density)"
    decoded = np.concatenate(list(read_chunks(info)))
    # log codes round-trip within the 10-bit quantisation, except where the view's shoulder bends bright colour
    assert np.abs(decoded.astype(int) - np.stack(frames)).mean() < 2.0
    bg = write_dpx(tmp_path / "bg.dpx", _log_codes(textured_background(64, 48)), transfer=1)
    assert reference_profile(bg) == "Cineon log DPX (printing density)" and load_reference(bg).shape == (48, 64, 3)
    record = paistudio.replace(folder, [bg], tmp_path / "o.mp4")
    assert record["inputs"]["references"][0]["converted_from"] == "Cineon log DPX (printing density)"
    said = ("the foreground is Cineon log DPX (printing density): converted to SDR BT.709 on decode (the log's "
            "reference white taken as white")
    assert any(w.startswith(said) for w in record["warnings"]), record["warnings"]
    assert probe(tmp_path / "o.mp4").n_frames == 4
    lut = write_cube(tmp_path / "id.cube", lambda rgb: rgb)
    job = prepare_job(Shot.from_dict({"foreground": {"path": str(folder), "lut": str(lut)},
                                      "references": [{"path": str(bg)}], "output": {"path": str(tmp_path / "l.mp4")}}))
    assert not job.info.to_sdr and not any("converted to SDR" in w for w in job.warnings)
