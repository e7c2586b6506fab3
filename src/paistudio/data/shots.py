"""Step 2: shot boundaries with PySceneDetect's AdaptiveDetector (a rolling-average HSV content detector),
then the length rules: shots shorter than `min_shot` are dropped, longer than `max_shot` cut into pieces."""

from __future__ import annotations

from fractions import Fraction
from typing import Iterable

import cv2
import numpy as np

from ..errors import EngineUnavailable


def detect_cuts(frames: Iterable[np.ndarray], fps: Fraction, threshold: float = 3.0, min_len: int = 8) -> list[int]:
    """Frame indices where a new shot starts (excluding 0), from RGB uint8 frames (any size; small is fast)."""
    try:
        from scenedetect import AdaptiveDetector, FrameTimecode
    except ImportError:
        raise EngineUnavailable("shot splitting needs PySceneDetect: pip install --no-deps scenedetect==0.7.2 "
                                "platformdirs (its opencv-python dependency would replace our headless OpenCV)") from None
    det = AdaptiveDetector(adaptive_threshold=threshold, min_scene_len=min_len)
    cuts, last = [], 0
    for i, f in enumerate(frames):
        cuts += det.process_frame(FrameTimecode(i, fps=fps), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        last = i
    cuts += det.post_process(FrameTimecode(last, fps=fps))
    return sorted({int(c.frame_num) for c in cuts if 0 < c.frame_num <= last})


def shot_ranges(cuts: list[int], n_frames: int, min_shot: int, max_shot: int) -> list[tuple[int, int]]:
    """[start, stop) ranges of the kept shots and pieces."""
    bounds = [0] + list(cuts) + [n_frames]
    out = []
    for s, e in zip(bounds[:-1], bounds[1:]):
        for p in range(s, e, max_shot):
            q = min(p + max_shot, e)
            if q - p >= min_shot:
                out.append((p, q))
    return out
