import numpy as np
import pytest

from paistudio.comp.colour import Pixels, nonzero, to_linear, to_srgb
from paistudio.comp.harmonize import composite, edge_band, foreground_layer, unmix_foreground
from paistudio.comp.key import Backing, ChromaKeyer, detect_backing
from paistudio.errors import FormatError
from tests.media import BLUE_BACKING, GREEN_BACKING, composite_linear, green_screen_clip, linear_to_srgb


def _excess(img, mask, c=1):
    """Mean max(0, screen channel − max(other two)) over `mask`, in sRGB levels."""
    img = img.astype(np.int16)
    o = [i for i in range(3) if i != c]
    return np.maximum(0, img[..., c] - np.maximum(img[..., o[0]], img[..., o[1]]))[mask].mean()


def test_composite_is_linear_light_and_exact_outside_edges():
    rng = np.random.default_rng(0)
    fg = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)
    plate = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (40, 60), dtype=np.uint8)
    alpha[:10] = 255
    alpha[-10:] = 0
    out = composite(fg, alpha, plate)
    ref = composite_linear(fg, alpha.astype(np.float32) / 255, plate)
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1
    np.testing.assert_array_equal(out[alpha == 255], fg[alpha == 255])
    np.testing.assert_array_equal(out[alpha == 0], plate[alpha == 0])
    small = np.zeros_like(alpha)  # a matte inside the frame: the work happens in its box, a strided view
    small[12:30, 20:41] = alpha[12:30, 20:41] | 1
    out = composite(fg, small, plate)
    ref = composite_linear(fg, small.astype(np.float32) / 255, plate)
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1
    np.testing.assert_array_equal(out[small == 255], fg[small == 255])
    np.testing.assert_array_equal(out[small == 0], plate[small == 0])


def test_composite_accepts_views_of_larger_frames():
    """The engine passes crops: a box of the plate (a non-contiguous view) and a box of the matte."""
    rng = np.random.default_rng(1)
    fg = rng.integers(0, 255, (30, 50, 3), dtype=np.uint8)
    big_plate = rng.integers(0, 255, (80, 90, 3), dtype=np.uint8)
    big_alpha = rng.integers(0, 256, (80, 90), dtype=np.uint8)
    box = (slice(20, 50), slice(13, 63))
    out = composite(fg, big_alpha[box], big_plate[box])
    np.testing.assert_array_equal(out, composite(fg, big_alpha[box].copy(), big_plate[box].copy()))
    assert big_plate.flags.writeable and not np.shares_memory(out, big_plate)


def test_unmix_removes_spill_and_leaves_interior_untouched():
    frames, alpha, _, _ = green_screen_clip(4, 240, 144, spill=0.5, seed=3)
    backing = detect_backing(frames)
    keyer = ChromaKeyer(backing)
    grey = np.full((144, 240, 3), 128, np.uint8)
    raw, clean = [], []
    for f in frames:
        a = keyer.alpha(f)
        fg = unmix_foreground(f, a, backing)
        band = edge_band(a, 3) > 0
        np.testing.assert_array_equal(fg[~band], f[~band])  # identity preserved bit for bit outside the band
        raw.append(_excess(composite(f, a, grey), band))
        clean.append(_excess(composite(fg, a, grey), band))
    # measured: raw 5.5 levels of green excess in the band, unmixed 0.002 (brief: at least 5x lower)
    assert np.mean(raw) > 3 and np.mean(clean) * 5 < np.mean(raw), (np.mean(raw), np.mean(clean))


def test_unmix_blue_screen():
    frames, _, _, _ = green_screen_clip(2, 200, 120, colour=BLUE_BACKING, spill=0.5, seed=4)
    backing = detect_backing(frames)
    assert backing.kind == "blue"
    a = ChromaKeyer(backing).alpha(frames[0])
    fg = unmix_foreground(frames[0], a, backing)
    band = edge_band(a, 3) > 0
    # measured: 36.9 levels of blue excess in the raw band, 0.0 unmixed
    assert _excess(fg, band, c=2) * 5 < _excess(frames[0], band, c=2)
    np.testing.assert_array_equal(fg[~band], frames[0][~band])


def test_unmix_recovers_a_known_mix_and_despill_fades_into_the_interior():
    b = np.array(GREEN_BACKING, np.uint8)
    fg_colour = np.array([180, 120, 100], np.uint8)
    spilled = np.array([150, 160, 100], np.uint8)  # opaque but green-tinted near the edge
    alpha = np.zeros((1, 12), np.uint8)
    alpha[0, 2:] = 255
    alpha[0, 1] = 128  # one semi-transparent pixel at x=1, opaque from x=2 on
    frame = np.empty((1, 12, 3), np.uint8)
    frame[0, 0] = b
    frame[0, 1] = composite_linear(fg_colour[None, None], np.full((1, 1), 128 / 255, np.float32), b[None, None])[0, 0]
    frame[0, 2:] = spilled
    out = unmix_foreground(frame, alpha, Backing(GREEN_BACKING, "green"), band_px=3)
    assert np.abs(out[0, 1].astype(int) - fg_colour).max() <= 2  # F = (P − (1 − a)B)/a, G ≤ max(R, B) holds
    green_excess = out[0, 2:7, 1].astype(int) - out[0, 2:7, 0]
    assert green_excess[0] < green_excess[1] < green_excess[2] < 10  # x = 2, 3, 4: despill fading with distance
    np.testing.assert_array_equal(out[0, 5:], frame[0, 5:])  # beyond band_px: untouched
    np.testing.assert_array_equal(out[0, 0], frame[0, 0])  # alpha 0: untouched


def test_no_backing_means_no_change_and_layer_is_straight_rgba():
    frame = np.random.default_rng(2).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    alpha = np.full((8, 8), 128, np.uint8)
    assert unmix_foreground(frame, alpha, None) is frame
    layer = foreground_layer(frame, alpha)
    assert layer.shape == (8, 8, 4)
    np.testing.assert_array_equal(layer[..., :3], frame)
    np.testing.assert_array_equal(layer[..., 3], alpha)
    assert unmix_foreground(frame, np.zeros((8, 8), np.uint8), Backing(GREEN_BACKING, "green")) is frame


def test_mismatched_inputs_raise_format_errors():
    rgb = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(FormatError):
        composite(rgb, np.zeros((8, 9), np.uint8), rgb)
    with pytest.raises(FormatError):
        composite(rgb, np.zeros((8, 8), np.uint8), np.zeros((8, 9, 3), np.uint8))
    with pytest.raises(FormatError):
        unmix_foreground(rgb, np.zeros((8, 8), np.float32), None)


def test_colour_helpers_for_compact_pixel_sets():
    codes = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(to_srgb(to_linear(codes)), codes)  # the round trip is exact
    x = np.linspace(-0.2, 1.2, 999, dtype=np.float32)
    assert np.abs(to_srgb(x).astype(int) - linear_to_srgb(x).astype(int)).max() <= 1
    rng = np.random.default_rng(3)
    for shape, p in [((1, 1), 1.0), ((7, 13), 0.3), ((64, 1031), 0.02), ((5, 5), 0.0)]:
        mask = ((rng.random(shape) < p) * rng.integers(1, 256, shape)).astype(np.uint8)
        np.testing.assert_array_equal(nonzero(mask), np.flatnonzero(mask))
        px = Pixels.of(mask, origin=(2, 3), width=shape[1] + 5)
        if px is None:
            assert not mask.any()
            continue
        big = rng.integers(0, 255, (shape[0] + 3, shape[1] + 5, 3), dtype=np.uint8)
        ys, xs = np.nonzero(mask)
        got = px.take(big).reshape(-1, 3)[:px.n]
        np.testing.assert_array_equal(got, big[ys + 3, xs + 2])
        px.put(big, np.zeros_like(px.take(big)))
        assert big[ys + 3, xs + 2].max() == 0
