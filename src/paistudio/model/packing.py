"""Token layout of one in-context sequence: [target T_d | condition T_c | references T_i], with (t, h, w) ids.

The target comes first so its output is a plain slice. Ids are in target-token units: the target grid is the
plain (t, h, w) grid; pooled condition tokens sit at the centre of the target cells they cover; reference k sits
on the target's spatial grid at time `ref_t[k]` (temporal PE cloning: the latent index of its anchor frame).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .config import DitConfig

ROLE_TARGET, ROLE_CONDITION, ROLE_REFERENCE = 0, 1, 2


def latent_index(frame: int, temporal_stride: int) -> int:
    """Latent frame holding video frame `frame` for a causal video VAE (Wan: frame 0 alone, then 4 per latent)."""
    if frame < 0:
        raise ValueError(f"frame must be >= 0, got {frame}")
    return (frame + temporal_stride - 1) // temporal_stride


def latent_frames(n_frames: int, temporal_stride: int) -> int:
    """Number of latent frames for `n_frames` video frames (Wan: 1 + (n - 1) / 4)."""
    return latent_index(n_frames - 1, temporal_stride) + 1


@dataclass(frozen=True)
class Layout:
    ids: torch.Tensor  # [L, 3] float (t, h, w)
    roles: torch.Tensor  # [L] long: ROLE_TARGET / ROLE_CONDITION / ROLE_REFERENCE
    target_grid: tuple[int, int, int]  # (F, h, w) target tokens
    condition_grid: tuple[int, int, int] | None
    n_refs: int

    @property
    def n_target(self) -> int:
        f, h, w = self.target_grid
        return f * h * w

    @property
    def counts(self) -> dict[str, int]:
        return {"target": int((self.roles == ROLE_TARGET).sum()), "condition": int((self.roles == ROLE_CONDITION).sum()),
                "references": int((self.roles == ROLE_REFERENCE).sum()), "total": int(len(self.roles))}


def grid_ids(f: int, h: int, w: int, t0: float = 0.0, t_step: float = 1.0, s_step: float = 1.0,
             s0: float = 0.0) -> torch.Tensor:
    """[f*h*w, 3] ids of a (f, h, w) token grid, row-major like patch_embedding(...).flatten(2)."""
    t = t0 + t_step * torch.arange(f, dtype=torch.float32)
    y = s0 + s_step * torch.arange(h, dtype=torch.float32)
    x = s0 + s_step * torch.arange(w, dtype=torch.float32)
    return torch.stack(torch.meshgrid(t, y, x, indexing="ij"), dim=-1).reshape(-1, 3)


def pooled_grid(target_grid: tuple[int, int, int], factors: tuple[int, int]) -> tuple[int, int, int]:
    """Condition token grid after average pooling by (st, s, s); a partial last cell counts (edge-padded)."""
    st, s = factors
    f, h, w = target_grid
    return -(-f // st), -(-h // s), -(-w // s)


def make_layout(cfg: DitConfig, target_grid: tuple[int, int, int], with_condition: bool,
                ref_t: list[int]) -> Layout:
    """The layout for a target of `target_grid` tokens, an optional condition video and references whose
    anchors are latent frames `ref_t` (used as their time ids when cfg.ref_time == 'cloned')."""
    f, h, w = target_grid
    parts, roles = [grid_ids(f, h, w)], [torch.full((f * h * w,), ROLE_TARGET)]
    cgrid = None
    t_end = float(f)  # first time id after the target
    if with_condition:
        st, s = cfg.cond_downsample
        cgrid = pooled_grid(target_grid, cfg.cond_downsample)
        t0 = (st - 1) / 2 + (f if cfg.cond_position == "offset" else 0)
        parts.append(grid_ids(*cgrid, t0=t0, t_step=st, s_step=s, s0=(s - 1) / 2))
        roles.append(torch.full((cgrid[0] * cgrid[1] * cgrid[2],), ROLE_CONDITION))
        if cfg.cond_position == "offset":
            t_end = float(f + cgrid[0] * st)
    if len(ref_t) > cfg.max_refs:
        raise ValueError(f"at most {cfg.max_refs} references, got {len(ref_t)}")
    for k, t in enumerate(ref_t):
        if not 0 <= t < f:
            raise ValueError(f"reference {k} is anchored at latent frame {t}, outside the target's 0..{f - 1}")
        t_id = float(t) if cfg.ref_time == "cloned" else t_end + k
        parts.append(grid_ids(1, h, w, t0=t_id))
        roles.append(torch.full((h * w,), ROLE_REFERENCE))
    return Layout(torch.cat(parts), torch.cat(roles), target_grid, cgrid, len(ref_t))


def token_counts(cfg: DitConfig, frames: int, height: int, width: int, n_refs: int, temporal_stride: int,
                 spatial_stride: int) -> dict[str, int]:
    """Sequence length of a job of `frames` x `height` x `width` pixels (for planning memory; no tensors)."""
    p = cfg.wan["patch_size"][1]
    grid = (latent_frames(frames, temporal_stride), height // spatial_stride // p, width // spatial_stride // p)
    f, h, w = grid
    cf, ch, cw = pooled_grid(grid, cfg.cond_downsample)
    counts = {"target": f * h * w, "condition": cf * ch * cw, "references": n_refs * h * w}
    counts["total"] = sum(counts.values())
    return counts
