"""Motion Consistency and the KLT background tracker on synthetic videos with analytic answers."""

import cv2
import numpy as np
import pytest

from paistudio.eval.motion import (KLTTracker, PointTracker, Tracks, background_tracks, grid_queries,
                                   motion_consistency, motion_consistency_videos)
from tests.media import camera_path, centred_crop, textured_background, view

W, H, N = 160, 96, 12


def _video(pan=0.0, zoom=1.0, seed=0):
    world = textured_background(W * 2, H * 2, seed=seed)
    to0 = centred_crop(world.shape[1], world.shape[0], W, H)
    path = camera_path(N, W, H, pan=pan, zoom=zoom)
    return np.stack([view(world, to0, path[t], (W, H)) for t in range(N)]), path


@pytest.fixture(scope="module")
def moving():
    return _video(pan=0.25)[0]


def _query():
    return np.full((H, W), 255, np.uint8)


def test_identical_videos_score_one(moving):
    assert motion_consistency_videos(moving, moving, _query()) >= 0.99  # measured 1.000


def test_static_output_scores_near_zero(moving):
    still = np.repeat(moving[:1], N, axis=0)
    assert motion_consistency_videos(still, moving, _query()) <= 0.05  # measured 0.000


def test_same_direction_other_speed_scores_one(moving):
    slow = _video(pan=0.12)[0]
    assert motion_consistency_videos(slow, moving, _query()) >= 0.95  # measured 0.9999


def test_flipped_motion_scores_near_zero(moving):
    flipped = _video(pan=-0.25)[0]
    assert motion_consistency_videos(flipped, moving, _query()) <= 0.05  # measured 0.000


def test_zoom_against_pan_scores_in_between(moving):
    zoom = _video(zoom=1.3)[0]
    assert motion_consistency_videos(zoom, zoom, _query()) >= 0.99
    assert 0.1 < motion_consistency_videos(zoom, moving, _query()) < 0.7  # measured 0.37: half the points agree


def test_known_shift_is_tracked_precisely():
    img = textured_background(W, H, seed=3)
    q = grid_queries(_query(), 16)
    inner = (q[:, 0] > 8) & (q[:, 0] < W - 8)
    for shifted, dx in ((np.roll(img, 3, axis=1), 3.0),
                        (cv2.warpAffine(img, np.float32([[1, 0, 0.5], [0, 1, 0]]), (W, H), borderMode=cv2.BORDER_REFLECT), 0.5)):
        tr = KLTTracker().track(np.stack([img, shifted]), q)
        ok = inner & tr.visible[1]
        d = tr.points[1, ok] - tr.points[0, ok]
        assert ok.mean() > 0.8
        assert abs(np.median(d[:, 0]) - dx) < 0.2 and abs(np.median(d[:, 1])) < 0.2, (dx, np.median(d, 0))


def test_tracks_follow_the_true_camera_and_lost_points_stay_lost():
    frames, path = _video(pan=0.25)
    q = grid_queries(_query(), 16)
    tr = background_tracks(frames, _query(), 16)
    true = np.einsum("tij,pj->tpi", path, np.c_[q, np.ones(len(q))])
    true = true[..., :2] / true[..., 2:]  # [T, P, 2] where each query really is
    err = np.linalg.norm(tr.points - true, axis=-1)[tr.visible]
    assert np.median(err) < 0.1 and np.percentile(err, 90) < 0.5, (np.median(err), np.percentile(err, 90))  # ~0.02 / 0.13
    left = (true[..., 0] < 0).any(axis=0)  # queries whose scene point leaves the frame on the left
    assert left.any() and not tr.visible[-1, left].any()
    assert not (tr.visible[1:] & ~tr.visible[:-1]).any()  # never visible again after being lost


def test_static_reference_is_nan_and_masks_hide_points(moving):
    still = np.repeat(moving[:1], N, axis=0)
    assert np.isnan(motion_consistency_videos(moving, still, _query()))
    masks = np.zeros((N, H, W), np.uint8)
    masks[:, :, : W // 2] = 255
    tr = KLTTracker().track(moving, grid_queries(_query(), 16), masks)
    assert not tr.visible[0][tr.points[0, :, 0] < W // 2].any()
    assert motion_consistency(tr, tr) >= 0.99


def test_tracker_is_pluggable_and_inputs_are_checked(moving):
    class Frozen:  # a stand-in backend: every point stays where it started
        def track(self, frames, queries, masks=None):
            t = len(frames)
            return Tracks(np.repeat(queries[None], t, 0), np.ones((t, len(queries)), bool))

    assert isinstance(KLTTracker(), PointTracker) and isinstance(Frozen(), PointTracker)
    assert np.isnan(motion_consistency_videos(moving, moving, _query(), tracker=Frozen()))  # its reference never moves
    a = background_tracks(moving, _query(), 16)
    b = background_tracks(moving[:-1], _query(), 16)
    with pytest.raises(ValueError, match="same query points"):
        motion_consistency(a, b)
    with pytest.raises(ValueError, match="query_mask"):
        background_tracks(moving, _query()[:-1], 16)
