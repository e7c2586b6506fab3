import numpy as np

from paistudio.comp.harmonize import composite, edge_band, foreground_layer, unmix_foreground
from paistudio.comp.key import Backing, ChromaKeyer, detect_backing
from tests.media import BLUE_BACKING, composite_linear, green_screen_clip


def _green_excess(img, mask):
    img = img.astype(np.int16)
    return np.maximum(0, img[..., 1] - np.maximum(img[..., 0], img[..., 2]))[mask].mean()


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
    np.testing.assert_array_equal(out[:10], fg[:10])
    np.testing.assert_array_equal(out[-10:], plate[-10:])


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
        interior = (a == 255) & ~band
        np.testing.assert_array_equal(fg[interior], f[interior])  # identity preserved bit for bit
        raw.append(_green_excess(composite(f, a, grey), band))
        clean.append(_green_excess(composite(fg, a, grey), band))
    assert np.mean(clean) * 5 < np.mean(raw), (np.mean(raw), np.mean(clean))


def test_unmix_blue_screen():
    frames, _, _, _ = green_screen_clip(2, 200, 120, colour=BLUE_BACKING, spill=0.5, seed=4)
    backing = detect_backing(frames)
    a = ChromaKeyer(backing).alpha(frames[0])
    fg = unmix_foreground(frames[0], a, backing)
    band = edge_band(a, 3) > 0
    blue_excess = lambda im: np.maximum(0, im[..., 2].astype(int) - np.maximum(im[..., 0], im[..., 1]))[band].mean()
    assert blue_excess(fg) < blue_excess(frames[0]) / 5


def test_no_backing_means_no_change_and_layer_shape():
    frame = np.zeros((8, 8, 3), np.uint8)
    alpha = np.full((8, 8), 128, np.uint8)
    assert unmix_foreground(frame, alpha, None) is frame
    assert foreground_layer(frame, alpha).shape == (8, 8, 4)
    assert Backing((40, 175, 60), "green").kind == "green"
