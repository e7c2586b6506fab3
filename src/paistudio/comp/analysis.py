"""The analysis pass: one streaming read of the foreground at low resolution, keeping only small per-frame data.

Per frame it measures a screen's brightness (`comp.fade`: a faded frame is brought back to the screen's level
first), keys (or reads) a low-res alpha, feeds the backing tracker with the texture outside the dilated matte, and
records the foreground's motion sample (ground contact, height) and its mean linear colour and bounding box for
relighting. Memory is a few numbers per frame, flat in clip length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from ..errors import InputError
from ..io.pipeline import prefetch
from ..io.video import VideoInfo, read_chunks
from ..progress import Progress
from .colour import SRGB_TO_LINEAR
from .fade import FadeFollower, apply_gain, screen_gain
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
    fade_gain: np.ndarray | None = None  # [N] keyed footage: the gain a frame was brought back to the screen's level
    #                                      by (`comp.fade`; 1 = none), which the render pass applies too


def analysis_scale(info: VideoInfo) -> float:
    return min(1.0, ANALYSIS_WIDTH / info.width)


def analyse(info: VideoInfo, matte: MatteSource, progress: Progress, track_camera: bool,
            fades: bool = True) -> Analysis:
    """Run the analysis pass. Three stages overlap on their own threads: decoding (straight to low res), keying
    with the per-frame statistics (`_measure`), and the camera tracker, which is sequential by nature."""
    scale = analysis_scale(info)
    small = (max(16, round(info.width * scale)), max(16, round(info.height * scale)))
    n = info.n_frames
    # printed markers on a screen track cleanly without the backward check (see BackingTracker); real scenes do not
    tracker = BackingTracker(scale, check_backward=matte.backing is None) if track_camera else None
    motion = np.full((n, 3), np.nan)
    mean = np.full((n, 3), np.nan)
    box = np.full((n, 4), -1, np.int32)
    gain = np.ones(n)
    progress.phase("analyse", n)
    t = 0
    pass_matte = matte.restart(size=small)
    try:
        measured = _measure(prefetch(read_chunks(info, size=small)), pass_matte, scale, tracker is not None, fades)
        for chunk in prefetch(measured):
            for frame in chunk[:max(0, n - t)]:
                if tracker is not None:
                    tracker.update(frame.grey, frame.background)
                motion[t], mean[t], box[t], gain[t] = frame.motion, frame.mean, frame.box, frame.gain
                t += 1
            progress.advance(len(chunk))
    finally:
        if pass_matte is not matte:
            pass_matte.close()
    if t < n:
        raise InputError(f"foreground {info.path} decoded only {t} of its {n} frames; it is corrupt or truncated, "
                         "re-export it")
    track = tracker.result((info.width, info.height)) if tracker is not None else None
    return Analysis(scale, track, motion, mean, box, gain if matte.backing is not None and fades else None)


@dataclass
class _FrameStats:
    grey: np.ndarray | None  # [h, w] uint8, for the tracker
    background: np.ndarray | None  # [h, w] uint8, 255 where the backing shows (matte dilated away)
    motion: tuple[float, float, float]  # ground contact x, y and height (full res)
    mean: np.ndarray  # [3] mean linear RGB of the solid foreground (NaN: none)
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 at low res (-1: no foreground)
    gain: float  # the fade gain it was brought back to the screen's level by (1: none)


_GROW = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))


def _measure(chunks: Iterator[np.ndarray], matte: MatteSource, scale: float, for_tracker: bool,
             fades: bool = True) -> Iterator[list[_FrameStats]]:
    """Key each low-res chunk and reduce every frame to what the analysis keeps (plus the tracker's inputs). On a
    screen each frame's brightness is measured first, and a faded frame is brought back to the screen's level."""
    follower = FadeFollower()
    for chunk in chunks:
        gains = np.ones(len(chunk))
        if fades and matte.backing is not None:
            for i, f in enumerate(chunk):
                gains[i] = follower.follow(screen_gain(f[..., :3], matte.backing))
                if gains[i] != 1.0:
                    apply_gain(f, 1.0 / gains[i])
        alphas = matte.alphas(chunk)
        out = []
        for rgb, a, g in zip(chunk[..., :3], alphas, gains):
            present = cv2.inRange(a, 9, 255)  # the foreground's extent, soft edges included
            grey = background = None
            if for_tracker:
                background = cv2.bitwise_not(cv2.dilate(present, _GROW))
                grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            mean, box = np.full(3, np.nan), (-1, -1, -1, -1)
            solid = a > OPAQUE
            if solid.any():
                mean = SRGB_TO_LINEAR[rgb[solid]].mean(axis=0)
                x, y, w, h = cv2.boundingRect(present)
                box = (x, y, x + w, y + h)
            out.append(_FrameStats(grey, background, foreground_motion_sample(a, scale), mean, box, float(g)))
        yield out
