"""From a TrainingCase to the model's inputs, with the paper's augmentations (all seeded by the caller's rng).

- illumination perturbation of the foreground in the condition video only (the target keeps the true light),
  the benchmark's perturbation family (`eval.restore.illumination_perturbation`), so the model learns to relight;
- mask defects (`eval.defects`): the condition is cut out with a damaged matte (holes, a dropped limb, a blob);
- a random reference count in [min, max] at the default anchors (1: begin; 2: begin, end; 3: begin, middle,
  end), each keeping its cloned temporal position;
- prompt dropout (empty prompt) and reference dropout (no references), so guidance has an unconditional branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..shot import default_anchors
from .cases import TrainingCase

GREEN = np.array([0, 177, 64], np.float32)  # the condition's flat backing


@dataclass(frozen=True)
class Augment:
    perturb: bool = True  # illumination perturbation of the condition's foreground
    mask_defects: float = 0.0  # probability of a damaged matte
    ref_count: tuple[int, int] = (1, 3)  # references per sample, inclusive range
    prompt_dropout: float = 0.1
    ref_dropout: float = 0.05


@dataclass
class Sample:
    target: np.ndarray  # [F, H, W, 3] uint8
    condition: np.ndarray  # [F, H, W, 3] uint8 green-screen foreground (perturbed, maybe badly matted)
    references: np.ndarray  # [K, H, W, 3] uint8, K may be 0 after reference dropout
    anchors: list[int]  # frame of each reference
    prompt: dict | str
    params: dict = field(default_factory=dict)  # what the augmentations drew, for logs


def green_screen(frames: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """frames [F, H, W, 3] uint8 over the flat green backing by alpha [F, H, W] (display-referred mix), one frame
    at a time so a long 480p shot needs megabytes of temporaries, not gigabytes."""
    out = np.empty(frames.shape, np.uint8)
    for t in range(len(frames)):
        a = alpha[t][..., None].astype(np.float32)
        out[t] = np.round(frames[t].astype(np.float32) * a + GREEN * (1 - a)).astype(np.uint8)
    return out


def make_sample(case: TrainingCase, aug: Augment, rng: np.random.Generator) -> Sample:
    from ..eval.defects import apply_defects, draw_defects
    from ..eval.restore import illumination_perturbation

    params: dict = {}
    fg = case.target
    if aug.perturb:
        seed = int(rng.integers(2**31))
        fg, params["perturbation"] = illumination_perturbation(case.target, case.alpha, seed=seed)
    alpha = case.alpha
    if aug.mask_defects > 0 and rng.random() < aug.mask_defects:
        d = draw_defects(int(rng.integers(2**31)))
        params["defects"] = d
        damaged = np.stack([apply_defects(np.where(a > 0.5, 255, 0).astype(np.uint8), d) > 127 for a in alpha])
        # where the damaged matte agrees with the true one keep the soft true alpha; elsewhere it is 0 or 1
        alpha = np.where(damaged == (alpha > 0.5), alpha, damaged.astype(np.float32)).astype(np.float32)
    condition = green_screen(fg, alpha)
    f = len(case.target)
    lo, hi = aug.ref_count
    k = int(rng.integers(lo, hi + 1))
    anchors = default_anchors(k, f)
    missing = [a for a in anchors if a not in case.backgrounds]
    if missing:
        raise ValueError(f"case {case.name} has no clean background at frames {missing}")
    refs = np.stack([case.backgrounds[a] for a in anchors])
    if aug.ref_dropout > 0 and rng.random() < aug.ref_dropout:
        refs, anchors = refs[:0], []
        params["ref_dropout"] = True
    prompt: dict | str = case.prompt
    if aug.prompt_dropout > 0 and rng.random() < aug.prompt_dropout:
        prompt, params["prompt_dropout"] = "", True
    return Sample(case.target, condition, refs, anchors, prompt, params)
