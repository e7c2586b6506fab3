"""Rotary position embedding over explicit (t, h, w) ids.

diffusers' WanRotaryPosEmbed derives positions from the latent shape, so every token sits on the plain video
grid. In-context tokens need other positions (a reference at the time of the frame it depicts, pooled
condition tokens at the centre of the cells they cover), so this module takes the ids themselves and returns
the same (cos, sin) layout the Wan attention processor expects. On a plain grid it equals diffusers' output
(tests/model/test_rope.py). Ids may be fractional.
"""

from __future__ import annotations

import torch
from torch import nn


def axis_dims(head_dim: int) -> tuple[int, int, int]:
    """Wan's split of a head's channels between t, h and w (44/42/42 for head_dim 128)."""
    hw = 2 * (head_dim // 6)
    return head_dim - 2 * hw, hw, hw


class ExplicitRope(nn.Module):
    def __init__(self, head_dim: int, theta: float = 10000.0):
        super().__init__()
        self.dims = axis_dims(head_dim)
        # inverse frequencies per axis, as get_1d_rotary_pos_embed(dim, ..., theta) builds them
        for name, d in zip("thw", self.dims):
            inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float64)[: d // 2] / d))  # [d/2]
            self.register_buffer(f"inv_{name}", inv, persistent=False)

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ids [L, 3] or [B, L, 3] (t, h, w) -> (cos, sin), each [1 or B, L, 1, head_dim] float32."""
        if ids.ndim == 2:
            ids = ids[None]  # [1, L, 3]
        ids = ids.to(torch.float64)
        angles = [ids[..., i, None] * inv for i, inv in enumerate((self.inv_t, self.inv_h, self.inv_w))]
        ang = torch.cat(angles, dim=-1)  # [B, L, head_dim/2]
        ang = ang.repeat_interleave(2, dim=-1)  # [B, L, head_dim], pairs (2i, 2i+1) share an angle
        return ang.cos().float()[:, :, None], ang.sin().float()[:, :, None]
