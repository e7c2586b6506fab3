"""Step 6: references at begin / middle / end: each frame with the foreground removed along the shot's estimated
camera and the holes filled — the benchmark's clean-plate code (`eval.restore.clean_plate`), not a second one."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..shot import default_anchors

ANCHOR_NAMES = ("begin", "middle", "end")


def references(frames: np.ndarray, masks: np.ndarray, fps: Fraction) -> tuple[dict[str, np.ndarray], dict[str, int], dict]:
    """({name: image}, {name: frame}, {name: share of the hole that had to be inpainted})."""
    from ..eval.restore import Clip, clean_plate, estimate_clip_camera

    clip = Clip("shot", frames, masks, fps)
    path = estimate_clip_camera(clip)
    anchors = dict(zip(ANCHOR_NAMES, default_anchors(3, len(frames))))
    images, inpainted = {}, {}
    for name, t in anchors.items():
        images[name], inpainted[name] = clean_plate(clip, path, t, 15)
        inpainted[name] = round(float(inpainted[name]), 4)
    return images, anchors, inpainted
