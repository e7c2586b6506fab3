"""Edge harmonisation: make a foreground's outline sit in the plate (all stages optional, see `EdgeSettings`).

- `refine_alpha`: a fast guided filter (He & Sun 2015) of the matte, guided by the frame's grey: the linear
  model q = A·I + B is fitted in windows of a 1/s copy, A and B are box-averaged there and sampled bilinearly
  at full size, so q takes the guide's fine detail (hair the frame shows stays, blocky steps follow the image
  edge). Only the band the filter can change (about 3·radius px around the matte's transitions) is written.
- `match_edge_blur`: the plate's and the matte's blur as a Gaussian σ (`edge_softness`: the ratio of gradient
  energy at pyramid levels 0 and 2); a plate blurrier than the matte softens the matte by the difference in
  quadrature (`soften_edges`), and pixels the matte newly covers get the nearby opaque foreground's colour.
- `light_wrap`: the plate's light, blurred with the foreground excluded, screened onto the foreground's rim.
- `match_grain`: Gaussian grain added to a foreground cleaner than the plate (`grain_level`: a robust noise σ).

Speed: a stage works in the matte's bounding box grown by its reach, aligned to the s x s cells of a 1/s copy
on which its blurs run (`_Cells`); which pixels can change is decided per cell, and float math runs only on
those pixels (a compact `colour.Pixels` grid). Grain is uint8 arithmetic on the box. Every other pixel is
copied bit-exact, and a stage that changes nothing returns its input array itself. The cost follows the
outline's length: at 1080p on one core 2.5–7 ms per stage for a person with a 4,000 px outline, 1.5–4.5 ms for
a 2,300 px one (measuring the plate's blur adds 1–2 ms; a caller can measure a still plate once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ..errors import FormatError, InputError
from .colour import GRID_COLS, SRGB_TO_LINEAR, Pixels, check_alpha, check_rgb, nonzero, to_srgb
from .blocks import box_means

_ALPHA = (np.arange(256) / 255.0).astype(np.float32)  # [256] alpha code → a
# edge_softness: a step blurred by σ has gradient energy ∝ 1/sqrt(σ² + b) at pyramid levels 0 and 2; b fitted on
# anti-aliased synthetic shapes blurred by σ = 0…6 (the pixel grid and Sobel give b0, two pyrDowns add the rest)
_B0, _B2 = 0.48, 13.4
REFINE_REACH_PX = 3  # refine_alpha changes only pixels this close to the matte's transitions
MIN_EDGE_BLUR = 0.75  # px: a smaller extra blur of the matte is not worth doing
GRAIN_TOLERANCE = 0.1  # the plate must be this much (relatively) noisier than the foreground to add grain
MIN_GRAIN = 0.5  # sRGB codes: smaller added grain is invisible
_TILE = 512  # side of the cached grain tile
_SAMPLES = 16384  # about this many pixels are sampled by grain_level


@dataclass(frozen=True)
class EdgeSettings:
    refine: bool = False  # guided-filter refinement of the matte's edge band
    light_wrap: float = 0.0  # strength in [0, 1]: share of the plate's light screened onto the rim (0 = off)
    wrap_px: float = 6.0  # Gaussian σ (px) of the wrapped light
    grain: bool = False  # add grain to a foreground cleaner than the plate
    edge_blur: bool = False  # soften the matte to a blurrier plate

    def __post_init__(self):
        if not 0.0 <= self.light_wrap <= 1.0:
            raise InputError(f"light_wrap strength must be in [0, 1], got {self.light_wrap}")
        if not self.wrap_px > 0:
            raise InputError(f"wrap_px must be > 0, got {self.wrap_px}")


def _check(fg: np.ndarray, alpha: np.ndarray, plate: np.ndarray | None = None) -> None:
    check_rgb(fg, "foreground")
    check_alpha(alpha, fg.shape)
    if plate is not None:
        check_rgb(plate, "plate")
        if plate.shape != fg.shape:
            raise FormatError(f"plate is {plate.shape} but the foreground is {fg.shape}; give crops of one size")


def _band(a: np.ndarray, reach: int) -> np.ndarray:
    """uint8 mask: pixels within `reach` (square) of both a nonzero and a non-255 pixel: the only ones a filter
    reaching that far can change (deep in the opaque interior or the empty exterior it changes nothing)."""
    k = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
    return cv2.bitwise_and(cv2.inRange(cv2.dilate(a, k), 1, 255), cv2.inRange(cv2.erode(a, k), 0, 254))


@dataclass(frozen=True)
class _Cells:
    """A box of an [H, W] image aligned to s x s cells: blurs run on its 1/s copy (`shrink`), results are
    sampled bilinearly (`sample`) at the full-size pixels of chosen cells (`pixels`)."""

    y0: int
    x0: int
    y1: int
    x1: int
    s: int
    width: int  # of the whole image

    @classmethod
    def around(cls, alpha: np.ndarray, grow: int, s: int, rect=None) -> _Cells | None:
        """The matte's bounding box (`rect`: cv2.boundingRect(alpha) when known) grown by `grow` px, or None."""
        x, y, w, h = cv2.boundingRect(alpha) if rect is None else rect
        if w == 0:
            return None
        (hh, ww), up = alpha.shape, (lambda v: -(-v // s) * s)
        return cls(max(0, y - grow) // s * s, max(0, x - grow) // s * s, min(hh, up(y + h + grow)),
                   min(ww, up(x + w + grow)), s, ww)

    @property
    def box(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    def shrink(self, v: np.ndarray) -> np.ndarray:
        """Cell means of a box-sized `v` (a partial last cell at the image's edge is filled by replication)."""
        ph, pw = -v.shape[0] % self.s, -v.shape[1] % self.s
        if ph or pw:
            v = cv2.copyMakeBorder(v, 0, ph, 0, pw, cv2.BORDER_REPLICATE)
        return box_means(v, self.s)

    def pixels(self, cells: np.ndarray) -> tuple[Pixels, np.ndarray, np.ndarray] | None:
        """The full-size pixels of the nonzero cells of a uint8 1/s mask (indexing the whole image) and their
        float32 map (x, y) into the 1/s copy, or None. Built offset by offset ([s², N] sums: long inner loops)."""
        s, bh, bw, w = self.s, self.y1 - self.y0, self.x1 - self.x0, self.width
        it = np.int64 if (self.y1 + s) * w >= 2**31 else np.int32
        cy, cx = (v.astype(it) * s for v in np.divmod(nonzero(cells), cells.shape[1]))  # [N] cells' first pixel
        ys, xs = ((d.reshape(-1, 1).astype(it) + c).reshape(-1) for d, c in zip(np.mgrid[0:s, 0:s], (cy, cx)))
        if bh % s or bw % s:  # a partial last cell at the image's edge: keep its pixels inside the image
            keep = (ys < bh) & (xs < bw)
            ys, xs = ys[keep], xs[keep]
        n = len(ys)
        if n == 0:
            return None
        grid = []
        for v, dtype in ((xs, it), (ys, it), ((ys + self.y0) * w + (xs + self.x0), it),
                         (xs, np.float32), (ys, np.float32)):
            g = np.zeros(-(-n // GRID_COLS) * GRID_COLS, dtype)  # padded with the box's pixel 0, as Pixels.of
            g[:n] = v
            grid.append(g.reshape(-1, GRID_COLS))
        mx, my = (cv2.add(cv2.multiply(g, 1.0 / s), 0.5 / s - 0.5) for g in grid[3:])  # (x + 0.5) / s − 0.5
        return Pixels(n, w, *grid[:3]), mx, my

    def sample(self, small: np.ndarray, maps: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Bilinear samples `[rows, C(, ch)]` of a 1/s image (1 or 4 channels: cv2.remap is slow with 2 or 3)."""
        return cv2.remap(small, *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _factor(x: float, top: int = 8) -> int:
    """The largest power of two ≤ x, within 1 … top."""
    return int(min(top, 2 ** max(0, math.floor(math.log2(max(x, 1.0))))))


def _gauss(img: np.ndarray, sigma: float) -> np.ndarray:
    k = 2 * math.ceil(3 * sigma) + 1
    return cv2.GaussianBlur(img, (k, k), sigma, borderType=cv2.BORDER_REPLICATE)


def _rgb_over(v: np.ndarray) -> np.ndarray:
    """[..., 4] (x·w, w) → x = (x·w) / max(w, 1e-6): a normalised (masked) blur's result."""
    return cv2.divide(cv2.cvtColor(v, cv2.COLOR_RGBA2RGB), cv2.merge([cv2.max(cv2.extractChannel(v, 3), 1e-6)] * 3))


def refine_alpha(frame: np.ndarray, alpha: np.ndarray, radius: int = 4, eps: float = 1e-3,
                 reach_px: int = REFINE_REACH_PX) -> np.ndarray:
    """The matte refined by a guided filter (guide: the frame's grey in [0, 1]) near its transitions; a copy,
    bit-exact in the opaque interior and the empty exterior (`alpha` itself when it has no transition).

    Only pixels within `reach_px` of a transition may change: an opaque pixel deeper inside keeps alpha 255
    (the subject's interior is never opened up by texture in the guide), an empty one farther out keeps 0.

    Windows are (2·round(radius/s) + 1)² cells of a 1/s copy, s = 4 for radius ≥ 4 (the fast guided filter's
    usual s ≈ radius). Not cv2.ximgproc.guidedFilter: it filters whole images at full size (about 10 ms for a
    1080p subject's box with a grey guide, 40 ms with a colour one).
    """
    _check(frame, alpha)
    if radius < 1 or not eps > 0:
        raise InputError(f"guided filter needs radius >= 1 and eps > 0, got {radius}, {eps}")
    s = min(4, _factor(radius))
    r = max(1, round(radius / s))  # window radius in cells
    reach = 2 * r + 1  # cells: A, B fitted over r, averaged over r, then sampled bilinearly
    cells = _Cells.around(alpha, (reach + 2) * s, s)
    if cells is None:
        return alpha
    p = cells.shrink(alpha[cells.box])  # [h, w] uint8, 1/s
    chosen = cells.pixels(_band(p, reach))
    if chosen is None:
        return alpha
    px, *maps = chosen
    grey = cv2.cvtColor(frame[cells.box], cv2.COLOR_RGB2GRAY)  # [bh, bw] the full-size guide
    a = alpha[cells.box]
    # cell means of I, p, I², I·p from full-size products (uint16, in 1/255² steps), so that windows made of cells
    # keep a thin strand's variance (means of a shrunk guide would lose it and the filter would erode the strand)
    u16, c = np.uint16, np.uint16(255)  # (numpy: cv2.multiply into uint16 is 3-5x slower here)
    moments = [np.multiply(x, y, dtype=u16) for x, y in ((grey, c), (a, c), (grey, grey), (grey, a))]
    k = (2 * r + 1,) * 2
    m = cv2.boxFilter(cv2.merge([cells.shrink(v) for v in moments]).astype(np.float32), -1, k)
    m_i, m_p, m_ii, m_ip = cv2.split(cv2.multiply(m, (1 / 65025.0,) * 4))
    big_a = (m_ip - m_i * m_p) / (m_ii - m_i * m_i + eps)  # cov(I, p) / (var(I) + eps) in each window
    zero = np.zeros_like(big_a)
    ab = cells.sample(cv2.boxFilter(cv2.merge([big_a, m_p - big_a * m_i, zero, zero]), -1, k), maps)  # [rows, C, 4]
    g = cv2.LUT(px.take_local(grey), _ALPHA)  # [rows, C]
    q = cv2.add(cv2.multiply(cv2.extractChannel(ab, 0), g), cv2.extractChannel(ab, 1))
    out = alpha.copy()
    px.put(out, cv2.multiply(q, 255.0, dtype=cv2.CV_8U))  # rounds, saturates to 0 … 255
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach_px + 1,) * 2)
    kept = out[cells.box]  # a view: writes go to `out`
    kept[cv2.erode(cv2.inRange(a, 255, 255), k) > 0] = 255
    kept[cv2.erode(cv2.inRange(a, 0, 0), k) > 0] = 0
    return out


def edge_softness(image: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Blur of the image's edges as a Gaussian σ in px (0: as sharp as a pixel grid allows, or no edges).

    For a step of any contrast blurred by σ the Sobel gradient energy per unit of edge length is ∝ 1/sqrt(σ² + b0)
    at full size and ∝ 1/sqrt(σ² + b2) two pyrDowns lower, so the ratio R = E0 / E2 of the sums gives
    σ² = (b2 − R²·b0) / (R² − 1). The noise's share (24·n² per pixel at level 0, 0.65·n² at level 2, n from
    `grain_level`) is taken off first. Sums run over `mask` (uint8, resized to each level) when given. Within
    0.1 px on clean step edges for σ ≤ 4; edges closer than ~4 px and fine texture read as sharper.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise FormatError(f"edge_softness needs a uint8 grey or RGB image, got {getattr(image, 'dtype', image)}")
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    if min(grey.shape) < 16:
        return 0.0
    noise = grain_level(grey) ** 2
    energy = []
    for level, k in ((grey, 24.0), (cv2.pyrDown(cv2.pyrDown(grey)), 0.65)):
        m = None if mask is None else cv2.resize(mask, level.shape[::-1], interpolation=cv2.INTER_NEAREST)
        e = sum(cv2.norm(cv2.Sobel(level, cv2.CV_16S, dx, 1 - dx), cv2.NORM_L2SQR, mask=m) for dx in (0, 1))
        energy.append(e - k * noise * (level.size if m is None else cv2.countNonZero(m)))
    if energy[1] <= 0 or energy[0] <= 0:
        return 0.0
    r2 = (energy[0] / energy[1]) ** 2
    return math.sqrt(max(0.0, (_B2 - r2 * _B0) / max(r2 - 1.0, 1e-9)))


def soften_edges(alpha: np.ndarray, sigma: float, rect=None) -> np.ndarray:
    """The matte blurred by a Gaussian σ (px) near its transitions; a copy, interior and exterior bit-exact."""
    if not isinstance(alpha, np.ndarray) or alpha.dtype != np.uint8 or alpha.ndim != 2:
        raise FormatError(f"matte must be uint8 [H, W], got {getattr(alpha, 'dtype', alpha)}")
    if sigma < 0:
        raise InputError(f"sigma must be >= 0, got {sigma}")
    # on a 1/2 copy once σ is large enough: 2x2 means and bilinear sampling add a variance of about 0.92 px²
    s = 2 if sigma >= 1.25 else 1
    low = math.sqrt(max(sigma * sigma - (0.92 if s == 2 else 0.0), 0.25)) / s
    reach = math.ceil(3 * low) + 1  # cells: the kernel's radius plus the bilinear sample's cell
    cells = None if sigma == 0 else _Cells.around(alpha, (reach + 2) * s, s, rect)
    a = None if cells is None else cells.shrink(alpha[cells.box])
    chosen = None if cells is None else cells.pixels(_band(a, reach))
    if chosen is None:
        return alpha
    px, *maps = chosen
    out = alpha.copy()
    px.put(out, cv2.multiply(cells.sample(_gauss(cv2.LUT(a, _ALPHA), low), maps), 255.0, dtype=cv2.CV_8U))
    return out


def match_edge_blur(fg: np.ndarray, alpha: np.ndarray, plate: np.ndarray,
                    plate_sigma: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(fg, alpha) with the matte softened to the plate: by sqrt(σ_plate² − σ_matte²) px when that is at least
    MIN_EDGE_BLUR, else the inputs themselves. σ_plate is measured on the plate near the matte unless given
    (`plate_sigma`: a still plate can be measured once per shot). Pixels the softened matte newly covers
    (a was 0: their colour is the screen's or the old background's) get G(F·o) / G(o) in linear light, o the
    fully opaque cells, G a Gaussian reaching 3σ + 2 cells out, so the widened edge shows foreground colour."""
    _check(fg, alpha, plate)
    rect = cv2.boundingRect(alpha)
    near = _Cells.around(alpha, 16, 1, rect)
    if near is None:
        return fg, alpha
    sp = edge_softness(plate[near.box]) if plate_sigma is None else float(plate_sigma)
    extra = math.sqrt(max(0.0, sp * sp - edge_softness(alpha[near.box]) ** 2))
    if extra < MIN_EDGE_BLUR:
        return fg, alpha
    soft = soften_edges(alpha, extra, rect)
    # the pixels the matte newly covers, and their colour: a normalised blur of the opaque 4 px cells (a mean of
    # opaque pixels is pure foreground) on 1/4 of the box, wide enough to reach 3σ out from the outline
    cells = _Cells.around(alpha, math.ceil(3 * extra) + 12, 4, rect)
    fresh = cv2.bitwise_and(cv2.inRange(alpha[cells.box], 0, 0), cv2.inRange(soft[cells.box], 1, 255))
    px = Pixels.of(fresh, (cells.x0, cells.y0), alpha.shape[1])
    if px is None:
        return fg, soft
    wgt = cv2.LUT(cv2.inRange(cells.shrink(alpha[cells.box]), 255, 255), _ALPHA)  # [h, w] 0 / 1
    lin = cv2.LUT(cells.shrink(fg[cells.box]), SRGB_TO_LINEAR)  # [h, w, 3]
    pre = _gauss(cv2.merge([*cv2.split(cv2.multiply(lin, cv2.merge([wgt] * 3))), wgt]), (extra + 4) / 4)
    maps = ((px.xs.astype(np.float32) + 0.5) / 4 - 0.5, (px.ys.astype(np.float32) + 0.5) / 4 - 0.5)
    out = fg.copy()
    px.put(out, to_srgb(_rgb_over(cells.sample(pre, maps))))
    return out, soft


def light_wrap(fg: np.ndarray, alpha: np.ndarray, plate: np.ndarray, width_px: float = 6.0,
               strength: float = 0.35) -> np.ndarray:
    """Foreground RGB with the plate's light wrapped onto its rim (`fg` itself when strength is 0).

    In linear light, with a the matte, P the plate and G_σ a Gaussian:
    L = G_W(P·(1 − a)) / G_W(1 − a), W = width_px (the plate's light near the pixel, the foreground excluded),
    w = min(1, 2·G_{W/2}(1 − a))·a (1 at a straight outline, 0.05 at W inside it, 0 beyond 1.5·W + a cell),
    F' = F + strength·w·L·(1 − F) (screen: brightens, never past white).
    The blurs run on 1/s cells (s ≈ W/1.5; the plate is averaged over a cell in sRGB, then linearised); pixels
    farther than about 1.5·W + s px from any a < 1 (always less than 3·W) are returned bit-exact.
    """
    _check(fg, alpha, plate)
    if not 0.0 <= strength <= 1.0 or not width_px > 0:
        raise InputError(f"light wrap needs strength in [0, 1] and width_px > 0, got {strength}, {width_px}")
    s = _factor(width_px / 1.5)
    sigma, near = width_px / s, math.sqrt(max(width_px ** 2 / 4 - s * s / 4, s * s / 4)) / s  # in cells
    # (near: a cell mean and bilinear sampling add a variance of about s²/4 px², taken off the rim's blur)
    reach = math.ceil(3 * near)  # cells into the foreground that can change
    cells = _Cells.around(alpha, (math.ceil(3 * sigma) + 2) * s, s)
    if strength == 0 or cells is None:
        return fg
    a = cells.shrink(alpha[cells.box])  # [h, w] uint8
    k = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
    chosen = cells.pixels(cv2.bitwise_and(cv2.dilate(cv2.inRange(a, 0, 254), k), cv2.inRange(a, 1, 255)))
    if chosen is None:
        return fg  # all opaque: no plate in reach
    px, *maps = chosen
    m = cv2.subtract(1.0, cv2.LUT(a, _ALPHA))  # [h, w] 1 − a
    lp = cv2.LUT(cells.shrink(plate[cells.box]), SRGB_TO_LINEAR)  # [h, w, 3]
    v = cells.sample(_gauss(cv2.merge([*cv2.split(cv2.multiply(lp, cv2.merge([m] * 3))), m]), sigma), maps)
    rim = cv2.min(cv2.multiply(cells.sample(_gauss(m, near), maps), 2.0), 1.0)  # [rows, C] min(1, 2·G(1 − a))
    t = cv2.divide(cv2.multiply(rim, cv2.LUT(px.take(alpha), _ALPHA), scale=strength),
                   cv2.max(cv2.extractChannel(v, 3), 1e-6))  # strength·w / G_W(1 − a)
    lw = cv2.multiply(cv2.cvtColor(v, cv2.COLOR_RGBA2RGB), cv2.merge([t] * 3))  # [rows, C, 3] strength·w·L
    f = cv2.LUT(px.take(fg), SRGB_TO_LINEAR)  # [rows, C, 3]
    out = fg.copy()
    px.put(out, to_srgb(cv2.add(f, cv2.multiply(lw, cv2.subtract((1.0, 1.0, 1.0, 0.0), f)))))
    return out


def grain_level(image: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Noise σ of a uint8 RGB (channels pooled) or grey image in codes, over `mask` (uint8) when given.

    Immerkær's operator N = [1 −2 1]ᵀ[1 −2 1] cancels flat areas and linear ramps, and N∗noise has σ·6, so
    σ = 1.4826·median|N∗I| / 6 (a median absolute deviation: sparse edges and texture do not count). Rows are
    sampled (about 16,384 pixels); the median comes from a histogram of the integer |N∗I|.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise FormatError(f"grain_level needs a uint8 RGB or grey image, got {getattr(image, 'dtype', image)}")
    h, w = image.shape[:2]
    if h < 3 or w < 3:
        return 0.0
    step = max(1, math.ceil((h - 2) * w / _SAMPLES))
    rows = [image[i:h - 2 + i:step].astype(np.int16) for i in range(3)]  # 3 × [n, w(, 3)] rows y−1, y, y+1
    v = rows[0] - 2 * rows[1] + rows[2]
    r = np.abs(v[:, :-2] - 2 * v[:, 1:-1] + v[:, 2:])  # [n, w − 2(, 3)]
    if mask is not None:
        r = r[cv2.erode(mask, np.ones((3, 3), np.uint8), borderValue=0)[1:h - 1:step, 1:w - 1] > 0]
    if r.size == 0:
        return 0.0
    counts = np.bincount(r.reshape(-1))
    cum = np.cumsum(counts)
    k = int(np.searchsorted(cum, r.size / 2))  # the bin holding the median
    below = cum[k - 1] if k > 0 else 0
    lo, width = (0.0, 0.5) if k == 0 else (k - 0.5, 1.0)  # code k covers [k − 0.5, k + 0.5), 0 only [0, 0.5)
    return 1.4826 * (lo + width * (r.size / 2 - below) / counts[k]) / 6.0


@lru_cache(maxsize=4)
def _grain_tile(sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian grain [T, T, 3] of σ codes as its positive and negative parts in uint8 (the same unit tile
    scaled; a few σ cached, 1.5 MB each: a shot's frames mostly need one)."""
    z = np.random.default_rng(0x6EA1).standard_normal((_TILE, _TILE, 3)).astype(np.float32) * sigma
    mag = np.clip(np.rint(np.abs(z)), 0, 255).astype(np.uint8)
    return np.where(z > 0, mag, 0).astype(np.uint8), np.where(z > 0, 0, mag).astype(np.uint8)


def _spans(n: int, offset: int) -> list[tuple[int, int, int]]:
    """(start, stop, tile start) runs covering 0 … n with tile index (i + offset) mod T."""
    runs, i = [], 0
    while i < n:
        t = (i + offset) % _TILE
        k = min(n - i, _TILE - t)
        runs.append((i, i + k, t))
        i += k
    return runs


def match_grain(fg: np.ndarray, alpha: np.ndarray, plate: np.ndarray, seed: int,
                plate_level: float | None = None) -> np.ndarray:
    """Foreground with Gaussian grain of σ = sqrt(σ_plate² − σ_fg²) codes (per channel) added where a > 0, when
    the plate is noisier than the foreground's solid interior by GRAIN_TOLERANCE; else `fg` itself.

    The colour is straight, so the composite a·F + (1 − a)·P weights the grain by alpha; a = 0 pixels stay
    bit-exact. The grain is a cached tile (σ rounded to 0.1) read at an offset drawn from `seed` (reproducible
    renders) and added in uint8 (its positive and negative parts, saturating). `plate_level` skips the plate's
    estimate (made on all of `plate`)."""
    _check(fg, alpha, plate)
    x, y, w, h = cv2.boundingRect(alpha)
    box = (slice(y, y + h), slice(x, x + w))
    solid = cv2.inRange(alpha[box], 255, 255) if w else None
    if solid is None or cv2.countNonZero(solid) < 256:
        return fg  # too little solid foreground to measure its grain
    sp = grain_level(plate) if plate_level is None else float(plate_level)
    sf = grain_level(fg[box], solid)
    add = math.sqrt(max(0.0, sp * sp - sf * sf))
    if sp <= sf * (1 + GRAIN_TOLERANCE) or add < MIN_GRAIN:
        return fg
    oy, ox = (int(v) for v in np.random.default_rng(seed).integers(0, _TILE, 2))
    up, down = _grain_tile(round(add, 1))
    on = cv2.inRange(alpha[box], 1, 255)
    out = fg.copy()
    o = out[box]  # a view: writes go to `out`
    for y0, y1, t0 in _spans(h, oy):
        for x0, x1, t1 in _spans(w, ox):
            d, m = o[y0:y1, x0:x1], on[y0:y1, x0:x1]
            t = (slice(t0, t0 + y1 - y0), slice(t1, t1 + x1 - x0))
            cv2.add(d, up[t], dst=d, mask=m)
            cv2.subtract(d, down[t], dst=d, mask=m)
    return out


def harmonize_edges(fg: np.ndarray, alpha: np.ndarray, plate: np.ndarray, settings: EdgeSettings, seed: int, *,
                    plate_sigma: float | None = None, plate_grain: float | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The enabled stages in order: refine the matte (guide: `fg`) → soften it to the plate → light wrap →
    grain. Returns (fg, alpha); the inputs themselves when every stage is off or changes nothing."""
    _check(fg, alpha, plate)
    if settings.refine:
        alpha = refine_alpha(fg, alpha)
    if settings.edge_blur:
        fg, alpha = match_edge_blur(fg, alpha, plate, plate_sigma)
    if settings.light_wrap > 0:
        fg = light_wrap(fg, alpha, plate, settings.wrap_px, settings.light_wrap)
    if settings.grain:
        fg = match_grain(fg, alpha, plate, seed, plate_grain)
    return fg, alpha
