"""Motion Consistency on synthetic videos with analytic answers."""

import numpy as np
import pytest

from paistudio.eval.motion import KLTTracker, grid_queries, motion_consistency, motion_consistency_videos
from tests.media import camera_path, centred_crop, textured_background, view

W, H, N = 160, 96, 12


def _video(pan=0.0, zoom=1.0, seed=0):
    world = textured_background(W * 2, H * 2, seed=seed)
    to0 = centred_crop(world.shape[1], world.shape[0], W, H)
    path = camera_path(N, W, H, pan=pan, zoom=zoom)
    return np.stack([view(world, to0, path[t], (W, H)) for t in range(N)])


@pytest.fixture(scope="module")
def moving():
    return _video(pan=0.25)


def _query():
    return np.full((H, W), 255, np.uint8)


def test_identical_videos_score_one(moving):
    assert motion_consistency_videos(moving, moving, _query()) >= 0.99


def test_static_output_scores_near_zero(moving):
    still = np.repeat(moving[:1], N, axis=0)
    assert motion_consistency_videos(still, moving, _query()) <= 0.05


def test_same_direction_other_speed_scores_one():
    fast, slow = _video(pan=0.25), _video(pan=0.12)
    assert motion_consistency_videos(slow, fast, _query()) >= 0.95


def test_flipped_motion_scores_near_zero(moving):
    flipped = _video(pan=-0.25)
    assert motion_consistency_videos(flipped, moving, _query()) <= 0.05


def test_known_shift_is_tracked_precisely():
    img = textured_background(W, H, seed=3)
    shifted = np.roll(img, 3, axis=1)
    frames = np.stack([img, shifted])
    q = grid_queries(_query(), 16)
    tr = KLTTracker().track(frames, q)
    inner = (q[:, 0] > 8) & (q[:, 0] < W - 8)
    d = tr.points[1, inner & tr.visible[1]] - tr.points[0, inner & tr.visible[1]]
    assert np.abs(np.median(d[:, 0]) - 3.0) < 0.2 and np.abs(np.median(d[:, 1])) < 0.2


def test_static_reference_is_nan_and_masks_hide_points(moving):
    still = np.repeat(moving[:1], N, axis=0)
    assert np.isnan(motion_consistency_videos(moving, still, _query()))
    masks = np.zeros((N, H, W), np.uint8)
    masks[:, :, : W // 2] = 255
    tr = KLTTracker().track(moving, grid_queries(_query(), 16), masks)
    assert not tr.visible[0][tr.points[0, :, 0] < W // 2].any()
    assert motion_consistency(tr, tr) >= 0.99
