"""Frame metrics of the Cine-Restore benchmark, each a function of uint8 RGB frames with a known answer.

Conventions: frames are RGB uint8 `[H, W, 3]` read as values in [0, 1]; masks are uint8 `[H, W]` with 255 on
the pixels that count. A masked metric over an empty mask is NaN ("no measurement"), never 0.

- `mse`: mean squared error over all pixels and channels (optionally inside a mask).
- `ssim`: the structural similarity of Wang et al. 2004 (Gaussian window sigma 1.5, K1 0.01, K2 0.03, L 1),
  per channel then averaged; the masked variant averages the SSIM map over the mask's pixels.
- `green_excess`: screen spill, mean max(0, G − max(R, B)) over a band around the foreground's outline.
- `FlickerMeter` / `foreground_flicker`: frame-to-frame change of the foreground that the ground truth's own
  motion does not explain (the output warped by the ground truth's optical flow, compared with its next frame).
- `Lpips`: the learned perceptual metric, only from a local TorchScript file; without one it reports why
  it is unavailable and yields no number (no random or substitute weights).

Motion Consistency lives in `eval.motion`.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import FormatError, InputError

SSIM_SIGMA = 1.5  # Gaussian window of the SSIM statistics (the paper's and scikit-image's standard choice)
_C1, _C2 = 0.01 ** 2, 0.03 ** 2  # SSIM stabilisers for values in [0, 1]
EDGE_BAND_PX = 4  # half-width of the band around the foreground outline where spill is measured
_FLOW = None  # one DIS optical-flow object per process (creating it costs more than a small frame's flow)


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    for name, x in (("output", a), ("reference", b)):
        if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 3 or x.shape[2] != 3:
            desc = f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
            raise FormatError(f"{name} frame must be RGB uint8 [H, W, 3], got {desc}")
    if a.shape != b.shape:
        raise FormatError(f"output frame {a.shape} and reference frame {b.shape} differ in size; score frames of one size")


def _check_mask(mask: np.ndarray | None, shape) -> np.ndarray | None:
    if mask is None:
        return None
    if not isinstance(mask, np.ndarray) or mask.dtype != np.uint8 or mask.shape != tuple(shape[:2]):
        desc = f"{mask.dtype} {mask.shape}" if isinstance(mask, np.ndarray) else type(mask).__name__
        raise FormatError(f"mask must be uint8 {tuple(shape[:2])} (255 = counted), got {desc}")
    return mask


def mse(out: np.ndarray, ref: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean squared error in [0, 1] units, over the pixels where `mask` is nonzero (all when None)."""
    _check_pair(out, ref)
    mask = _check_mask(mask, out.shape)
    n = out.shape[0] * out.shape[1] if mask is None else cv2.countNonZero(mask)
    if n == 0:
        return float("nan")
    return float(cv2.norm(out, ref, cv2.NORM_L2SQR, mask) / (n * 3 * 255.0 ** 2))


def ssim_map(out: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM `[H, W]` float32 (channel mean), Gaussian-weighted statistics.

    Computed on 0..255 values with the stabilisers scaled to match (the same numbers as on [0, 1]), with
    σx² + σy² from one blur of x² + y², and in cv2 arithmetic (vectorised, threaded): the benchmark evaluates
    it on every frame of every output, where it is the largest cost.
    """
    _check_pair(out, ref)
    c1, c2 = _C1 * 255.0 ** 2, _C2 * 255.0 ** 2
    x, y = out.astype(np.float32), ref.astype(np.float32)
    blur = lambda z: cv2.GaussianBlur(z, (11, 11), SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    mx, my = blur(x), blur(y)
    mxy = cv2.multiply(mx, my)
    m2 = cv2.add(cv2.multiply(mx, mx), cv2.multiply(my, my))  # μx² + μy²
    s2 = cv2.subtract(blur(cv2.add(cv2.multiply(x, x), cv2.multiply(y, y))), m2)  # σx² + σy²
    sxy = cv2.subtract(blur(cv2.multiply(x, y)), mxy)  # σxy
    # addWeighted's constant reaches every channel (a plain scalar in cv2.add would reach only the first)
    num = cv2.multiply(cv2.addWeighted(mxy, 2.0, mxy, 0.0, c1), cv2.addWeighted(sxy, 2.0, sxy, 0.0, c2))
    den = cv2.multiply(cv2.addWeighted(m2, 1.0, m2, 0.0, c1), cv2.addWeighted(s2, 1.0, s2, 0.0, c2))
    return cv2.transform(cv2.divide(num, den), np.full((1, 3), 1 / 3, np.float32))  # [H, W] channel mean


def ssim(out: np.ndarray, ref: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean SSIM (1 = identical) over the frame, or over the pixels where `mask` is nonzero."""
    m = ssim_map(out, ref)
    mask = _check_mask(mask, out.shape)
    if mask is None:
        return float(m.mean())
    sel = mask > 0
    return float(m[sel].mean()) if sel.any() else float("nan")


def edge_band(mask: np.ndarray, band_px: int = EDGE_BAND_PX) -> np.ndarray:
    """uint8 band (255) of pixels within `band_px` of the outline of a binary foreground `mask`."""
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band_px + 1, 2 * band_px + 1))
    return cv2.subtract(cv2.dilate(mask, k), cv2.erode(mask, k))


def green_excess(frame: np.ndarray, mask: np.ndarray, band_px: int = EDGE_BAND_PX) -> float:
    """Screen spill at the foreground's edge: mean max(0, G − max(R, B)) in [0, 1] over the band of width
    2·`band_px` around the outline of `mask` (the true foreground). NaN when the mask has no outline.

    Natural green in the scene counts too, so compare a method's value with the ground truth's own.
    """
    _check_pair(frame, frame)
    return green_excess_in_band(frame, edge_band(_check_mask(mask, frame.shape), band_px))


def green_excess_in_band(frame: np.ndarray, band: np.ndarray) -> float:
    """`green_excess` over a precomputed `edge_band` (uint8, 255 = counted): one band serves many outputs."""
    sel = band > 0
    if not sel.any():
        return float("nan")
    px = frame[sel].astype(np.int16)  # [N, 3]
    return float(np.maximum(px[:, 1] - np.maximum(px[:, 0], px[:, 2]), 0).mean() / 255.0)


def _flow(a_grey: np.ndarray, b_grey: np.ndarray) -> np.ndarray:
    global _FLOW
    if _FLOW is None:
        _FLOW = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return _FLOW.calc(a_grey, b_grey, None)


class FlickerMeter:
    """Temporal change of the foreground not explained by its motion, mean absolute error in [0, 1].

    Built once from the ground truth `ref` `[T, H, W, 3]` and its true foreground `masks` `[T, H, W]`; then
    `meter(out)` scores any output of that clip. For each step the ground truth's backward optical flow
    (t+1 → t, DIS) warps output frame t onto t+1; the error is averaged over the foreground of t+1 (eroded
    2 px) where the flow holds on the ground truth itself (its own warp error < 8/255), so occlusions and
    flow failures do not count. A steady foreground scores 0 whatever its motion; one whose brightness
    jumps by d every frame scores about d. NaN with fewer than two frames or no usable foreground.
    `scale` < 1 measures on downscaled frames (the flow is the cost; 0.5 keeps the answer within a few %).
    """

    def __init__(self, ref: np.ndarray, masks: np.ndarray, scale: float = 1.0):
        if ref.ndim != 4 or ref.shape[-1] != 3 or ref.dtype != np.uint8 or masks.shape != ref.shape[:3]:
            raise FormatError(f"flicker needs ground truth [T, H, W, 3] uint8 and masks [T, H, W] of one size; got "
                              f"{ref.shape}, {masks.shape}")
        if not 0 < scale <= 1:
            raise InputError(f"flicker scale must be in (0, 1], got {scale}")
        self.shape = ref.shape
        self.scale = scale
        h, w = ref.shape[1:3]
        self._size = (max(8, round(w * scale)), max(8, round(h * scale)))
        small = [self._small(f) for f in ref]
        grid = np.mgrid[0:self._size[1], 0:self._size[0]].astype(np.float32)[::-1]  # [2, h, w] x, y
        core = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        self._steps = []  # (map x, map y, counted pixels) per step t -> t+1
        for t in range(len(ref) - 1):
            fg = cv2.erode(self._small(masks[t + 1], cv2.INTER_NEAREST), core) > 127
            if not fg.any():
                continue
            flow = _flow(*(cv2.cvtColor(small[s], cv2.COLOR_RGB2GRAY) for s in (t + 1, t)))  # [h, w, 2]
            mx, my = grid[0] + flow[..., 0], grid[1] + flow[..., 1]
            ok = fg & (cv2.absdiff(self._warp(small[t], mx, my), small[t + 1]).max(axis=2) < 8)
            if ok.any():
                self._steps.append((t, mx, my, ok))

    def _small(self, img: np.ndarray, interp=cv2.INTER_AREA) -> np.ndarray:
        return img if self.scale == 1 else cv2.resize(img, self._size, interpolation=interp)

    @staticmethod
    def _warp(img, mx, my):
        return cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def __call__(self, out: np.ndarray) -> float:
        if out.shape != self.shape or out.dtype != np.uint8:
            raise FormatError(f"output {out.dtype} {out.shape} does not match the ground truth {self.shape}")
        errors = []
        for t, mx, my, ok in self._steps:
            diff = cv2.absdiff(self._warp(self._small(out[t]), mx, my), self._small(out[t + 1]))
            errors.append(float(diff.astype(np.float32).mean(axis=2)[ok].mean()) / 255.0)
        return float(np.mean(errors)) if errors else float("nan")


def foreground_flicker(out: np.ndarray, ref: np.ndarray, mask: np.ndarray, scale: float = 1.0) -> float:
    """`FlickerMeter(ref, mask, scale)(out)`: out, ref `[T, H, W, 3]`, mask `[T, H, W]` (true foreground)."""
    if out.shape != ref.shape:
        raise FormatError(f"output {out.shape} and ground truth {ref.shape} must have one shape")
    return FlickerMeter(ref, mask, scale)(out)


class Lpips:
    """LPIPS from a local TorchScript file that maps two `[N, 3, H, W]` tensors in [-1, 1] to distances `[N]`
    (e.g. the official AlexNet LPIPS exported with `torch.jit.trace`). Weights are never downloaded:
    without a file, or without torch, `available` is False and `reason` says why.
    """

    def __init__(self, weights: str | Path | None):
        self.model = None
        self.reason = ""
        if weights is None:
            self.reason = "no LPIPS weights given (pass a local TorchScript file with --lpips PATH)"
            return
        path = Path(weights)
        if not path.is_file():
            raise InputError(f"LPIPS weights {path} do not exist; give a local TorchScript file or leave --lpips out")
        try:
            import torch
        except ImportError:
            self.reason = "LPIPS needs torch (pip install 'paistudio[model]')"
            return
        try:
            self.model = torch.jit.load(str(path), map_location="cpu").eval()
        except Exception as e:  # a foreign or broken file: say so, do not guess
            raise InputError(f"LPIPS weights {path} are not a loadable TorchScript file ({type(e).__name__}); "
                             "export the model with torch.jit.trace") from None
        self._torch = torch

    @property
    def available(self) -> bool:
        return self.model is not None

    def __call__(self, out: np.ndarray, ref: np.ndarray) -> float:
        """LPIPS distance between two frames (lower = closer); NaN when unavailable."""
        _check_pair(out, ref)
        if self.model is None:
            return float("nan")
        torch = self._torch
        to = lambda f: torch.from_numpy(f).permute(2, 0, 1)[None].float() / 127.5 - 1.0  # noqa: E731
        with torch.no_grad():
            return float(self.model(to(out), to(ref)).reshape(-1)[0])
