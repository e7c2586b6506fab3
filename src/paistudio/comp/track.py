"""Camera motion as a homography path `[N, 3, 3]`: H[t] maps frame-0 background pixels to frame t.

Coordinates are output-resolution pixels in the cv2 convention (pixel (x, y) is centred on x, y); H[0] is
the identity. Sources, in the order `comp.camera` trusts them:
- `BackingTracker`: texture of the backing outside the matte (tracking crosses, set edges, the real
  background of plain footage), tracked at low resolution during the analysis pass;
- `align_references` + `path_from_references`: references aligned to each other fix the camera at their
  anchors; between anchors the foreground's own image motion shapes the progress;
- `simple_moves` and path files (`save_path` / `load_path`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import ShotError

FORMAT = "paistudio.camera_path"
CONVENTION = "H[t] maps frame-0 background pixels to frame t"
MAX_FEATURES = 300  # corners detected per keyframe (a homography needs far fewer; LK cost is linear in it)
MIN_EIGEN = 2.5e-4  # absolute corner strength (cv2.cornerMinEigenVal, block 5): weaker is codec noise on a flat screen
MIN_INLIERS = 15  # a frame whose estimate rests on fewer RANSAC inliers does not count as tracked
RELIABLE_SHARE = 0.8  # share of frames that must be tracked for the whole path to be trusted
REKEY_SHARE = 0.5  # start a new keyframe when fewer than this share of its features are still inliers
REKEY_ZOOM = 1.15  # ... or when the view has zoomed this much since it (LK windows stop matching)
FB_MAX = 0.7  # forward-backward error (low-res px) above which a track is dropped
RANSAC_PX = 1.0  # inlier threshold (low-res px) for frame homographies
MAX_TRUST = 0.9  # largest share of a segment's progress profile the foreground motion may decide
_LK = dict(winSize=(15, 15), maxLevel=3, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
_LK_REFINE = dict(winSize=(15, 15), maxLevel=1, flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
                  criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))


@dataclass
class TrackResult:
    homographies: np.ndarray  # [N, 3, 3] frame-0 background -> frame t, full resolution
    inliers: np.ndarray  # [N] RANSAC inliers behind each frame's estimate (frame 0: features found)
    reliable: bool  # enough inliers on most frames: trust this path over the other sources


def pixel_scale(sx: float, sy: float) -> np.ndarray:
    """Homography taking pixel coordinates of an image to those of its resize by (sx, sy) (cv2 centres)."""
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]], np.float64)


def _sane(h: np.ndarray | None, size: tuple[int, int]) -> bool:
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
        if _sane(h, size):
            return h / h[2, 2], inl.ravel().astype(bool)
    if len(src) >= 3:
        a, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=thr)
        if a is not None:
            return np.vstack([a, [0, 0, 1]]), inl.ravel().astype(bool)
    return None, np.zeros(len(src), bool)


class BackingTracker:
    """Streaming camera tracker over the backing texture; feed every frame once, in order.

    Features (goodFeaturesToTrack, with an absolute strength floor so a flat screen yields none) are
    detected in a keyframe, followed frame to frame by pyramidal LK with a forward-backward check, and
    re-matched against the keyframe itself, so each frame's homography is keyframe -> frame (RANSAC)
    and error only accumulates at keyframe changes, not per frame. A new keyframe starts when the
    features thin out or the view has zoomed too far from it.
    """

    def __init__(self, scale: float):
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.scale = float(scale)  # low-res / full-res (fallback when the low-res size is not exact)
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
        pb, stb, _ = cv2.calcOpticalFlowPyrLK(gray, self._prev, p1, None, **_LK)
        ok = (st.ravel() == 1) & (stb.ravel() == 1) & (np.linalg.norm((pb - p0).reshape(-1, 2), axis=1) < FB_MAX)
        # re-match against the keyframe, starting from the frame-to-frame answer: no per-frame drift
        p2, st2, _ = cv2.calcOpticalFlowPyrLK(self._key, gray, self._key_pts.reshape(-1, 1, 2), p1.copy(), **_LK_REFINE)
        p1, p2 = p1.reshape(-1, 2), p2.reshape(-1, 2)
        near = (st2.ravel() == 1) & (np.linalg.norm(p2 - p1, axis=1) < 2 * FB_MAX)
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
    least a quarter of the matches, and must be a plausible camera change (`_sane`). A reference that
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
            if direct is not None and not _sane(direct, feats[k][3]):
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
    return full if _sane(full, size) else None


def _corners(size: tuple[int, int]) -> np.ndarray:
    w, h = size
    return np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])


def _apply(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(np.asarray(pts, np.float64).reshape(-1, 1, 2), h).reshape(-1, 2)


def _progress(motion: np.ndarray | None, step: np.ndarray, n: int) -> np.ndarray:
    """Progress s `[n]` in [0, 1] over one segment's n frames, from its foreground samples `[n, 3]` (see below)."""
    if motion is None or n < 3 or np.isfinite(motion).all(axis=1).sum() < max(2, n // 2):
        return np.linspace(0.0, 1.0, n)
    idx = np.arange(n)
    m = np.empty_like(motion)
    for c in range(3):  # fill gaps, then soften the jitter of swinging feet
        good = np.isfinite(motion[:, c])
        m[:, c] = np.interp(idx, idx[good], motion[good, c])
        m[:, c] = np.convolve(np.pad(m[:, c], 2, mode="edge"), np.ones(5) / 5, mode="valid")
    terms = []
    p0 = m[0, :2]
    travel = _apply(step, p0[None])[0] - p0  # where the background at the contact point goes
    dist = float(np.linalg.norm(travel))
    if dist > 1.0:
        terms.append(np.clip(np.diff(m[:, :2], axis=0) @ (travel / dist), 0, None) / dist)
    log_zoom = 0.5 * np.log(abs(np.linalg.det(step[:2, :2] / step[2, 2])))
    if abs(log_zoom) > 0.01 and (m[:, 2] > 1).all():
        terms.append(np.clip(np.sign(log_zoom) * np.diff(np.log(m[:, 2])), 0, None) / abs(log_zoom))
    if not terms:
        return np.linspace(0.0, 1.0, n)
    e = np.sum(terms, axis=0) / len(terms)  # [L] share of the anchors' motion the subject made per step
    total = float(e.sum())
    if total < 1e-6:
        return np.linspace(0.0, 1.0, n)
    trust = MAX_TRUST * min(1.0, total)
    w = 1.0 + trust / (1 - trust) * (n - 1) * e / total  # per-step speed weight
    return np.concatenate([[0.0], np.cumsum(w) / w.sum()])


def path_from_references(n_frames: int, anchors: list[int], ref_homographies: list[np.ndarray],
                         fg_motion: np.ndarray | None, size: tuple[int, int]) -> np.ndarray:
    """A camera path `[N, 3, 3]` known only at the references' anchors.

    H[a_k] = G_k @ inv(G_0), G_k the homography ref 0 -> ref k: identity up to the first anchor, still
    after the last. Between anchors a and b the four frame corners move from their place at a to their
    place at b along a progress profile s(t) in [0, 1]; H[t] = getPerspectiveTransform(corners, corners(t)).

    Profile heuristic: a subject standing on the ground moves in the image exactly as the background
    does, so its ground-contact point (`fg_motion[:, :2]`, bottom-centre of the matte) and height
    (`fg_motion[:, 2]`) tell *when* the camera moved. Per step, e_t = the contact point's motion along
    the way the background at that point travels from a to b (clipped at 0) over that travel, averaged
    with the height's log-change in the anchors' zoom direction over the log-zoom (if it differs > 1 %).
    Speed weight per step: 1 + g * e_t, g = trust/(1-trust) * L/sum(e), trust = 0.9 * min(1, sum(e)).
    A standing subject (travel = the background's) sets 90 % of the profile, so the camera's real
    acceleration comes through; a subject the camera follows (static in the image) adds nothing:
    constant speed; walking against the move is clipped away. fg_motion None (or mostly NaN): constant.
    """
    if len(anchors) != len(ref_homographies) or not anchors:
        raise ShotError("references", f"{len(anchors)} anchors for {len(ref_homographies)} references; give one each")
    if any(b <= a for a, b in zip(anchors, anchors[1:])) or anchors[0] < 0 or anchors[-1] >= n_frames:
        raise ShotError("references", f"anchors {anchors} must increase within 0..{n_frames - 1}; fix the anchors")
    if any(h is None for h in ref_homographies):
        raise ShotError("references", "a reference could not be aligned to the first; give a camera path instead")
    if fg_motion is not None and np.shape(fg_motion) != (n_frames, 3):
        raise ValueError(f"fg_motion must be [{n_frames}, 3], got {np.shape(fg_motion)}")
    g0 = np.linalg.inv(np.asarray(ref_homographies[0], np.float64))
    at = [np.asarray(h, np.float64) @ g0 for h in ref_homographies]  # frame 0 -> anchor k
    at = [h / h[2, 2] for h in at]
    path = np.empty((n_frames, 3, 3), np.float64)
    path[: anchors[0] + 1] = at[0]
    path[anchors[-1]:] = at[-1]
    base = _corners(size)
    for k in range(len(anchors) - 1):
        a, b = anchors[k], anchors[k + 1]
        ca, cb = _apply(at[k], base), _apply(at[k + 1], base)
        step = at[k + 1] @ np.linalg.inv(at[k])
        s = _progress(None if fg_motion is None else np.asarray(fg_motion[a:b + 1], np.float64), step, b - a + 1)
        for i in range(1, b - a):
            c = (1 - s[i]) * ca + s[i] * cb
            path[a + i] = cv2.getPerspectiveTransform(base, c.astype(np.float32))
        path[a], path[b] = at[k], at[k + 1]
    return path


def foreground_motion_sample(alpha_lowres: np.ndarray, scale: float) -> tuple[float, float, float]:
    """(x, y, height) of the foreground at full-res coordinates, NaNs when there is none.

    x, y: the ground-contact point, the mean x of the matte's lowest rows (bottom 3 % of its height)
    and its lowest row; height: from its top row to its lowest, in full-res pixels.
    """
    ys, xs = np.nonzero(alpha_lowres > 127)
    if len(ys) < 8:
        return (np.nan, np.nan, np.nan)
    top, bottom = ys.min(), ys.max()
    feet = ys >= bottom - max(1.0, 0.03 * (bottom - top + 1))
    x = float(xs[feet].mean())
    return ((x + 0.5) / scale - 0.5, (bottom + 0.5) / scale - 0.5, (bottom - top + 1) / scale)


def simple_moves(n: int, width: int, height: int, pan: float = 0.0, tilt: float = 0.0, zoom: float = 1.0) -> np.ndarray:
    """A linear move about the frame centre `[N, 3, 3]` (the convention of tests.media.camera_path).

    pan/tilt: total background shift over the clip as a fraction of width/height (positive pan: the
    camera moves right, so the background moves left); zoom: total scale at the last frame.
    """
    if not zoom > 0:
        raise ShotError("camera", f"zoom must be positive, got {zoom}; use e.g. zoom=1.1")
    s = np.arange(n) / max(1, n - 1)  # [N] progress
    k = zoom ** s  # [N] scale about the centre
    out = np.zeros((n, 3, 3), np.float64)
    out[:, 0, 0], out[:, 1, 1], out[:, 2, 2] = k, k, 1.0
    out[:, 0, 2] = (1 - k) * (width - 1) / 2 - pan * width * s
    out[:, 1, 2] = (1 - k) * (height - 1) / 2 - tilt * height * s
    return out


def save_path(path_file: str | Path, homographies: np.ndarray, meta: dict | None = None) -> None:
    """Write a camera path JSON (format paistudio.camera_path v1); `meta` adds keys such as width, height, source."""
    hom = np.asarray(homographies, np.float64)
    if hom.ndim != 3 or hom.shape[1:] != (3, 3):
        raise ValueError(f"homographies must be [N, 3, 3], got {hom.shape}")
    meta = dict(meta or {})
    head = {"format": FORMAT, "version": 1, "convention": CONVENTION,
            "width": meta.pop("width", None), "height": meta.pop("height", None)}
    head.update({k: v for k, v in meta.items() if k not in head and k != "frames"})
    rows = ",\n".join("    " + json.dumps([float(v) for v in h.ravel()]) for h in hom)
    text = json.dumps(head, indent=2, default=str)[:-2] + ',\n  "frames": [\n' + rows + "\n  ]\n}\n"
    Path(path_file).write_text(text)


def load_path(path_file: str | Path, n_frames: int, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read a camera path JSON into `[n_frames, 3, 3]`, re-based so H[0] = identity.

    With `size` = (W, H) and a file made for another width/height, the path is rescaled to `size`.
    Raises ShotError("camera", ...) naming what is wrong with the file.
    """
    p = Path(path_file)

    def bad(problem: str) -> ShotError:
        return ShotError("camera", f"path file {p} {problem}")

    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise bad("does not exist; give an existing camera path JSON") from None
    except json.JSONDecodeError as e:
        raise bad(f"is not valid JSON (line {e.lineno}); re-export it") from None
    except (OSError, UnicodeDecodeError) as e:
        raise bad(f"cannot be read ({e}); check the file") from None
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list) or data.get("format", FORMAT) != FORMAT:
        raise bad(f"is not a {FORMAT} JSON (needs a 'frames' list of row-major 3x3 matrices)")
    frames = data["frames"]
    if len(frames) != n_frames:
        raise bad(f"has {len(frames)} frames but the clip has {n_frames}; export the path for this clip")
    out = np.empty((n_frames, 3, 3), np.float64)
    for i, f in enumerate(frames):
        if not isinstance(f, list) or len(f) != 9 or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in f):
            raise bad(f"frame {i} is not a list of 9 numbers (row-major 3x3)")
        out[i] = np.array(f, np.float64).reshape(3, 3)
        if not np.isfinite(out[i]).all():
            raise bad(f"frame {i} has a NaN or infinite value; re-export the path")
        if abs(np.linalg.det(out[i] / max(np.abs(out[i]).max(), 1e-300))) < 1e-9:
            raise bad(f"frame {i} is a singular (non-invertible) matrix; re-export the path")
    out = out @ np.linalg.inv(out[0])[None]
    w, h = data.get("width"), data.get("height")
    if size is not None and all(isinstance(v, (int, float)) and v > 0 for v in (w, h)) and (w, h) != tuple(size):
        s = pixel_scale(size[0] / w, size[1] / h)
        out = s[None] @ out @ np.linalg.inv(s)[None]
    return out / out[:, 2:3, 2:3]
