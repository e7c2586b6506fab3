"""Restore cases on a synthetic clip folder with a known camera and background."""

import numpy as np
import pytest

from paistudio.errors import InputError
from paistudio.eval.restore import clean_reference, estimate_clip_camera, green_screen, load_clip
from tests.media import camera_path, centred_crop, figure, textured_background, view, write_sequence

W, H, N = 240, 144, 24


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("clip")
    world = textured_background(W * 2, H * 2, seed=11)
    to0 = centred_crop(world.shape[1], world.shape[0], W, H)
    path = camera_path(N, W, H, pan=0.2, zoom=1.05)
    bgs = np.stack([view(world, to0, path[t], (W, H)) for t in range(N)])
    frames, masks = [], []
    for t in range(N):
        fg, a = figure(W, H, t / (N - 1), soft=0)
        frames.append(np.where(a[..., None] > 0.5, fg, bgs[t]))
        masks.append(np.repeat(np.where(a > 0.5, 255, 0).astype(np.uint8)[..., None], 3, -1))
    write_sequence(d / "frames", frames, "png")
    write_sequence(d / "masks", masks, "png")
    return d, path, bgs


def _corner_error(a, b):
    c = np.array([[0, 0, 1], [W - 1, 0, 1], [0, H - 1, 1], [W - 1, H - 1, 1]], float).T
    pa, pb = a @ c, b @ c
    return np.abs(pa[:2] / pa[2] - pb[:2] / pb[2]).mean()


def test_camera_estimate_matches_truth(clip_folder):
    d, path, _ = clip_folder
    est = estimate_clip_camera(load_clip(d))
    err = np.mean([_corner_error(est[t], path[t]) for t in range(N)])
    assert err < 2.0, err


def test_clean_reference_recovers_hidden_background(clip_folder):
    d, path, bgs = clip_folder
    clip = load_clip(d)
    ref = clean_reference(clip, path, N // 2)
    hidden = clip.masks[N // 2] > 0
    err = np.abs(ref.astype(float) - bgs[N // 2].astype(float)).mean(-1)[hidden].mean()
    assert err < 12.0, err  # measured ≈ 6 (bilinear warps of a noisy texture)
    assert np.abs(ref.astype(float) - clip.frames[N // 2].astype(float)).mean(-1)[hidden].mean() > 3 * err


def test_green_screen_markers_move_with_the_camera(clip_folder):
    d, path, _ = clip_folder
    clip = load_clip(d)
    frames, alpha = green_screen(clip, path, "markers", seed=2)
    assert frames.shape == clip.frames.shape and alpha.shape == clip.masks.shape
    assert np.abs(alpha - clip.masks / 255).mean() < 0.05
    from paistudio.eval.motion import motion_consistency_videos
    query = np.where(clip.masks[0] > 0, 0, 255).astype(np.uint8)
    mc = motion_consistency_videos(frames, clip.frames, query, masks=clip.masks)
    assert mc > 0.9, mc
    flat, _ = green_screen(clip, path, "flat", seed=2)
    bg = alpha[0] == 0
    assert flat[0][bg].std(axis=0).max() < 8  # flat: no texture to track


def test_bad_clip_folders(tmp_path):
    with pytest.raises(InputError, match="frames/"):
        load_clip(tmp_path)
    write_sequence(tmp_path / "frames", [np.zeros((8, 8, 3), np.uint8)] * 2)
    with pytest.raises(InputError, match="no mask"):
        load_clip(tmp_path)
