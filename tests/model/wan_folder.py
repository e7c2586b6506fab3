"""Builds a tiny stock diffusers Wan text-to-video folder (random weights), as a downloaded one is laid out."""

from __future__ import annotations

from pathlib import Path


def tiny_vae(seed: int = 0):
    import torch
    from diffusers import AutoencoderKLWan

    torch.manual_seed(seed)
    return AutoencoderKLWan(base_dim=8, z_dim=4, dim_mult=[1, 2, 2, 2], num_res_blocks=1,
                            temperal_downsample=[False, True, True], latents_mean=[0.1, -0.2, 0.0, 0.3],
                            latents_std=[1.5, 0.8, 1.0, 2.0])


def save_tiny_wan(folder: Path, seed: int = 0) -> Path:
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel

    from paistudio.model.checkpoint import TINY_VOCAB
    from paistudio.model.text import offline_tokenizer, tiny_text_encoder

    torch.manual_seed(seed)
    transformer = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=16,
                                        in_channels=4, out_channels=4, text_dim=32, freq_dim=32, ffn_dim=64,
                                        num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
                                        rope_max_seq_len=64)
    tok = offline_tokenizer([TINY_VOCAB])
    pipe = WanPipeline(tokenizer=tok, text_encoder=tiny_text_encoder(len(tok), 32, seed), vae=tiny_vae(seed),
                       transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0))
    pipe.save_pretrained(folder)
    return folder
