"""Every parameter of a build, recorded in the manifest and hashed into each item's id (change one, and the
items are rebuilt; keep them, and a re-run skips finished work)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

DATASET_FORMAT = "paistudio-dataset"
DATASET_VERSION = 1


@dataclass(frozen=True)
class BuildSettings:
    max_side: int = 854  # frames are downscaled so their longer side is at most this (DAVIS 480p stays as is)
    min_shot: int = 16  # frames; shorter shots are dropped
    max_shot: int = 81  # frames; longer shots are cut into pieces of this length (Wan's 81-frame window)
    shot_threshold: float = 3.0  # AdaptiveDetector adaptive_threshold
    camera_speed: tuple[float, float] = (0.0, 0.05)  # kept range of background motion, share of frame width / frame
    foreground_speed: tuple[float, float] = (0.0, 0.1)  # kept range of foreground motion relative to the camera
    min_foreground: float = 0.01  # share of the frame the foreground must cover on average
    segmenter: str = "auto"  # auto | given | chroma | a registered name (see foreground.py)
    captioner: str = "template"  # a registered captioner (caption.py): template fills the measurable fields
    defects: float = 0.0  # probability that a sample's green-screen video is cut with a damaged mask
    seed: int = 0
    crf: int = 12  # H.264 quality of the stored RGB videos (masks are lossless FFV1)

    def to_dict(self) -> dict:
        return asdict(self)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
