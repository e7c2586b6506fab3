"""The analysis pass: one streaming read of the foreground at low resolution, keeping only small per-frame data.

Per frame it keys (or reads) a low-res alpha, feeds the backing tracker with the texture outside the
dilated matte, and records the foreground's motion sample (ground contact, height) and its mean linear
colour and bounding box for relighting. Memory is a few numbers per frame, flat in clip length.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import InputError
from ..io.pipeline import prefetch
from ..io.video import VideoInfo, read_chunks
from ..progress import Progress
from .colour import SRGB_TO_LINEAR
from .matte import MatteSource
from .path import foreground_motion_sample
from .track import BackingTracker, TrackResult

ANALYSIS_WIDTH = 512  # tracking and light statistics run at this width (or the clip's, if smaller)
OPAQUE = 230  # alpha above which a pixel counts as solid foreground for colour statistics


@dataclass
class Analysis:
    scale: float  # low-res / full-res
    track: TrackResult | None  # camera from the backing texture (None when not asked for)
    fg_motion: np.ndarray  # [N, 3] contact x, y and height at full res (NaN: no foreground)
    fg_mean: np.ndarray  # [N, 3] mean linear RGB of solid foreground (NaN: none)
    fg_box: np.ndarray  # [N, 4] x0, y0, x1, y1 of the foreground at low res (-1: none)


def analysis_scale(info: VideoInfo) -> float:
    return min(1.0, ANALYSIS_WIDTH / info.width)


def analyse(info: VideoInfo, matte: MatteSource, progress: Progress, track_camera: bool) -> Analysis:
    scale = analysis_scale(info)
    small = (max(16, round(info.width * scale)), max(16, round(info.height * scale)))
    n = info.n_frames
    tracker = BackingTracker(scale) if track_camera else None
    motion = np.full((n, 3), np.nan)
    mean = np.full((n, 3), np.nan)
    box = np.full((n, 4), -1, np.int32)
    grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    progress.phase("analyse", n)
    t = 0
    matte = matte.restart(size=small)
    for chunk in prefetch(read_chunks(info, size=small)):  # decoded straight to low res
        alphas = matte.alphas(chunk)
        for rgb, a in zip(chunk[..., :3], alphas):
            if t >= n:
                break
            if tracker is not None:
                background = cv2.bitwise_not(cv2.dilate((a > 8).astype(np.uint8) * 255, grow))
                tracker.update(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), background)
            motion[t] = foreground_motion_sample(a, scale)
            solid = a > OPAQUE
            if solid.any():
                mean[t] = SRGB_TO_LINEAR[rgb[solid]].mean(axis=0)
                ys, xs = np.nonzero(a > 8)
                box[t] = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
            t += 1
        progress.advance(len(chunk))
    if t < n:
        raise InputError(f"foreground {info.path} decoded only {t} of its {n} frames; it is corrupt or truncated, "
                         "re-export it")
    track = tracker.result((info.width, info.height)) if tracker is not None else None
    return Analysis(scale, track, motion, mean, box)
