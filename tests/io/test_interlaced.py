"""Interlaced video (broadcast, AVCHD) is deinterlaced on decode: a bar moving between the two fields of each
frame shows combing as coded; deinterlaced, every row of a frame shows the bar where its first field has it."""

from fractions import Fraction

import numpy as np
import pytest

from paistudio.io.video import probe, read_chunks
from paistudio.job import prepare_job
from paistudio.shot import Shot
from tests.media import textured_background, write_image, write_video

W, H, N = 128, 96, 6
STEP = 6  # px the bar moves per field


def bar_at(field_time: int) -> np.ndarray:
    img = np.full((H, W, 3), 40, np.uint8)
    x = 10 + STEP * field_time
    img[:, x:x + 20] = 220
    return img


def write_interlaced(path):
    """Top field first: even rows at field time 2t, odd rows half a frame later (2t + 1)."""
    frames = []
    for t in range(N):
        img = bar_at(2 * t)
        img[1::2] = bar_at(2 * t + 1)[1::2]
        frames.append(img)
    return write_video(path, frames, fps=Fraction(25), options={"x264-params": "interlaced=1:tff=1", "crf": "12"})


def comb(frame: np.ndarray) -> float:
    """Mean difference between neighbouring rows (the bar is vertical: 0 without combing)."""
    return float(np.abs(np.diff(frame[..., 1].astype(np.int16), axis=0)).mean())


def test_fields_become_whole_frames_at_the_first_fields_moment(tmp_path):
    info = probe(write_interlaced(tmp_path / "il.mp4"))
    assert info.interlaced and info.describe()["deinterlaced"] is True
    frames = np.concatenate(list(read_chunks(info)))
    assert len(frames) == N == info.n_frames  # one frame out for each frame in
    info.interlaced = False
    coded = np.concatenate(list(read_chunks(info)))
    assert min(comb(f) for f in coded) > 10  # the two fields disagree by STEP px at both edges
    assert max(comb(f) for f in frames) < 1
    for t, f in enumerate(frames):
        for row in (40, 41):  # a top-field row and an interpolated bottom-field one
            cols = np.flatnonzero(f[row, :, 1] > 130)
            assert abs(cols[0] - (10 + STEP * 2 * t)) <= 1 and abs(cols[-1] - (29 + STEP * 2 * t)) <= 1, (t, row, cols)


def test_progressive_video_is_left_alone_and_an_interlaced_one_is_named(tmp_path):
    clip = write_interlaced(tmp_path / "il.mp4")
    ref = write_image(tmp_path / "ref.png", textured_background(W, H))
    job = prepare_job(Shot.from_dict({"foreground": {"path": str(clip)}, "references": [{"path": str(ref)}],
                                      "output": {"path": str(tmp_path / "out.mp4")}}))
    assert any("interlaced: deinterlaced on decode" in w for w in job.warnings), job.warnings
    plain = write_video(tmp_path / "p.mp4", [bar_at(t) for t in range(3)])
    assert not probe(plain).interlaced and "deinterlaced" not in probe(plain).describe()


@pytest.mark.parametrize("order, bottom_first", [(4, True), (5, False)])  # AV_FIELD_TB, AV_FIELD_BT
def test_the_field_displayed_first_is_kept_whichever_was_coded_first(tmp_path, order, bottom_first):
    """TB: top coded first, bottom displayed first; BT the other way round (interlaced ProRes)."""
    frames = []
    for t in range(4):
        first, second = bar_at(2 * t), bar_at(2 * t + 1)
        img = first.copy()
        rows = slice(0, None, 2) if bottom_first else slice(1, None, 2)  # the field shown second
        img[rows] = second[rows]
        frames.append(img)
    clip = write_video(tmp_path / "il.mov", frames, fps=Fraction(25), codec="prores_ks", pix_fmt="yuv422p10le",
                       options={"flags": "+ildct"}, field_order=order)
    info = probe(clip)
    assert info.interlaced
    for t, f in enumerate(np.concatenate(list(read_chunks(info)))):
        for row in (40, 41):
            assert abs(np.flatnonzero(f[row, :, 1] > 130)[0] - (10 + STEP * 2 * t)) <= 1, (t, row)
