import cv2
import numpy as np
import pytest

from paistudio.comp.colour import SRGB_TO_LINEAR, gain_lut, to_srgb
from paistudio.comp.relight import (LightSample, Relighter, RelightSettings, apply_gains, apply_ramp, measure,
                                    plan_gains, plan_slopes)
from paistudio.errors import InputError


def _chroma_error(c):
    return np.abs(c / c.mean() - 1).max()


def test_colour_cast_is_reduced():
    plate = np.array([0.3, 0.3, 0.3])
    cast = np.array([1.3, 1.0, 0.7])
    fg = np.array([0.2, 0.2, 0.2]) * cast
    gains = plan_gains([LightSample(fg, plate)] * 5, RelightSettings(wb_strength=1.0, sigma_frames=0, max_tint=0.5))
    # measured: cast 0.30 → 0.00 (removed) with the tint cap opened to 0.5
    assert _chroma_error(fg * gains[0]) < 0.5 * _chroma_error(fg)
    # the default cap (0.15) still moves it back, but only as a tint: measured 0.30 → 0.18
    capped = plan_gains([LightSample(fg, plate)] * 5, RelightSettings(wb_strength=1.0, sigma_frames=0))
    assert 0.5 * _chroma_error(fg) < _chroma_error(fg * capped[0]) < 0.75 * _chroma_error(fg)


def test_exposure_is_matched_partially_and_limited():
    fg, plate = np.array([0.05, 0.05, 0.05]), np.array([0.4, 0.4, 0.4])  # plate 3 stops brighter
    exact = RelightSettings(strength=1.0, prior_stops=0.0, sigma_frames=0, max_stops=1.0)
    g = plan_gains([LightSample(fg, plate)], exact)
    np.testing.assert_allclose(g[0], 2.0, rtol=1e-5)  # limited to +1 stop
    g = plan_gains([LightSample(fg, plate)], RelightSettings(strength=0.2, prior_stops=0.0, sigma_frames=0))
    np.testing.assert_allclose(g[0], 2.0 ** 0.6, rtol=1e-5)  # 0.2 × 3 stops


def test_exposure_is_shrunk_towards_the_natural_prior():
    grey = np.array([0.2, 0.2, 0.2])
    natural = grey * 2.0 ** -0.28  # a subject a third of a stop below its surroundings: the prior, left alone
    np.testing.assert_allclose(plan_gains([LightSample(natural, grey)], RelightSettings(sigma_frames=0))[0], 1.0,
                               rtol=1e-4)
    dark = grey * 2.0 ** -1.28  # one stop under the prior: the default undoes 0.3 of it
    np.testing.assert_allclose(plan_gains([LightSample(dark, grey)], RelightSettings(sigma_frames=0))[0],
                               2.0 ** 0.3, rtol=1e-4)


def test_gains_are_smooth_over_time():
    rng = np.random.default_rng(0)
    samples = [LightSample(np.array([0.2, 0.2, 0.2]) * rng.uniform(0.8, 1.2, 3), np.array([0.3, 0.3, 0.3]))
               for _ in range(60)]
    raw = plan_gains(samples, RelightSettings(wb_strength=0.5, sigma_frames=0))
    smooth = plan_gains(samples, RelightSettings(wb_strength=0.5, sigma_frames=6))
    # measured: frame-to-frame change std 0.071 → 0.0018 (40x)
    assert np.diff(smooth, axis=0).std() * 5 < np.diff(raw, axis=0).std()


def test_missing_foreground_frames_are_interpolated_and_none_means_unity():
    s = LightSample(np.array([0.1, 0.1, 0.1]), np.array([0.2, 0.2, 0.2]))
    g = plan_gains([s, None, None, s], RelightSettings(sigma_frames=0))
    np.testing.assert_allclose(g[1], g[0])
    np.testing.assert_array_equal(plan_gains([None, None]), np.ones((2, 3)))
    assert plan_gains([]).shape == (0, 3)


def test_apply_gains_matches_float_reference_and_unity_is_exact():
    img = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, -1).copy()
    assert apply_gains(img, (1, 1, 1)) is img
    assert apply_gains(img, (1.0002, 1.0, 0.9999)) is img  # rounds to unit gains: still untouched
    out = apply_gains(img, (1.2, 1.0, 0.8))
    ref = to_srgb(SRGB_TO_LINEAR[img] * np.array([1.2, 1.0, 0.8], np.float32))
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1
    np.testing.assert_array_equal(out[..., 1], img[..., 1])  # a unit channel is passed through
    np.testing.assert_array_equal(out, cv2.LUT(img, gain_lut((1.2, 1.0, 0.8))))  # same as one 3-channel LUT


def test_measure_reads_the_foreground_and_the_plate_around_it():
    h, w = 90, 160
    frame = np.full((h, w, 3), (40, 175, 60), np.uint8)  # screen around the subject: must not count
    alpha = np.zeros((h, w), np.uint8)
    frame[30:60, 70:90] = (200, 120, 90)
    alpha[30:60, 70:90] = 255
    plate = np.full((h, w, 3), 30, np.uint8)
    plate[10:80, 50:110] = 150  # the area around the subject is brighter than the rest of the plate
    s = measure(frame, alpha, plate)
    np.testing.assert_allclose(s.fg, SRGB_TO_LINEAR[[200, 120, 90]], rtol=1e-5)
    np.testing.assert_allclose(s.plate, SRGB_TO_LINEAR[[150, 150, 150]], rtol=1e-5)
    assert measure(frame, np.zeros((h, w), np.uint8), plate) is None
    everywhere = measure(frame, np.full((h, w), 255, np.uint8), plate)  # no ring left: the whole plate
    whole = SRGB_TO_LINEAR[plate.reshape(-1, 3)].astype(np.float64).mean(0)
    np.testing.assert_allclose(everywhere.plate, whole, rtol=1e-5)


def test_relighter_plans_then_applies():
    s = LightSample(np.array([0.1, 0.1, 0.1]), np.array([0.2, 0.2, 0.2]))
    r = Relighter(RelightSettings(strength=1.0, prior_stops=0.0, max_stops=1.0, sigma_frames=0))
    with pytest.raises(InputError):
        r.apply(np.zeros((4, 4, 3), np.uint8), 0)
    gains = r.plan([s, s])
    np.testing.assert_allclose(gains, 2.0, rtol=1e-5)
    img = np.full((4, 4, 3), 100, np.uint8)
    assert (r.apply(img, 1) > img).all()
    with pytest.raises(InputError):
        r.apply(img, 2)
    with pytest.raises(InputError):
        plan_gains([s], RelightSettings(strength=2.0))
    with pytest.raises(InputError):
        Relighter(RelightSettings(direction=-0.1))


def test_light_slope_of_the_plate_shades_the_subject_only_when_asked():
    h, w = 60, 120
    ramp = np.linspace(40, 220, w).astype(np.uint8)  # the plate is lit from the right
    plate = np.repeat(ramp[None, :, None], h, 0).repeat(3, 2)
    frame = np.full((h, w, 3), 120, np.uint8)
    alpha = np.zeros((h, w), np.uint8)
    alpha[20:40, 50:70] = 255
    s = measure(frame, alpha, plate)
    # the ring spans x 41..79 (sRGB 102..160, linear 0.133..0.352): ln 2.64 / 38 px × 10 px per half box = 0.256
    assert abs(s.slope[0] - 0.256) < 0.02 and abs(s.slope[1]) < 0.02  # brighter to the right, flat vertically
    assert not plan_slopes([s], RelightSettings(sigma_frames=0)).any()  # direction 0: no ramp
    r = Relighter(RelightSettings(direction=0.5, sigma_frames=0))
    r.plan([s])
    subject = np.full((20, 20, 3), 120, np.uint8)
    lit = r.apply(subject, 0)
    left, right = lit[:, :3].mean(), lit[:, -3:].mean()
    assert right > left + 10  # shaded like the plate: the right side brighter
    assert abs(float(to_srgb(SRGB_TO_LINEAR[lit].mean(axis=(0, 1)))[0]) - float(
        to_srgb(SRGB_TO_LINEAR[apply_gains(subject, r.gains[0])].mean(axis=(0, 1)))[0])) <= 2  # light moved, not added
    assert apply_ramp(subject, (0.0, 0.0)) is subject
