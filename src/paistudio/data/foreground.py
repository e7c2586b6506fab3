"""Step 4: the foreground's masks. Pluggable: a segmenter is a small class with `name` and `masks(frames)`,
registered in SEGMENTERS; a text-prompted model (e.g. SAM 3 with local weights) is added by registering one
more class, without touching the other steps. Optional backends register only when importable."""

from __future__ import annotations

import importlib.util
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

    def __init__(self, backing=None):
        self.backing = backing  # found in the frames when not given

    def masks(self, frames: np.ndarray) -> np.ndarray:
        from ..comp.key import ChromaKeyer, clean_matte

        backing = self.backing or _screen(frames)
        if backing is None:
            raise InputError("no green or blue screen found; give masks/ or register a person segmenter")
        keyer = ChromaKeyer(backing)
        return np.stack([np.where(clean_matte(keyer.alpha(f)) > 127, 255, 0).astype(np.uint8) for f in frames])


class PersonSegmenter(Segmenter):
    """The composite engine's person matte (`comp.segment`, MediaPipe's selfie model), thresholded to a binary
    mask. Weak on full-body shots, so given masks or a screen key are preferred whenever present."""

    name = "person"

    def __init__(self, model: str | None = None):
        from ..comp.segment import person_model_path

        self.model = model or person_model_path()

    def masks(self, frames: np.ndarray) -> np.ndarray:
        from ..comp.segment import PersonSegmenter as Matte

        matte = Matte(self.model)
        try:
            return np.where(matte.alphas(frames) > 127, 255, 0).astype(np.uint8)
        finally:
            matte.close()


def _screen(frames: np.ndarray):
    from ..comp.key import detect_backing

    return detect_backing(frames[:: max(1, len(frames) // 8)])


SEGMENTERS: dict[str, Callable[[], Segmenter]] = {"chroma": ChromaSegmenter}
if importlib.util.find_spec("mediapipe") is not None:  # optional backend: registered only when installed
    SEGMENTERS["person"] = PersonSegmenter


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
        backing = _screen(frames)
        if backing is not None:
            return ChromaSegmenter(backing).masks(frames), "chroma"
        if "person" in SEGMENTERS:
            from ..comp.segment import person_model_path
            try:
                person_model_path()
            except InputError:
                pass  # not installed: fall through to the chroma key's named error
            else:
                return SEGMENTERS["person"]().masks(frames), "person"
    name = "chroma" if choice == "auto" else choice
    if name not in SEGMENTERS:
        raise InputError(f"unknown segmenter {name!r}; registered: {sorted(SEGMENTERS)}")
    return SEGMENTERS[name]().masks(frames), name
