"""Step 5: the green-screen foreground video the model is conditioned on, and its illumination-perturbed
version (the benchmark's perturbation family, its parameters recorded), optionally cut with damaged masks.
The flat green composite is `train.augment.green_screen`: one construction for the dataset, training and
sampling."""

from __future__ import annotations

import numpy as np


def green_videos(frames: np.ndarray, masks: np.ndarray, seed: int, defects: bool) -> tuple[np.ndarray, np.ndarray, dict]:
    """(green [T,H,W,3], perturbed green [T,H,W,3], params) from frames and binary masks (255 = foreground)."""
    from ..eval.defects import apply_defects, draw_defects
    from ..eval.restore import illumination_perturbation
    from ..train.augment import green_screen

    params: dict = {}
    cut = masks
    if defects:
        d = draw_defects(seed)
        cut = np.stack([apply_defects(m, d) for m in masks])
        params["defects"] = d
    alpha = (cut > 127).astype(np.float32)
    relit, params["perturbation"] = illumination_perturbation(frames, alpha, seed=seed)
    return green_screen(frames, alpha), green_screen(relit, alpha), params
