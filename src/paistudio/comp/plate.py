"""Background plate synthesis: anchored references warped along the camera path and blended across anchors.

Reference k (fitted to the output size) depicts the background as seen at its anchor frame a_k, so its
contribution to frame t is warpPerspective(ref_k, H[t] @ inv(H[a_k])). Between two anchors the two
bracketing references are blended with time weights (1 at a reference's own anchor, so the plate there
*is* that reference); before the first / after the last anchor the nearest reference is used alone.

The camera may look past a reference's edges. Each reference is therefore extended once into a canvas
with a margin on every side, filled in this order:
 1. its own surround: what cover-fitting cut from the image (a panorama's sides), which is real background;
 2. mosaic: the other references warped into this reference's view (gain-matched on their overlap
    with it), nearest anchor on top; both softened at their outer edges;
 3. the rest: the reference mirrored across its edges, fading with distance into a smooth colour field
    pulled from everything known (a normalised-convolution pyramid at low resolution), which reads as
    out-of-focus background. Beyond the canvas the warp repeats its (smooth) edge: no frame has black borders.
Per frame the cost is one warpPerspective per active reference (at most two) and one weighted blend.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import ShotError
from ..io.images import fit_cover  # noqa: F401  (re-exported: references are fitted to the frame with it)
from .parallax import ParallaxFields
from .track import pixel_scale

MARGIN = 0.4  # canvas margin on each side as a fraction of the frame size: how far the camera may look past a reference
MIRROR_FADE = 0.25  # distance (fraction of min(W, H)) over which the mirrored edge fades into the smooth field
MIRROR_BLUR = 0.01  # blur (fraction of the canvas's long side) of the mirrored edge away from the reference
FIELD_SIDE = 480  # long side of the low-res canvas on which the smooth colour field is computed
FEATHER = 0.01  # softening of a mosaic piece's outer edge, fraction of the frame diagonal
GAIN_RANGE = (0.7, 1.4)  # per-channel gain limits when matching another reference's exposure
COVERAGE_GRID = (32, 18)  # points per frame at which `filled_shares` looks whether a reference shows the background


def _translate(x: float, y: float) -> np.ndarray:
    return np.array([[1, 0, x], [0, 1, y], [0, 0, 1]], np.float64)


def _smooth_field(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Fill where `den` is 0 by pull-push, a normalised-convolution pyramid.

    num [h, w, 3] f32: colour premultiplied by the weight; den [h, w] f32: weight in [0, 1].
    """
    levels = []
    while min(den.shape) > 4:
        levels.append((num, den))
        num, den = cv2.pyrDown(num), cv2.pyrDown(den)
    known = den > 1e-6
    mean = (num[known].sum(axis=0) / den[known].sum()) if known.any() else np.full(3, 128.0, np.float32)
    fill = np.where(known[..., None], num / np.maximum(den, 1e-6)[..., None], mean).astype(np.float32)
    for num, den in reversed(levels):
        up = cv2.pyrUp(fill, dstsize=(den.shape[1], den.shape[0]))
        w = np.clip(den * 4.0, 0.0, 1.0)[..., None]
        fill = w * (num / np.maximum(den, 1e-6)[..., None]) + (1 - w) * up
    return fill


class PlateRenderer:
    """Per-frame background plates from 1-3 anchored references and a camera path.

    refs: RGB uint8 [H, W, 3], already fitted to `size` = (W, H); anchors: increasing frame indices, one
    per reference; path: [N, 3, 3] frame-0 background -> frame t. `surrounds`: per reference, the whole image
    scaled as for the crop and where the crop starts in it (`io.images.cover`), or None; it fills the margin
    first. `margin` (x, y): the canvas border in pixels, when more than MARGIN of the frame is needed (a sweep-fitted
    reference). `reveal_fill=False` skips the canvas extension: regions no reference covers stay black (to inspect
    coverage). `parallax=True` measures the residual flow between neighbouring references (`comp.parallax`) and,
    where the scene is not planar, moves each reference along it between anchors.
    """

    def __init__(self, refs: list[np.ndarray], anchors: list[int], path: np.ndarray, size: tuple[int, int],
                 reveal_fill: bool = True, parallax: bool = False,
                 surrounds: list[tuple[np.ndarray, tuple[int, int]] | None] | None = None,
                 margin: tuple[int, int] | None = None):
        W, H = size
        path = np.asarray(path, np.float64)
        if not refs or len(refs) != len(anchors):
            raise ShotError("references", f"{len(refs)} references for {len(anchors)} anchors; give one anchor each")
        if any(r.shape != (H, W, 3) or r.dtype != np.uint8 for r in refs):
            raise ShotError("references", f"references must be RGB uint8 fitted to {W}x{H}; fit them with fit_cover")
        if path.ndim != 3 or path.shape[1:] != (3, 3) or not np.isfinite(path).all():
            raise ShotError("camera", f"camera path must be finite [N, 3, 3], got shape {path.shape}")
        if any(b <= a for a, b in zip(anchors, anchors[1:])) or anchors[0] < 0 or anchors[-1] >= len(path):
            raise ShotError("references", f"anchors {list(anchors)} must increase within 0..{len(path) - 1}")
        self.size = (W, H)  # output frame size
        self.anchors = [int(a) for a in anchors]  # frame each reference depicts
        self.path = path  # [N, 3, 3] frame-0 background -> frame t
        self.reveal_fill = reveal_fill  # extend references past their edges (else black there)
        default = (round(MARGIN * W), round(MARGIN * H))
        self.margin = (max(margin[0], default[0]), max(margin[1], default[1])) if margin else default  # canvas border
        if not reveal_fill:
            self.margin = (0, 0)
        self._inv_anchor = [np.linalg.inv(path[a]) for a in self.anchors]  # frame a_k -> frame-0 background
        self._surrounds = list(surrounds) if surrounds is not None else [None] * len(refs)
        if len(self._surrounds) != len(refs):
            raise ShotError("references", f"{len(self._surrounds)} surrounds for {len(refs)} references")
        fades = self._margin_fades() if reveal_fill else None  # the same for every reference
        self.canvases = [self._extend(k, refs, fades) for k in range(len(refs))]  # [H+2my, W+2mx, 4] uint8 (RGBA: fast warps)
        self._small: dict[tuple[int, int], list[np.ndarray]] = {}  # downscaled canvases for frame_small
        self.parallax = ParallaxFields(refs, self.anchors, path) if parallax and len(refs) > 1 else None

    def __len__(self) -> int:
        return len(self.path)

    def weights(self, t: int) -> list[tuple[int, float]]:
        """(reference index, weight) pairs blended for frame t; weights sum to 1."""
        a = self.anchors
        if t <= a[0]:
            return [(0, 1.0)]
        if t >= a[-1]:
            return [(len(a) - 1, 1.0)]
        k = int(np.searchsorted(a, t, side="right")) - 1  # a[k] <= t < a[k+1]
        if t == a[k]:
            return [(k, 1.0)]
        w = (t - a[k]) / (a[k + 1] - a[k])
        return [(k, 1.0 - w), (k + 1, w)]

    def filled_shares(self, grid: tuple[int, int] = COVERAGE_GRID) -> np.ndarray:
        """[N] per frame, the share of the output frame no reference shows (its own image, cut-off sides included),
        so that the plate there is made-up fill; sampled on a `grid` (columns, rows) of points."""
        W, H = self.size
        xs, ys = np.meshgrid((np.arange(grid[0]) + 0.5) * W / grid[0] - 0.5,
                             (np.arange(grid[1]) + 0.5) * H / grid[1] - 0.5)
        pts = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])  # [3, P] output pixels
        extents = []  # per reference: the image it has on its anchor frame's pixel grid (x0, y0, x1, y1)
        for k in range(len(self.anchors)):
            if self._surrounds[k] is None:
                extents.append((-0.5, -0.5, W - 0.5, H - 0.5))
            else:
                image, (x0, y0) = self._surrounds[k]
                extents.append((-x0 - 0.5, -y0 - 0.5, image.shape[1] - x0 - 0.5, image.shape[0] - y0 - 0.5))
        n = len(self.path)
        active = np.zeros((len(self.anchors), n), bool)  # [K, N] which references each frame blends
        for t in range(n):
            for k, _ in self.weights(t):
                active[k, t] = True
        seen = np.zeros((n, pts.shape[1]), bool)  # [N, P]
        for start in range(0, n, 512):  # a bounded batch of frames at a time: memory flat in clip length
            frames = slice(start, min(n, start + 512))
            for k, (x0, y0, x1, y1) in enumerate(extents):
                q = np.linalg.inv(self.path[frames] @ self._inv_anchor[k]) @ pts  # [B, 3, P] frame -> anchor-k view
                x, y = q[:, 0] / q[:, 2], q[:, 1] / q[:, 2]
                inside = (q[:, 2] > 0) & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
                seen[frames] |= inside & active[k, frames, None]
        return 1.0 - seen.mean(axis=1)

    def magnifications(self) -> np.ndarray:
        """[N] per frame, how much the plate scales its nearest reference at the frame's centre (1: pixel for pixel;
        2: one reference pixel spreads over two frame pixels each way, so it looks soft; 0.5: the camera sees twice
        the reference's extent each way, as when it looks along the reference's plane towards its horizon)."""
        W, H = self.size
        c = np.array([[W / 2 - 0.5, H / 2 - 0.5, 1], [W / 2 + 0.5, H / 2 - 0.5, 1], [W / 2 - 0.5, H / 2 + 0.5, 1]]).T
        nearest = [max(self.weights(t), key=lambda kw: kw[1])[0] for t in range(len(self.path))]
        out = np.empty(len(self.path))
        for k in set(nearest):
            frames = np.flatnonzero(np.array(nearest) == k)
            q = np.linalg.inv(self.path[frames] @ self._inv_anchor[k]) @ c  # [F, 3, 3] frame -> anchor-k view
            x, y = q[:, 0] / q[:, 2], q[:, 1] / q[:, 2]  # [F, 3]
            area = np.abs((x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0]))
            out[frames] = 1.0 / np.sqrt(np.maximum(area, 1e-12))  # reference pixels under one frame pixel
        return out

    def frame(self, t: int, out: np.ndarray | None = None) -> np.ndarray:
        """The plate of frame t, RGB uint8 [H, W, 3]; written into `out` (contiguous, that shape) when given."""
        return self._render(t, self.size, self.canvases, np.eye(3), None, out)

    def frame_small(self, t: int, scale: float) -> np.ndarray:
        """The plate of frame t at `scale` (same rounding as the analysis pass: max(16, round(W*scale)))."""
        W, H = self.size
        small = (max(16, round(W * scale)), max(16, round(H * scale)))
        if small == self.size:
            return self.frame(t)
        out_s = pixel_scale(small[0] / W, small[1] / H)  # full-res frame -> small frame
        canvases = self._small.get(small)
        if canvases is None:
            cw, ch = self.canvases[0].shape[1], self.canvases[0].shape[0]
            dims = (max(1, round(cw * small[0] / W)), max(1, round(ch * small[1] / H)))
            canvases = self._small[small] = [cv2.resize(c, dims, interpolation=cv2.INTER_AREA) for c in self.canvases]
        c = canvases[0]
        canvas_s = pixel_scale(c.shape[1] / self.canvases[0].shape[1], c.shape[0] / self.canvases[0].shape[0])
        return self._render(t, small, canvases, out_s, canvas_s)

    def _render(self, t: int, out_size: tuple[int, int], canvases: list[np.ndarray], out_s: np.ndarray,
                canvas_s: np.ndarray | None, dst: np.ndarray | None = None) -> np.ndarray:
        """Blend the active references' warps; `out_s`/`canvas_s` rescale frame/canvas pixels (None: full res).

        Canvases are RGBA because OpenCV's 4-channel bilinear warp is ~2.5x faster than its 3-channel one.
        """
        mx, my = self.margin
        W, H = self.size
        to_canvas = _translate(mx, my) if canvas_s is None else canvas_s @ _translate(mx, my)
        border = cv2.BORDER_REPLICATE if self.reveal_fill else cv2.BORDER_CONSTANT
        out = None
        active = self.weights(t)
        for i, (k, w) in enumerate(active):
            rel = self.path[t] @ self._inv_anchor[k]  # anchor-k view -> frame t
            flow = None
            if canvas_s is None and self.parallax is not None and len(active) == 2:
                flow = self.parallax.flow(k, towards_next=i == 0)  # each reference moves towards the other
            share = 1.0 - w  # of its residual flow: 0 at its own anchor, 1 at the other's
            if flow is not None:
                maps = self.parallax.maps(np.linalg.inv(rel), flow, share, out_size, _translate(mx, my))
                img = cv2.remap(canvases[k], *maps, cv2.INTER_LINEAR, borderMode=border)
            elif canvas_s is None and np.allclose(rel / rel[2, 2], np.eye(3), atol=1e-9):
                img = canvases[k][my:my + H, mx:mx + W]  # at its anchor the plate is the reference itself
            else:
                m = out_s @ rel @ np.linalg.inv(to_canvas)  # canvas -> output frame
                img = cv2.warpPerspective(canvases[k], m, out_size, flags=cv2.INTER_LINEAR, borderMode=border)
            out = img if out is None else cv2.addWeighted(out, 1.0 - w, img, w, 0.0)  # [h, w, 4]
        return cv2.cvtColor(out, cv2.COLOR_RGBA2RGB, dst=dst)

    def _margin_fades(self) -> tuple[np.ndarray, np.ndarray]:
        """[ch, cw] float32 weights of the margin fill, by distance u from the reference's rectangle (a share of
        MIRROR_FADE): towards the out-of-focus mirror (1 at u = 1/3) and towards the smooth field (1 at u = 1)."""
        mx, my = self.margin
        W, H = self.size
        cw, ch = W + 2 * mx, H + 2 * my
        xs = np.maximum(np.maximum(mx - np.arange(cw), np.arange(cw) - (mx + W - 1)), 0).astype(np.float32)
        ys = np.maximum(np.maximum(my - np.arange(ch), np.arange(ch) - (my + H - 1)), 0).astype(np.float32)
        reach = np.float32(MIRROR_FADE * min(W, H))
        u = cv2.sqrt(np.square(ys / reach)[:, None] + np.square(xs / reach)[None, :])  # [ch, cw] 0 at the edge
        return np.minimum(3 * u, np.float32(1)), np.minimum(u, np.float32(1), out=u)

    def _surround_on_canvas(self, k: int, canvas: tuple[int, int]) -> tuple[np.ndarray, np.ndarray] | None:
        """Reference k's surround placed on its canvas `(cw, ch)`: RGB [ch, cw, 3] and its cover [ch, cw] (255)."""
        if self._surrounds[k] is None:
            return None
        image, (x0, y0) = self._surrounds[k]
        mx, my = self.margin
        cw, ch = canvas
        ox, oy = x0 - mx, y0 - my  # image pixel of canvas pixel (0, 0)
        sx0, sy0 = max(0, ox), max(0, oy)
        sx1, sy1 = min(image.shape[1], ox + cw), min(image.shape[0], oy + ch)
        if sx1 <= sx0 or sy1 <= sy0:
            return None
        layer = np.zeros((ch, cw, 3), np.uint8)
        mask = np.zeros((ch, cw), np.uint8)
        dst = (slice(sy0 - oy, sy1 - oy), slice(sx0 - ox, sx1 - ox))
        layer[dst] = image[sy0:sy1, sx0:sx1]
        mask[dst] = 255
        return layer, mask

    def _extend(self, k: int, refs: list[np.ndarray], fades: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
        """Reference k on an RGBA canvas with the margin filled (mosaic, then mirrored edge fading to a field)."""
        ref = refs[k]
        mx, my = self.margin
        if mx == 0 and my == 0:
            return cv2.cvtColor(ref, cv2.COLOR_RGB2RGBA)
        W, H = self.size
        cw, ch = W + 2 * mx, H + 2 * my
        inner = (slice(my, my + H), slice(mx, mx + W))  # the reference's own rectangle on the canvas
        mosaic = np.zeros((ch, cw, 3), np.uint8)
        cover = np.zeros((ch, cw), np.uint8)  # 255 where some other reference sees the canvas
        ones = np.full((H, W), 255, np.uint8)
        shrink = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))
        order = sorted((j for j in range(len(refs)) if j != k), key=lambda j: -abs(self.anchors[j] - self.anchors[k]))
        for j in order:  # farthest first: nearer anchors paint over
            m = _translate(mx, my) @ self.path[self.anchors[k]] @ self._inv_anchor[j]  # ref j pixels -> canvas k
            warped = cv2.warpPerspective(refs[j], m, (cw, ch), flags=cv2.INTER_LINEAR)
            valid = cv2.erode(cv2.warpPerspective(ones, m, (cw, ch), flags=cv2.INTER_NEAREST), shrink)
            both = np.ascontiguousarray(valid[inner])
            if cv2.countNonZero(both) > 64:  # match exposure to this reference where both see the same background
                want = np.array(cv2.mean(ref, both)[:3])
                have = np.array(cv2.mean(np.ascontiguousarray(warped[inner]), both)[:3])
                warped = cv2.transform(warped, np.diag(np.clip((want + 1) / (have + 1), *GAIN_RANGE)))
            mosaic = cv2.copyTo(warped, valid, mosaic)
            cover = cv2.bitwise_or(cover, valid)
        own = self._surround_on_canvas(k, (cw, ch))
        if own is not None:  # the image's own pixels beyond the crop: over every other reference
            mosaic = cv2.copyTo(own[0], own[1], mosaic)
            cover = cv2.bitwise_or(cover, own[1])
        known, weight = mosaic.copy(), cover.copy()  # everything some reference shows, premultiplied (0 elsewhere)
        known[inner], weight[inner] = ref, 255
        f = min(1.0, FIELD_SIDE / max(cw, ch))
        small = (max(1, round(cw * f)), max(1, round(ch * f)))
        field = _smooth_field(cv2.resize(known, small, interpolation=cv2.INTER_AREA).astype(np.float32),
                              cv2.resize(weight, small, interpolation=cv2.INTER_AREA).astype(np.float32) / 255)
        field = cv2.resize(np.clip(field + 0.5, 0, 255).astype(np.uint8), (cw, ch), interpolation=cv2.INTER_LINEAR)
        mirror = cv2.copyMakeBorder(ref, my, my, mx, mx, cv2.BORDER_REFLECT)
        soft = cv2.GaussianBlur(cv2.resize(mirror, small, interpolation=cv2.INTER_AREA), (0, 0), MIRROR_BLUR * max(small))
        soft = cv2.resize(soft, (cw, ch), interpolation=cv2.INTER_LINEAR)  # the mirrored edge, out of focus
        to_soft, to_field = fades
        fill = cv2.blendLinear(mirror, soft, 1 - to_soft, to_soft)  # sharp -> out of focus quickly
        canvas = cv2.blendLinear(fill, field, 1 - to_field, to_field)  # -> smooth colour field
        if cv2.countNonZero(cover):  # the mosaic, faded in from each piece's outer edge: no hard seam
            ramp = max(1.0, FEATHER * np.hypot(W, H))
            padded = cv2.copyMakeBorder(cover, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=255)
            cover_w = np.minimum(cv2.distanceTransform(padded, cv2.DIST_L2, 3)[1:-1, 1:-1] / np.float32(ramp),
                                 np.float32(1))  # [ch, cw] f32
            canvas = cv2.blendLinear(mosaic, canvas, cover_w, 1 - cover_w)
        canvas[inner] = ref  # exact: the plate at the anchor is the reference
        return cv2.cvtColor(canvas, cv2.COLOR_RGB2RGBA)
