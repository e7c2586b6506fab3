"""The PAI-Studio in-context DiT on a diffusers Wan backbone.

Needs the `model` extra (torch, diffusers, transformers, peft, accelerate). Nothing here is imported by
`import paistudio`; the CPU compositing engine never loads torch.

    config.py      DitConfig and the presets (tiny, small-20m, wan2.1-1.3b, wan2.1-14b)
    rope.py        rotary embedding over explicit (t, h, w) position ids
    packing.py     token layout: target, condition and reference segments with their position ids
    transformer.py PaiStudioTransformer: Wan blocks over the packed sequence, per-token timesteps
    codec.py       video <-> latents: the Wan VAE, or an exact pixel codec for tiny CPU runs
    text.py        the structured JSON prompt through the frozen text encoder
    checkpoint.py  save/load (safetensors + config in the metadata), from_wan(local diffusers folder)
    pipeline.py    flow-matching sampling with guidance, temporal windows, identity paste-back
"""

from __future__ import annotations


def require_torch() -> None:
    """Raise a named error (not an ImportError traceback) when the model extra is not installed."""
    try:
        import diffusers  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        from ..errors import EngineUnavailable
        raise EngineUnavailable(f"the diffusion engine needs the model extra ({e.name} is missing): "
                                "pip install torch==2.13.0 && pip install 'paistudio[model]'") from None
