import numpy as np

from paistudio.comp.colour import SRGB_TO_LINEAR, to_srgb
from paistudio.comp.relight import LightSample, apply_gains, plan_gains


def test_colour_cast_is_reduced():
    plate = np.array([0.3, 0.3, 0.3])
    cast = np.array([1.3, 1.0, 0.7])
    fg = np.array([0.2, 0.2, 0.2]) * cast
    gains = plan_gains([LightSample(fg, plate)] * 5, strength=1.0, sigma_frames=0, max_tint=0.5)
    after = fg * gains[0]
    chroma = lambda c: c / c.mean()
    before_err = np.abs(chroma(fg) - 1).max()
    assert np.abs(chroma(after) - 1).max() < 0.5 * before_err


def test_gains_are_smooth_over_time():
    rng = np.random.default_rng(0)
    samples = [LightSample(np.array([0.2, 0.2, 0.2]) * rng.uniform(0.8, 1.2, 3), np.array([0.3, 0.3, 0.3]))
               for _ in range(60)]
    raw = plan_gains(samples, sigma_frames=0)
    smooth = plan_gains(samples, sigma_frames=6)
    assert np.diff(smooth, axis=0).std() * 5 < np.diff(raw, axis=0).std()


def test_missing_foreground_frames_are_interpolated_and_none_means_unity():
    s = LightSample(np.array([0.1, 0.1, 0.1]), np.array([0.2, 0.2, 0.2]))
    g = plan_gains([s, None, None, s], sigma_frames=0)
    np.testing.assert_allclose(g[1], g[0])
    np.testing.assert_array_equal(plan_gains([None, None]), np.ones((2, 3)))


def test_apply_gains_matches_float_reference():
    img = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, -1).copy()
    assert apply_gains(img, (1, 1, 1)) is img
    out = apply_gains(img, (1.2, 1.0, 0.8))
    ref = to_srgb(SRGB_TO_LINEAR[img] * np.array([1.2, 1.0, 0.8], np.float32))
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1
