"""Matte repair in a streaming render: enclosed holes, parts that drop out for a few frames, edge flicker.

`MatteRepairer.repair(frame, alpha)` runs once per frame, in order; its only state is the previous repaired frame
(low-res grey and matte of its work box, colour and matte of its matte's box: O(1) frames, written box-sized).
- Holes (the benchmark's `eval.defects` holes): components of alpha <= HOLE_ALPHA that do not reach the border of
  the matte's box and cover at most `max_hole_frac` of the subject become foreground (plain footage: max with a
  blurred fill, a soft rim). Candidates are low-res blocks that are not solid, enclosed by solid ones; each is
  checked at full size in its own box.
- Motion: a similarity (RANSAC) fitted to a grid of points inside the solid matte tracked by pyramidal Lucas-Kanade
  (forward-backward checked) on the grey work box at 1/`scale` size. Dense DIS flow at an affordable resolution lags
  thin limbs (its patches straddle subject and background); one motion for the subject is exact for the body,
  holds on a screen plate where a lost part shows only the screen, and costs about 1 ms.
- Propagation: pixels solid in the warped previous repaired matte and clearly missing now get the warped alpha
  back when their low-res blob (slivers opened away) covers MIN_PART of the matte, touches the current matte, is
  not a part that merely moved (new foreground beside it) and the frame agrees: plain footage looks as the warped
  previous frame did (block grey, and per pixel where it was opaque, within `colour_tol`), a screen plate shows the
  screen there (the colour then comes from the warped previous frame). A restored pixel ages a frame each time it
  is carried on; past `max_age` frames without the input's support it is dropped.
- Edge smoothing (`edge_blend`, off by default): edge pixels take a share of the motion-compensated previous alpha
  (keys are temporally stable already, segment mode smooths its own confidence, and a blend lags limbs).
- Screen plates: filled holes become opaque and their colour is synthesised, from the warped previous frame where
  that was foreground, else by cv2.inpaint (TELEA) from the surrounding foreground.
A cut (the previous frame cannot be tracked, its warped matte barely overlaps the current one, or the frames differ)
drops the state. Where nothing is repaired the inputs themselves are returned (bit-exact). The motion is only
tracked when the matte lost at least MIN_PART of its area since the previous frame (or restored parts are being
carried): otherwise there is nothing to propagate. At 1080p with a 13 % subject on one core: 4 ms a frame with
nothing to repair before that shortcut (3 ms in the profiled render after it), 6-12 ms with holes or lost parts.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import FormatError, InputError
from .colour import Pixels, check_alpha, check_rgb
from .blocks import box_means, enclosed

HOLE_ALPHA = 127  # alpha at or below this is "not foreground" inside a hole
SOLID = 192  # warped previous alpha at or above this was foreground
FLOW_FRAME_PIXELS = 150_000  # the low-res copy (1/scale, a power of two) of a frame has at most this many pixels
CUT_GREY = 28.0  # mean |grey difference| (levels) on the solid matte after warping above which the shot has cut
SCREEN_TOL = 60  # sRGB levels (max channel) a pixel may differ from the screen's median to count as showing it
MIN_PART = 0.01  # a restored part covers at least this share of the matte (smaller losses are not worth the risk)
MAX_TRACKS, MIN_TRACKS = 120, 8  # points tracked inside the solid matte; with fewer usable ones the motion is unknown
LK_WIN, FB_MAX = 9, 0.5  # low-res px: Lucas-Kanade window; forward-backward error above which a track is dropped
_LK = {"winSize": (LK_WIN, LK_WIN), "maxLevel": 3,
       "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}
INPAINT_PIXELS = 1000  # a hole with more pixels than this is inpainted at 1/2, 1/4 … size
MAX_HOLES = 64  # hole candidates checked per frame (largest first)
_SQUARE = np.ones((3, 3), np.uint8)
_DISC5 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
_AREA = cv2.CC_STAT_AREA


@dataclass(frozen=True)
class RepairSettings:
    fill_holes: bool = True  # enclosed holes up to max_hole_frac of the subject's area become foreground
    max_hole_frac: float = 0.08  # larger enclosed gaps are real (a ring's centre, the space between arm and body)
    temporal: bool = True  # motion-guided propagation of alpha (and colour) from the previous repaired frame
    max_age: int = 8  # frames a restored pixel may persist without the input matte's support (errors fade out)
    colour_tol: int = 24  # plain footage: sRGB levels a pixel may differ from the warped previous frame to restore
    min_overlap: float = 0.5  # IoU of the warped previous matte with the current one below which the shot has cut
    edge_blend: float = 0.0  # weight of the warped previous alpha on edge pixels (0: off, see the module notes)
    margin: int = 32  # px the union of this and the previous matte's box grows by: the work area

    def __post_init__(self):
        ok = {"max_hole_frac": 0 <= self.max_hole_frac <= 1, "max_age": 1 <= self.max_age <= 254,
              "colour_tol": 0 <= self.colour_tol <= 255, "min_overlap": 0 <= self.min_overlap <= 1,
              "edge_blend": 0 <= self.edge_blend < 1, "margin": 0 <= self.margin}
        for k in (k for k, good in ok.items() if not good):
            raise InputError(f"repair setting {k}={getattr(self, k)!r} is out of range; see RepairSettings")


@dataclass
class RepairResult:
    alpha: np.ndarray  # [H, W] uint8 repaired matte (the input itself when nothing changed)
    frame: np.ndarray  # [H, W, 3] uint8 RGB; equals the input frame except where colour had to be filled
    filled_px: int  # pixels whose alpha was raised
    removed_px: int  # pixels whose alpha was lowered
    colour_filled_px: int  # pixels whose colour was synthesised (screen showed through a hole)


class _Out:
    """One frame's outputs: the inputs until the first write, then copies (untouched frames stay bit-exact)."""

    def __init__(self, frame: np.ndarray, alpha: np.ndarray):
        self.frame, self.alpha, self.inputs, self.coloured, self.aged = frame, alpha, (frame, alpha), 0, []

    def put_alpha(self, idx: np.ndarray, values) -> None:
        if len(idx) == 0:
            return
        self.alpha = self.alpha.copy() if self.alpha is self.inputs[1] else self.alpha
        self.alpha.reshape(-1)[idx] = values

    def put_rgb(self, idx: np.ndarray, values: np.ndarray) -> None:
        if len(idx) == 0:
            return
        self.frame = np.array(self.frame) if self.frame is self.inputs[0] else self.frame  # a contiguous copy
        self.frame.reshape(-1, 3)[idx] = values
        self.coloured += len(idx)


@dataclass
class _Motion:
    full: np.ndarray  # [2, 3] float32: frame pixel (x, y, 1) → where it was in the previous frame
    warped: np.ndarray  # [sh, sw] the previous repaired alpha warped onto this frame (low res)
    diff: np.ndarray  # [sh, sw] |this frame's grey − the warped previous grey| (low res)


def _sl(r) -> tuple[slice, slice]:
    return slice(r[1], r[3]), slice(r[0], r[2])


def _grow(r, m: int, shape) -> tuple[int, int, int, int]:
    return max(0, r[0] - m), max(0, r[1] - m), min(shape[1], r[2] + m), min(shape[0], r[3] + m)


def _first(px: Pixels, values: np.ndarray) -> np.ndarray:
    """The px.n real entries of a compact grid `[rows, C(, 3)]` (the padding dropped)."""
    return values.reshape((-1,) + values.shape[2:])[: px.n]


class MatteRepairer:
    """`repair(frame, alpha)` once per frame, in order → `RepairResult`; `summary()` for the render record.

    screen=True: the input is a green/blue-screen plate, so a hole in the matte shows the screen and the foreground
    colour there is synthesised; screen=False (a matte file or a segmenter over plain footage): the frame's own
    pixels are the true foreground colour and only alpha is repaired.
    """

    def __init__(self, settings: RepairSettings = RepairSettings(), screen: bool = False):
        self.settings, self.screen = settings, bool(screen)
        self._shape, self.scale = None, 1
        self._prev = None  # box (x0, y0, x1, y1) of the previous repaired matte; None: nothing to carry over
        self._lo = self._hi = ()  # low-res grey, alpha [H/s, W/s]; full-size rgb, alpha, age of the previous frame
        self._lo_rect = self._hi_rect = None  # where those hold the previous frame
        self._aged = np.zeros(0, np.intp)  # flat indices of the previous frame's restored pixels (nonzero age)
        self._totals = dict.fromkeys(("frames", "frames_repaired", "filled_px", "removed_px", "colour_filled_px",
                                      "scene_cuts", "matte_px"), 0)

    def repair(self, frame: np.ndarray, alpha: np.ndarray) -> RepairResult:
        check_alpha(alpha, check_rgb(frame).shape)
        if self._shape is None:
            self._shape = frame.shape
            while frame.shape[0] * frame.shape[1] > FLOW_FRAME_PIXELS * self.scale ** 2:
                self.scale *= 2
        elif frame.shape != self._shape:
            raise FormatError(f"frame is {frame.shape} but earlier frames were {self._shape}; one render, one size")
        s, tot, f, shape = self.settings, self._totals, self.scale, alpha.shape
        tot["frames"] += 1
        x, y, w, h = cv2.boundingRect(alpha)
        if w == 0:
            self._prev = None  # the subject has left: nothing to repair, nothing to carry over
            return RepairResult(alpha, frame, 0, 0, 0)
        tot["matte_px"] += cv2.sumElems(alpha[y:y + h, x:x + w])[0] / 255.0
        box, prev = (x, y, x + w, y + h), self._prev if s.temporal else None
        if prev is not None:
            box = (min(box[0], prev[0]), min(box[1], prev[1]), max(box[2], prev[2]), max(box[3], prev[3]))
        x0, y0, x1, y1 = _grow(box, s.margin, shape)  # snapped to whole low-res blocks (exact 2x2 halvings)
        work = (x0 // f * f, y0 // f * f, min(-(-x1 // f) * f, shape[1] // f * f),
                min(-(-y1 // f) * f, shape[0] // f * f))
        if work[2] <= work[0] or work[3] <= work[1]:  # a matte only in the frame's last partial block, no margin
            self._prev = None
            return RepairResult(alpha, frame, 0, 0, 0)
        ws, ls, out = _sl(work), _sl([v // f for v in work]), _Out(frame, alpha)
        small = box_means(alpha[ws], f)  # [sh, sw] block means
        low_rgb = box_means(frame[ws], f) if s.temporal else None  # [sh, sw, 3]
        grey = cv2.cvtColor(low_rgb, cv2.COLOR_RGB2GRAY) if s.temporal else None
        if s.temporal and not self._lo:
            self._lo = tuple(np.zeros((shape[0] // f, shape[1] // f), np.uint8) for _ in range(2))
            self._hi = (np.zeros(frame.shape, np.uint8), np.zeros(shape, np.uint8), np.zeros(shape, np.uint8))
        motion = None
        trackable = prev is not None and min(small.shape) >= 16
        if trackable and s.edge_blend == 0 and not self._aged.size and not _shrank(small, self._lo[1][ls]):
            motion = False  # nothing went missing since the previous frame: no motion to follow (saves the tracking)
        elif trackable:
            motion = self._motion(grey, small, (self._lo[0][ls], self._lo[1][ls]), work)
            tot["scene_cuts"] += motion is None
            if motion:
                self._propagate(out, work, small, low_rgb, motion)
                small = small if out.alpha is alpha else box_means(out.alpha[ws], f)
        if s.fill_holes:
            self._fill_holes(out, work, small, motion)
        if motion and s.edge_blend > 0:
            self._blend_edges(out, work, motion)
        filled = removed = 0
        if out.alpha is not alpha:
            filled = cv2.countNonZero(cv2.subtract(out.alpha[ws], alpha[ws]))
            removed = cv2.countNonZero(cv2.subtract(alpha[ws], out.alpha[ws]))
        if s.temporal:
            unchanged = out.alpha is alpha
            self._store(out, work, ls, grey, small if unchanged else box_means(out.alpha[ws], f),
                        (x, y, x + w, y + h) if unchanged else None)
        for k, v in (("filled_px", filled), ("removed_px", removed), ("colour_filled_px", out.coloured),
                     ("frames_repaired", bool(filled or removed or out.coloured))):
            tot[k] += int(v)
        return RepairResult(out.alpha, out.frame, int(filled), int(removed), int(out.coloured))

    def summary(self) -> dict:
        """Totals for the render record; the shares are of the input matte's area (sum of alpha / 255)."""
        t = dict(self._totals)
        area, t["matte_px"] = max(t["matte_px"], 1.0), round(t["matte_px"])
        return t | {"filled_share": round(t["filled_px"] / area, 6), "removed_share": round(t["removed_px"] / area, 6)}

    def _motion(self, grey, small, prev, work) -> _Motion | bool | None:
        """The subject's motion to the previous frame; None when the two do not fit (a cut), False when there is
        too little solid matte to tell."""
        g_prev, a_prev = (np.ascontiguousarray(p) for p in prev)
        solid = cv2.inRange(small, 250, 255)
        inside = cv2.erode(solid, _SQUARE, iterations=LK_WIN // 2 + 1)  # LK windows that see only the subject
        ys, xs = np.nonzero(inside[::2, ::2])  # a grid of points: LK drops the ones without texture
        if len(xs) < MIN_TRACKS:
            return False
        pick = np.linspace(0, len(xs) - 1, min(len(xs), MAX_TRACKS)).astype(np.intp)
        pts = (np.stack([xs[pick], ys[pick]], 1) * 2).astype(np.float32).reshape(-1, 1, 2)
        ahead, ok, _ = cv2.calcOpticalFlowPyrLK(grey, g_prev, pts, None, **_LK)
        back, ok2, _ = cv2.calcOpticalFlowPyrLK(g_prev, grey, ahead, None, **_LK)
        good = (ok[:, 0] > 0) & (ok2[:, 0] > 0) & (np.abs(back - pts).reshape(-1, 2).max(1) < FB_MAX)
        m = None
        if good.sum() >= MIN_TRACKS:
            m, _ = cv2.estimateAffinePartial2D(pts[good], ahead[good], method=cv2.RANSAC, ransacReprojThreshold=0.5)
        if m is None:
            return None
        size, inverse = (small.shape[1], small.shape[0]), cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        warped = cv2.warpAffine(a_prev, m, size, flags=inverse, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        diff = cv2.absdiff(grey, cv2.warpAffine(g_prev, m, size, flags=inverse, borderMode=cv2.BORDER_REPLICATE))
        now, before = small >= 128, warped >= 128
        iou = np.count_nonzero(now & before) / max(1, np.count_nonzero(now | before))
        if iou < self.settings.min_overlap or cv2.mean(diff, mask=cv2.erode(solid, _SQUARE))[0] > CUT_GREY:
            return None
        # the same map at full size: u = (X − x0)/f + c with c = 0.5/f − 0.5 (pixel centres), X' = f·(u' − c) + x0
        f, c, lin = self.scale, 0.5 / self.scale - 0.5, m[:, :2]
        shift = f * (lin.sum(1) * c + m[:, 2] - c) + np.asarray(work[:2]) - lin @ np.asarray(work[:2])
        return _Motion(np.hstack([lin, shift[:, None]]).astype(np.float32), warped, diff)

    def _sample(self, px: Pixels, origin, m: _Motion):
        """The previous frame's alpha [rows, C], colour [rows, C, 3] and age where the pixels `px` (of a mask whose
        corner is at `origin` in the frame) came from."""
        x, y = (px.xs + origin[0]).astype(np.float32), (px.ys + origin[1]).astype(np.float32)
        (a, b, c), (d, e, g) = m.full
        mx, my = a * x + b * y + c, d * x + e * y + g
        rgb, alpha, age = self._hi
        return (cv2.remap(alpha, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0),
                cv2.remap(rgb, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE),
                cv2.remap(age, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=255))

    def _propagate(self, out: _Out, work, small, low_rgb, m: _Motion) -> None:
        s, f = self.settings, self.scale
        cand = cv2.bitwise_and(cv2.inRange(m.warped, SOLID, 255), cv2.inRange(small, 0, 64))  # solid before, lost
        if not self.screen:  # plain footage: the frame must look as it did (block means: robust to texture)
            cand = cv2.bitwise_and(cand, cv2.inRange(m.diff, 0, s.colour_tol))
        cand = cv2.morphologyEx(cand, cv2.MORPH_OPEN, _SQUARE)  # slivers are motion error at the outline
        if not cv2.countNonZero(cand):
            return
        n, labels, stats, _ = cv2.connectedComponentsWithStats(cand, connectivity=8)
        matte = cv2.inRange(small, 128, 255)
        touch = np.bincount(labels[cv2.bitwise_and(cv2.dilate(matte, _SQUARE), cand) > 0], minlength=n)
        # a part that moved otherwise than the warp predicts shows up as new foreground beside where it was expected
        gained = cv2.bitwise_and(matte, cv2.inRange(m.warped, 0, 64))
        keep, min_area = [], MIN_PART * cv2.countNonZero(matte)
        for i in np.flatnonzero(touch[1:]) + 1:
            x, y, w, h = (int(v) for v in stats[i, :4])
            g, area = max(w, h), stats[i, _AREA]
            near = gained[max(0, y - g):y + h + g, max(0, x - g):x + w + g]
            if area >= min_area and cv2.countNonZero(near) < area / 2:
                keep.append(i)
        if not keep:
            return
        region = cv2.dilate(np.isin(labels, keep).astype(np.uint8) * 255, _SQUARE)  # and the soft rim
        x, y, w, h = cv2.boundingRect(region)
        r = (work[0] + x * f, work[1] + y * f, work[0] + (x + w) * f, work[1] + (y + h) * f)
        big = cv2.resize(region[y:y + h, x:x + w], (w * f, h * f), interpolation=cv2.INTER_NEAREST)
        px = Pixels.of(cv2.bitwise_and(big, cv2.inRange(out.alpha[_sl(r)], 0, 254)), r[:2], out.alpha.shape[1])
        if px is None:
            return
        pa, prgb, page = self._sample(px, r[:2], m)
        ok = (pa > px.take(out.alpha)) & (page < s.max_age)
        if self.screen:  # the screen's median colour around the subject (low res)
            screen = low_rgb[small == 0]
            if len(screen) < 16:
                return
            bg = np.median(screen[:: max(1, len(screen) // 2000)], axis=0)
            ok &= _maxdiff(px.take(out.frame), tuple(float(v) for v in bg) + (0.0,)) <= SCREEN_TOL
        else:  # the previous rim mixes in another background: only pixels opaque before can be compared
            ok &= (pa < 250) | (_maxdiff(px.take(out.frame), prgb) <= s.colour_tol)
        sel = _first(px, ok)
        idx = px.flat.reshape(-1)[: px.n][sel]
        out.put_alpha(idx, _first(px, pa)[sel])
        out.aged.append((idx, _first(px, page)[sel] + 1))
        if self.screen:
            out.put_rgb(idx, _first(px, prgb)[sel])

    def _fill_holes(self, out: _Out, work, small, motion) -> None:
        f = self.scale
        limit = self.settings.max_hole_frac * cv2.countNonZero(cv2.inRange(small, 128, 255)) * f * f
        n, _, stats, _ = cv2.connectedComponentsWithStats(cv2.inRange(small, 0, 239), connectivity=8)
        ids = enclosed(stats, np.arange(1, n), small.shape)  # not-solid blocks enclosed by solid ones
        for i in ids[np.argsort(-stats[ids, _AREA])][:MAX_HOLES]:
            bx, by, bw, bh = (int(v) for v in stats[i, :4])
            r = (work[0] + bx * f, work[1] + by * f, work[0] + (bx + bw) * f, work[1] + (by + bh) * f)
            self._fill_rect(out, _grow(r, f + 4, out.alpha.shape), limit, motion)

    def _fill_rect(self, out: _Out, r, limit, motion) -> None:
        """Fill the enclosed holes of the full-size matte inside rect `r` (enclosed within `r`: enclosed)."""
        rs, width = _sl(r), out.alpha.shape[1]
        low = cv2.inRange(out.alpha[rs], 0, HOLE_ALPHA)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(low, connectivity=8)
        ids = enclosed(stats, np.arange(1, n), labels.shape)
        ids = ids[stats[ids, _AREA] <= limit]
        if len(ids) == 0:
            return
        grown = cv2.dilate(np.isin(labels, ids).astype(np.uint8) * 255, _DISC5)  # the hole and its rim
        if not self.screen:  # the frame shows the foreground: only alpha, with a soft rim
            new = cv2.max(out.alpha[rs], cv2.blur(grown, (5, 5)))
            px = Pixels.of(cv2.compare(new, out.alpha[rs], cv2.CMP_GT), r[:2], width)
            out.put_alpha(px.flat.reshape(-1)[: px.n], _first(px, px.take_local(new)))
            return
        region = cv2.bitwise_and(grown, cv2.inRange(out.alpha[rs], 0, 254))  # made opaque, colour synthesised
        px = Pixels.of(region, r[:2], width)
        flat, local = px.flat.reshape(-1)[: px.n], (px.ys * region.shape[1] + px.xs).reshape(-1)[: px.n]
        out.put_alpha(flat, 255)
        if motion:  # where the previous repaired frame had foreground, its colour moved here
            pa, prgb, _ = self._sample(px, r[:2], motion)
            use = _first(px, pa) >= SOLID
            out.put_rgb(flat[use], _first(px, prgb)[use])
            region.reshape(-1)[local[use]] = 0
            flat, local = flat[~use], local[~use]
        if len(flat):
            out.put_rgb(flat, _inpaint(np.ascontiguousarray(out.frame[rs]), region).reshape(-1, 3)[local])

    def _blend_edges(self, out: _Out, work, m: _Motion) -> None:
        edge = cv2.morphologyEx(out.alpha[_sl(work)], cv2.MORPH_GRADIENT, _SQUARE)  # both sides of any edge
        px = Pixels.of(edge, work[:2], out.alpha.shape[1])
        if px is None:
            return
        cur, w = px.take(out.alpha), self.settings.edge_blend
        new = cv2.addWeighted(cur, 1.0 - w, self._sample(px, work[:2], m)[0], w, 0.0)
        sel = _first(px, new != cur)
        if sel.any():
            out.put_alpha(px.flat.reshape(-1)[: px.n][sel], _first(px, new)[sel])

    def _store(self, out: _Out, work, ls, grey, small, box) -> None:
        """Keep this frame for the next: low-res grey and matte of the work box; colour and matte of the matte's box."""
        (g_lo, a_lo), (rgb, a, age) = self._lo, self._hi
        for buf, rect in ((a_lo, self._lo_rect), (a, self._hi_rect)):
            if rect is not None:
                buf[_sl(rect)] = 0
        g_lo[ls], a_lo[ls] = grey, small
        self._lo_rect = (ls[1].start, ls[0].start, ls[1].stop, ls[0].stop)
        if box is None:  # the matte changed, and its box with it
            x, y, w, h = cv2.boundingRect(out.alpha[_sl(work)])
            box = (work[0] + x, work[1] + y, work[0] + x + w, work[1] + y + h) if w else None
        self._prev, self._hi_rect = box, _grow(box or (0, 0, 0, 0), 2, a.shape)
        hs = _sl(self._hi_rect)
        rgb[hs], a[hs] = out.frame[hs], out.alpha[hs]
        age.reshape(-1)[self._aged] = 0
        self._aged = np.concatenate([np.zeros(0, np.intp)] + [i for i, _ in out.aged])
        for idx, ages in out.aged:
            age.reshape(-1)[idx] = ages


def _maxdiff(a: np.ndarray, b) -> np.ndarray:
    """Largest per-channel |a − b| of a uint8 RGB image and another one (or a colour)."""
    r, g, b = cv2.split(cv2.absdiff(a, b))
    return cv2.max(cv2.max(r, g), b)


def _inpaint(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """cv2.inpaint (TELEA) of a crop; a large hole is painted at a lower resolution (TELEA costs ~1.6 µs a pixel)."""
    k, n = 1, cv2.countNonZero(mask)
    while n > INPAINT_PIXELS * k * k and min(mask.shape) >= 8 * k:
        k *= 2
    if k == 1:
        return cv2.inpaint(img, mask, 3, cv2.INPAINT_TELEA)
    size = (mask.shape[1] // k, mask.shape[0] // k)
    low = cv2.inpaint(cv2.resize(img, size, interpolation=cv2.INTER_AREA),
                      cv2.inRange(cv2.resize(mask, size, interpolation=cv2.INTER_AREA), 1, 255), 3, cv2.INPAINT_TELEA)
    return cv2.resize(low, (mask.shape[1], mask.shape[0]), interpolation=cv2.INTER_LINEAR)


def _shrank(small: np.ndarray, prev_small: np.ndarray) -> bool:
    """Whether the low-res matte lost at least MIN_PART of the previous repaired one's area (where it was)."""
    before = cv2.countNonZero(cv2.inRange(prev_small, 128, 255))
    return cv2.countNonZero(cv2.inRange(small, 128, 255)) < (1.0 - MIN_PART) * before
