import numpy as np
import pytest

from paistudio.comp.colour import SRGB_TO_LINEAR
from paistudio.comp.shadow import contact_shadow, shadow_mask
from paistudio.errors import InputError


def _standing(h=120, w=160, top=30, bottom=100):
    alpha = np.zeros((h, w), np.uint8)
    alpha[top:bottom, 70:90] = 255  # a 70 px tall subject whose feet end at row bottom - 1
    return alpha


def test_shadow_darkens_the_floor_under_the_feet_only():
    plate = np.full((120, 160, 3), 180, np.uint8)
    alpha = _standing()
    out = contact_shadow(plate, alpha, 0.5)
    # under the feet (centre of the contact line) the linear light is halved
    ratio = SRGB_TO_LINEAR[out[99, 80, 0]] / SRGB_TO_LINEAR[180]
    assert 0.45 < ratio < 0.6
    assert out[101, 80, 0] < 180 and out[99, 64, 0] < 180  # below the line and just beside the feet: still shaded
    np.testing.assert_array_equal(out[:80], plate[:80])  # far above the base: bit-exact
    np.testing.assert_array_equal(out[:, :40], plate[:, :40])  # far to the side: bit-exact
    assert (out <= plate).all()


def test_no_shadow_without_a_visible_floor_contact_or_strength():
    plate = np.full((120, 160, 3), 180, np.uint8)
    assert contact_shadow(plate, _standing(bottom=120), 0.5) is plate  # cut by the frame's bottom edge
    assert contact_shadow(plate, _standing(top=5, bottom=35), 0.5) is plate  # near the top: flying, hanging
    assert contact_shadow(plate, np.zeros((120, 160), np.uint8), 0.5) is plate
    assert contact_shadow(plate, _standing(), 0.0) is plate
    with pytest.raises(InputError):
        contact_shadow(plate, _standing(), 1.5)


def test_shadow_size_follows_the_subject():
    small, _ = shadow_mask(_standing(top=70, bottom=100))
    large, _ = shadow_mask(_standing(top=10, bottom=100))
    assert large.shape[0] > small.shape[0]  # a taller subject casts a taller (deeper) contact shadow


def test_in_place_shading_equals_the_copy():
    plate = np.full((120, 160, 3), 180, np.uint8)
    copy = contact_shadow(plate, _standing(), 0.4)
    target = plate.copy()
    assert contact_shadow(target, _standing(), 0.4, inplace=True) is target
    np.testing.assert_array_equal(target, copy)
