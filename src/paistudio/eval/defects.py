"""Mask defects for the robustness track: what imperfect segmentation does to a foreground matte.

Three kinds, drawn once per clip from a seed and placed relative to each frame's mask box, so they move with
the subject as a segmenter's recurring mistakes do:
- holes: 2-3 ellipses inside the subject cut out of the mask (the screen shows through);
- a dropped limb: the part of the subject beyond a line near one extremity is lost (e.g. a hand or a foot);
- an occluding blob: an ellipse beside the subject's outline wrongly included (background kept as foreground).
The ground truth and the scoring masks stay the true ones; only the engine's input is built from these.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import InputError

HOLE_RADIUS = (0.05, 0.09)  # hole semi-axes as a share of the mask box's smaller side
LIMB_SHARE = (0.10, 0.18)  # depth of the dropped extremity along its direction, share of the box extent
BLOB_RADIUS = (0.10, 0.16)  # occluding blob semi-axes, share of the box's smaller side


def draw_defects(seed: int) -> dict:
    """The defect parameters of one clip (JSON-ready), in box-relative units."""
    rng = np.random.default_rng(seed)
    holes = [{"centre": [float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.25, 0.75))],
              "radius": float(rng.uniform(*HOLE_RADIUS)), "aspect": float(rng.uniform(0.6, 1.6))}
             for _ in range(int(rng.integers(2, 4)))]
    limb_angle = float(rng.uniform(0, 360))
    blob_angle = float(rng.uniform(0, 360))
    return {"seed": int(seed), "holes": holes,
            "dropped_limb": {"angle_deg": limb_angle, "depth": float(rng.uniform(*LIMB_SHARE))},
            "blob": {"angle_deg": blob_angle, "radius": float(rng.uniform(*BLOB_RADIUS)),
                     "aspect": float(rng.uniform(0.6, 1.6))}}


def apply_defects(mask: np.ndarray, params: dict) -> np.ndarray:
    """One frame's binary mask `[H, W]` uint8 (255 = foreground) with the defects of `params` applied."""
    if not isinstance(mask, np.ndarray) or mask.dtype != np.uint8 or mask.ndim != 2:
        raise InputError(f"a mask must be uint8 [H, W], got {getattr(mask, 'dtype', type(mask))}")
    out = mask.copy()
    ys, xs = np.nonzero(mask > 127)
    if len(ys) < 16:
        return out
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    bw, bh = x1 - x0, y1 - y0
    side = min(bw, bh)
    for hole in params["holes"]:
        cx, cy = x0 + hole["centre"][0] * bw, y0 + hole["centre"][1] * bh
        r = max(2.0, hole["radius"] * side)
        cv2.ellipse(out, (round(cx), round(cy)), (round(r * hole["aspect"]), round(r / hole["aspect"])), 0, 0, 360, 0, -1)
    # dropped limb: project the subject's pixels on a direction; what lies beyond the cut is lost
    a = np.deg2rad(params["dropped_limb"]["angle_deg"])
    proj = xs * np.cos(a) + ys * np.sin(a)
    lo, hi = proj.min(), proj.max()
    cut = hi - params["dropped_limb"]["depth"] * (hi - lo)
    lost = proj > cut
    out[ys[lost], xs[lost]] = 0
    # occluding blob: centred on the box's outline in its direction, half in, half out
    b = np.deg2rad(params["blob"]["angle_deg"])
    cx, cy = (x0 + x1) / 2 + np.cos(b) * bw / 2, (y0 + y1) / 2 + np.sin(b) * bh / 2
    r = max(2.0, params["blob"]["radius"] * side)
    asp = params["blob"]["aspect"]
    cv2.ellipse(out, (round(cx), round(cy)), (round(r * asp), round(r / asp)), 0, 0, 360, 255, -1)
    return out
