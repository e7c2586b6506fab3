"""Choose the camera path for a shot, in order of trust (the `--camera auto` policy).

1. Texture in the source's backing outside the matte (tracking crosses, set edges, the real background of
   plain footage), tracked into a per-frame homography path — used when the tracker calls it reliable.
2. The references themselves: aligned to each other they fix the camera at each anchor; between anchors the
   path is shaped by the foreground's own image motion (`track.path_from_references`).
3. The backing track even when it lost the texture for a while (at least PARTLY_TRACKED of the frames tracked,
   a camera whipping up into a plain sky): across the untracked frames the path holds still, which keeps the
   direction of the move everywhere else; with a warning naming the frames.
4. Static, with a warning, when none is available.
`static`, a path file and simple moves (pan/tilt/zoom) are taken as given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..shot import CameraSpec
from .analysis import Analysis
from .path import load_path, path_from_references, simple_moves
from .track import MIN_INLIERS, align_references

PARTLY_TRACKED = 0.5  # share of frame steps a track that is not reliable must still follow to be used (tier 3)


@dataclass
class CameraChoice:
    homographies: np.ndarray  # [N, 3, 3]: frame-0 background pixels -> frame t
    source: str  # tracked-backing | references | tracked-backing-partly | static | file | moves
    details: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def choose_camera(spec: CameraSpec, n: int, size: tuple[int, int], analysis: Analysis | None,
                  refs: list[np.ndarray], anchors: list[int]) -> CameraChoice:
    width, height = size
    if spec.mode == "static":
        return CameraChoice(_identity(n), "static")
    if spec.mode == "file":
        return CameraChoice(load_path(Path(spec.path), n), "file", {"path": str(spec.path)})
    if spec.mode == "moves":
        return CameraChoice(simple_moves(n, width, height, pan=spec.pan, tilt=spec.tilt, zoom=spec.zoom), "moves",
                            {"pan": spec.pan, "tilt": spec.tilt, "zoom": spec.zoom})
    track = analysis.track if analysis is not None else None
    details: dict = {}
    if track is not None:
        details["tracked"] = {"reliable": bool(track.reliable),
                              "median_inliers": float(np.median(track.inliers)) if len(track.inliers) else 0.0}
        if track.reliable:
            return CameraChoice(track.homographies, "tracked-backing", details)
    warnings = []
    if len(refs) >= 2:
        aligned = align_references(refs)
        details["references_aligned"] = [h is not None for h in aligned]
        if all(h is not None for h in aligned):
            motion = analysis.fg_motion if analysis is not None else None
            path = path_from_references(n, anchors, aligned, motion, size)
            return CameraChoice(path, "references", details)
        warnings.append("the references could not be aligned to each other (too little shared detail); "
                        "the camera between anchors is unknown")
    if track is not None and len(track.inliers) > 1:
        lost = track.inliers[1:] < MIN_INLIERS  # [N-1] frame steps the tracker did not follow
        if 1.0 - lost.mean() >= PARTLY_TRACKED:
            spans = _spans(np.flatnonzero(lost) + 1)
            details["tracked"]["untracked_frames"] = spans
            warnings.append(f"the camera was tracked in {int((~lost).sum())} of {len(lost)} frame steps; where the "
                            f"texture was lost (frames {', '.join(spans)}) the background holds still — give a path "
                            "file (--camera PATH.json) or a reference there if that shows")
            return CameraChoice(track.homographies, "tracked-backing-partly", details, warnings)
    warnings.append("no camera motion found (no trackable backing texture and fewer than 2 alignable references); "
                    "rendering a static background — give --camera PATH.json or pan=/tilt=/zoom= moves if the camera moved")
    return CameraChoice(_identity(n), "static", details, warnings)


def _spans(frames: np.ndarray) -> list[str]:
    """Sorted frame indices as ranges: [3, 4, 5, 9] -> ["3-5", "9"]."""
    out = []
    for run in np.split(frames, np.flatnonzero(np.diff(frames) > 1) + 1):
        if len(run):
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return out


def _identity(n: int) -> np.ndarray:
    return np.repeat(np.eye(3)[None], n, axis=0)
