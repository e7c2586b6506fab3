"""Matte completion on plain footage: parts of the subject that a matte file or a segmenter left out.

A matte that cuts through the subject (a hand, a foot or the top of a head missing in every frame) leaves pixels
in the frame that look like the subject and do not move like the background. No neighbouring frame has the
part (the repair stage's propagation cannot help), but the frame itself does. Per frame:
1. the work crop: the matte's box grown by `band` of its longer side, resized to at most `work_px` on its long
   side;
2. GrabCut (OpenCV, initialised from a mask): the matte's core is certain foreground, the rest of the matte
   probable foreground, the band probable background and everything beyond it certain background; colour models
   and a graph cut decide which band pixels belong with the subject;
3. the camera check: a candidate pixel that matches a past frame (`lags` frames back) warped by the camera path
   is background seen again and is dropped. The background moves with the camera; a missing part of a moving
   subject does not;
4. what is left and touches the matte is opened, closed, brought back to full size with a soft edge and added
   to the alpha (max). The matte is never reduced.
Only for plain footage: on a screen a lost part shows the screen, so there is nothing to recover. `stages.complete`
auto completes segmentation (on the DAVIS person clips IoU rises on every clip) but not matte files, which are
usually authored: on clean mattes it also takes in background that looks like the subject and moves with it (a
car's shadow, a crowd behind a dancer); `python benchmarks/matte_completion.py` measures both sides.
State: the last max(lags) frames at low resolution (O(1) in the video's length).
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import InputError
from .blocks import disc
from .colour import check_alpha, check_rgb

HISTORY_WIDTH = 640  # past frames are kept at most this wide
MIN_MATTE_PX = 64  # a matte with fewer opaque pixels has no subject to complete
GRABCUT_SEED = 0  # OpenCV's RNG is reset to this before each GrabCut (else a render depends on what ran before)
MATCH_BLUR = 5  # px (work scale): box blur before a candidate pixel is compared with a past frame


@dataclass(frozen=True)
class CompleteSettings:
    band: float = 0.2  # the matte may grow by this share of its box's longer side
    work_px: int = 200  # long side of the low-resolution crop GrabCut runs on
    iterations: int = 1  # GrabCut iterations (3 recover no more on DAVIS at twice the cost)
    core: float = 0.06  # erosion of the matte (share of the crop's long side) that is certainly the subject
    lags: tuple[int, ...] = (3, 6)  # past frames a candidate is compared with (fewer at the start of the video)
    still_tol: float = 12.0  # sRGB levels (max channel): a candidate this close to a warped past frame is background

    def __post_init__(self):
        ok = {"band": 0 < self.band <= 1, "work_px": 32 <= self.work_px <= 2048, "iterations": 1 <= self.iterations,
              "core": 0 <= self.core < 0.5, "lags": bool(self.lags) and all(k >= 1 for k in self.lags),
              "still_tol": 0 < self.still_tol <= 255}
        for k in (k for k, good in ok.items() if not good):
            raise InputError(f"completion setting {k}={getattr(self, k)!r} is out of range; see CompleteSettings")


class MatteCompleter:
    """`complete(frame, alpha, t)` once per frame, in order, with `homographies[t]` mapping a common background
    plane (frame 0's) to frame t, as the camera path does. `complete_chunk` does the same for several
    consecutive frames at once, on `workers` threads: a frame's completion reads only past *input* frames (never
    a past result), so frames are independent once the history is taken in order, and the result is the same as
    one frame at a time. Call `close()` to stop the threads."""

    def __init__(self, homographies: np.ndarray, size: tuple[int, int],
                 settings: CompleteSettings = CompleteSettings(), workers: int = 1):
        self.h = np.asarray(homographies, np.float64)
        self.settings = settings
        w, h = size
        self.g = min(1.0, HISTORY_WIDTH / w)  # history scale
        self.history: deque[tuple[int, np.ndarray]] = deque(maxlen=max(settings.lags))
        self.frames = self.completed = 0
        self.added_share_sum = 0.0  # sum over completed frames of the added area / the matte's area
        self.workers = max(1, int(workers))  # GrabCut runs on one thread per frame: frames in parallel
        self._pool: ThreadPoolExecutor | None = None

    def complete(self, frame: np.ndarray, alpha: np.ndarray, t: int) -> np.ndarray:
        """The completed alpha `[H, W]` uint8 (the input itself when nothing is added)."""
        return self.complete_chunk([frame], [alpha], t)[0]

    def complete_chunk(self, frames, alphas, t0: int) -> list[np.ndarray]:
        """`complete` for frames t0, t0 + 1, ... (RGB `[H, W, 3]` and alpha `[H, W]` each), in parallel."""
        jobs = []
        for i, (frame, alpha) in enumerate(zip(frames, alphas)):
            check_rgb(frame, "frame")
            check_alpha(alpha, frame.shape[:2], "alpha")
            t = t0 + i
            lags = self._lags(t)
            jobs.append((frame, alpha, t, [(u, f) for u, f in self.history if t - u in lags]))
            H, W = alpha.shape
            small = cv2.resize(frame, (max(1, round(W * self.g)), max(1, round(H * self.g))),
                               interpolation=cv2.INTER_AREA)
            self.history.append((t, small))
        if self.workers > 1 and len(jobs) > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="complete")
            results = list(self._pool.map(lambda job: self._complete(*job), jobs))
        else:
            results = [self._complete(*job) for job in jobs]
        out = []
        for alpha, added_share in results:  # in frame order: the summary does not depend on the threads
            self.frames += 1
            if added_share is not None:
                self.completed += 1
                self.added_share_sum += added_share
            out.append(alpha)
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def summary(self) -> dict:
        share = self.added_share_sum / self.completed if self.completed else 0.0
        return {"frames": self.frames, "frames_completed": self.completed, "mean_added_share": round(share, 4)}

    def _complete(self, frame, alpha, t, past) -> tuple[np.ndarray, float | None]:
        """One frame against its `past` (t - u, low-res frame u) frames: the alpha, and the added area's share of
        the matte (None when nothing was added)."""
        st = self.settings
        solid = cv2.inRange(alpha, 128, 255)
        if cv2.countNonZero(solid) < MIN_MATTE_PX or not past:
            return alpha, None
        H, W = alpha.shape
        x0, y0, bw, bh = cv2.boundingRect(solid)
        x1, y1 = x0 + bw, y0 + bh
        r = int(st.band * max(x1 - x0, y1 - y0)) + 2
        X0, X1, Y0, Y1 = max(0, x0 - r), min(W, x1 + r), max(0, y0 - r), min(H, y1 + r)
        s = min(1.0, st.work_px / max(X1 - X0, Y1 - Y0))
        size = (max(1, round((X1 - X0) * s)), max(1, round((Y1 - Y0) * s)))
        crop = cv2.resize(frame[Y0:Y1, X0:X1], size, interpolation=cv2.INTER_AREA)  # [h, w, 3]
        matte = cv2.resize(alpha[Y0:Y1, X0:X1], size, interpolation=cv2.INTER_AREA) > 127  # [h, w]
        candidates = self._grabcut(crop, matte, max(1, int(r * s)))
        if candidates is None or not candidates.any():
            return alpha, None
        # crop pixel -> full frame t: translate and scale; full frame u -> history u: self.g
        to_crop = np.array([[s, 0, s * (0.5 - X0) - 0.5], [0, s, s * (0.5 - Y0) - 0.5], [0, 0, 1]])
        from_hist = np.array([[1 / self.g, 0, 0.5 / self.g - 0.5], [0, 1 / self.g, 0.5 / self.g - 0.5], [0, 0, 1]])
        here = cv2.blur(crop.astype(np.float32), (MATCH_BLUR, MATCH_BLUR))
        for u, small in past:  # a candidate that looks like the camera-warped past background is background
            m = to_crop @ self.h[t] @ np.linalg.inv(self.h[u]) @ from_hist
            seen = cv2.warpPerspective(small, m, size, flags=cv2.INTER_LINEAR).astype(np.float32)
            valid = cv2.warpPerspective(np.full(small.shape[:2], 255, np.uint8), m, size) == 255
            same = np.abs(here - cv2.blur(seen, (MATCH_BLUR, MATCH_BLUR))).max(axis=2) < st.still_tol
            candidates &= ~(same & valid)
        add = cv2.morphologyEx(candidates.astype(np.uint8), cv2.MORPH_OPEN, disc(1))
        add = cv2.morphologyEx(add, cv2.MORPH_CLOSE, disc(3)) & ~matte
        add = _touching(add.astype(bool), matte)
        if not add.any():
            return alpha, None
        soft = cv2.resize(add.astype(np.uint8) * 255, (X1 - X0, Y1 - Y0), interpolation=cv2.INTER_LINEAR)
        sigma = 0.5 / s
        soft = cv2.GaussianBlur(soft, (0, 0), sigma) if sigma > 0.6 else soft
        out = alpha.copy()
        np.maximum(out[Y0:Y1, X0:X1], soft, out=out[Y0:Y1, X0:X1])
        return out, float(add.sum()) / max(1, int(matte.sum()))

    def _lags(self, t: int) -> set[int]:
        return {min(k, t) for k in self.settings.lags} - {0}

    def _grabcut(self, crop: np.ndarray, matte: np.ndarray, band_px: int) -> np.ndarray | None:
        """Band pixels GrabCut puts with the subject (`[h, w]` bool), None when it cannot run."""
        band = cv2.dilate(matte.astype(np.uint8), disc(band_px)) > 0
        core = cv2.erode(matte.astype(np.uint8), disc(max(1, int(self.settings.core * max(matte.shape))))) > 0
        if not core.any() or band.all():
            return None
        gc = np.full(matte.shape, cv2.GC_BGD, np.uint8)
        gc[band] = cv2.GC_PR_BGD
        gc[matte] = cv2.GC_PR_FGD
        gc[core] = cv2.GC_FGD
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.setRNGSeed(GRABCUT_SEED)  # its colour models start from k-means on OpenCV's RNG: same input, same matte
        try:
            cv2.grabCut(crop[..., ::-1].copy(), gc, None, bgd, fgd, self.settings.iterations, cv2.GC_INIT_WITH_MASK)
        except cv2.error:  # a colour model with too few samples (a tiny or one-coloured crop)
            return None
        return ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)) & ~matte


def _touching(add: np.ndarray, matte: np.ndarray) -> np.ndarray:
    """The components of `add` that touch `matte` (8-connected)."""
    n, labels = cv2.connectedComponents((add | matte).astype(np.uint8))
    keep = np.zeros(n, bool)
    keep[np.unique(labels[matte])] = True
    keep[0] = False
    return add & keep[labels]
