import math

import cv2
import numpy as np
import pytest

from paistudio.comp.colour import SRGB_TO_LINEAR, to_srgb
from paistudio.comp.edges import (
    EdgeSettings,
    edge_softness,
    grain_level,
    harmonize_edges,
    light_wrap,
    match_edge_blur,
    match_grain,
    refine_alpha,
    soften_edges,
)
from paistudio.errors import FormatError, InputError
from tests.media import composite_linear


def _subject(w=320, h=240, soft=0.7):
    """Head and torso, anti-aliased at 4x and blurred by `soft` px: the true alpha, float32 in [0, 1]."""
    s = 4
    m = np.zeros((h * s, w * s), np.uint8)
    cv2.circle(m, (w * s // 2, int(h * s * 0.32)), int(h * s * 0.16), 255, -1, cv2.LINE_AA)
    cv2.ellipse(m, (w * s // 2, int(h * s * 0.72)), (int(w * s * 0.2), int(h * s * 0.25)), 15, 0, 360, 255, -1,
                cv2.LINE_AA)
    a = cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    return cv2.GaussianBlur(a, (0, 0), soft) if soft else a


def _code(a):
    return np.clip(np.round(a * 255), 0, 255).astype(np.uint8)


def _shapes(w=320, h=240, seed=0, n=30):
    """A plate of sharp anti-aliased shapes on grey, no noise (known blur: none)."""
    rng = np.random.default_rng(seed)
    s = 4
    img = np.full((h * s, w * s, 3), 128, np.uint8)
    for _ in range(n):
        c = tuple(int(v) for v in rng.integers(0, 255, 3))
        x, y, r = int(rng.integers(0, w * s)), int(rng.integers(0, h * s)), int(rng.integers(30, 160))
        if rng.random() < 0.5:
            cv2.circle(img, (x, y), r, c, -1)
        else:
            box = ((x, y), (2 * r, r), float(rng.uniform(0, 180)))
            cv2.fillPoly(img, [cv2.boxPoints(box).astype(np.int32)], c)
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


def _chess_distance(mask):
    """Chessboard distance (px) of every pixel to the nearest nonzero pixel of `mask`."""
    return cv2.distanceTransform(cv2.bitwise_not(mask), cv2.DIST_C, 3)


def _transitions(a):
    """uint8 mask of the pixels of a matte that are semi-transparent or touch a differently-valued pixel."""
    k = np.ones((3, 3), np.uint8)
    return cv2.inRange(cv2.dilate(a, k) - cv2.erode(a, k), 1, 255) | cv2.inRange(a, 1, 254)


# --- refine_alpha -------------------------------------------------------------------------------------------------

def test_refine_alpha_follows_the_image_edge_of_a_blocky_matte():
    h, w = 240, 320
    true = _subject(w, h)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    fg = np.clip(np.stack([205 + 10 * np.sin(xx / 9), 190 + 10 * np.cos(yy / 7), 170 + 0 * xx], -1), 0, 255)
    bg = np.clip(np.stack([60 + 25 * np.sin(xx / 23 + yy / 31), 80 + 0 * xx, 70 + 20 * np.cos(yy / 17)], -1), 0, 255)
    frame = composite_linear(fg.astype(np.uint8), true, bg.astype(np.uint8))
    low = cv2.resize(true, (w // 8, h // 8), interpolation=cv2.INTER_AREA)  # a matte found at 1/8 size …
    blocky = cv2.resize(_code(low > 0.5), (w, h), interpolation=cv2.INTER_NEAREST)  # … upscaled: 8 px steps
    out = refine_alpha(frame, blocky)
    band = cv2.dilate(cv2.inRange(_code(true), 3, 252) | cv2.inRange(cv2.absdiff(blocky, _code(true)), 3, 255),
                      np.ones((3, 3), np.uint8)) > 0
    err_blocky = np.abs(blocky / 255.0 - true)[band].mean()
    err_out = np.abs(out / 255.0 - true)[band].mean()
    assert err_blocky > 0.25  # measured 0.29
    assert err_out < 0.6 * err_blocky  # measured 0.136: 53 % lower
    # nothing changes farther from the matte's steps than the filter reaches (3 cells of 4 px, plus a cell)
    changed = out != blocky
    assert changed.sum() > 2000
    far = _chess_distance(_transitions(blocky)) > 16  # (measured: no change beyond 9 px)
    np.testing.assert_array_equal(out[far], blocky[far])
    assert (out[far & (blocky == 255)] == 255).all() and (out[far & (blocky == 0)] == 0).all()
    assert out.dtype == np.uint8 and out.shape == blocky.shape


def test_refine_alpha_keeps_a_thin_strand_the_frame_shows():
    """A 2 px dark strand at alpha 0.6 on a bright background: a guided filter keeps it where a blur erodes it."""
    h, w = 160, 200
    true = np.zeros((h, w), np.float32)
    true[60:160, 40:120] = 1.0  # the body
    true[20:150, 150:152] = 0.6  # a strand of hair, away from the body
    fg = np.full((h, w, 3), 40, np.uint8)
    bg = np.full((h, w, 3), 230, np.uint8)
    frame = composite_linear(fg, true, bg)
    alpha = _code(true)
    out = refine_alpha(frame, alpha)
    strand = (slice(30, 140), slice(150, 152))
    kept = out[strand].astype(float).mean() / alpha[strand].astype(float).mean()
    blurred = cv2.blur(alpha.astype(np.float32), (13, 13))[strand].mean() / alpha[strand].astype(float).mean()
    assert kept > 0.82  # measured 0.86 (0.86 … 0.92 as the strand moves across the 4 px cells)
    assert blurred < 0.25  # what a 12 px blur (the filter's windows) would leave
    assert np.abs(out[strand[0], 145:157].astype(int) - alpha[strand[0], 145:157]).max() <= 40  # no halo


def test_refine_alpha_returns_the_matte_itself_without_transitions():
    frame = np.full((40, 50, 3), 90, np.uint8)
    for a in (np.zeros((40, 50), np.uint8), np.full((40, 50), 255, np.uint8)):
        assert refine_alpha(frame, a) is a
    with pytest.raises(InputError):
        refine_alpha(frame, np.zeros((40, 50), np.uint8), radius=0)
    with pytest.raises(FormatError):
        refine_alpha(frame, np.zeros((41, 50), np.uint8))


# --- light_wrap ---------------------------------------------------------------------------------------------------

def _grey_on_red(w=320, h=240):
    alpha = _code(_subject(w, h, soft=0.0))
    fg = np.full((h, w, 3), 128, np.uint8)
    plate = np.zeros((h, w, 3), np.uint8)
    plate[..., 0] = 255
    return fg, alpha, plate


def test_light_wrap_brings_red_plate_light_onto_the_rim_only():
    fg, alpha, plate = _grey_on_red()
    out = light_wrap(fg, alpha, plate, width_px=6.0, strength=0.35)
    depth = cv2.distanceTransform(cv2.inRange(alpha, 255, 255), cv2.DIST_L2, 5)  # px inside the opaque part
    gain = out[..., 0].astype(int) - fg[..., 0]
    f = SRGB_TO_LINEAR[128]
    for d in (1, 2, 4):  # F' = F + 0.35·w·L·(1 − F), L = 1 (pure red), w = min(1, 2·Φ(−d / (W/2)))
        w = min(1.0, math.erfc(d / 3.0 / math.sqrt(2)))
        expected = int(to_srgb(np.array([f + 0.35 * w * (1 - f)], np.float32))[0])  # 173, 160, 140
        ring = (depth > d - 0.5) & (depth <= d + 0.5)
        assert abs(np.median(out[..., 0][ring]) - expected) <= 6  # measured 170, 156, 139
    assert (gain >= 0).all()  # screen only brightens
    np.testing.assert_array_equal(out[..., 1:], fg[..., 1:])  # the plate has no green or blue light
    deep = depth > 18  # 3 · width_px
    np.testing.assert_array_equal(out[deep], fg[deep])
    assert (gain[depth > 12] == 0).all()  # in fact nothing past 1.5·W + a cell (measured: 8.6 px)
    np.testing.assert_array_equal(out[alpha == 0], fg[alpha == 0])


def test_light_wrap_is_an_exact_identity_at_strength_zero_or_without_background():
    fg, alpha, plate = _grey_on_red()
    assert light_wrap(fg, alpha, plate, strength=0.0) is fg
    solid = np.full_like(alpha, 255)
    assert light_wrap(fg, solid, plate) is fg
    with pytest.raises(FormatError):
        light_wrap(fg, alpha, plate[:, :-1])
    with pytest.raises(InputError):
        light_wrap(fg, alpha, plate, strength=1.5)


def test_light_wrap_excludes_the_plate_behind_the_subject():
    """Plate light comes from where the plate shows: a bright patch hidden behind the subject adds nothing."""
    fg, alpha, plate = _grey_on_red()
    plate[:] = 0
    hidden = cv2.erode(cv2.inRange(alpha, 255, 255), np.ones((41, 41), np.uint8)) > 0  # ≥ 20 px inside
    plate[hidden] = 255
    out = light_wrap(fg, alpha, plate, width_px=6.0, strength=1.0)
    assert np.abs(out.astype(int) - fg).max() <= 1


# --- grain --------------------------------------------------------------------------------------------------------

def _ramp(h=240, w=320):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([60 + 0.3 * xx, 90 + 0.2 * yy, 120 + 0.1 * (xx + yy)], -1)


def _noisy(img, sigma, seed):
    return np.clip(np.round(img + np.random.default_rng(seed).normal(0, sigma, img.shape)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("sigma", [2.0, 6.0])
def test_grain_level_measures_the_noise_sigma(sigma):
    img = _noisy(_ramp() + 30 * (_shapes()[..., :1] > 128), sigma, 1)  # edges must not count
    assert abs(grain_level(img) - sigma) < 0.12 * sigma  # measured 2.16, 6.20 (the shapes' edges add a little)
    assert grain_level(_noisy(_ramp(), 0, 0)) < 0.5  # clean: only 8-bit rounding


def test_match_grain_brings_a_clean_subject_to_the_plates_grain():
    alpha = _code(_subject())
    fg = _noisy(_ramp(), 0, 0)
    plate = _noisy(_ramp(), 6.0, 2)
    out = match_grain(fg, alpha, plate, seed=7)
    solid = cv2.inRange(alpha, 255, 255)
    assert grain_level(fg, solid) < 0.5
    assert abs(grain_level(out, solid) - 6.0) < 0.2 * 6.0  # measured 5.9
    diff = out.astype(int) - fg
    assert abs(diff[alpha == 255].mean()) < 0.3  # zero-mean
    np.testing.assert_array_equal(out[alpha == 0], fg[alpha == 0])
    np.testing.assert_array_equal(match_grain(fg, alpha, plate, seed=7), out)  # reproducible …
    assert not np.array_equal(match_grain(fg, alpha, plate, seed=8), out)  # … and new per frame


def test_match_grain_changes_nothing_when_the_plate_is_not_noisier():
    alpha = _code(_subject())
    clean = _noisy(_ramp(), 0, 0)
    assert match_grain(clean, alpha, _noisy(_ramp(), 0, 3), seed=1) is clean
    grainy = _noisy(_ramp(), 3.0, 4)
    assert match_grain(grainy, alpha, _noisy(_ramp(), 3.0, 5), seed=1) is grainy  # equally noisy
    assert match_grain(grainy, alpha, clean, seed=1) is grainy  # cleaner plate: no denoising
    assert match_grain(clean, np.zeros_like(alpha), _noisy(_ramp(), 6.0, 2), seed=1) is clean


# --- edge blur ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("noise", [0.0, 3.0])
def test_edge_softness_estimates_the_plates_blur(noise):
    plate = _shapes(480, 360, seed=3)
    est = {s: edge_softness(_noisy((plate if s == 0 else cv2.GaussianBlur(plate, (0, 0), s)).astype(np.float32),
                                   noise, 9)) for s in (0.0, 1.5, 3.0)}
    assert est[0.0] < 0.5  # measured 0.16 (clean), 0.17 (noise σ 3)
    assert abs(est[1.5] - 1.5) < 0.2  # measured 1.51, 1.50
    assert abs(est[3.0] - 3.0) < 0.3  # measured 3.01, 2.93 (without the noise correction: 1.56)
    assert edge_softness(np.full((64, 64), 100, np.uint8)) == 0.0  # no edges: nothing to match


def _semi_count(a):
    return int(cv2.countNonZero(cv2.inRange(a, 8, 247)))


def test_match_edge_blur_softens_the_matte_over_a_blurred_plate():
    h, w = 240, 320
    alpha = _code(_subject(w, h, soft=0.0))
    fg = np.zeros((h, w, 3), np.uint8)
    fg[alpha > 0] = (200, 120, 90)  # the subject's colour on its matte …
    fg[alpha == 0] = (0, 255, 0)  # … and screen green outside it
    plate = cv2.GaussianBlur(_shapes(w, h, seed=5), (0, 0), 3.0)
    out_fg, out_a = match_edge_blur(fg, alpha, plate)
    assert _semi_count(out_a) > 2.5 * _semi_count(alpha)  # the edge band widens
    assert abs(edge_softness(out_a) - 3.0) < 0.4  # to the plate's blur (plate measured 2.89, matte after 3.02)
    far = _chess_distance(_transitions(alpha)) > 12  # 3σ plus a 2 px cell and the bilinear cell
    np.testing.assert_array_equal(out_a[far], alpha[far])
    fresh = (alpha == 0) & (out_a > 0)
    assert fresh.sum() > 500
    # the newly covered pixels show the subject's colour, not the screen's (measured: exactly (200, 120, 90))
    assert np.abs(out_fg[fresh].astype(int) - (200, 120, 90)).max() <= 2
    untouched = ~fresh
    np.testing.assert_array_equal(out_fg[untouched], fg[untouched])


def test_match_edge_blur_leaves_a_sharp_plate_alone():
    alpha = _code(_subject())
    fg = np.full(alpha.shape + (3,), 150, np.uint8)
    plate = _shapes(seed=6)
    out_fg, out_a = match_edge_blur(fg, alpha, plate)
    assert out_fg is fg and out_a is alpha
    assert match_edge_blur(fg, alpha, plate, plate_sigma=0.5)[1] is alpha


def test_soften_edges_blurs_only_near_transitions():
    alpha = _code(_subject(soft=0.0))
    out = soften_edges(alpha, 2.0)
    assert abs(edge_softness(out) - 2.0) < 0.3  # measured 2.09
    far = _chess_distance(_transitions(alpha)) > 10
    np.testing.assert_array_equal(out[far], alpha[far])
    assert soften_edges(alpha, 0.0) is alpha


# --- harmonize_edges ----------------------------------------------------------------------------------------------

def test_harmonize_edges_is_a_no_op_when_all_off_and_chains_the_stages():
    alpha = _code(_subject(soft=0.0))
    fg = _noisy(_ramp(), 0, 0)
    plate = _noisy(cv2.GaussianBlur(_shapes(seed=2), (0, 0), 3.0).astype(np.float32), 5.0, 1)
    f, a = harmonize_edges(fg, alpha, plate, EdgeSettings(), seed=0)
    assert f is fg and a is alpha
    on = EdgeSettings(refine=True, light_wrap=0.3, grain=True, edge_blur=True)
    f, a = harmonize_edges(fg, alpha, plate, on, seed=3)
    assert f.shape == fg.shape and a.shape == alpha.shape and f.dtype == a.dtype == np.uint8
    assert _semi_count(a) > 2 * _semi_count(alpha)  # softened to the blurred plate
    assert grain_level(f, cv2.inRange(a, 255, 255)) > 3.5  # grain added (the plate has ~5)
    np.testing.assert_array_equal(harmonize_edges(fg, alpha, plate, on, seed=3)[0], f)
    with pytest.raises(FormatError):
        harmonize_edges(fg, alpha, plate[:-1], on, seed=3)
    with pytest.raises(FormatError):
        harmonize_edges(fg, alpha[:, :-1], plate, on, seed=3)
    with pytest.raises(InputError):
        EdgeSettings(light_wrap=-0.1)


def test_stages_take_odd_sized_views_whose_matte_touches_the_border():
    """The engine passes crops: views of larger frames, any size, the matte cut by the crop's edge (partial cells)."""
    big_a = _code(_subject(330, 250, soft=1.0))
    big_fg = _noisy(_ramp(250, 330), 0, 0)
    big_plate = _noisy(cv2.GaussianBlur(_shapes(330, 250, seed=4), (0, 0), 3.0).astype(np.float32), 4.0, 2)
    box = (slice(37, 37 + 181), slice(101, 101 + 123))  # 181 x 123: the subject runs off the bottom and right
    fg, alpha, plate = big_fg[box], big_a[box], big_plate[box]
    assert alpha[-1].any() and alpha[:, -1].any() and not fg.flags.c_contiguous
    copies = [np.ascontiguousarray(v) for v in (fg, alpha, plate)]
    far = _chess_distance(_transitions(copies[1])) > 20
    for run in (lambda f, a, p: (f, refine_alpha(f, a)), lambda f, a, p: (light_wrap(f, a, p, 5.0, 0.5), a),
                lambda f, a, p: match_edge_blur(f, a, p), lambda f, a, p: (match_grain(f, a, p, 3), a)):
        out_f, out_a = run(fg, alpha, plate)
        ref_f, ref_a = run(*copies)
        np.testing.assert_array_equal(out_f, ref_f)
        np.testing.assert_array_equal(out_a, ref_a)
        assert out_f.shape == fg.shape and out_a.shape == alpha.shape
        np.testing.assert_array_equal(out_a[far], copies[1][far])
    assert not np.array_equal(match_edge_blur(fg, alpha, plate)[1], alpha)  # it did soften, up to the edge
    wrapped = light_wrap(fg, alpha, plate, 5.0, 0.5)
    assert (wrapped[-1] != fg[-1]).any()  # the rim on the crop's last row is lit too


def test_refine_alpha_never_opens_the_interior_of_a_textured_subject():
    from paistudio.comp.edges import REFINE_REACH_PX, refine_alpha
    rng = np.random.default_rng(4)
    frame = rng.integers(0, 256, (80, 120, 3), dtype=np.uint8)  # busy texture everywhere: the guide varies a lot
    alpha = np.zeros((80, 120), np.uint8)
    alpha[20:60, 30:90] = 255
    alpha[19, 30:90] = alpha[60, 30:90] = 128  # a soft rim
    out = refine_alpha(frame, alpha)
    d = REFINE_REACH_PX + 1
    inner = (slice(20 + d, 60 - d), slice(30 + d, 90 - d))
    np.testing.assert_array_equal(out[inner], 255)  # deeper than the reach: untouched
    far = np.ones_like(alpha, bool)
    far[19 - d:61 + d, 30 - d:90 + d] = False
    np.testing.assert_array_equal(out[far], 0)
    assert (out != alpha).any()  # near the rim the filter did work
