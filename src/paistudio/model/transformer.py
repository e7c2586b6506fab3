"""PaiStudioTransformer: the stock diffusers Wan blocks run over one in-context sequence.

Target, condition and reference latents go through Wan's own patch embedding, are concatenated into one
sequence (full bidirectional self-attention; the prompt enters by Wan's cross-attention), get rotary
embeddings from explicit ids (`rope.py`) and per-token timesteps (condition and references at t = 0). Only
the target tokens are normalised, projected and unpatchified. With no condition and no references this is
exactly the stock `WanTransformer3DModel.forward` (tests/model/test_transformer.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import WanTransformer3DModel
from torch import nn
from torch.utils.checkpoint import checkpoint

from .config import DitConfig
from .packing import Layout, make_layout
from .rope import ExplicitRope


class PaiStudioTransformer(nn.Module):
    def __init__(self, cfg: DitConfig, wan: WanTransformer3DModel | None = None):
        super().__init__()
        self.cfg = cfg
        self.wan = wan if wan is not None else WanTransformer3DModel(**cfg.wan)
        self.rope = ExplicitRope(cfg.wan["attention_head_dim"])
        # row 0: condition tokens, row 1: reference tokens; zero so a fresh model is the stock Wan model
        self.role = nn.Parameter(torch.zeros(2, cfg.dim)) if cfg.role_embeddings else None
        self.gradient_checkpointing = False

    @property
    def patch(self) -> tuple[int, int, int]:
        return tuple(self.cfg.wan["patch_size"])

    def _embed(self, latents: torch.Tensor, pool: bool = False) -> torch.Tensor:
        x = self.wan.patch_embedding(latents)  # [B, D, f, h, w]
        if pool:
            x = self.pool_tokens(x)  # [B, D, f', h', w']
        return x.flatten(2).transpose(1, 2)  # [B, f*h*w, D]

    def pool_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Condition tokens [B, D, f, h, w] -> [B, D, ceil(f/st), ceil(h/s), ceil(w/s)] by average pooling (the
        paper's efficient conditioning), after the patch embedding so any token grid works: odd ones (45 x 80
        tokens at 720p) are edge-padded. Ids: each pooled token sits at the centre of the cells it covers."""
        st, s = self.cfg.cond_downsample
        if st == s == 1:
            return x
        pads = [(-n) % k for n, k in zip(x.shape[2:], (st, s, s))]  # f, h, w
        if any(pads):
            x = F.pad(x, (0, pads[2], 0, pads[1], 0, pads[0]), mode="replicate")
        return F.avg_pool3d(x, kernel_size=(st, s, s))

    def layout(self, latents_shape, with_condition: bool, ref_t: list[int]) -> Layout:
        _, _, f, h, w = latents_shape
        pt, ph, pw = self.patch
        return make_layout(self.cfg, (f // pt, h // ph, w // pw), with_condition, list(ref_t))

    def forward(self, latents: torch.Tensor, timestep: torch.Tensor, text: torch.Tensor,
                condition: torch.Tensor | None = None, references: torch.Tensor | None = None,
                ref_t: list[int] | tuple[int, ...] = ()) -> torch.Tensor:
        """Predict the flow velocity (noise - clean) of the target.

        latents    [B, C, F, H, W]   noisy target latents T_d
        timestep   [B] or [B, L_d]   target timesteps in Wan units (0..1000); conditions always get 0
        text       [B, S, text_dim]  frozen text-encoder states of the structured prompt
        condition  [B, C, F, H, W]   latents of the (perturbed) green-screen foreground video T_c, or None
        references [B, K, C, H, W]   one latent frame per reference T_i, or None
        ref_t      K latent frame indices, the anchor of each reference
        returns    [B, C, F, H, W]
        """
        b, _, f, h, w = latents.shape
        n_refs = 0 if references is None else references.shape[1]
        if n_refs != len(ref_t):
            raise ValueError(f"{n_refs} references but {len(ref_t)} anchors")
        layout = self.layout(latents.shape, condition is not None, ref_t)
        pt, ph, pw = self.patch

        tokens = self._embed(latents)  # [B, L_d, D]
        segments = [tokens]
        if condition is not None:
            if condition.shape[0] != b or condition.shape[2:] != latents.shape[2:]:
                raise ValueError(f"condition latents {tuple(condition.shape)} do not match target {tuple(latents.shape)}")
            c = self._embed(condition, pool=True)  # [B, L_c, D]
            segments.append(c + self.role[0] if self.role is not None else c)
        for k in range(n_refs):
            r = self._embed(references[:, k, :, None])  # [B, h*w, D]
            segments.append(r + self.role[1] if self.role is not None else r)
        hidden = torch.cat(segments, dim=1).contiguous()  # [B, L, D]
        n_d, n_all = layout.n_target, hidden.shape[1]

        # per-token timesteps: target tokens get theirs, every condition/reference token gets 0
        t = timestep.float().reshape(b, -1) if timestep.numel() % b == 0 else timestep.float()[None]
        if t.shape != (b, 1) and t.shape != (b, n_d):
            raise ValueError(f"timestep must be [B] or [B, L_target] = [{b}] or [{b}, {n_d}], got {tuple(timestep.shape)}")
        ts = torch.zeros(b, n_all, dtype=torch.float32, device=hidden.device)  # [B, L]
        ts[:, :n_d] = t.expand(b, n_d)
        temb, proj, enc, _ = self.wan.condition_embedder(ts.flatten(), text, None, timestep_seq_len=n_all)
        proj = proj.unflatten(2, (6, -1))  # [B, L, 6, D]
        rotary = self.rope(layout.ids.to(hidden.device))  # 2 x [1, L, 1, head_dim]

        for block in self.wan.blocks:
            if self.gradient_checkpointing and torch.is_grad_enabled():
                hidden = checkpoint(block, hidden, enc, proj, rotary, use_reentrant=False)
            else:
                hidden = block(hidden, enc, proj, rotary)  # [B, L, D]

        hidden, temb = hidden[:, :n_d], temb[:, :n_d]  # target tokens only: [B, L_d, D]
        shift, scale = (self.wan.scale_shift_table.unsqueeze(0) + temb.unsqueeze(2)).chunk(2, dim=2)
        hidden = (self.wan.norm_out(hidden.float()) * (1 + scale.squeeze(2)) + shift.squeeze(2)).type_as(hidden)
        out = self.wan.proj_out(hidden)  # [B, L_d, pt*ph*pw*C]
        out = out.reshape(b, f // pt, h // ph, w // pw, pt, ph, pw, -1)
        out = out.permute(0, 7, 1, 4, 2, 5, 3, 6)  # [B, C, f, pt, h, ph, w, pw]
        return out.flatten(6, 7).flatten(4, 5).flatten(2, 3)  # [B, C, F, H, W]

