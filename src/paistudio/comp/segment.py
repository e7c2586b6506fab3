"""`--matte segment`: person segmentation for plain footage (no screen, no matte).

MediaPipe's selfie segmenter (tasks ImageSegmenter, video mode) gives a per-frame person confidence; it is
stabilised over time (an exponential moving average, so the matte does not flicker) and refined at the edges with
a guided filter on the frame (the outline snaps to image edges; hair gets soft alpha), then mapped to alpha.

The model ships in no current mediapipe wheel: `fetch_person_model(DIR)` takes it (Apache-2.0, 250 KB) from the
mediapipe 0.10.21 wheel on the package index; `make install-model` puts it in the environment's
`share/paistudio/`, or set PAISTUDIO_PERSON_MODEL. Limits: people only, and made for people near the camera — on
full-body DAVIS shots its masks are rough (IoU figures in docs/benchmarks.md); other subjects need --matte FILE.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError

PERSON_MODEL_ENV = "PAISTUDIO_PERSON_MODEL"
MODEL_NAME = "selfie_segmentation_landscape.tflite"


def person_model_path() -> Path:
    """The model file: $PAISTUDIO_PERSON_MODEL, else the environment's share/paistudio/ (make install-model)."""
    env = os.environ.get(PERSON_MODEL_ENV)
    path = Path(env) if env else Path(sys.prefix) / "share" / "paistudio" / MODEL_NAME
    if not path.is_file():
        raise InputError(f"person segmentation needs its model file ({path} is missing): run `make install-model` or "
                         f"set {PERSON_MODEL_ENV} to {MODEL_NAME} (see paistudio.comp.segment.fetch_person_model)")
    return path


def fetch_person_model(folder: str | Path) -> Path:
    """Download the mediapipe 0.10.21 wheel from the package index (not a model hub) and keep only the
    segmenter's model file; returns its path."""
    import subprocess
    import tempfile
    import zipfile

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / MODEL_NAME
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64", "mediapipe==0.10.21",
                        "-d", d], check=True)
        wheel = next(Path(d).glob("mediapipe-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            data = z.read(f"mediapipe/modules/selfie_segmentation/{MODEL_NAME}")
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


class PersonSegmenter:
    """Streaming person matte: `alphas(frames [T, H, W, 3]) -> [T, H, W] uint8`, state carried across chunks."""

    def __init__(self, model: str | Path | None = None, smoothing: float = 0.5, refine_radius: int = 8,
                 soft: tuple[float, float] = (0.35, 0.65)):
        try:
            import mediapipe  # noqa: F401
        except ImportError:
            raise InputError("person segmentation needs mediapipe: pip install --no-deps mediapipe==1.2.2 "
                             "absl-py flatbuffers (its opencv dependency would replace the headless OpenCV)") from None
        self.model = Path(model) if model else person_model_path()
        self.smoothing, self.radius, self.soft = smoothing, refine_radius, soft
        self._seg = None
        self._t = 0
        self._prev: np.ndarray | None = None

    def _segmenter(self):
        if self._seg is None:
            from mediapipe.tasks.python import BaseOptions, vision

            opts = vision.ImageSegmenterOptions(base_options=BaseOptions(model_asset_path=str(self.model)),
                                                running_mode=vision.RunningMode.VIDEO, output_confidence_masks=True,
                                                output_category_mask=False)
            with _native_stderr_silenced():  # TF Lite and absl print start-up notices straight to fd 2
                self._seg = vision.ImageSegmenter.create_from_options(opts)
        return self._seg

    def confidence(self, frame: np.ndarray) -> np.ndarray:
        """The model's raw person confidence [H, W] float32 for one RGB frame (no smoothing, no refinement)."""
        import mediapipe as mp

        r = self._segmenter().segment_for_video(mp.Image(image_format=mp.ImageFormat.SRGB,
                                                         data=np.ascontiguousarray(frame[..., :3])), self._t)
        self._t += 40  # video mode needs increasing timestamps (ms); their values do not matter
        return np.array(r.confidence_masks[0].numpy_view()[..., 0], dtype=np.float32)

    def alphas(self, frames: np.ndarray) -> np.ndarray:
        out = np.empty(frames.shape[:3], np.uint8)
        lo, hi = self.soft
        gain, offset = 1 / (hi - lo), -lo / (hi - lo)  # confidence lo .. hi -> 0 .. 1
        for i, f in enumerate(frames):
            c = self.confidence(f)
            if self._prev is not None and self.smoothing > 0:
                c = cv2.addWeighted(self._prev, self.smoothing, c, 1 - self.smoothing, 0)  # temporal stabilisation
            self._prev = c
            if self.radius > 0:  # edge-aware, guided by the frame's grey; the lo .. hi ramp folded into its fit
                a = fast_guided_filter(cv2.cvtColor(np.ascontiguousarray(f[..., :3]), cv2.COLOR_RGB2GRAY), c,
                                       self.radius, 1e-3, gain, offset)
            else:
                a = cv2.addWeighted(c, gain, c, 0.0, offset)
            np.clip(a, 0, 1, out=a)  # (a NaN stays NaN and becomes alpha 0 in the cast below)
            # smoothstep a^2 (3 - 2a) to alpha, rounded
            out[i] = cv2.multiply(cv2.multiply(a, a), cv2.addWeighted(a, -2.0, a, 0.0, 3.0), scale=255.0,
                                  dtype=cv2.CV_8U)
        return out

    def close(self) -> None:
        """Release the MediaPipe graph. Call it: left to the garbage collector at interpreter exit, MediaPipe's
        own finaliser runs after its dispatcher has shut down and prints a traceback."""
        if self._seg is not None:
            self._seg.close()
            self._seg = None


def fast_guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float, gain: float = 1.0,
                       offset: float = 0.0) -> np.ndarray:
    """He & Sun's fast guided filter: `src` [H, W] float32 filtered with the grey uint8 `guide` [H, W] (in [0, 1]
    once scaled), its linear coefficients fitted on a 1/s copy (s = radius / 4, within 1 ... 4) and applied at full
    size; returns `gain * filtered + offset` (folded into the coefficients, so free at full size). For the
    segmenter's radius 8 (s = 2): 9 ms against cv2.ximgproc.guidedFilter's 25 ms on a 720p frame, and on the six
    DAVIS person clips (`tests/comp/test_segment.py`) IoU and flicker stay within 0.002 and 0.0002 of the exact
    filter's (s = 4 would be 4 ms, but flicker rose by up to 7 %)."""
    s = int(max(1, min(4, radius // 4)))
    h, w = src.shape
    small = (max(1, round(w / s)), max(1, round(h / s)))
    i = cv2.resize(guide, small, interpolation=cv2.INTER_AREA).astype(np.float32) * np.float32(1 / 255)
    p = cv2.resize(src, small, interpolation=cv2.INTER_AREA)
    k = (2 * max(1, round(radius / s)) + 1,) * 2
    m_i, m_p = cv2.boxFilter(i, -1, k), cv2.boxFilter(p, -1, k)
    var = cv2.boxFilter(i * i, -1, k) - m_i * m_i
    a = (cv2.boxFilter(i * p, -1, k) - m_i * m_p) / (var + np.float32(eps))
    b = m_p - a * m_i
    mean_a = cv2.boxFilter(a, -1, k) * np.float32(gain / 255)  # per guide level (0 .. 255)
    mean_b = cv2.addWeighted(cv2.boxFilter(b, -1, k), gain, b, 0.0, offset)
    big_a = cv2.resize(mean_a, (w, h), interpolation=cv2.INTER_LINEAR)
    big_b = cv2.resize(mean_b, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.add(cv2.multiply(big_a, guide, dtype=cv2.CV_32F), big_b)


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send file descriptor 2 to /dev/null for the block (what native libraries write there, not Python's errors:
    an exception still propagates with its message)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
