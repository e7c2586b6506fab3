"""Whole camera paths: from anchored reference alignments, from simple moves, and to/from path files.

Same convention as `comp.track`: H[t] maps frame-0 background pixels to frame t; H[0] is the identity.

A path file holds per frame either a row-major 3x3 homography, or a solved 3D camera (a tracker's export):
`{"K": 3x3 intrinsics, "R": 3x3 world-to-camera rotation, "t": [3] translation}` (x_cam = R X + t, pixels
= K x_cam), K also given once at the top level. The background is a plane facing camera 0 at
`plane_distance` (same units as t), infinitely far when absent: then only rotation and focal length move it,
H = K_t R_t R_0^T K_0^-1; at a distance d, H = K_t (R + t n^T / d) K_0^-1 with the relative pose (R, t) from
camera 0 and n its optical axis. `"axes": "opengl"` (Blender, Maya: y up, looking down -z) is turned into
OpenCV's axes (y down, looking down +z) first.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from ..errors import ShotError
from .track import pixel_scale

FORMAT = "paistudio.camera_path"
CONVENTION = "H[t] maps frame-0 background pixels to frame t"
MAX_TRUST = 0.9  # largest share of a segment's progress profile the foreground motion may decide


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
    if frames and isinstance(frames[0], dict):
        return _rescaled(_from_cameras(data, bad), data, size)
    out = np.empty((n_frames, 3, 3), np.float64)
    for i, f in enumerate(frames):
        if not isinstance(f, list) or len(f) != 9 or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in f):
            raise bad(f"frame {i} is not a list of 9 numbers (row-major 3x3)")
        out[i] = np.array(f, np.float64).reshape(3, 3)
        if not np.isfinite(out[i]).all():
            raise bad(f"frame {i} has a NaN or infinite value; re-export the path")
        if abs(np.linalg.det(out[i] / max(np.abs(out[i]).max(), 1e-300))) < 1e-9:
            raise bad(f"frame {i} is a singular (non-invertible) matrix; re-export the path")
    return _rescaled(out @ np.linalg.inv(out[0])[None], data, size)


def _rescaled(out: np.ndarray, data: dict, size: tuple[int, int] | None) -> np.ndarray:
    """A path made for the file's width/height, in `size` pixels, normalised (H[2, 2] = 1)."""
    w, h = data.get("width"), data.get("height")
    if size is not None and all(isinstance(v, (int, float)) and v > 0 for v in (w, h)) and (w, h) != tuple(size):
        s = pixel_scale(size[0] / w, size[1] / h)
        out = s[None] @ out @ np.linalg.inv(s)[None]
    return out / out[:, 2:3, 2:3]


_OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0])  # camera axes: y up / looking down -z  ->  y down / looking down +z


def _matrix(value, shape: tuple[int, ...], what: str, bad) -> np.ndarray:
    try:
        m = np.array(value, np.float64)
    except (TypeError, ValueError):
        m = None
    if m is None or m.shape != shape or not np.isfinite(m).all():
        raise bad(f"{what} must be {'x'.join(map(str, shape))} finite numbers")
    return m


def _from_cameras(data: dict, bad) -> np.ndarray:
    """[N, 3, 3] background homographies from per-frame K, R, t (see the module docstring)."""
    axes = data.get("axes", "opencv")
    if axes not in ("opencv", "opengl"):
        raise bad(f"has axes {axes!r}; use 'opencv' (y down, looking down +z) or 'opengl' (y up, looking down -z)")
    flip = _OPENGL_TO_OPENCV if axes == "opengl" else np.eye(3)
    distance = data.get("plane_distance")
    if distance is not None and (isinstance(distance, bool) or not isinstance(distance, (int, float))
                                 or not distance > 0):
        raise bad("plane_distance must be a positive number (or absent: the background is infinitely far)")
    default_k = data.get("K")
    cams = []
    for i, f in enumerate(data["frames"]):
        if not isinstance(f, dict) or "R" not in f or ("K" not in f and default_k is None):
            raise bad(f"frame {i} needs R (and K, here or at the top level), t optional; or give every frame as 9 numbers")
        k = _matrix(f.get("K", default_k), (3, 3), f"frame {i} K", bad)
        r = flip @ _matrix(f["R"], (3, 3), f"frame {i} R", bad)
        t = flip @ _matrix(f.get("t", [0, 0, 0]), (3,), f"frame {i} t", bad)
        if abs(np.linalg.det(r) - 1) > 1e-3 or abs(np.linalg.det(k)) < 1e-12:
            raise bad(f"frame {i} R is not a rotation or K is singular; re-export the camera")
        cams.append((k, r, t))
    k0, r0, t0 = cams[0]
    k0_inv = np.linalg.inv(k0)
    out = np.empty((len(cams), 3, 3), np.float64)
    for i, (k, r, t) in enumerate(cams):
        rel = r @ r0.T  # camera 0 -> camera i rotation
        move = rel if distance is None else rel + np.outer(t - rel @ t0, [0.0, 0.0, 1.0]) / float(distance)
        out[i] = k @ move @ k0_inv
    return out
