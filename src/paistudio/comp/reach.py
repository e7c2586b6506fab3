"""How far the references reach along the camera path: fitting one reference to the camera's whole sweep
(`--ref-fit sweep`), and saying when the plate has to make the background up or distort a reference.

A reference fitted to the frame (the default) is exactly what its anchor frame sees; where the camera looks past
it (and past its cut-off sides), the plate extends it (`comp.plate`). `reach_report` measures that per frame and
warns; `fit_to_sweep` instead scales one photo to cover every frame's view, so nothing is made up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io.images import cover
from .plate import PlateRenderer

FILL_WARNING = 0.25  # a plate made up in more than this share of some frame gets a warning
STRETCH_WARNING = 3.0  # ... and one that enlarges or shrinks a reference more than this at some frame's centre
SWEEP_REACH = 1.5  # a sweep fit covers the camera's views at most this many frame sizes past the anchor frame
SOFT_SWEEP = 1.5  # ... and warns when that enlarges the photo more than this (it will look soft)


def sweep_box(path: np.ndarray, anchor: int, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """The bounding box (x0, y0, x1, y1), in the anchor frame's pixels, of every frame's view: what one reference
    must show for the camera never to look past it. `path` [N, 3, 3] frame-0 background -> frame t."""
    W, H = size
    corners = np.array([[-0.5, -0.5, 1], [W - 0.5, -0.5, 1], [-0.5, H - 0.5, 1], [W - 0.5, H - 0.5, 1]]).T  # [3, 4]
    to_anchor = np.linalg.inv(np.asarray(path) @ np.linalg.inv(path[anchor]))  # [N, 3, 3] frame t -> anchor view
    q = to_anchor @ corners  # [N, 3, 4]
    x, y = (q[:, 0] / q[:, 2]).ravel(), (q[:, 1] / q[:, 2]).ravel()
    return float(x.min()), float(y.min()), float(x.max()), float(y.max())


@dataclass
class SweptReference:
    ref: np.ndarray  # [H, W, 3] uint8: what the anchor frame sees of the photo
    surround: tuple[np.ndarray, tuple[int, int]]  # the scaled photo and where the anchor frame's view starts in it
    margin: tuple[int, int]  # canvas border (x, y) the plate needs to hold the sweep
    box: tuple[float, float, float, float]  # the sweep covered, in anchor-frame pixels
    enlarged: float  # scale applied to the photo (above 1: enlarged)

    def describe(self) -> dict:
        return {"box": [round(v, 1) for v in self.box], "enlarged": round(self.enlarged, 2)}

    def warnings(self) -> list[str]:
        if self.enlarged <= SOFT_SWEEP:
            return []
        w, h = (round(self.box[2] - self.box[0]), round(self.box[3] - self.box[1]))
        return [f"--ref-fit sweep enlarged the reference {self.enlarged:.1f}x to cover the camera's {w}x{h} sweep, so "
                "the background will look soft; give a larger image"]


def fit_to_sweep(photo: np.ndarray, path: np.ndarray, anchor: int, size: tuple[int, int],
                 pixel_aspect: float = 1.0) -> SweptReference:
    """`photo` (the reference as loaded) scaled to cover every frame's view along `path` (at most SWEEP_REACH frames
    past the anchor frame on each side) and centred on that sweep; the anchor frame sees its part of it."""
    W, H = size
    x0, y0, x1, y1 = sweep_box(path, anchor, size)
    reach_x, reach_y = SWEEP_REACH * W, SWEEP_REACH * H
    x0, y0 = max(min(x0, -0.5), -0.5 - reach_x), max(min(y0, -0.5), -0.5 - reach_y)
    x1, y1 = min(max(x1, W - 0.5), W - 0.5 + reach_x), min(max(y1, H - 0.5), H - 0.5 + reach_y)
    box = (int(np.ceil(x1 - x0)), int(np.ceil(y1 - y0)))
    image, (bx, by) = cover(photo, box, pixel_aspect)
    fx, fy = bx + int(round(-0.5 - x0)), by + int(round(-0.5 - y0))  # the anchor frame's view in the image
    margin = (int(np.ceil(max(-0.5 - x0, x1 - W + 0.5))) + 2, int(np.ceil(max(-0.5 - y0, y1 - H + 0.5))) + 2)
    enlarged = max(box[0] * pixel_aspect / photo.shape[1], box[1] / photo.shape[0])
    return SweptReference(np.ascontiguousarray(image[fy:fy + H, fx:fx + W]), (image, (fx, fy)), margin,
                          (x0, y0, x1, y1), enlarged)


def reach_report(plate: PlateRenderer, n_refs: int) -> tuple[dict, list[str]]:
    """What the render record says of the plate's reach (`engine.plate.fill`) and the warnings it deserves: frames
    a quarter or more made up, and a path that scales a reference more than STRETCH_WARNING either way."""
    filled = plate.filled_shares()  # [N]
    scale = plate.magnifications()  # [N]
    report = {"frames_over_10pct": int((filled > 0.1).sum()), "largest_share": round(float(filled.max()), 3),
              "scale_range": [round(float(scale.min()), 2), round(float(scale.max()), 2)]}
    warnings = []
    if filled.max() > FILL_WARNING:
        more = "another reference where the camera goes" if n_refs < 3 else "references placed where the camera goes"
        if n_refs == 1:
            more += ", or --ref-fit sweep (the photo then covers the whole move)"
        warnings.append(f"the camera looks past the reference{'s' if n_refs > 1 else ''} in "
                        f"{report['frames_over_10pct']} of {len(filled)} frames (up to {filled.max():.0%} of the "
                        "frame), where the background is made-up fill (mirrored, blurred, then plain colour); give a "
                        f"wider reference (its cut-off sides are used) or {more}")
    stretch = np.maximum(scale, 1.0 / scale)  # [N] how far from pixel for pixel, either way
    if stretch.max() > STRETCH_WARNING:
        t = int(np.argmax(stretch))
        how = "enlarges" if scale[t] > 1 else "shrinks"
        warnings.append(f"the camera path {how} the reference {stretch[t]:.1f}x at frame {t}: the camera moves further "
                        "from the reference's view than one homography follows well, so the background there is "
                        "distorted; give a reference nearer those frames, or check the path (NAME.camera.json)")
    return report, warnings
