"""Motion Consistency (the paper's Cine-Restore metric): does the output's background move like the target's?

Query points on a grid over the background of frame 0 (`query_mask` 255, i.e. outside the dilated
foreground) are tracked through the output and through the reference video (ground truth, or the original
clip) with the same tracker, so point p is the same scene point in both. Definition:

    d_out[t, p] = out.points[t+1, p] - out.points[t, p]      (and d_ref likewise, per step t -> t+1)
    valid[t, p] = visible in both videos at t and at t+1, and |d_ref[t, p]| >= min_motion_px
    s[t, p]     = max(0, cos angle(d_out, d_ref))  if |d_out[t, p]| >= MIN_MOVING_OUTPUT_PX  else 0
    Motion Consistency = mean of s over valid (t, p), in [0, 1]

It compares directions only (scale-invariant: the same motion at another speed scores 1); a static output
scores 0 wherever the reference moves; the opposite motion scores 0; the reference against itself scores 1.
It is NaN when no point-step is valid: the reference never moves (nothing to compare), or no point survives
in the output (e.g. a featureless plain backing) — callers report it as "no measurement", not as 0 or 1.

The tracker is pluggable (`PointTracker`): OpenCV pyramidal Lucas-Kanade with a forward-backward check
(`KLTTracker`) is the default. A learned tracker such as CoTracker3 (local weights) can be added as another
class with the same `track` method and passed as `tracker=`; none is implemented here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

MIN_MOVING_OUTPUT_PX = 0.05  # output displacement below this counts as "not moving" (similarity 0)


@dataclass
class Tracks:
    """Point tracks of one video."""

    points: np.ndarray  # [T, P, 2] float32 (x, y) per frame; meaningless where not visible
    visible: np.ndarray  # [T, P] bool; once a point is lost it stays invisible


@runtime_checkable
class PointTracker(Protocol):
    """The seam for tracking backends (KLT here; e.g. CoTracker3 with local weights later)."""

    def track(self, frames: np.ndarray, queries: np.ndarray, masks: np.ndarray | None = None) -> Tracks:
        """Follow `queries` [P, 2] (x, y at frame 0) through RGB uint8 frames [T, H, W, 3].

        `masks` [T, H, W] uint8 (optional) marks with 255 the pixels where a point must count as invisible
        (the foreground); points that leave the frame are invisible too.
        """
        ...


@dataclass
class KLTTracker:
    """Frame-to-frame pyramidal Lucas-Kanade with a forward-backward check; a lost point stays lost."""

    win: int = 21  # LK window side (px): large enough for textured backgrounds, small enough to stay local
    levels: int = 3  # pyramid levels: follows motions up to ~2**levels * win / 2 px per frame
    fb_max: float = 1.0  # forward-backward error (px) above which a point is declared lost (occlusion, drift)

    def track(self, frames: np.ndarray, queries: np.ndarray, masks: np.ndarray | None = None) -> Tracks:
        _check_video(frames, masks)
        t_count, h, w = frames.shape[:3]
        queries = np.asarray(queries, np.float32).reshape(-1, 2)
        pts = np.zeros((t_count, len(queries), 2), np.float32)  # [T, P, 2]
        vis = np.zeros((t_count, len(queries)), bool)  # [T, P]
        pts[0] = queries
        vis[0] = _inside(queries, w, h)
        if masks is not None:
            vis[0] &= _free(masks[0], queries)
        lk = dict(winSize=(self.win, self.win), maxLevel=self.levels,
                  criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
        prev = cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY)
        for t in range(1, t_count):
            cur = cv2.cvtColor(frames[t], cv2.COLOR_RGB2GRAY)
            alive = np.flatnonzero(vis[t - 1])  # [A] points still tracked
            if len(alive) == 0:
                break
            p0 = pts[t - 1, alive].reshape(-1, 1, 2)  # [A, 1, 2]
            p1, st, _ = cv2.calcOpticalFlowPyrLK(prev, cur, p0, None, **lk)  # forward
            pb, stb, _ = cv2.calcOpticalFlowPyrLK(cur, prev, p1, None, **lk)  # and back
            p1 = p1.reshape(-1, 2)  # [A, 2]
            fb = np.linalg.norm((pb - p0).reshape(-1, 2), axis=1)  # [A] round-trip error
            ok = (st.ravel() == 1) & (stb.ravel() == 1) & (fb < self.fb_max) & _inside(p1, w, h)
            if masks is not None:
                ok &= _free(masks[t], p1)
            pts[t, alive] = p1
            vis[t, alive] = ok
            prev = cur
        return Tracks(pts, vis)


def _check_video(frames: np.ndarray, masks: np.ndarray | None) -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be RGB uint8 [T, H, W, 3], got {frames.dtype} {frames.shape}")
    if masks is not None and masks.shape != frames.shape[:3]:
        raise ValueError(f"masks must be [T, H, W] = {frames.shape[:3]}, got {masks.shape}")


def _inside(p: np.ndarray, w: int, h: int) -> np.ndarray:
    return (p[:, 0] >= 0) & (p[:, 0] <= w - 1) & (p[:, 1] >= 0) & (p[:, 1] <= h - 1)


def _free(mask: np.ndarray, p: np.ndarray) -> np.ndarray:
    """True where the point's nearest pixel is not foreground (mask 0)."""
    h, w = mask.shape
    x = np.clip(np.round(p[:, 0]).astype(int), 0, w - 1)
    y = np.clip(np.round(p[:, 1]).astype(int), 0, h - 1)
    return mask[y, x] == 0


def grid_queries(query_mask: np.ndarray, step: int = 16) -> np.ndarray:
    """Grid points `[P, 2]` (x, y) `step` px apart (half a step from the border) where `query_mask` is 255."""
    if step < 1:
        raise ValueError(f"grid step must be >= 1, got {step}")
    h, w = query_mask.shape
    ys, xs = np.mgrid[step // 2:h - step // 2:step, step // 2:w - step // 2:step]
    pts = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)
    return pts[query_mask[pts[:, 1].astype(int), pts[:, 0].astype(int)] > 0]


def background_tracks(frames: np.ndarray, query_mask: np.ndarray, grid_step: int = 16,
                      masks: np.ndarray | None = None, tracker: PointTracker | None = None) -> Tracks:
    """Track a grid of background points (`query_mask` 255 at frame 0) through `frames` [T, H, W, 3].

    `masks` [T, H, W] (255 = foreground) hides points that the foreground covers at a later frame;
    `tracker` defaults to `KLTTracker()`.
    """
    if query_mask.shape != frames.shape[1:3]:
        raise ValueError(f"query_mask must be [H, W] = {frames.shape[1:3]}, got {query_mask.shape}")
    return (tracker or KLTTracker()).track(frames, grid_queries(query_mask, grid_step), masks)


def motion_consistency(tracks_out: Tracks, tracks_ref: Tracks, min_motion_px: float = 0.5) -> float:
    """Mean max(0, cos angle) between output and reference per-step displacements (definition: module docstring).

    Both track sets must follow the same query points over the same number of frames. NaN when no
    point-step is valid.
    """
    if tracks_out.points.shape != tracks_ref.points.shape:
        raise ValueError(f"tracks differ in shape: output {tracks_out.points.shape}, reference {tracks_ref.points.shape}; "
                         "track the same query points over the same frames")
    both = tracks_out.visible & tracks_ref.visible  # [T, P]
    valid = both[:-1] & both[1:]  # [T-1, P] visible in both videos at t and t+1
    d_ref = np.diff(tracks_ref.points.astype(np.float64), axis=0)  # [T-1, P, 2]
    d_out = np.diff(tracks_out.points.astype(np.float64), axis=0)
    n_ref = np.linalg.norm(d_ref, axis=-1)  # [T-1, P]
    n_out = np.linalg.norm(d_out, axis=-1)
    valid &= n_ref >= min_motion_px
    if not valid.any():
        return float("nan")
    cos = (d_ref * d_out).sum(-1) / np.maximum(n_ref * n_out, 1e-12)
    score = np.where(n_out >= MIN_MOVING_OUTPUT_PX, np.maximum(cos, 0.0), 0.0)
    return float(np.clip(score[valid].mean(), 0.0, 1.0))


def motion_consistency_videos(out_frames: np.ndarray, ref_frames: np.ndarray, query_mask: np.ndarray,
                              masks: np.ndarray | None = None, grid_step: int = 16,
                              tracker: PointTracker | None = None, min_motion_px: float = 0.5) -> float:
    """Track the same background grid in the output and in the reference video and score them.

    `out_frames`, `ref_frames` [T, H, W, 3] uint8 of one size and length; `query_mask` [H, W] 255 where
    queries may start (background outside the dilated foreground of frame 0); `masks` [T, H, W] 255 =
    foreground, applied to both videos (the subject is in the same place in output and ground truth).
    """
    if out_frames.shape != ref_frames.shape:
        raise ValueError(f"output {out_frames.shape} and reference {ref_frames.shape} must have one shape")
    tracker = tracker or KLTTracker()
    out = background_tracks(out_frames, query_mask, grid_step, masks, tracker)
    ref = background_tracks(ref_frames, query_mask, grid_step, masks, tracker)
    return motion_consistency(out, ref, min_motion_px)
