"""Sampling: green-screen foreground video + anchored references + structured prompt -> the composited video.

`DitPipeline.__call__` in numbered steps, the denoising loop written out (diffusers style):
  1. check inputs   2. encode the prompt (and the empty prompt for guidance)   3. encode condition and references
  4. seeded noise   5. scheduler timesteps with shift   6. denoise (classifier-free guidance on the prompt only:
  condition and references are kept in both branches, which run as one batch of 2)   7. decode
Long clips run in overlapping temporal windows (`windows`), each with its references re-anchored to it;
`paste_back` optionally puts the opaque foreground from the matte back on the generated frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np
import torch

from ..progress import Progress, Silent
from .checkpoint import DitBundle
from .codec import to_model_range, to_uint8
from .packing import latent_index

SAMPLERS = ("euler", "unipc")


def make_scheduler(sampler: str, shift: float):
    from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler

    if sampler == "euler":
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)
    if sampler == "unipc":  # as Wan's own pipelines configure it
        return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=shift,
                                       num_train_timesteps=1000)
    raise ValueError(f"unknown sampler {sampler!r}; choose one of {SAMPLERS}")


@dataclass(frozen=True)
class Window:
    start: int  # first frame (inclusive)
    stop: int  # last frame + 1
    refs: tuple[int, ...]  # indices into the job's references
    anchors: tuple[int, ...]  # their anchors, relative to `start`


def windows(n_frames: int, anchors: list[int], length: int, overlap: int) -> list[Window]:
    """Overlapping windows covering `n_frames`; each keeps the references anchored inside it (re-anchored to its
    start) or, when none is, the nearest one anchored at its nearer edge."""
    if n_frames <= length:
        return [Window(0, n_frames, tuple(range(len(anchors))), tuple(anchors))]
    if not 0 <= overlap < length:
        raise ValueError(f"overlap must be in [0, {length}), got {overlap}")
    starts = list(range(0, n_frames - length, length - overlap)) + [n_frames - length]
    out = []
    for s in dict.fromkeys(starts):
        e = s + length
        inside = [k for k, a in enumerate(anchors) if s <= a < e]
        if inside:
            out.append(Window(s, e, tuple(inside), tuple(anchors[k] - s for k in inside)))
        else:
            k = min(range(len(anchors)), key=lambda k: min(abs(anchors[k] - s), abs(anchors[k] - (e - 1))))
            out.append(Window(s, e, (k,), (0 if anchors[k] < s else length - 1,)))
    return out


class DitPipeline:
    def __init__(self, bundle: DitBundle):
        self.bundle = bundle
        self.model = bundle.transformer.eval()
        self.codec = bundle.codec

    def check_inputs(self, condition: np.ndarray, references: np.ndarray, anchors: list[int]) -> None:
        if condition.ndim != 4 or condition.shape[-1] != 3 or condition.dtype != np.uint8:
            raise ValueError(f"condition must be uint8 [F, H, W, 3], got {condition.dtype} {condition.shape}")
        f, h, w = condition.shape[:3]
        stride = self.codec.spatial_stride * self.model.patch[1]
        if h % stride or w % stride:
            raise ValueError(f"frame size {w}x{h} must be a multiple of {stride} for this model; resize first")
        if references.shape[1:] != condition.shape[1:]:
            raise ValueError(f"references {references.shape[1:]} must match the frame size {condition.shape[1:]}")
        if len(references) != len(anchors) or not 1 <= len(anchors) <= self.model.cfg.max_refs:
            raise ValueError(f"give 1-{self.model.cfg.max_refs} references, one anchor each")
        if any(not 0 <= a < f for a in anchors):
            raise ValueError(f"anchors {anchors} must lie in 0..{f - 1}")

    @torch.no_grad()
    def __call__(self, condition: np.ndarray, references: np.ndarray, anchors: list[int], prompt="",
                 steps: int = 30, guidance: float = 5.0, sampler: str = "euler", seed: int = 0,
                 shift: float | None = None, progress: Progress | None = None) -> np.ndarray:
        """condition [F, H, W, 3] uint8 (green-screen foreground), references [K, H, W, 3] uint8 -> [F, H, W, 3]."""
        progress = progress or Silent()
        # 1. inputs
        self.check_inputs(condition, references, anchors)
        stride_t = self.codec.temporal_stride
        # 2. prompt, and the empty prompt for the unconditional branch
        use_cfg = guidance != 1.0
        text = self.bundle.prompts.encode([prompt, ""] if use_cfg else [prompt])  # [1 or 2, S, text_dim]
        # 3. conditions, encoded once and shared by both branches; a causal VAE needs 1 + k*stride frames, so the
        #    last frame is repeated up to that and the extra output frames are dropped after decoding
        pad = (-(len(condition) - 1)) % stride_t
        padded = np.concatenate([condition, np.repeat(condition[-1:], pad, 0)]) if pad else condition
        cond = self.codec.encode(to_model_range(padded))  # [1, C, f, h, w]
        refs = torch.stack([self.codec.encode_image(to_model_range(r[None])[:, :, 0]) for r in references], 1)
        ref_t = [latent_index(a, stride_t) for a in anchors]  # temporal PE cloning: each anchor's latent frame
        # 4. noise
        g = torch.Generator().manual_seed(int(seed))
        latents = torch.randn(cond.shape, generator=g)  # [1, C, f, h, w]
        # 5. timesteps
        scheduler = make_scheduler(sampler, self.model.cfg.shift if shift is None else shift)
        scheduler.set_timesteps(steps)
        n = 2 if use_cfg else 1
        cond_b, refs_b = cond.expand(n, *cond.shape[1:]), refs.expand(n, *refs.shape[1:])
        progress.phase("denoise", len(scheduler.timesteps))
        # 6. denoising loop
        for t in scheduler.timesteps:
            x = latents.expand(n, *latents.shape[1:])
            v = self.model(x, t.expand(n).float(), text, condition=cond_b, references=refs_b, ref_t=ref_t)
            if use_cfg:
                v_text, v_empty = v.chunk(2)
                v = v_empty + guidance * (v_text - v_empty)
            latents = scheduler.step(v, t, latents, return_dict=False)[0]
            progress.advance(1)
        # 7. decode
        return to_uint8(self.codec.decode(latents))[: len(condition)]

    def stream(self, condition_frames, n_frames: int, references: np.ndarray, anchors: list[int], prompt="",
               window: int = 81, overlap: int = 8, **kw) -> Iterator[np.ndarray]:
        """Long clips: `condition_frames(start, stop)` -> uint8 frames; yields output frames in order, one window
        at a time (memory bounded by the window), cross-fading the overlaps linearly."""
        tail: np.ndarray | None = None  # the previous window's frames that overlap the next one
        plan = windows(n_frames, anchors, window, overlap)
        for i, w in enumerate(plan):
            out = self(condition_frames(w.start, w.stop), references[list(w.refs)], list(w.anchors), prompt, **kw)
            if tail is not None:
                k = len(tail)
                ramp = np.linspace(0, 1, k + 2, dtype=np.float32)[1:-1, None, None, None]
                out[:k] = np.round(tail * (1 - ramp) + out[:k] * ramp).astype(np.uint8)
            nxt = plan[i + 1].start if i + 1 < len(plan) else w.stop
            keep = nxt - w.start  # frames final now; the rest overlap the next window
            yield out[:keep]
            tail = out[keep:].astype(np.float32) if i + 1 < len(plan) else None


def paste_back(generated: np.ndarray, foreground: np.ndarray, alpha: np.ndarray, feather_px: int = 3) -> np.ndarray:
    """Put the opaque foreground back: generated [H, W, 3], foreground [H, W, 3] (the original pixels), alpha
    [H, W] float in [0, 1]. Only the fully opaque core is pasted: eroded by 2 x `feather_px`, then blurred
    (sigma feather_px / 2, which stays inside the erosion), so edges (hair, motion blur) stay the model's and
    faces cannot drift."""
    core = (alpha >= 0.98).astype(np.uint8)
    if feather_px > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (4 * feather_px + 1,) * 2)
        core = cv2.erode(core, k)
        weight = cv2.GaussianBlur(core.astype(np.float32), (0, 0), feather_px / 2)
    else:
        weight = core.astype(np.float32)
    weight = weight[..., None]
    return np.round(generated * (1 - weight) + foreground * weight).astype(np.uint8)
