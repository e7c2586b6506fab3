"""`--engine dit`: the PAI-Studio diffusion model behind the same Job / sink interface as the composite engine.

Condition pass (working size): foreground frames + matte -> the flat green-screen video the model was trained on
(`train.augment.green_screen`, one construction for training and sampling). The pipeline samples it window by
window; each generated window is upscaled to the input size and, with `paste_back`, the opaque foreground is put
back from a second, lock-step read of the input at full size. Memory is bounded by one window at working size.
"""

from __future__ import annotations

import time
from typing import Iterator

import cv2
import numpy as np

from ..comp.engine import RenderedChunk
from ..comp.harmonize import foreground_layer
from ..comp.matte import MatteSource, open_matte
from ..errors import EngineUnavailable
from ..io.video import read_chunks
from ..progress import Progress
from . import require_torch


def working_size(width: int, height: int, sample_size: tuple[int, int], multiple: int) -> tuple[int, int]:
    """The input's aspect at the model's trained pixel area, each side a multiple of `multiple`."""
    area = sample_size[0] * sample_size[1]
    scale = (area / (width * height)) ** 0.5
    w = max(multiple, round(width * scale / multiple) * multiple)
    h = max(multiple, round(height * scale / multiple) * multiple)
    return int(w), int(h)


class _ConditionFrames:
    """Random access to working-size green-screen frames for windows that move forward; keeps only the
    frames a later window can still ask for."""

    def __init__(self, job, matte: MatteSource, size: tuple[int, int]):
        from ..train.augment import green_screen

        self._green = green_screen
        self.size = size
        self._chunks = read_chunks(job.info, chunk=8, size=size)
        self._matte = matte
        self._start = 0  # frame index of _buf[0]
        self._buf: list[np.ndarray] = []

    def __call__(self, start: int, stop: int) -> np.ndarray:
        if start < self._start:
            raise RuntimeError("condition windows must move forward")
        del self._buf[: start - self._start]
        self._start = start
        while self._start + len(self._buf) < stop:
            chunk = next(self._chunks)
            alpha = self._matte.alphas(chunk).astype(np.float32) / 255.0
            if alpha.shape[1:] != self.size[::-1]:
                alpha = np.stack([cv2.resize(a, self.size, interpolation=cv2.INTER_AREA) for a in alpha])
            self._buf.extend(self._green(chunk[..., :3], alpha))
        return np.stack(self._buf[: stop - start])


class _StepProgress:
    """Turns the pipeline's per-step progress into frames on the render bar (a window's new frames over its
    steps), so a long window does not look stalled."""

    def __init__(self, parent: Progress, frames_per_step: list[float]):
        self.parent, self.rates, self.window, self.shown = parent, frames_per_step, 0, 0.0

    def phase(self, name: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        step = self.rates[min(self.window, len(self.rates) - 1)] * n
        self.parent.advance(step)
        self.shown += step

    def window_done(self, frames: int) -> None:
        self.parent.advance(frames - self.shown)  # settle rounding so the bar ends exactly at the frame count
        self.window, self.shown = self.window + 1, 0.0

    def close(self) -> None:
        pass


class DitEngine:
    name = "dit"

    def __init__(self, job):
        require_torch()
        self.job = job
        self.bundle = None
        self.matte: MatteSource | None = None
        self.camera = None  # the model carries the camera itself; there is no path to save
        self.size: tuple[int, int] | None = None
        self.timings: dict[str, float] = {}
        self.windows: list = []
        self._mattes: list[MatteSource] = []  # every matte source opened, closed by close()

    def prepare(self, progress: Progress) -> None:
        from .checkpoint import load_bundle

        t0 = time.perf_counter()
        spec, info = self.job.shot.dit, self.job.info
        self.bundle = load_bundle(spec.model)
        if _is_stock_wan(spec.model):
            self.job.warnings.append("the model folder is a stock Wan checkpoint that has never seen condition or "
                                     "reference tokens; fine-tune it with `paistudio train` for usable results")
        cfg = self.bundle.cfg
        multiple = self.bundle.codec.spatial_stride * cfg.wan["patch_size"][1]
        shown_w = info.width * float(info.pixel_aspect)  # the model sees square pixels: anamorphic frames unsqueezed
        if spec.width or spec.height:
            w = spec.width or round(spec.height * shown_w / info.height)
            h = spec.height or round(spec.width * info.height / shown_w)
            if w % multiple or h % multiple:
                raise EngineUnavailable(f"dit working size {w}x{h} must be a multiple of {multiple} for this model")
            self.size = (int(w), int(h))
        else:
            self.size = working_size(round(shown_w), info.height, cfg.sample_size, multiple)
        sample = next(read_chunks(info, chunk=8))
        self.matte = open_matte(self.job.shot.matte, info, sample)
        self._mattes.append(self.matte)
        self.timings["load_s"] = round(time.perf_counter() - t0, 3)

    def chunks(self, progress: Progress, layers: bool = False) -> Iterator[RenderedChunk]:
        from .pipeline import DitPipeline, paste_back, windows

        job, spec, info = self.job, self.job.shot.dit, self.job.info
        size, cfg = self.size, self.bundle.cfg
        window = spec.window or cfg.window_frames
        overlap = min(spec.overlap, window - 1)
        refs = np.stack([cv2.resize(r, size, interpolation=cv2.INTER_AREA) for r in job.refs])
        self.windows = windows(info.n_frames, job.anchors, window, overlap)
        cond_matte = self.matte.restart(size) if self.matte.mode == "file" else self.matte
        condition = _ConditionFrames(job, cond_matte, size)
        out_matte = self.matte.restart()
        self._mattes += [cond_matte, out_matte]
        full = read_chunks(info, chunk=4)
        pipe = DitPipeline(self.bundle)
        progress.phase("render", info.n_frames)
        # the bar moves with every denoising step: each window's new frames spread over its steps
        emitted = [(self.windows[i + 1].start if i + 1 < len(self.windows) else w.stop) - w.start
                   for i, w in enumerate(self.windows)]
        steps = _StepProgress(progress, [n / spec.steps for n in emitted])
        t0 = time.perf_counter()
        pending_rgb = np.empty((0, info.height, info.width, 3), np.uint8)
        pending_a = np.empty((0, info.height, info.width), np.uint8)
        for generated in pipe.stream(condition, info.n_frames, refs, job.anchors, job.shot.prompt, window=window,
                                     overlap=overlap, steps=spec.steps, guidance=spec.guidance,
                                     sampler=spec.sampler, seed=spec.seed, progress=steps):
            while len(pending_rgb) < len(generated):
                chunk = next(full)
                pending_rgb = np.concatenate([pending_rgb, chunk[..., :3]])
                pending_a = np.concatenate([pending_a, out_matte.alphas(chunk)])
            n = len(generated)
            rgb, alpha = pending_rgb[:n], pending_a[:n]
            pending_rgb, pending_a = pending_rgb[n:], pending_a[n:]
            out = np.stack([cv2.resize(g, (info.width, info.height), interpolation=cv2.INTER_CUBIC)
                            for g in generated])
            if spec.paste_back:
                out = np.stack([paste_back(o, f, a.astype(np.float32) / 255.0) for o, f, a in zip(out, rgb, alpha)])
            steps.window_done(n)
            fgs = np.stack([foreground_layer(np.ascontiguousarray(f), a) for f, a in zip(rgb, alpha)]) if layers else None
            yield RenderedChunk(out, alpha, out.copy() if layers else None, fgs)
        self.timings["sample_s"] = round(time.perf_counter() - t0, 3)

    def close(self) -> None:
        """Release the matte sources (a segmenter's graph, a matte file's reader); the job calls it at the end."""
        for m in self._mattes:  # a source listed twice is closed twice: close() is idempotent
            m.close()

    def report(self) -> dict:
        from .packing import token_counts

        spec, cfg = self.job.shot.dit, self.bundle.cfg
        codec = self.bundle.codec
        window = spec.window or cfg.window_frames
        w, h = self.size
        return {"engine": self.name, "model": spec.model, "model_config": {"ref_time": cfg.ref_time,
                "cond_position": cfg.cond_position, "cond_downsample": list(cfg.cond_downsample), "codec": cfg.codec},
                "matte": self.matte.describe() if self.matte else None, "working_size": [w, h],
                "steps": spec.steps, "guidance": spec.guidance, "sampler": spec.sampler, "seed": spec.seed,
                "paste_back": spec.paste_back,
                "windows": [{"start": x.start, "stop": x.stop, "anchors": list(x.anchors)} for x in self.windows],
                "tokens_per_window": token_counts(cfg, min(window, self.job.info.n_frames), h, w, len(self.job.refs),
                                                  codec.temporal_stride, codec.spatial_stride),
                "timings": self.timings, "versions": _versions()}


def _versions() -> dict:
    import diffusers
    import torch

    return {"torch": torch.__version__, "diffusers": diffusers.__version__}


def _is_stock_wan(folder: str) -> bool:
    from pathlib import Path

    return not (Path(folder) / "paistudio.json").is_file()
