"""How far references reach along the camera path (`comp.reach`): the sweep box and a photo fitted to it."""

import numpy as np
import pytest

from paistudio.comp.path import simple_moves
from paistudio.comp.reach import SWEEP_REACH, fit_to_sweep, sweep_box
from tests.media import textured_background

W, H, N = 96, 64, 12


def test_sweep_box_is_the_union_of_every_frames_view():
    x0, y0, x1, y1 = sweep_box(simple_moves(N, W, H, pan=0.5), 0, (W, H))
    assert (x0, y0, y1) == pytest.approx((-0.5, -0.5, H - 0.5)) and x1 == pytest.approx(W - 0.5 + 0.5 * W)
    zoom = sweep_box(simple_moves(N, W, H, zoom=0.5), 0, (W, H))  # zooming out: the last view is twice as big
    assert zoom[2] - zoom[0] == pytest.approx(2 * W) and zoom[3] - zoom[1] == pytest.approx(2 * H)


def test_a_photo_fitted_to_the_sweep_is_centred_on_it():
    photo = textured_background(3 * W, H, seed=4)
    swept = fit_to_sweep(photo, simple_moves(N, W, H, pan=0.6), 0, (W, H))
    x0 = round(0.7 * W)  # the 1.6 W sweep centred in the 3 W photo starts at 0.7 W
    assert swept.enlarged == pytest.approx(1.0) and np.array_equal(swept.ref, photo[:, x0:x0 + W])
    assert swept.surround[1] == (x0, 0) and swept.margin[0] >= 0.6 * W and swept.warnings() == []
    small = fit_to_sweep(textured_background(W, H), simple_moves(N, W, H, pan=0.6), 0, (W, H))
    assert small.enlarged == pytest.approx(1.6, abs=0.02) and "enlarged the reference 1.6x" in small.warnings()[0]
    far = fit_to_sweep(photo, simple_moves(N, W, H, pan=4.0), 0, (W, H))  # beyond the reach: capped
    assert far.box[2] == pytest.approx(W - 0.5 + SWEEP_REACH * W)
