"""Motion Consistency (the paper's Cine-Restore metric): does the output's background move like the target's?

Query points on a grid over the background of frame 0 are tracked through the output and through the
reference video (ground truth, or the original clip) with the same tracker. For every point and step t → t+1
where the point is visible in both videos at t and t+1 and the reference moves by at least `min_motion_px`,
the score is max(0, cos θ) between the two displacements (scale-invariant: direction only; an output that
does not move there scores 0). Motion Consistency is the mean over those point-steps, in [0, 1]: the
reference against itself scores 1, a static background ~0, the same motion at another speed 1, the opposite
motion 0. It is NaN when the reference never moves (nothing to compare).

The tracker is pluggable (`PointTracker`): OpenCV pyramidal Lucas-Kanade with a forward-backward check is the
default; a learned tracker such as CoTracker3 can be added with local weights behind the same method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

MIN_MOVING_OUTPUT_PX = 0.05  # output displacement below this counts as not moving (score 0)


@dataclass
class Tracks:
    points: np.ndarray  # [T, P, 2] float32 x, y per frame
    visible: np.ndarray  # [T, P] bool


class PointTracker(Protocol):
    def track(self, frames: np.ndarray, queries: np.ndarray, masks: np.ndarray | None = None) -> Tracks:
        """Follow `queries` [P, 2] (frame-0 positions) through RGB frames [T, H, W, 3]; masks [T, H, W] mark
        pixels (255) where a point must count as invisible (e.g. the foreground)."""
        ...


@dataclass
class KLTTracker:
    """Frame-to-frame pyramidal LK with a forward-backward check; a lost point stays lost."""

    win: int = 21  # LK window (px)
    levels: int = 3  # pyramid levels
    fb_max: float = 1.0  # forward-backward error (px) above which a point is lost

    def track(self, frames: np.ndarray, queries: np.ndarray, masks: np.ndarray | None = None) -> Tracks:
        t_count, h, w = frames.shape[:3]
        pts = np.zeros((t_count, len(queries), 2), np.float32)
        vis = np.zeros((t_count, len(queries)), bool)
        pts[0], vis[0] = queries, True
        if masks is not None:
            vis[0] &= _free(masks[0], queries)
        lk = dict(winSize=(self.win, self.win), maxLevel=self.levels,
                  criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
        prev = cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY)
        for t in range(1, t_count):
            cur = cv2.cvtColor(frames[t], cv2.COLOR_RGB2GRAY)
            alive = np.flatnonzero(vis[t - 1])
            if len(alive) == 0:
                break
            p0 = pts[t - 1, alive].reshape(-1, 1, 2)
            p1, st, _ = cv2.calcOpticalFlowPyrLK(prev, cur, p0, None, **lk)
            pb, stb, _ = cv2.calcOpticalFlowPyrLK(cur, prev, p1, None, **lk)
            p1 = p1.reshape(-1, 2)
            ok = (st.ravel() == 1) & (stb.ravel() == 1) & (np.linalg.norm((pb - p0).reshape(-1, 2), axis=1) < self.fb_max)
            ok &= (p1[:, 0] >= 0) & (p1[:, 0] <= w - 1) & (p1[:, 1] >= 0) & (p1[:, 1] <= h - 1)
            if masks is not None:
                ok &= _free(masks[t], p1)
            pts[t, alive] = p1
            vis[t, alive] = ok
            prev = cur
        return Tracks(pts, vis)


def _free(mask: np.ndarray, p: np.ndarray) -> np.ndarray:
    h, w = mask.shape
    x = np.clip(np.round(p[:, 0]).astype(int), 0, w - 1)
    y = np.clip(np.round(p[:, 1]).astype(int), 0, h - 1)
    return mask[y, x] == 0


def grid_queries(query_mask: np.ndarray, step: int = 16) -> np.ndarray:
    """Grid points `[P, 2]` (x, y) where `query_mask` is 255, `step` px apart, away from the border."""
    h, w = query_mask.shape
    ys, xs = np.mgrid[step // 2:h - step // 2:step, step // 2:w - step // 2:step]
    pts = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)
    return pts[query_mask[pts[:, 1].astype(int), pts[:, 0].astype(int)] > 0]


def background_tracks(frames: np.ndarray, query_mask: np.ndarray, grid_step: int = 16,
                      masks: np.ndarray | None = None, tracker: PointTracker | None = None) -> Tracks:
    return (tracker or KLTTracker()).track(frames, grid_queries(query_mask, grid_step), masks)


def motion_consistency(out: Tracks, ref: Tracks, min_motion_px: float = 0.5) -> float:
    """Mean max(0, cos θ) between output and reference displacements over jointly visible point-steps."""
    both = out.visible & ref.visible  # [T, P]
    valid = both[:-1] & both[1:]
    d_ref = np.diff(ref.points, axis=0)  # [T-1, P, 2]
    d_out = np.diff(out.points, axis=0)
    n_ref = np.linalg.norm(d_ref, axis=-1)
    n_out = np.linalg.norm(d_out, axis=-1)
    valid &= n_ref >= min_motion_px
    if not valid.any():
        return float("nan")
    cos = (d_ref * d_out).sum(-1) / np.maximum(n_ref * n_out, 1e-9)
    score = np.where(n_out >= MIN_MOVING_OUTPUT_PX, np.maximum(cos, 0.0), 0.0)
    return float(score[valid].mean())


def motion_consistency_videos(out_frames: np.ndarray, ref_frames: np.ndarray, query_mask: np.ndarray,
                              masks: np.ndarray | None = None, grid_step: int = 16,
                              tracker: PointTracker | None = None) -> float:
    """Track the same background grid in both videos and score them (see the module docstring)."""
    tracker = tracker or KLTTracker()
    queries = grid_queries(query_mask, grid_step)
    return motion_consistency(tracker.track(out_frames, queries, masks), tracker.track(ref_frames, queries, masks))
