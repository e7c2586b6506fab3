"""The CPU compositing engine: Shot inputs → composite frames, in two passes.

analysis (low res: screen brightness, matte, camera tracking, light statistics) → camera path → plate renderer
(+ parallax flow) → relight plan, then the render pass streams full-resolution chunks: a faded frame brought to
the screen's level → alpha → matte repair → matte completion (plain footage) → refinement → unmix/despill
edges → relight → edge blur, light wrap, grain → contact shadow → composite in linear light over the plate →
the fade put back. Each stage is a small module in `paistudio.comp`; this file only wires them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from ..io.pipeline import prefetch
from ..io.video import read_chunks
from ..progress import Progress
from .analysis import Analysis, analyse
from .camera import CameraChoice, choose_camera
from .complete import MatteCompleter
from .edges import MIN_EDGE_BLUR, EdgeSettings, edge_softness, grain_level, harmonize_edges, refine_alpha
from .fade import apply_gain
from .harmonize import composite, foreground_layer, unmix_foreground
from .matte import MatteSource, open_matte
from .plate import PlateRenderer
from .reach import fit_to_sweep, reach_report
from .relight import LightSample, Relighter, RelightSettings
from .repair import MatteRepairer
from .shadow import contact_shadow


RENDER_CHUNK = 4  # frames per chunk in the render pass: few full-size frames in flight keeps memory low
KEY_BOX_MARGIN = 12  # analysis-resolution pixels added around the foreground box before keying at full size
COMPLETION_WORKERS = 2  # frames completed at once: GrabCut is one thread per frame and the slowest stage of plain footage
EDGE_REACH = 24  # full-res pixels around the matte's box that the edge stages may change or read (wrap, blur)


@dataclass
class RenderedChunk:
    composite: np.ndarray  # [T, H, W, 3] uint8
    alpha: np.ndarray  # [T, H, W] uint8
    plate: np.ndarray | None  # [T, H, W, 3] uint8 (only when layers are asked for)
    foreground: np.ndarray | None  # [T, H, W, 4] uint8 straight-alpha RGBA (only with layers)


def completes(setting: str, matte_mode: str, screen: bool) -> bool:
    """Whether `stages.complete` applies: plain footage only (on a screen a lost part shows the screen, an alpha
    channel is authoritative); `auto` completes segmentation, whose masks lose limbs, `on` matte files too (on
    clean DAVIS mattes it adds background that looks and moves like the subject: 4 % of its area)."""
    if setting == "off" or screen or matte_mode not in ("file", "segment"):
        return False
    return setting == "on" or matte_mode == "segment"


def repairs(setting: str, matte_mode: str) -> bool:
    """Whether `stages.repair` applies to a matte of this mode. Never to an input's own alpha channel (it is
    authoritative); `auto` repairs matte files and segmentation, whose holes are errors, but not a key, where a
    hole usually shows the real screen (between an arm and the body); `on` repairs keys too."""
    if setting == "off" or matte_mode == "alpha":
        return False
    return setting == "on" or matte_mode in ("file", "segment")


@dataclass
class _Matted:
    """A chunk between the render pass's stages."""

    frames: np.ndarray  # [T, H, W, C] uint8, the decoded frames (repaired where the repairer filled colour)
    alphas: np.ndarray  # [T, H, W] uint8
    search: list  # per frame: (x0, y0, x1, y1) where the alpha can be nonzero (the keyed box), or None


class _Clock:
    def __init__(self, into: dict):
        self.into, self.t = into, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.into[name] = round(now - self.t, 3)
        self.t = now


NOBODY_SHARE = 0.5  # --matte segment finding no one in more than this share of the frames gets a warning


def _nobody_warning(mode: str, analysis: Analysis) -> list[str]:
    """Person segmentation that found no one in most frames: the render is mostly the plate alone."""
    empty = int((analysis.fg_box[:, 0] < 0).sum())
    n = len(analysis.fg_box)
    if mode != "segment" or n == 0 or empty <= NOBODY_SHARE * n:
        return []
    return [f"--matte segment found no person in {empty} of {n} frames, so those frames show the new background "
            "alone; it segments people only: give --matte FILE for other subjects"]


def _fade_warning(fades: np.ndarray) -> str:
    faded = fades < 1.0
    return (f"the screen is darker in {int(faded.sum())} of {len(fades)} frames (a fade or an exposure dip, down to "
            f"{fades[faded].min():.0%} of its level): those frames were keyed at the screen's level and the output "
            "keeps the fade (--fade off to key them as they are)")


class CompositeEngine:
    name = "composite"

    def __init__(self, job):
        self.job = job
        self.matte: MatteSource | None = None
        self.analysis: Analysis | None = None
        self.camera: CameraChoice | None = None
        self.plate: PlateRenderer | None = None
        self.relighter: Relighter | None = None
        self.repairer: MatteRepairer | None = None
        self.completer: MatteCompleter | None = None
        self.refine = False  # guided-filter refinement of the matte (segmented mattes only)
        self.edges = EdgeSettings()  # the edge stages after unmixing (refinement runs before it, see _frame)
        self.plate_stats: dict[str, float] = {}  # the references' blur and grain, measured once per shot
        self.fades: np.ndarray | None = None  # [N] a keyed screen's brightness per frame where it is faded, else 1
        self.plate_fill: dict = {}  # how much of the frames the plate made up, how it scales them (`comp.reach`)
        self.sweep: dict = {}  # `reference_fit = sweep`: the camera's sweep box and how much the reference was enlarged
        self.timings: dict[str, float] = {}

    def prepare(self, progress: Progress) -> None:
        job, shot = self.job, self.job.shot
        clock = _Clock(self.timings)
        sample = next(read_chunks(job.info, chunk=8))
        self.matte = open_matte(shot.matte, job.info, sample)
        size = (job.info.width, job.info.height)
        track = shot.camera.mode == "auto"
        if track or shot.stages.relight:
            self.analysis = analyse(job.info, self.matte, progress, track_camera=track, fades=shot.stages.fade)
            first, self.matte = self.matte, self.matte.restart()
            if first is not self.matte:
                first.close()
            job.warnings.extend(_nobody_warning(self.matte.mode, self.analysis))
        clock.lap("analysis_s")
        a = self.analysis
        if a is not None and a.fade_gain is not None and (a.fade_gain < 1).any():
            self.fades = a.fade_gain
            job.warnings.append(_fade_warning(self.fades))
        self.camera = choose_camera(shot.camera, job.info.n_frames, size, self.analysis, job.refs, job.anchors)
        job.warnings.extend(self.camera.warnings)
        clock.lap("camera_s")
        refs, surrounds, margin = job.refs, job.ref_surrounds or None, None
        if shot.stages.reference_fit == "sweep":
            swept = fit_to_sweep(job.ref_originals[0], self.camera.homographies, job.anchors[0], size,
                                 float(job.info.pixel_aspect))
            refs, surrounds, margin = [swept.ref], [swept.surround], swept.margin
            self.sweep = swept.describe()
            job.warnings.extend(swept.warnings())
        self.plate = PlateRenderer(refs, job.anchors, self.camera.homographies, size, parallax=shot.stages.parallax,
                                   surrounds=surrounds, margin=margin)
        self.plate_fill, warnings = reach_report(self.plate, len(refs))
        job.warnings.extend(warnings)
        clock.lap("plate_setup_s")
        if shot.stages.relight and self.analysis is not None:
            self.relighter = Relighter(RelightSettings(direction=shot.stages.relight_direction))
            self.relighter.plan(self._light_samples())
        clock.lap("relight_plan_s")
        st = shot.stages
        if repairs(st.repair, self.matte.mode):
            self.repairer = MatteRepairer(screen=self.matte.backing is not None)
        if completes(st.complete, self.matte.mode, self.matte.backing is not None):
            self.completer = MatteCompleter(self.camera.homographies, size, workers=COMPLETION_WORKERS)
        elif st.complete == "on":
            job.warnings.append(f"matte completion applies to plain footage (a matte file or --matte segment), not to "
                                f"a {self.matte.mode} matte{' on a screen' if self.matte.backing is not None else ''}; "
                                "it was skipped")
        # a key's edges are already solved by the keyer's two-colour model (the guided filter costs fg MSE there)
        self.refine = st.refine and self.matte.mode == "segment"
        if st.grain or st.edge_blur:  # one measurement per shot (a per-frame estimate would flicker)
            self.plate_stats = {"blur_sigma": float(np.mean([edge_softness(r) for r in refs])),
                                "grain_sigma": float(np.mean([grain_level(r) for r in refs]))}
        # a plate sharper than MIN_EDGE_BLUR cannot ask for a softer matte: skip the per-frame estimate
        edge_blur = st.edge_blur and self.plate_stats.get("blur_sigma", 0.0) >= MIN_EDGE_BLUR
        self.edges = EdgeSettings(light_wrap=st.light_wrap, grain=st.grain, edge_blur=edge_blur)
        clock.lap("stage_setup_s")

    def _light_samples(self) -> list[LightSample | None]:
        """Pair each frame's foreground colour with the plate's colour around it (both linear, low res)."""
        a = self.analysis
        samples: list[LightSample | None] = []
        for t in range(len(a.fg_mean)):
            if not np.isfinite(a.fg_mean[t]).all():
                samples.append(None)
                continue
            plate = self.plate.frame_small(t, a.scale)
            samples.append(LightSample.from_plate_region(a.fg_mean[t], plate, a.fg_box[t],
                                                         slope=self.job.shot.stages.relight_direction > 0))
        return samples

    def chunks(self, progress: Progress, layers: bool = False) -> Iterator[RenderedChunk]:
        """The render pass as a pipeline of threads, a chunk apart: decode -> matte (alpha, repair) -> completion
        (when on) -> plate and composite here -> (the job's writer). The segmenter and the repairer keep state from
        frame to frame, so they cannot split across frames; completion keeps only past input frames, so it runs a
        chunk's frames on two threads (`COMPLETION_WORKERS`). On separate threads the stages overlap with each other
        and with compositing, which counts where they are slow (`--matte segment` on a 1080p frame: the segmenter
        about 50 ms of CPU, GrabCut's completion about 55)."""
        shot, info = self.job.shot, self.job.info
        despill = shot.stages.despill
        backing = self.matte.backing
        progress.phase("render", info.n_frames)
        t = 0
        matted = prefetch(self._matted(prefetch(read_chunks(info, chunk=RENDER_CHUNK))), depth=1)
        if self.completer is not None:
            matted = prefetch(self._completed(matted), depth=1)
        for m in matted:
            n = len(m.frames)
            out = np.empty(m.frames.shape[:3] + (3,), np.uint8)
            plates = np.empty_like(out) if layers else None
            fgs = np.empty(m.frames.shape[:3] + (4,), np.uint8) if layers else None
            for i in range(n):
                self.plate.frame(t, out=out[i])
                if layers:
                    plates[i] = out[i]  # the plate layer stays clean: a compositor adds its own shadow
                if shot.stages.contact_shadow > 0:
                    contact_shadow(out[i], m.alphas[i], shot.stages.contact_shadow, inplace=True)
                fg, box = self._frame(m.frames[i], m.alphas[i], out[i], t, despill, backing, m.search[i])
                if self.fades is not None and self.fades[t] != 1.0:
                    apply_gain(out[i], self.fades[t])  # the source's fade, now over the new background too
                if layers:
                    full = np.zeros_like(out[i])
                    if box is not None:
                        full[box] = fg
                    fgs[i] = foreground_layer(full, m.alphas[i])
                t += 1
            progress.advance(n)
            yield RenderedChunk(out, m.alphas, plates, fgs)

    def _matted(self, chunks: Iterator[np.ndarray]) -> Iterator["_Matted"]:
        """Alpha for each decoded chunk (keyed inside the analysis pass's boxes), then matte repair."""
        boxes = self._key_boxes()
        t = 0
        for chunk in chunks:
            if self.fades is not None:
                for i, g in enumerate(self.fades[t:t + len(chunk)]):
                    if g != 1.0:
                        apply_gain(chunk[i], 1.0 / g)  # keyed, unmixed and relit at the screen's own level
            chunk_boxes = None if boxes is None else boxes[t:t + len(chunk)]
            alphas = self.matte.alphas(chunk, chunk_boxes)
            search = [None if chunk_boxes is None else chunk_boxes[i] for i in range(len(chunk))]
            if self.repairer is not None:
                for i in range(len(chunk)):
                    rgb = np.ascontiguousarray(chunk[i, ..., :3])
                    fixed = self.repairer.repair(rgb, alphas[i])
                    if fixed.frame is not rgb:  # colour was filled where the subject had been cut
                        chunk[i, ..., :3] = fixed.frame
                    alphas[i] = fixed.alpha
                    if fixed.filled_px:
                        search[i] = None  # a repaired part may reach beyond the keyed box
            t += len(chunk)
            yield _Matted(chunk, alphas, search)

    def _completed(self, matted: Iterator["_Matted"]) -> Iterator["_Matted"]:
        """Matte completion (plain footage), a chunk at a time in order (its frames on the completer's threads)."""
        t = 0
        for m in matted:
            n = len(m.frames)
            frames = [np.ascontiguousarray(m.frames[i, ..., :3]) for i in range(n)]
            for i, a in enumerate(self.completer.complete_chunk(frames, list(m.alphas), t)):
                m.alphas[i] = a
            t += n
            yield m

    def _key_boxes(self) -> np.ndarray | None:
        """Full-resolution boxes around the foreground found by the analysis pass, with a safety margin."""
        a = self.analysis
        if a is None or self.matte.mode != "key":
            return None
        info = self.job.info
        margin = KEY_BOX_MARGIN / a.scale
        boxes = np.full_like(a.fg_box, -1)
        found = a.fg_box[:, 0] >= 0
        f = a.fg_box[found].astype(np.float64) / a.scale
        boxes[found] = np.stack([np.maximum(0, f[:, 0] - margin), np.maximum(0, f[:, 1] - margin),
                                 np.minimum(info.width, f[:, 2] + margin),
                                 np.minimum(info.height, f[:, 3] + margin)], 1).astype(np.int32)
        return boxes

    def _frame(self, frame, alpha, out, t, despill, backing, search=None):
        """Composite one frame over the plate already in `out`; returns the processed foreground crop and its
        box (for the layers). `alpha` is updated in place where the matte is refined or its edge softened.

        Work happens inside the matte's bounding box (grown by EDGE_REACH when an edge stage is on) only:
        outside it the result is the plate. `search` (x0, y0, x1, y1; -1: unknown) is where the matte can be
        nonzero (the keyed box), to find that box faster.
        """
        frame = frame[..., :3]
        x0, y0 = 0, 0
        region = alpha
        if search is not None and search[0] >= 0:
            x0, y0, x1, y1 = (int(v) for v in search)
            region = alpha[y0:y1, x0:x1]
        x, y, w, h = cv2.boundingRect(region)
        if w == 0:
            return None, None
        st = self.job.shot.stages
        grow = EDGE_REACH if (self.refine or st.light_wrap > 0 or self.edges.edge_blur) else 0
        H, W = alpha.shape
        box = (slice(max(0, y0 + y - grow), min(H, y0 + y + h + grow)),
               slice(max(0, x0 + x - grow), min(W, x0 + x + w + grow)))
        fg, a = np.ascontiguousarray(frame[box]), alpha[box]
        given = a  # a view of the frame's alpha
        if self.refine:  # guided by the frame as shot, before unmixing changes the edge colours
            a = refine_alpha(fg, a)
        if despill and backing is not None:
            fg = unmix_foreground(fg, a, backing)
        if self.relighter is not None:
            fg = self.relighter.apply(fg, t)
        fg, a = harmonize_edges(fg, a, out[box], self.edges, seed=t, plate_sigma=self.plate_stats.get("blur_sigma"),
                                plate_grain=self.plate_stats.get("grain_sigma"))
        if a is not given:  # refined or softened: the output's alpha (layers, ProRes) follows
            alpha[box] = a
        out[box] = composite(fg, a, out[box])
        return fg, box

    def close(self) -> None:
        """Release the matte source (a segmenter's graph, a matte file's reader) and the completion threads; the job
        calls it at the end."""
        if self.matte is not None:
            self.matte.close()
        if self.completer is not None:
            self.completer.close()

    def report(self) -> dict:
        d = {"engine": self.name, "matte": self.matte.describe() if self.matte else None, "timings": self.timings}
        if self.camera is not None:
            d["camera"] = {"source": self.camera.source, **self.camera.details}
        if self.fades is not None:
            faded = self.fades < 1.0
            d["fade"] = {"frames": int(faded.sum()), "lowest_gain": round(float(self.fades[faded].min()), 3)}
        if self.repairer is not None:
            d["repair"] = self.repairer.summary()
        if self.completer is not None:
            d["complete"] = self.completer.summary()
        if self.plate_stats or self.plate_fill:
            d["plate"] = {**{k: round(v, 3) for k, v in self.plate_stats.items()}, "fill": self.plate_fill}
            if self.sweep:
                d["plate"]["sweep"] = self.sweep
        if self.plate is not None and self.plate.parallax is not None:
            p = self.plate.parallax
            d["parallax"] = {"residual_px": p.residuals, "pairs_with_flow": sum(f is not None for f in p.fields)}
        if self.relighter is not None:
            d["relight"] = self.relighter.describe()
        return d

