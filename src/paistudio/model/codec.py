"""Video <-> latents. Videos are [B, 3, F, H, W] in [-1, 1]; latents [B, C, f, h, w].

WanVAECodec wraps diffusers' AutoencoderKLWan with the per-channel latent normalisation WanPipeline uses.
PixelCodec is an exact space-to-depth "codec" (no weights): tiny CPU runs and tests use it, so what they
measure is the transformer alone, not an untrained VAE.
"""

from __future__ import annotations

import torch


class PixelCodec:
    """Lossless: each S x S pixel block becomes 3*S*S channels; one latent frame per video frame."""

    temporal_stride = 1

    def __init__(self, stride: int):
        self.spatial_stride = int(stride)
        self.channels = 3 * self.spatial_stride ** 2

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        b, c, f, h, w = video.shape  # [B, 3, F, H, W]
        s = self.spatial_stride
        if h % s or w % s:
            raise ValueError(f"frame size {w}x{h} must be a multiple of {s}")
        x = video.reshape(b, c, f, h // s, s, w // s, s)
        return x.permute(0, 1, 4, 6, 2, 3, 5).reshape(b, c * s * s, f, h // s, w // s)  # [B, 3*S*S, F, h, w]

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        b, _, f, h, w = latents.shape
        s = self.spatial_stride
        x = latents.reshape(b, 3, s, s, f, h, w).permute(0, 1, 4, 5, 2, 6, 3)  # [B, 3, F, h, S, w, S]
        return x.reshape(b, 3, f, h * s, w * s)

    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        return self.encode(image[:, :, None])[:, :, 0]  # [B, 3, H, W] -> [B, C, h, w]


class WanVAECodec:
    """The Wan 2.1 VAE (stride 4 x 8 x 8, 16 channels); latents normalised by the VAE's latents_mean/std."""

    def __init__(self, vae):
        self.vae = vae.eval().requires_grad_(False)
        cfg = vae.config
        self.channels = int(cfg.z_dim)
        self.temporal_stride = int(cfg.scale_factor_temporal or 4)
        self.spatial_stride = int(cfg.scale_factor_spatial or 8)
        self.mean = torch.tensor(cfg.latents_mean, dtype=torch.float32).view(1, -1, 1, 1, 1)
        self.std = torch.tensor(cfg.latents_std, dtype=torch.float32).view(1, -1, 1, 1, 1)

    @torch.no_grad()
    def encode(self, video: torch.Tensor) -> torch.Tensor:
        dtype = next(self.vae.parameters()).dtype
        z = self.vae.encode(video.to(dtype)).latent_dist.mode().float()  # [B, 16, 1+(F-1)/4, H/8, W/8]
        return (z - self.mean.to(z.device)) / self.std.to(z.device)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        dtype = next(self.vae.parameters()).dtype
        z = latents.float() * self.std.to(latents.device) + self.mean.to(latents.device)
        return self.vae.decode(z.to(dtype), return_dict=False)[0].float().clamp(-1, 1)

    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        return self.encode(image[:, :, None])[:, :, 0]  # a still is a one-frame video: one latent frame


def make_codec(name: str, vae=None):
    if name.startswith("pixel:"):
        return PixelCodec(int(name[6:]))
    if name == "wan-vae":
        if vae is None:
            raise ValueError("the wan-vae codec needs the checkpoint's vae/ folder")
        return WanVAECodec(vae)
    raise ValueError(f"unknown codec {name!r}")


def to_model_range(frames_uint8) -> torch.Tensor:
    """[F, H, W, 3] uint8 (numpy or tensor) -> [1, 3, F, H, W] float in [-1, 1]."""
    x = torch.as_tensor(frames_uint8)
    return (x.permute(3, 0, 1, 2)[None].float() / 127.5 - 1.0).contiguous()


def to_uint8(video: torch.Tensor):
    """[1, 3, F, H, W] in [-1, 1] -> [F, H, W, 3] uint8 numpy."""
    x = ((video[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(1, 2, 3, 0).contiguous().numpy()
