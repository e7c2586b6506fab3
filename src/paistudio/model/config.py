"""DitConfig: the Wan backbone's own config plus the in-context choices, and the presets.

The whole config is stored in every checkpoint's safetensors metadata, so a checkpoint rebuilds its model
without side files. Presets are small functions in one dict (as in facebookresearch/DiT).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable

REF_TIMES = ("cloned", "sequential")
COND_POSITIONS = ("shared", "offset")


@dataclass
class DitConfig:
    # kwargs of diffusers' WanTransformer3DModel, stored verbatim so the backbone is the stock module
    wan: dict[str, Any] = field(default_factory=dict)
    # "pixel:S" (exact space-to-depth by S, for tiny CPU runs) or "wan-vae" (the Wan VAE, stride 4x8x8)
    codec: str = "wan-vae"
    # cloned: reference k gets the latent time index of the frame it depicts (the paper's temporal PE cloning);
    # sequential: references sit after the video at t = F, F+1, ... (the ablation's "without cloning")
    ref_time: str = "cloned"
    # shared: condition token (t,h,w) = target token (t,h,w), because the condition is pixel-aligned with the
    # target; offset: the condition video's time ids start after the target's (its own time range)
    cond_position: str = "shared"
    # (temporal, spatial) average pooling of the condition tokens (paper Sec. K); (1, 1) keeps every token
    cond_downsample: tuple[int, int] = (1, 1)
    # learned (zero-initialised) vectors added to condition / reference tokens so the model can tell them from
    # target tokens at the same position; zero at init keeps the stock Wan forward intact
    role_embeddings: bool = True
    # text encoder sequence length (Wan: 512 umT5 tokens)
    text_len: int = 512
    # flow-matching timestep shift used for training and sampling (Wan: 5.0 at 720p, 3.0 at 480p)
    shift: float = 5.0
    # at most this many references
    max_refs: int = 3
    # the resolution (w, h) and frames per window the model was trained at; the engine works at this area
    sample_size: tuple[int, int] = (832, 480)
    window_frames: int = 81

    def __post_init__(self):
        self.cond_downsample = tuple(int(v) for v in self.cond_downsample)
        self.sample_size = tuple(int(v) for v in self.sample_size)
        self.validate()

    def validate(self) -> None:
        if self.ref_time not in REF_TIMES:
            raise ValueError(f"ref_time must be one of {REF_TIMES}, got {self.ref_time!r}")
        if self.cond_position not in COND_POSITIONS:
            raise ValueError(f"cond_position must be one of {COND_POSITIONS}, got {self.cond_position!r}")
        if len(self.cond_downsample) != 2 or min(self.cond_downsample) < 1:
            raise ValueError(f"cond_downsample must be two factors >= 1, got {self.cond_downsample}")
        if not (self.codec == "wan-vae" or (self.codec.startswith("pixel:") and self.codec[6:].isdigit())):
            raise ValueError(f"codec must be 'wan-vae' or 'pixel:S', got {self.codec!r}")
        if self.wan.get("patch_size", (1, 2, 2))[0] != 1:
            raise ValueError("only temporal patch size 1 is supported (each reference is one latent frame)")

    @property
    def dim(self) -> int:
        return int(self.wan["num_attention_heads"] * self.wan["attention_head_dim"])

    @property
    def latent_channels(self) -> int:
        return int(self.wan["in_channels"])

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "DitConfig":
        d = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown DitConfig fields {sorted(unknown)}; the checkpoint is newer than this code")
        if "patch_size" in d.get("wan", {}):
            d["wan"]["patch_size"] = tuple(d["wan"]["patch_size"])
        return cls(**d)


def _wan(dim_head: int, heads: int, layers: int, ffn: int, text_dim: int, channels: int, **kw) -> dict:
    base = dict(patch_size=(1, 2, 2), num_attention_heads=heads, attention_head_dim=dim_head,
                in_channels=channels, out_channels=channels, text_dim=text_dim, freq_dim=256, ffn_dim=ffn,
                num_layers=layers, cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6,
                rope_max_seq_len=1024)
    base.update(kw)
    return base


def tiny() -> DitConfig:
    """CPU tests: ~2.2M parameters, exact pixel codec (32x32 frames -> 8x8x48 latents -> 4x4 tokens of 192
    values). The width must exceed a token's 192 output values, or the noise cannot pass through."""
    return DitConfig(wan=_wan(64, 4, 2, 512, 32, 48, freq_dim=64), codec="pixel:4", text_len=32, shift=3.0,
                     sample_size=(32, 32), window_frames=9)


def small_20m() -> DitConfig:
    """The largest size that trains on 2 CPU cores in minutes (~20M parameters, Wan VAE latents)."""
    return DitConfig(wan=_wan(64, 6, 10, 1024, 64, 16), codec="wan-vae", text_len=64, shift=3.0,
                     sample_size=(256, 256), window_frames=17)


def wan21_1_3b() -> DitConfig:
    """Wan 2.1 T2V 1.3B backbone (dim 1536, 30 layers, 12 heads), umT5-XXL text (4096), 480p shift 3.0."""
    return DitConfig(wan=_wan(128, 12, 30, 8960, 4096, 16), codec="wan-vae", text_len=512, shift=3.0)


def wan21_14b() -> DitConfig:
    """Wan 2.1 T2V 14B backbone (dim 5120, 40 layers, 40 heads), 720p shift 5.0."""
    return DitConfig(wan=_wan(128, 40, 40, 13824, 4096, 16), codec="wan-vae", text_len=512, shift=5.0,
                     sample_size=(1280, 720))


PRESETS: dict[str, Callable[[], DitConfig]] = {
    "tiny": tiny,
    "small-20m": small_20m,
    "wan2.1-1.3b": wan21_1_3b,
    "wan2.1-14b": wan21_14b,
}


def preset(name: str, **overrides) -> DitConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    cfg = PRESETS[name]()
    for k, v in overrides.items():
        if not hasattr(cfg, k):
            raise ValueError(f"unknown DitConfig field {k!r}")
        setattr(cfg, k, v)
    cfg.__post_init__()
    return cfg
