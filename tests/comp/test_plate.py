"""Background plates: references warped along the camera, blended across anchors, revealed areas filled."""

import numpy as np
import pytest

from paistudio.comp.plate import PlateRenderer, fit_cover
from paistudio.errors import ShotError
from tests.media import camera_path, centred_crop, textured_background, two_layer_scene, view

W, H, N = 192, 112, 30


@pytest.fixture(scope="module")
def world():
    """One textured world, a camera moving over it, and the true view of every frame."""
    world = textured_background(3 * W, 3 * H, seed=7)
    to0 = centred_crop(world.shape[1], world.shape[0], W, H)
    path = camera_path(N, W, H, pan=0.35, tilt=0.1, zoom=1.15)
    truth = np.stack([view(world, to0, path[t], (W, H)) for t in range(N)])
    return path, truth


def black(img):
    return (img < 8).all(axis=-1)


def test_plate_equals_reference_at_each_anchor(world):
    path, truth = world
    anchors = [0, 14, N - 1]
    plate = PlateRenderer([truth[a] for a in anchors], anchors, path, (W, H))
    for a in anchors:
        got = plate.frame(a)
        assert got.shape == (H, W, 3) and got.dtype == np.uint8
        assert np.abs(got.astype(int) - truth[a].astype(int)).max() <= 1


@pytest.mark.parametrize("anchors", [[0, 14, N - 1], [0, N - 1]])
def test_intermediate_frames_match_true_view(world, anchors):
    path, truth = world
    plate = PlateRenderer([truth[a] for a in anchors], anchors, path, (W, H))
    errors = []
    for t in range(N):
        got = plate.frame(t)
        assert not (black(got) & ~black(truth[t])).any()
        errors.append(np.abs(got.astype(np.float32) - truth[t]).mean())
    print(f"plate vs true view, anchors {anchors}: mean abs error {np.mean(errors):.2f}, worst frame {max(errors):.2f}")
    assert np.mean(errors) < 6.0


def test_pan_beyond_reference_has_no_black_borders():
    """One reference, the camera pans and zooms out far past it: the fill reads as background, never black."""
    world = textured_background(4 * W, 4 * H, seed=9)
    to0 = centred_crop(world.shape[1], world.shape[0], W, H)
    path = camera_path(N, W, H, pan=0.6, tilt=-0.3, zoom=0.8)
    ref = view(world, to0, path[0], (W, H))
    plate = PlateRenderer([ref], [0], path, (W, H))
    for t in (N // 2, N - 1):
        got = plate.frame(t)
        truth = view(world, to0, path[t], (W, H))
        assert not (black(got) & ~black(truth)).any()
        # the fill continues the reference's colours: no foreign grey or black slab
        lo, hi = np.percentile(ref.reshape(-1, 3), [1, 99], axis=0)
        assert ((got >= lo - 2) & (got <= hi + 2)).all(axis=-1).mean() > 0.99


def test_mosaic_fills_from_the_other_reference(world):
    """The margin of reference 0's canvas, where only the last reference saw the world, is taken from it."""
    path, truth = world
    plate = PlateRenderer([truth[0], truth[N - 1]], [0, N - 1], path, (W, H))
    canvas = plate.canvases[0][..., :3]  # canvases are RGBA
    mx, my = plate.margin
    # the last frame sees the world to the right of frame 0: that strip of canvas 0 is the mosaic
    right = canvas[my + H // 4: my + 3 * H // 4, mx + W + 4: mx + W + mx // 2]
    world_img = textured_background(3 * W, 3 * H, seed=7)
    to0 = centred_crop(world_img.shape[1], world_img.shape[0], W, H)
    shifted = view(world_img, np.array([[1, 0, mx], [0, 1, my], [0, 0, 1.0]]) @ to0, np.eye(3),
                   (canvas.shape[1], canvas.shape[0]))
    want = shifted[my + H // 4: my + 3 * H // 4, mx + W + 4: mx + W + mx // 2]
    assert np.abs(right.astype(np.float32) - want).mean() < 8.0


def test_frame_small_is_a_downscaled_plate(world):
    path, truth = world
    plate = PlateRenderer([truth[0], truth[N - 1]], [0, N - 1], path, (W, H))
    small = plate.frame_small(10, 0.5)
    assert small.shape == (H // 2, W // 2, 3)
    full = plate.frame(10).astype(np.float32)
    down = full.reshape(H // 2, 2, W // 2, 2, 3).mean(axis=(1, 3))
    assert np.abs(small - down).mean() < 6.0


def test_without_reveal_fill_uncovered_areas_stay_black(world):
    path, truth = world
    plate = PlateRenderer([truth[0]], [0], path, (W, H), reveal_fill=False)
    assert black(plate.frame(N - 1)).mean() > 0.1


def test_bad_inputs_raise():
    ref = np.zeros((H, W, 3), np.uint8)
    path = np.repeat(np.eye(3)[None], 5, 0)
    with pytest.raises(ShotError):
        PlateRenderer([ref, ref], [3, 1], path, (W, H))
    with pytest.raises(ShotError):
        PlateRenderer([np.zeros((H + 1, W, 3), np.uint8)], [0], path, (W, H))


@pytest.mark.parametrize("shape", [(400, 100), (100, 400)])
def test_fit_cover_scales_and_centre_crops(shape):
    h, w = shape
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 2] = 255  # left half white: the crop keeps the centre, so the split stays centred
    img[: h // 2, :, 1] = 128
    out = fit_cover(img, (W, H))
    assert out.shape == (H, W, 3)
    if w > h:  # wide: scaled to the frame height, left/right cut evenly
        assert abs((out[H // 2, :, 0] > 127).sum() - W / 2) <= 1
    else:  # tall: scaled to the frame width, top/bottom cut evenly
        assert abs((out[:, W // 2, 1] > 64).sum() - H / 2) <= 1


def test_parallax_flow_lines_up_near_and_far_between_anchors():
    truth, path, band = two_layer_scene(25, 320, 192)
    n, h, w = truth.shape[:3]
    anchors = [0, n // 2, n - 1]
    refs = [truth[a] for a in anchors]
    flat = PlateRenderer(refs, anchors, path, (w, h))
    layered = PlateRenderer(refs, anchors, path, (w, h), parallax=True)
    assert layered.parallax.active and min(layered.parallax.residuals) > 10  # the near band moved 36 px more
    inner = (band, slice(48, w - 48))  # away from the borders the band enters from
    errs = {"flat": [], "layered": []}
    for t in range(n):
        for name, plate in (("flat", flat), ("layered", layered)):
            got = plate.frame(t)
            errs[name].append(np.abs(got[inner].astype(np.float32) - truth[t][inner]).mean())
        if t in anchors:  # at the anchors both are the reference
            assert np.abs(layered.frame(t).astype(int) - truth[t]).max() <= 1
    e_flat, e_layered = np.mean(errs["flat"]), np.mean(errs["layered"])
    print(f"near band, mean abs error: homography {e_flat:.2f}, parallax flow {e_layered:.2f}")
    assert e_layered < 0.5 * e_flat


def test_planar_scene_keeps_the_homography_path(world):
    path, truth = world
    anchors = [0, 14, N - 1]
    plate = PlateRenderer([truth[a] for a in anchors], anchors, path, (W, H), parallax=True)
    assert not plate.parallax.active and max(plate.parallax.residuals) < 0.75
    plain = PlateRenderer([truth[a] for a in anchors], anchors, path, (W, H))
    np.testing.assert_array_equal(plate.frame(7), plain.frame(7))


def test_a_wide_reference_fills_a_pan_with_its_own_sides():
    """A panorama cover-fitted to the frame loses its sides; when the camera pans onto them the plate shows the
    image's own pixels there (its surround), not the mirrored, blurred fill it made up before."""
    from paistudio.io.images import cover
    pano = textured_background(2 * W, H, seed=5)
    image, (x0, y0) = cover(pano, (W, H))
    assert (x0, y0) == (W // 2, 0) and image.shape == pano.shape  # the crop is the middle half
    ref = fit_cover(pano, (W, H))
    shift = 40  # the camera pans right: the background moves 40 px left by the last frame
    path = np.stack([np.array([[1, 0, -shift * t / (N - 1)], [0, 1, 0], [0, 0, 1]]) for t in range(N)])
    truth = pano[:, x0 + shift:x0 + shift + W]
    revealed = (slice(None), slice(W - shift + 2, W))  # the strip beyond the crop's right edge
    errors = {}
    for name, surrounds in (("surround", [(image, (x0, y0))]), ("fill", None)):
        got = PlateRenderer([ref], [0], path, (W, H), surrounds=surrounds).frame(N - 1)
        errors[name] = np.abs(got[revealed].astype(float) - truth[revealed]).mean()
    print(f"revealed strip, mean abs error: {errors}")
    assert errors["surround"] < 1.0 and errors["fill"] > 10 * errors["surround"], errors
    plate = PlateRenderer([ref], [0], path, (W, H), surrounds=[(image, (x0, y0))])
    assert np.array_equal(plate.frame(0), ref)  # at its anchor the plate is still exactly the reference


def test_filled_shares_measure_how_much_of_a_frame_no_reference_shows():
    """A pan of half a frame width: the last frame looks half past a frame-sized reference (exactly the grid's
    right half), not at all past a panorama whose sides were cut off, nor past a pair of references at both ends."""
    from paistudio.comp.path import simple_moves
    from paistudio.io.images import cover
    path = simple_moves(N, W, H, pan=0.5)
    ref = textured_background(W, H, seed=2)
    shares = PlateRenderer([ref], [0], path, (W, H)).filled_shares(grid=(20, 10))
    assert shares[0] == 0.0 and shares[-1] == 0.5 and np.all(np.diff(shares) >= 0)
    pano = textured_background(2 * W, H, seed=5)
    image, xy = cover(pano, (W, H))
    wide = PlateRenderer([fit_cover(pano, (W, H))], [0], path, (W, H), surrounds=[(image, xy)])
    assert wide.filled_shares(grid=(20, 10)).max() == 0.0
    pair = PlateRenderer([ref, ref], [0, N - 1], path, (W, H)).filled_shares(grid=(20, 10))  # coverage only
    assert pair.max() == 0.0  # each end sits at its own reference; between, the two together show it all


def test_magnifications_say_how_much_the_plate_scales_the_reference():
    from paistudio.comp.path import simple_moves
    ref = textured_background(W, H, seed=2)
    zoom = PlateRenderer([ref], [0], simple_moves(N, W, H, zoom=2.0), (W, H)).magnifications()
    assert zoom[0] == pytest.approx(1.0) and zoom[-1] == pytest.approx(2.0) and np.all(np.diff(zoom) > 0)
    pan = PlateRenderer([ref], [0], simple_moves(N, W, H, pan=0.5), (W, H)).magnifications()
    assert np.allclose(pan, 1.0)
