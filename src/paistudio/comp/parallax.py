"""Parallax between references: what a single homography leaves unexplained, as a dense residual flow.

A homography moves a plane. When the scene has depth, two references aligned by the camera path's homography
still disagree: near things have moved more than far ones (and people in the background have walked). Between
two anchors the plate blends the two references, so that disagreement shows up as a doubled, smeared
background. Here, once per pair of neighbouring references (k, k+1):

1. reference k+1 is warped into k's view with the path's homography, at low resolution (`FLOW_WIDTH`);
2. a dense DIS optical flow from k to the warped k+1 gives the residual motion D_k (in k's pixels); the
   flow back gives the same for k+1 (reference k warped into k+1's view, flow from k+1 to it);
3. a forward-backward check keeps only flow that both directions agree on; the rest (occlusions, areas one
   reference does not see) is filled from trusted neighbours by normalised blurring and fades to zero motion
   (the homography) where nothing is trusted;
4. if the trusted residual (its 90th percentile) is below `PLANAR_PX` full-res pixels the pair is planar: no field, the
   homography path is used as before.

Rendering frame t between the anchors at blend weight w (0 at a_k, 1 at a_{k+1}), reference k is sampled at
q − w·D_k(q) and reference k+1 at q − (1 − w)·D_{k+1}(q), q being the homography's position: each moves
part of the way towards the other, linearly in time, so near and far parts travel at their own speeds and the
two warped references line up before they are blended. At the anchors w is 0 or 1 and the plate is exactly the
reference. The sampling maps are computed on a coarse grid (`MAP_STEP` px) and resized, then one cv2.remap per
reference.
"""

from __future__ import annotations

import cv2
import numpy as np

FLOW_WIDTH = 640  # flow between references runs at this width (or the frame's, if smaller)
PLANAR_PX = 0.75  # below this residual (full-res px, 90th percentile of the trusted flow) a pair is planar
PLANAR_QUANTILE = 90  # parallax may be confined to a near object: look at the largest trusted residuals
CONSISTENT_PX = 1.0  # forward-backward disagreement (flow px) above which a flow vector is not trusted
FILL_SIGMA = 0.03  # normalised-blur radius that fills untrusted flow, fraction of the flow image width
MAP_STEP = 8  # sampling maps are computed every MAP_STEP output pixels and resized


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb[..., :3], cv2.COLOR_RGB2GRAY)


def _scale(sx: float, sy: float) -> np.ndarray:
    """Full-res pixel → resized pixel, with pixel centres (cv2.resize's convention: (x + 0.5)·s − 0.5)."""
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]], np.float64)


def residual_flow(ref_a: np.ndarray, ref_b: np.ndarray, b_to_a: np.ndarray) -> tuple[np.ndarray, float]:
    """Residual motion of reference a's pixels towards b, after the homography `b_to_a` (b pixels → a pixels).

    Returns (flow [h, w, 2] float32 at flow resolution, in FULL-resolution pixels; the scale factor
    flow/full). The flow is zero where nothing could be trusted.
    """
    H, W = ref_a.shape[:2]
    s = min(1.0, FLOW_WIDTH / W)
    size = (max(16, round(W * s)), max(16, round(H * s)))
    S = _scale(size[0] / W, size[1] / H)
    small_a = cv2.resize(_grey(ref_a), size, interpolation=cv2.INTER_AREA)
    small_b = cv2.resize(_grey(ref_b), size, interpolation=cv2.INTER_AREA)
    m = S @ b_to_a @ np.linalg.inv(S)
    warped = cv2.warpPerspective(small_b, m, size, flags=cv2.INTER_LINEAR)
    seen = cv2.warpPerspective(np.full(size[::-1], 255, np.uint8), m, size, flags=cv2.INTER_NEAREST)
    seen = cv2.erode(seen, np.ones((5, 5), np.uint8))
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    fwd = dis.calc(small_a, warped, None)  # [h, w, 2]: a(q) ≈ warped(q + fwd(q))
    bwd = dis.calc(warped, small_a, None)
    gx, gy = np.meshgrid(np.arange(size[0], dtype=np.float32), np.arange(size[1], dtype=np.float32))
    back = cv2.remap(bwd, gx + fwd[..., 0], gy + fwd[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=(1e3, 1e3))
    trusted = (np.hypot(*(fwd + back).transpose(2, 0, 1)) < CONSISTENT_PX) & (seen > 0)
    weight = trusted.astype(np.float32)
    sigma = max(1.0, FILL_SIGMA * size[0])
    den = cv2.GaussianBlur(weight, (0, 0), sigma)
    num = cv2.GaussianBlur(fwd * weight[..., None], (0, 0), sigma)
    filled = num / np.maximum(den, 1e-3)[..., None]
    fade = np.clip(den / 0.2, 0.0, 1.0)[..., None]  # far from anything trusted: back to zero residual
    flow = np.where(trusted[..., None], fwd, filled * fade).astype(np.float32)
    flow /= np.float32(s)  # flow-resolution pixels → full-resolution pixels
    mags = np.hypot(flow[..., 0], flow[..., 1])[trusted]
    residual = float(np.percentile(mags, PLANAR_QUANTILE)) if mags.size else 0.0
    return flow, residual


class ParallaxFields:
    """The residual flows of every neighbouring reference pair, and the sampling maps that apply them.

    `fields[k]` holds (D_k towards k+1, D_{k+1} towards k), each [h, w, 2] at flow resolution in full-res px,
    or None when the pair is planar. `residuals[k]` is the pair's trusted residual (90th percentile, px).
    """

    def __init__(self, refs: list[np.ndarray], anchors: list[int], path: np.ndarray):
        self.size = (refs[0].shape[1], refs[0].shape[0])
        self.fields: list[tuple[np.ndarray, np.ndarray] | None] = []
        self.residuals: list[float] = []
        for k in range(len(refs) - 1):
            a, b = anchors[k], anchors[k + 1]
            b_to_a = path[a] @ np.linalg.inv(path[b])
            fa, ra = residual_flow(refs[k], refs[k + 1], b_to_a)
            fb, rb = residual_flow(refs[k + 1], refs[k], np.linalg.inv(b_to_a))
            residual = max(ra, rb)
            self.residuals.append(round(residual, 3))
            self.fields.append(None if residual < PLANAR_PX else (fa, fb))

    @property
    def active(self) -> bool:
        return any(f is not None for f in self.fields)

    def flow(self, k: int, towards_next: bool) -> np.ndarray | None:
        """D for reference k of the pair (k, k+1) (towards_next) or reference k of the pair (k-1, k)."""
        pair = self.fields[k] if towards_next else self.fields[k - 1]
        if pair is None:
            return None
        return pair[0] if towards_next else pair[1]

    def maps(self, to_ref: np.ndarray, flow: np.ndarray, share: float, out_size: tuple[int, int],
             ref_to_canvas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Float32 remap maps (x, y) [H_out, W_out] into a canvas for output pixels.

        to_ref: output pixel → reference pixel (full res, homography); flow: D at flow resolution in full-res
        px; share: the part of D applied (w or 1 − w); ref_to_canvas: reference pixel → canvas pixel.
        """
        W, H = out_size
        # grid nodes where cv2.resize by MAP_STEP puts its samples (half-pixel centres), one node of padding on
        # each side so the crop below only interpolates
        gw, gh = -(-W // MAP_STEP) + 2, -(-H // MAP_STEP) + 2
        nodes = lambda n: (np.arange(n, dtype=np.float64) - 1 + 0.5) * MAP_STEP - 0.5  # noqa: E731
        gx, gy = np.meshgrid(nodes(gw), nodes(gh))
        pts = np.stack([gx, gy, np.ones_like(gx)], -1) @ to_ref.T  # [gh, gw, 3]
        qx, qy = pts[..., 0] / pts[..., 2], pts[..., 1] / pts[..., 2]  # reference pixels (full res)
        fh, fw = flow.shape[:2]
        sx, sy = fw / self.size[0], fh / self.size[1]
        # flow pixel centres: a full-res position q sits at (q + 0.5)·s − 0.5 in the flow image
        d = cv2.remap(flow, ((qx + 0.5) * sx - 0.5).astype(np.float32), ((qy + 0.5) * sy - 0.5).astype(np.float32),
                      cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # [gh, gw, 2] D at q
        src = np.stack([qx - share * d[..., 0], qy - share * d[..., 1], np.ones_like(qx)], -1) @ ref_to_canvas.T
        mx = (src[..., 0] / src[..., 2]).astype(np.float32)
        my = (src[..., 1] / src[..., 2]).astype(np.float32)
        crop = (slice(MAP_STEP, MAP_STEP + H), slice(MAP_STEP, MAP_STEP + W))
        mx = cv2.resize(mx, (gw * MAP_STEP, gh * MAP_STEP), interpolation=cv2.INTER_LINEAR)[crop]
        my = cv2.resize(my, (gw * MAP_STEP, gh * MAP_STEP), interpolation=cv2.INTER_LINEAR)[crop]
        return mx, my
