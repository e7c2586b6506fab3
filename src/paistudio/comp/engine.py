"""The CPU compositing engine: Shot inputs → composite frames, in two passes.

analysis (low res: matte, camera tracking, light statistics) → camera path → plate renderer → relight plan,
then the render pass streams full-resolution chunks: alpha → unmix/despill edges → relight → composite
in linear light over the plate. Each stage is a small module in `paistudio.comp`; this file only wires them.
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
from .harmonize import composite, foreground_layer, unmix_foreground
from .matte import MatteSource, open_matte
from .plate import PlateRenderer
from .relight import LightSample, apply_gains, plan_gains


@dataclass
class RenderedChunk:
    composite: np.ndarray  # [T, H, W, 3] uint8
    alpha: np.ndarray  # [T, H, W] uint8
    plate: np.ndarray | None  # [T, H, W, 3] uint8 (only when layers are asked for)
    foreground: np.ndarray | None  # [T, H, W, 4] uint8 straight-alpha RGBA (only with layers)


class CompositeEngine:
    name = "composite"

    def __init__(self, job):
        self.job = job
        self.matte: MatteSource | None = None
        self.analysis: Analysis | None = None
        self.camera: CameraChoice | None = None
        self.plate: PlateRenderer | None = None
        self.gains: np.ndarray | None = None
        self.timings: dict[str, float] = {}

    def prepare(self, progress: Progress) -> None:
        job, shot = self.job, self.job.shot
        t0 = time.perf_counter()
        sample = next(read_chunks(job.info, chunk=8))
        self.matte = open_matte(shot.matte, job.info, sample)
        size = (job.info.width, job.info.height)
        track = shot.camera.mode == "auto"
        need_analysis = track or shot.stages.relight
        if need_analysis:
            self.analysis = analyse(job.info, self.matte, progress, track_camera=track)
            self.matte = self.matte.restart()
        self.camera = choose_camera(shot.camera, job.info.n_frames, size, self.analysis, job.refs, job.anchors)
        job.warnings.extend(self.camera.warnings)
        self.plate = PlateRenderer(job.refs, job.anchors, self.camera.homographies, size)
        if shot.stages.relight and self.analysis is not None:
            self.gains = plan_gains(self._light_samples())
        self.timings["prepare_s"] = time.perf_counter() - t0

    def _light_samples(self) -> list[LightSample | None]:
        """Pair each frame's foreground colour with the plate's colour around it (both linear, low res)."""
        a = self.analysis
        samples: list[LightSample | None] = []
        for t in range(len(a.fg_mean)):
            if not np.isfinite(a.fg_mean[t]).all():
                samples.append(None)
                continue
            plate = self.plate.frame_small(t, a.scale)
            samples.append(LightSample.from_plate_region(a.fg_mean[t], plate, a.fg_box[t]))
        return samples

    def chunks(self, progress: Progress, layers: bool = False) -> Iterator[RenderedChunk]:
        shot, info = self.job.shot, self.job.info
        despill = shot.stages.despill
        backing = self.matte.backing
        progress.phase("render", info.n_frames)
        t = 0
        for chunk in prefetch(read_chunks(info)):
            alphas = self.matte.alphas(chunk)
            out = np.empty(chunk.shape[:3] + (3,), np.uint8)
            plates = np.empty_like(out) if layers else None
            fgs = np.empty(chunk.shape[:3] + (4,), np.uint8) if layers else None
            for i in range(len(chunk)):
                plate = self.plate.frame(t)
                fg = self._frame(chunk[i], alphas[i], plate, out[i], t, despill, backing)
                if layers:
                    plates[i] = plate
                    fgs[i] = foreground_layer(fg, alphas[i])
                t += 1
            progress.advance(len(chunk))
            yield RenderedChunk(out, alphas, plates, fgs)

    def _frame(self, frame, alpha, plate, out, t, despill, backing) -> np.ndarray:
        """Composite one frame into `out`; returns the processed foreground (for the layers).

        Work happens inside the matte's bounding box only: outside it the result is the plate.
        """
        frame = frame[..., :3]
        out[:] = plate
        x, y, w, h = cv2.boundingRect(alpha)
        if w == 0:
            return np.zeros_like(plate)
        box = (slice(y, y + h), slice(x, x + w))
        fg, a = np.ascontiguousarray(frame[box]), alpha[box]
        if despill and backing is not None:
            fg = unmix_foreground(fg, a, backing)
        if self.gains is not None:
            fg = apply_gains(fg, self.gains[t])
        out[box] = composite(fg, a, plate[box])
        full = np.zeros_like(plate)
        full[box] = fg
        return full

    def report(self) -> dict:
        d = {"engine": self.name, "matte": self.matte.describe() if self.matte else None, "timings": self.timings}
        if self.camera is not None:
            d["camera"] = {"source": self.camera.source, **self.camera.details}
        if self.gains is not None:
            g = self.gains.astype(np.float64)
            d["relight"] = {"gain_min": g.min(axis=0).round(4).tolist(), "gain_max": g.max(axis=0).round(4).tolist()}
        return d

