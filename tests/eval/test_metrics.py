"""Frame metrics against answers worked out by hand."""

import numpy as np
import pytest

from paistudio.errors import FormatError, InputError
from paistudio.eval.metrics import Lpips, edge_band, foreground_flicker, green_excess, mse, ssim
from tests.media import textured_background

H, W = 48, 64


def flat(value, h=H, w=W):
    return np.full((h, w, 3), value, np.uint8)


def box_mask(x0, y0, x1, y1, h=H, w=W):
    m = np.zeros((h, w), np.uint8)
    m[y0:y1, x0:x1] = 255
    return m


def test_mse_known_values_and_masks():
    a, b = flat(100), flat(100)
    assert mse(a, b) == 0.0
    b[:, : W // 2] = 151  # left half off by 51 codes = 0.2
    assert mse(a, b) == pytest.approx(0.5 * 0.2 ** 2, rel=1e-5)
    left, right = box_mask(0, 0, W // 2, H), box_mask(W // 2, 0, W, H)
    assert mse(a, b, left) == pytest.approx(0.04, rel=1e-5)  # e.g. the background
    assert mse(a, b, right) == 0.0  # e.g. the foreground
    assert np.isnan(mse(a, b, np.zeros((H, W), np.uint8)))  # nothing to measure is not 0


def test_ssim_identical_is_one_and_flat_images_follow_the_luminance_term():
    img = textured_background(W, H, seed=2)
    assert ssim(img, img) == pytest.approx(1.0, abs=1e-6)
    # flat images: no variance, so SSIM = (2ab + C1) / (a² + b² + C1)
    a, b = 0.5, 0.25
    expected = (2 * a * b + 1e-4) / (a * a + b * b + 1e-4)
    assert ssim(flat(round(a * 255)), flat(round(b * 255))) == pytest.approx(expected, abs=2e-3)


def test_ssim_falls_with_a_shift_and_masks_select_regions():
    img = textured_background(W * 2, H * 2, seed=4)[:H, :W]
    shifted = np.roll(img, 4, axis=1)
    assert ssim(img, shifted) < 0.9
    inverted = 255 - img
    assert ssim(img, inverted) < 0.1
    out = img.copy()
    out[:, W // 2:] = inverted[:, W // 2:]
    left = box_mask(0, 0, W // 2 - 6, H)  # 6 px away from the seam: the window (sigma 1.5) does not reach it
    assert ssim(out, img, left) == pytest.approx(1.0, abs=1e-4)
    assert ssim(out, img, box_mask(W // 2 + 6, 0, W, H)) < 0.1


def test_green_excess_in_the_edge_band():
    frame = flat(0)
    frame[...] = (10, 200, 50)
    mask = box_mask(16, 12, 48, 36)
    assert green_excess(frame, mask) == pytest.approx(150 / 255, abs=1e-6)
    frame[...] = (120, 120, 120)
    assert green_excess(frame, mask) == 0.0
    band = edge_band(mask, 4)
    assert band[24, 30] == 0 and band[12, 30] == 255 and band[0, 0] == 0  # outline only
    assert np.isnan(green_excess(frame, np.zeros((H, W), np.uint8)))


def _moving_square(n=6, step=2, gain=0):
    """A textured square moving right over a flat grey background; `gain` brightens it by that many codes per frame."""
    tex = textured_background(W, H, seed=9)
    frames, masks = [], []
    for t in range(n):
        f = flat(90)
        x0 = 8 + step * t
        f[12:36, x0:x0 + 24] = np.clip(tex[12:36, 8:32].astype(int) + gain * t, 0, 255)
        frames.append(f)
        masks.append(box_mask(x0, 12, x0 + 24, 36))
    return np.stack(frames), np.stack(masks)


def test_flicker_is_zero_for_steady_motion_and_tracks_brightness_jumps():
    gt, masks = _moving_square()
    assert foreground_flicker(gt, gt, masks) < 0.01  # motion alone is explained by the flow
    jumpy, _ = _moving_square(gain=6)
    jumpy_flicker = foreground_flicker(jumpy, gt, masks)
    assert jumpy_flicker == pytest.approx(6 / 255, abs=0.01)
    assert np.isnan(foreground_flicker(gt[:1], gt[:1], masks[:1]))
    with pytest.raises(FormatError):
        foreground_flicker(gt, gt[:3], masks)


def test_inputs_are_checked():
    with pytest.raises(FormatError, match="same size|differ in size"):
        mse(flat(0), flat(0, h=10))
    with pytest.raises(FormatError, match="RGB uint8"):
        ssim(flat(0).astype(np.float32), flat(0))
    with pytest.raises(FormatError, match="mask"):
        mse(flat(0), flat(0), np.zeros((3, 3), np.uint8))


def test_lpips_without_weights_is_unavailable_never_faked(tmp_path):
    lp = Lpips(None)
    assert not lp.available and "--lpips" in lp.reason
    assert np.isnan(lp(flat(0), flat(255)))
    with pytest.raises(InputError, match="do not exist"):
        Lpips(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    try:
        import torch
    except ImportError:
        assert not Lpips(junk).available  # no torch: unavailable, with the reason
        assert "torch" in Lpips(junk).reason
        return
    with pytest.raises(InputError, match="TorchScript"):
        Lpips(junk)

    class MeanAbs(torch.nn.Module):  # stands in for an exported LPIPS network: same signature, known answer
        def forward(self, a, b):
            return (a - b).abs().mean(dim=(1, 2, 3))

    model = tmp_path / "lpips.pt"
    torch.jit.trace(MeanAbs(), (torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4))).save(str(model))
    lp = Lpips(model)
    assert lp.available
    assert lp(flat(0), flat(255)) == pytest.approx(2.0)  # inputs reach the model scaled to [-1, 1]


def test_ssim_matches_the_formula_on_every_channel():
    """A direct numpy evaluation of Wang et al.'s formula (Gaussian sigma 1.5, reflected borders), per channel."""
    import cv2
    rng = np.random.default_rng(0)
    a = textured_background(W, H, seed=5)
    b = np.clip(a.astype(int) + rng.integers(-30, 30, a.shape), 0, 255).astype(np.uint8)
    b[..., 2] = 255 - b[..., 2]  # the third channel differs most: a per-channel slip would show
    x, y = a / 255.0, b / 255.0
    g = lambda z: cv2.GaussianBlur(z, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    mx, my = g(x), g(y)
    sxx, syy, sxy = g(x * x) - mx ** 2, g(y * y) - my ** 2, g(x * y) - mx * my
    ref = ((2 * mx * my + 1e-4) * (2 * sxy + 9e-4) / ((mx ** 2 + my ** 2 + 1e-4) * (sxx + syy + 9e-4))).mean()
    assert ssim(a, b) == pytest.approx(ref, abs=1e-4)
