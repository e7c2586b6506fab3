"""Step 4: the foreground's masks. Pluggable: a segmenter is a small class with `name` and `masks(frames)`,
registered in SEGMENTERS; a text-prompted model (e.g. SAM 3 with local weights) is added by registering one
more class, without touching the other steps. Optional backends register only when importable."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import InputError


class Segmenter:
    """Base class: `masks(frames [T, H, W, 3] uint8) -> [T, H, W] uint8` (255 = foreground)."""

    name = "base"

    def masks(self, frames: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class ChromaSegmenter(Segmenter):
    """Green or blue screen footage: our keyer (the composite engine's), screen found automatically."""

    name = "chroma"

    def masks(self, frames: np.ndarray) -> np.ndarray:
        from ..comp.key import ChromaKeyer, clean_matte, detect_backing

        backing = detect_backing(frames[:: max(1, len(frames) // 8)])
        if backing is None:
            raise InputError("no green or blue screen found; give masks/ or register a person segmenter")
        keyer = ChromaKeyer(backing)
        return np.stack([np.where(clean_matte(keyer.alpha(f)) > 127, 255, 0).astype(np.uint8) for f in frames])


PERSON_MODEL_ENV = "PAISTUDIO_PERSON_MODEL"  # path of selfie_segmentation_landscape.tflite


class PersonSegmenter(Segmenter):
    """MediaPipe's selfie segmenter (tasks ImageSegmenter, video mode). Its model ships in no current wheel:
    `fetch_person_model(DIR)` extracts it (Apache-2.0, 250 KB) from the mediapipe 0.10.21 wheel, and
    PAISTUDIO_PERSON_MODEL points at it. Made for people close to the camera: on the shared DAVIS clips its
    masks are poor (IoU 0.13-0.60 on four clips), so given masks or a screen key are preferred whenever present."""

    name = "person"

    def __init__(self, model: str | None = None):
        import os

        self.model = model or os.environ.get(PERSON_MODEL_ENV)
        if not self.model or not Path(self.model).is_file():
            raise InputError(f"the person segmenter needs its model file: set {PERSON_MODEL_ENV} to "
                             "selfie_segmentation_landscape.tflite (see paistudio.data.foreground.fetch_person_model)")

    def masks(self, frames: np.ndarray) -> np.ndarray:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        opts = vision.ImageSegmenterOptions(base_options=BaseOptions(model_asset_path=str(self.model)),
                                            running_mode=vision.RunningMode.VIDEO, output_confidence_masks=True,
                                            output_category_mask=False)
        seg = vision.ImageSegmenter.create_from_options(opts)
        try:
            out = np.empty(frames.shape[:3], np.uint8)
            for i, f in enumerate(frames):
                r = seg.segment_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(f)),
                                          i * 40)  # timestamps (ms) only need to increase
                out[i] = np.where(r.confidence_masks[0].numpy_view()[..., 0] > 0.5, 255, 0)
            return out
        finally:
            seg.close()


def fetch_person_model(folder: str | Path) -> Path:
    """Download the mediapipe 0.10.21 wheel from the package index (not a model hub) and keep only the
    segmenter's model file; returns its path."""
    import subprocess
    import sys
    import tempfile
    import zipfile

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "selfie_segmentation_landscape.tflite"
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64", "mediapipe==0.10.21",
                        "-d", d], check=True)
        wheel = next(Path(d).glob("mediapipe-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            data = z.read("mediapipe/modules/selfie_segmentation/selfie_segmentation_landscape.tflite")
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


SEGMENTERS: dict[str, Callable[[], Segmenter]] = {"chroma": ChromaSegmenter}
try:  # optional backend: registered only when importable
    import importlib.util as _util

    if _util.find_spec("mediapipe") is not None:
        SEGMENTERS["person"] = PersonSegmenter
except (ImportError, ValueError):
    pass


def register(cls: type[Segmenter]) -> type[Segmenter]:
    """Decorator: make a segmenter available by its `name` (settings.segmenter = NAME)."""
    SEGMENTERS[cls.name] = cls
    return cls


def foreground_masks(frames: np.ndarray, given: np.ndarray | None, choice: str) -> tuple[np.ndarray, str]:
    """(masks, how they were obtained). `choice`: auto (given masks, else a green/blue screen key, else the
    person segmenter when it is installed and its model configured), given, or a registered name."""
    if choice in ("auto", "given") and given is not None:
        return given, "given"
    if choice == "given":
        raise InputError("the clip has no masks/ and segmenter = 'given'")
    if choice == "auto":
        from ..comp.key import detect_backing

        if detect_backing(frames[:: max(1, len(frames) // 8)]) is None and "person" in SEGMENTERS:
            import os
            if os.environ.get(PERSON_MODEL_ENV):
                return SEGMENTERS["person"]().masks(frames), "person"
    name = "chroma" if choice == "auto" else choice
    if name not in SEGMENTERS:
        raise InputError(f"unknown segmenter {name!r}; registered: {sorted(SEGMENTERS)}")
    return SEGMENTERS[name]().masks(frames), name
