"""Checkpoints: a folder any of our entry points can load.

    DIR/paistudio.json                 format marker, the DitConfig, which components are present
    DIR/transformer/model.safetensors  PaiStudioTransformer weights; the DitConfig is also in the metadata
    DIR/vae/                           AutoencoderKLWan (diffusers format), only with the wan-vae codec
    DIR/text_encoder/, DIR/tokenizer/  the frozen text encoder (transformers format)

`from_wan(path)` builds the same bundle from a local diffusers Wan folder (model_index.json, transformer/, vae/,
text_encoder/, tokenizer/) without changing any weight: only the zero role vectors are new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..errors import EngineUnavailable
from .codec import make_codec
from .config import DitConfig, preset
from .text import PROMPT_FIELDS, PromptEncoder, offline_tokenizer, tiny_text_encoder
from .transformer import PaiStudioTransformer

FORMAT = "paistudio-dit"
FORMAT_VERSION = 1
_WAN_PRIVATE = ("_class_name", "_diffusers_version", "_name_or_path", "_use_default_values")


@dataclass
class DitBundle:
    transformer: PaiStudioTransformer
    codec: object  # PixelCodec | WanVAECodec
    prompts: PromptEncoder
    vae: object | None = None  # the AutoencoderKLWan behind a wan-vae codec
    source: str = ""

    @property
    def cfg(self) -> DitConfig:
        return self.transformer.cfg


def save_bundle(bundle: DitBundle, folder: str | Path) -> Path:
    """Write `bundle` to `folder` (LoRA adapters, if any, are merged into the saved weights)."""
    folder = Path(folder)
    (folder / "transformer").mkdir(parents=True, exist_ok=True)
    state = transformer_state(bundle.transformer)
    save_file(state, str(folder / "transformer" / "model.safetensors"),
              metadata={"format": FORMAT, "format_version": str(FORMAT_VERSION), "config": bundle.cfg.to_json()})
    if bundle.vae is not None:
        bundle.vae.save_pretrained(folder / "vae")
    bundle.prompts.encoder.save_pretrained(folder / "text_encoder")
    bundle.prompts.tokenizer.save_pretrained(folder / "tokenizer")
    index = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": json.loads(bundle.cfg.to_json()),
             "components": ["transformer", "text_encoder", "tokenizer"] + (["vae"] if bundle.vae is not None else [])}
    (folder / "paistudio.json").write_text(json.dumps(index, indent=2) + "\n")
    return folder


def transformer_state(model: PaiStudioTransformer) -> dict[str, torch.Tensor]:
    """Plain (LoRA-merged) weights, contiguous, on CPU."""
    wan = model.wan
    peft = getattr(wan, "peft_config", None)
    if peft:
        from peft.tuners.tuners_utils import BaseTunerLayer
        merged = {}
        for name, module in wan.named_modules():
            if isinstance(module, BaseTunerLayer):
                module.merge()
                merged[name] = module
        try:
            state = {k: v for k, v in model.state_dict().items() if "lora_" not in k}
            state = {k.replace(".base_layer.", "."): v.detach().to("cpu").contiguous().clone() for k, v in state.items()}
        finally:  # copied above, before the weights are unmerged in place
            for module in merged.values():
                module.unmerge()
    else:
        state = model.state_dict()
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}


def read_config(path: str | Path) -> DitConfig:
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("format") != FORMAT:
        raise EngineUnavailable(f"{path} is not a paistudio DiT checkpoint (no '{FORMAT}' metadata); "
                                "convert a Wan folder with from_wan or train one with `paistudio train`")
    return DitConfig.from_json(meta["config"])


def load_transformer(path: str | Path) -> PaiStudioTransformer:
    from safetensors.torch import load_file

    cfg = read_config(path)
    model = PaiStudioTransformer(cfg)
    missing, unexpected = model.load_state_dict(load_file(str(path)), strict=False)
    if missing or unexpected:
        raise EngineUnavailable(f"{path} does not match its own config: missing {missing[:3]}, "
                                f"unexpected {unexpected[:3]}; the file is damaged or from another version")
    return model.eval()


def load_bundle(folder: str | Path) -> DitBundle:
    """A folder written by save_bundle, or a stock diffusers Wan folder (then via from_wan)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise EngineUnavailable(f"model folder {folder} does not exist; give --model a checkpoint folder")
    if not (folder / "paistudio.json").is_file():
        if (folder / "model_index.json").is_file():
            return from_wan(folder)
        raise EngineUnavailable(f"{folder} is neither a paistudio checkpoint (paistudio.json) nor a diffusers Wan "
                                "folder (model_index.json)")
    transformer = load_transformer(folder / "transformer" / "model.safetensors")
    vae = _load_vae(folder) if transformer.cfg.codec == "wan-vae" else None
    return DitBundle(transformer, make_codec(transformer.cfg.codec, vae), _load_prompts(folder, transformer.cfg),
                     vae, str(folder))


def from_wan(path: str | Path, **overrides) -> DitBundle:
    """Our model around the weights of a local diffusers Wan text-to-video folder, unchanged."""
    from diffusers import WanTransformer3DModel

    path = Path(path)
    for part in ("transformer", "vae", "text_encoder", "tokenizer"):
        if not (path / part).is_dir():
            raise EngineUnavailable(f"{path} is not a diffusers Wan folder: {part}/ is missing "
                                    "(download Wan2.1-T2V-*-Diffusers elsewhere and copy it here)")
    wan = WanTransformer3DModel.from_pretrained(path / "transformer")
    if wan.config.image_dim is not None or wan.config.added_kv_proj_dim is not None:
        raise EngineUnavailable(f"{path} is an image-to-video Wan (CLIP image branch); use a text-to-video checkpoint")
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in dict(wan.config).items()
              if k not in _WAN_PRIVATE}
    cfg = DitConfig(wan=kwargs, codec="wan-vae", text_len=512)
    for k, v in overrides.items():
        setattr(cfg, k, v)
    cfg.__post_init__()
    model = PaiStudioTransformer(cfg, wan=wan).eval()
    vae = _load_vae(path)
    return DitBundle(model, make_codec("wan-vae", vae), _load_prompts(path, cfg), vae, str(path))


def _load_vae(folder: Path):
    from diffusers import AutoencoderKLWan

    if not (folder / "vae").is_dir():
        raise EngineUnavailable(f"{folder} has no vae/ folder, which its wan-vae codec needs")
    return AutoencoderKLWan.from_pretrained(folder / "vae").eval()


def _load_prompts(folder: Path, cfg: DitConfig) -> PromptEncoder:
    from transformers import AutoTokenizer, UMT5EncoderModel

    for part in ("text_encoder", "tokenizer"):
        if not (folder / part).is_dir():
            raise EngineUnavailable(f"{folder} has no {part}/ folder")
    encoder = UMT5EncoderModel.from_pretrained(folder / "text_encoder")
    if encoder.config.d_model != cfg.wan["text_dim"]:
        raise EngineUnavailable(f"text encoder width {encoder.config.d_model} != the transformer's text_dim "
                                f"{cfg.wan['text_dim']}: the folder mixes components of different models")
    return PromptEncoder(AutoTokenizer.from_pretrained(folder / "tokenizer"), encoder, cfg.text_len)


TINY_VOCAB = " ".join(PROMPT_FIELDS) + (
    " a the of in on at with and to from left right up down slow fast static pan tilt zoom dolly person man woman "
    "child dog car street city room studio forest beach sky night day walking running dancing standing sitting "
    "camera moves follows wide close medium shot eye level low high angle mm lens background foreground green "
    "screen texture panning scene outdoor indoor light dark warm cool")


def tiny_bundle(cfg: DitConfig | None = None, seed: int = 0) -> DitBundle:
    """A fresh tiny model with the exact pixel codec and a tiny random umT5 (no weights needed)."""
    cfg = cfg or preset("tiny")
    if not cfg.codec.startswith("pixel:"):
        raise ValueError("tiny_bundle needs a pixel codec; real codecs come from a checkpoint folder")
    torch.manual_seed(seed)
    model = PaiStudioTransformer(cfg)
    tok = offline_tokenizer([TINY_VOCAB, '{ } " : ,'])
    prompts = PromptEncoder(tok, tiny_text_encoder(len(tok), cfg.wan["text_dim"], seed), cfg.text_len)
    return DitBundle(model, make_codec(cfg.codec), prompts, None, "tiny")
