import cv2
import numpy as np
import pytest

from paistudio.comp.colour import SRGB_TO_LINEAR, gain_lut, to_srgb
from paistudio.comp.relight import LightSample, Relighter, RelightSettings, apply_gains, measure, plan_gains
from paistudio.errors import InputError


def _chroma_error(c):
    return np.abs(c / c.mean() - 1).max()


def test_colour_cast_is_reduced():
    plate = np.array([0.3, 0.3, 0.3])
    cast = np.array([1.3, 1.0, 0.7])
    fg = np.array([0.2, 0.2, 0.2]) * cast
    gains = plan_gains([LightSample(fg, plate)] * 5, strength=1.0, sigma_frames=0, max_tint=0.5)
    # measured: cast 0.30 → 0.00 (removed) with the tint cap opened to 0.5
    assert _chroma_error(fg * gains[0]) < 0.5 * _chroma_error(fg)
    # the default cap (0.15) still moves it back, but only as a tint: measured 0.30 → 0.18
    capped = plan_gains([LightSample(fg, plate)] * 5, strength=1.0, sigma_frames=0)
    assert 0.5 * _chroma_error(fg) < _chroma_error(fg * capped[0]) < 0.75 * _chroma_error(fg)


def test_exposure_is_matched_partially_and_limited():
    fg, plate = np.array([0.05, 0.05, 0.05]), np.array([0.4, 0.4, 0.4])  # plate 3 stops brighter
    g = plan_gains([LightSample(fg, plate)], strength=1.0, sigma_frames=0, max_stops=1.0)
    np.testing.assert_allclose(g[0], 2.0, rtol=1e-5)  # limited to +1 stop
    g = plan_gains([LightSample(fg, plate)], strength=0.2, sigma_frames=0, max_stops=1.0)
    np.testing.assert_allclose(g[0], 2.0 ** 0.6, rtol=1e-5)  # 0.2 × 3 stops


def test_gains_are_smooth_over_time():
    rng = np.random.default_rng(0)
    samples = [LightSample(np.array([0.2, 0.2, 0.2]) * rng.uniform(0.8, 1.2, 3), np.array([0.3, 0.3, 0.3]))
               for _ in range(60)]
    raw = plan_gains(samples, sigma_frames=0)
    smooth = plan_gains(samples, sigma_frames=6)
    # measured: frame-to-frame change std 0.071 → 0.0018 (40x)
    assert np.diff(smooth, axis=0).std() * 5 < np.diff(raw, axis=0).std()


def test_missing_foreground_frames_are_interpolated_and_none_means_unity():
    s = LightSample(np.array([0.1, 0.1, 0.1]), np.array([0.2, 0.2, 0.2]))
    g = plan_gains([s, None, None, s], sigma_frames=0)
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
    r = Relighter(RelightSettings(strength=1.0, max_stops=1.0, sigma_frames=0))
    with pytest.raises(InputError):
        r.apply(np.zeros((4, 4, 3), np.uint8), 0)
    gains = r.plan([s, s])
    np.testing.assert_allclose(gains, 2.0, rtol=1e-5)
    img = np.full((4, 4, 3), 100, np.uint8)
    assert (r.apply(img, 1) > img).all()
    with pytest.raises(InputError):
        r.apply(img, 2)
    with pytest.raises(InputError):
        plan_gains([s], strength=2.0)
