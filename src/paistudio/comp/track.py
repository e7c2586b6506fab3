"""Measuring camera motion: the backing tracker and reference alignment.

A camera path is `[N, 3, 3]`: H[t] maps frame-0 background pixels to frame t, in output-resolution pixels
(cv2 convention: pixel (x, y) is centred on x, y); H[0] is the identity. This module measures it:
- `BackingTracker`: texture of the backing outside the matte (tracking crosses, set edges, the real
  background of plain footage), tracked at low resolution during the analysis pass;
- `align_references`: homographies between the references (where the camera is at each anchor).
Building whole paths from those measurements, simple moves and path files live in `comp.path`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


MAX_FEATURES = 300  # corners detected per keyframe (a homography needs far fewer; LK cost is linear in it)
MIN_EIGEN = 2.5e-4  # absolute corner strength (cv2.cornerMinEigenVal, block 5): weaker is codec noise on a flat screen
MIN_INLIERS = 15  # a frame whose estimate rests on fewer RANSAC inliers does not count as tracked
RELIABLE_SHARE = 0.8  # share of frames that must be tracked for the whole path to be trusted
REKEY_SHARE = 0.5  # start a new keyframe when fewer than this share of its features are still inliers
REKEY_ZOOM = 1.15  # ... or when the view has zoomed this much since it (LK windows stop matching)
FB_MAX = 0.7  # forward-backward error (low-res px) above which a track is dropped
REMATCH_PX = 2 * FB_MAX  # a keyframe re-match further than this (low-res px) from the frame-to-frame track is ignored
RANSAC_PX = 1.0  # inlier threshold (low-res px) for frame homographies
# 15 iterations / 0.03 px: the same corner error as 30 / 0.01 px on the tests' marker screens, ~17 % less time
_LK_STOP = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 15, 0.03)
_LK = dict(winSize=(15, 15), maxLevel=3, criteria=_LK_STOP)
_LK_REFINE = dict(winSize=(15, 15), maxLevel=1, flags=cv2.OPTFLOW_USE_INITIAL_FLOW, criteria=_LK_STOP)


@dataclass
class TrackResult:
    homographies: np.ndarray  # [N, 3, 3] frame-0 background -> frame t, full resolution
    inliers: np.ndarray  # [N] RANSAC inliers behind each frame's estimate (frame 0: features found)
    reliable: bool  # enough inliers on most frames: trust this path over the other sources


def pixel_scale(sx: float, sy: float) -> np.ndarray:
    """Homography taking pixel coordinates of an image to those of its resize by (sx, sy) (cv2 centres)."""
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]], np.float64)


def is_plausible(h: np.ndarray | None, size: tuple[int, int]) -> bool:
    """A homography a camera could produce between nearby views: finite, orientation kept, mild perspective."""
    if h is None or not np.isfinite(h).all() or abs(h[2, 2]) < 1e-12:
        return False
    h = h / h[2, 2]
    det = np.linalg.det(h[:2, :2])
    return 0.1 < det < 10 and np.abs(h[2, :2]).max() * max(size) < 0.5


def _fit(src: np.ndarray, dst: np.ndarray, thr: float, size: tuple[int, int]):
    """Homography src -> dst by RANSAC, a similarity when points are few or the homography is degenerate."""
    if len(src) >= 12:
        h, inl = cv2.findHomography(src, dst, cv2.RANSAC, thr, maxIters=2000, confidence=0.999)
        if is_plausible(h, size):
            return h / h[2, 2], inl.ravel().astype(bool)
    if len(src) >= 3:
        a, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=thr)
        if a is not None:
            return np.vstack([a, [0, 0, 1]]), inl.ravel().astype(bool)
    return None, np.zeros(len(src), bool)


class BackingTracker:
    """Streaming camera tracker over the backing texture; feed every frame once, in order.

    Features (goodFeaturesToTrack, with an absolute strength floor so a flat screen yields none) are
    detected in a keyframe, followed frame to frame by pyramidal LK (with a forward-backward check when
    `check_backward`) and re-matched against the keyframe itself, so each frame's homography is keyframe ->
    frame (RANSAC) and error only accumulates at keyframe changes, not per frame. A new keyframe starts when
    the features thin out or the view has zoomed too far from it.

    The backward check costs a third of the tracker's time. It earns it on natural backgrounds (plain footage:
    water, foliage; DAVIS kite-surf keeps Motion Consistency 0.866 with it, 0.780 without) but not on a
    screen's printed markers (the bench's `markers` track: 0.865 with it, 0.868 without), so the analysis pass
    skips it on keyed footage.
    """

    def __init__(self, scale: float, check_backward: bool = True):
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.scale = float(scale)  # low-res / full-res (fallback when the low-res size is not exact)
        self.check_backward = check_backward  # drop tracks that LK does not follow back to where they came from
        self._paths: list[np.ndarray] = []  # low-res frame 0 -> t
        self._inliers: list[int] = []
        self._low: tuple[int, int] | None = None  # (w, h) of the frames fed
        self._prev: np.ndarray | None = None  # previous grey frame
        self._key: np.ndarray | None = None  # keyframe grey image
        self._key_h = np.eye(3)  # frame 0 -> keyframe
        self._key_pts = np.zeros((0, 2), np.float32)  # live features at their keyframe positions
        self._pts = np.zeros((0, 2), np.float32)  # the same features in the previous frame
        self._n_key = 0  # features the keyframe started with
        self._rel = np.eye(3)  # keyframe -> previous frame

    def update(self, gray: np.ndarray, background_mask: np.ndarray | None = None) -> None:
        """Add one frame: grey uint8 [h, w]; mask uint8 [h, w], 255 where the pixel is backing."""
        if gray.ndim != 2 or gray.dtype != np.uint8:
            raise ValueError(f"expected a uint8 [h, w] grey frame, got {gray.dtype} {gray.shape}")
        h, w = gray.shape
        if self._low is None:
            self._low = (w, h)
        elif self._low != (w, h):
            raise ValueError(f"frame size changed from {self._low} to {(w, h)}")
        mask = np.full((h, w), 255, np.uint8) if background_mask is None else (background_mask > 127).astype(np.uint8) * 255
        b = 6  # LK windows need room: no features on the outer rim
        mask[:b], mask[-b:], mask[:, :b], mask[:, -b:] = 0, 0, 0, 0
        if not self._paths:
            self._paths.append(np.eye(3))
            self._new_key(gray, mask, np.eye(3))
            self._inliers.append(self._n_key)
        else:
            rel, n_in = self._track(gray, mask)
            hom = rel @ self._key_h
            self._paths.append(hom / hom[2, 2])
            self._inliers.append(n_in)
            self._rel = rel
            zoom = np.sqrt(abs(np.linalg.det(rel[:2, :2])))
            if n_in < max(2 * MIN_INLIERS, REKEY_SHARE * self._n_key) or not 1 / REKEY_ZOOM < zoom < REKEY_ZOOM:
                self._new_key(gray, mask, self._paths[-1])
        self._prev = gray

    def _new_key(self, gray: np.ndarray, mask: np.ndarray, hom: np.ndarray) -> None:
        h, w = gray.shape
        pts = cv2.goodFeaturesToTrack(gray, MAX_FEATURES, 0.01, max(4, min(w, h) // 60), mask=mask, blockSize=5)
        pts = np.zeros((0, 2), np.float32) if pts is None else pts.reshape(-1, 2)
        if len(pts):
            eig = cv2.cornerMinEigenVal(gray, 5, 3)
            pts = pts[eig[pts[:, 1].astype(int), pts[:, 0].astype(int)] > MIN_EIGEN]
        self._key, self._key_h, self._rel = gray, hom, np.eye(3)
        self._key_pts, self._pts, self._n_key = pts.copy(), pts.copy(), len(pts)

    def _track(self, gray: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, int]:
        """Keyframe -> this frame homography and its inlier count (holds the last one when lost)."""
        if len(self._pts) < 3:
            return self._rel, 0
        p0 = self._pts.reshape(-1, 1, 2)
        p1, st, _ = cv2.calcOpticalFlowPyrLK(self._prev, gray, p0, None, **_LK)  # [M, 1, 2]
        ok = st.ravel() == 1
        if self.check_backward:
            pb, stb, _ = cv2.calcOpticalFlowPyrLK(gray, self._prev, p1, None, **_LK)
            ok &= (stb.ravel() == 1) & (np.linalg.norm((pb - p0).reshape(-1, 2), axis=1) < FB_MAX)
        # re-match against the keyframe, starting from the frame-to-frame answer: no per-frame drift
        p2, st2, _ = cv2.calcOpticalFlowPyrLK(self._key, gray, self._key_pts.reshape(-1, 1, 2), p1.copy(), **_LK_REFINE)
        p1, p2 = p1.reshape(-1, 2), p2.reshape(-1, 2)
        near = (st2.ravel() == 1) & (np.linalg.norm(p2 - p1, axis=1) < REMATCH_PX)
        cur = np.where(near[:, None], p2, p1)
        h, w = gray.shape
        xi, yi = np.round(cur[:, 0]).astype(int), np.round(cur[:, 1]).astype(int)
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        ok &= inside
        ok[ok] &= mask[yi[ok], xi[ok]] > 0  # the foreground now covers it
        key, cur = self._key_pts[ok], cur[ok]
        rel, inl = _fit(key, cur, RANSAC_PX, (w, h))
        if rel is None:
            self._key_pts, self._pts = key, cur
            return self._rel, 0
        self._key_pts, self._pts = key[inl].astype(np.float32), cur[inl].astype(np.float32)
        return rel, int(inl.sum())

    def result(self, full_size: tuple[int, int]) -> TrackResult:
        """The path at full resolution `full_size` = (W, H), from the exact low-res/full-res size ratio."""
        n = len(self._paths)
        if n == 0:
            return TrackResult(np.zeros((0, 3, 3)), np.zeros(0, np.int64), False)
        W, H = full_size
        w, h = self._low
        s = pixel_scale(w / W, h / H) if W > 0 and H > 0 else pixel_scale(self.scale, self.scale)
        paths = np.linalg.inv(s)[None] @ np.stack(self._paths) @ s[None]  # [N, 3, 3]
        paths /= paths[:, 2:3, 2:3]
        inliers = np.asarray(self._inliers, np.int64)
        tracked = inliers[1:] >= MIN_INLIERS if n > 1 else inliers >= MIN_INLIERS
        return TrackResult(paths, inliers, bool(tracked.mean() >= RELIABLE_SHARE))


def align_references(refs: list[np.ndarray], max_side: int = 1024) -> list[np.ndarray | None]:
    """Homography ref 0 -> ref k for each reference (index 0: identity); None where alignment fails.

    SIFT on grey copies resized to `max_side` on their long side (small images are upscaled: SIFT finds
    far more stable keypoints), Lowe's ratio test, RANSAC; a result needs >= 20 inliers that are at
    least a quarter of the matches, and must be a plausible camera change (`is_plausible`). A reference that
    shares too little with reference 0 (a long camera move) is chained through its predecessor.
    """
    if not refs:
        return []
    sift = cv2.SIFT_create(nfeatures=4000, contrastThreshold=0.01)
    feats = []
    for ref in refs:
        h, w = ref.shape[:2]
        f = max_side / max(w, h)
        small = cv2.resize(ref, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
        kp, des = sift.detectAndCompute(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), None)
        s = pixel_scale(small.shape[1] / w, small.shape[0] / h)
        feats.append((np.float32([k.pt for k in kp]).reshape(-1, 2), des, s, (w, h)))
    out: list[np.ndarray | None] = [np.eye(3)]
    for k in range(1, len(feats)):
        direct = _match(feats[0], feats[k], max_side)
        if direct is None and out[k - 1] is not None and k > 1:  # no overlap with ref 0: chain through ref k-1
            step = _match(feats[k - 1], feats[k], max_side)
            direct = None if step is None else step @ out[k - 1]
            if direct is not None and not is_plausible(direct, feats[k][3]):
                direct = None
        out.append(None if direct is None else direct / direct[2, 2])
    return out


def _match(a, b, max_side: int) -> np.ndarray | None:
    """Homography from reference a to b (full-resolution pixels) or None."""
    p0, d0, s0, _ = a
    pk, dk, sk, size = b
    if d0 is None or dk is None or len(d0) < 20 or len(dk) < 20:
        return None
    pairs = [m for m in cv2.BFMatcher(cv2.NORM_L2).knnMatch(d0, dk, k=2)
             if len(m) == 2 and m[0].distance < 0.75 * m[1].distance]
    if len(pairs) < 20:
        return None
    src = p0[[m[0].queryIdx for m in pairs]]
    dst = pk[[m[0].trainIdx for m in pairs]]
    hom, inl = cv2.findHomography(src, dst, cv2.RANSAC, 2.0 * max_side / 1024, maxIters=5000, confidence=0.999)
    if hom is None or inl.sum() < max(20, 0.25 * len(pairs)):
        return None
    full = np.linalg.inv(sk) @ hom @ s0
    return full if is_plausible(full, size) else None
