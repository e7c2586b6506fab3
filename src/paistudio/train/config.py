"""TrainConfig: one TOML file says everything a run does (configs/train/*.toml); errors name the field.

    [model]   preset = "tiny" | ... or wan = "path/to/Wan2.1-T2V-1.3B-Diffusers"; overrides such as ref_time
    [data]    kind = "synthetic" | "clips" | "dataset"; path, frames, width, height, cases (synthetic)
    [train]   steps, lr, batch_size, lora_rank (0 = full fine-tune), mixed_precision, gradient_checkpointing,
              ema_decay (0 = off), grad_clip, weight_decay, seed, save_every, log_every, sample_every, out
    [augment] perturb, mask_defects, ref_count, prompt_dropout, ref_dropout
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import ShotError
from .augment import Augment

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (in the model extra)
    import tomli as tomllib

DATA_KINDS = ("synthetic", "clips", "dataset")
PRECISIONS = ("auto", "no", "bf16")


class ConfigError(ShotError):
    """An invalid training config; names the field."""


@dataclass
class ModelSection:
    preset: str | None = "tiny"
    wan: str | None = None  # a local diffusers Wan folder; overrides `preset`
    checkpoint: str | None = None  # start from a paistudio checkpoint folder (paistudio.json); overrides both
    overrides: dict[str, Any] = field(default_factory=dict)  # DitConfig fields (ref_time, cond_downsample, ...)


@dataclass
class DataSection:
    kind: str = "synthetic"
    path: str | None = None  # clip folder root (kind = "clips") or a `paistudio data build` folder ("dataset")
    frames: int = 9
    width: int = 32
    height: int = 32
    cases: int = 64  # synthetic only
    seed: int = 0


@dataclass
class TrainSection:
    steps: int = 1000
    lr: float = 1e-3
    batch_size: int = 1
    lora_rank: int = 0  # 0: full fine-tune; > 0: LoRA on the attention projections
    lora_alpha: float | None = None  # default: equal to the rank
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    warmup_steps: int = 0
    mixed_precision: str = "auto"  # auto: bf16 on a GPU that has it, fp32 on CPU (never fp16 on CPU)
    gradient_checkpointing: bool = False
    ema_decay: float = 0.0
    seed: int = 0
    log_every: int = 10
    save_every: int = 0  # 0: only at the end
    sample_every: int = 0  # 0: never; else write a sample strip PNG
    sample_steps: int = 10
    out: str = "runs/train"


@dataclass
class TrainConfig:
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    train: TrainSection = field(default_factory=TrainSection)
    augment: Augment = field(default_factory=Augment)
    base: Path = Path(".")  # paths in the file are relative to the file's folder

    def resolve(self, p: str | None) -> Path | None:
        import os

        return None if p is None else Path(os.path.normpath(self.base / p))  # runs/tiny, not configs/train/../../runs/tiny

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        path = Path(path)
        if not path.is_file():
            raise ConfigError("config", f"{path} does not exist; give a TOML file such as configs/train/tiny.toml")
        try:
            raw = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError("config", f"{path} is not valid TOML ({e})") from None
        return cls.from_dict(raw, path.parent)

    @classmethod
    def from_dict(cls, raw: dict, base: Path = Path(".")) -> "TrainConfig":
        known = {"model", "data", "train", "augment"}
        for k in raw:
            if k not in known:
                raise ConfigError(k, f"unknown section; use {sorted(known)}")
        cfg = cls(model=_section("model", raw.get("model", {}), ModelSection),
                  data=_section("data", raw.get("data", {}), DataSection),
                  train=_section("train", raw.get("train", {}), TrainSection),
                  augment=_section("augment", raw.get("augment", {}), Augment), base=Path(base))
        cfg.validate()
        return cfg

    def validate(self) -> None:
        d, t, a = self.data, self.train, self.augment
        if d.kind not in DATA_KINDS:
            raise ConfigError("data.kind", f"must be one of {DATA_KINDS}, got {d.kind!r}")
        if d.kind in ("clips", "dataset") and not d.path:
            raise ConfigError("data.path", f"is required for kind = '{d.kind}' (a folder of clip folders, or a "
                              "dataset built by `paistudio data build`)")
        for name in ("frames", "width", "height", "cases"):
            if getattr(d, name) < 1:
                raise ConfigError(f"data.{name}", "must be >= 1")
        for name in ("steps", "batch_size"):
            if getattr(t, name) < 1:
                raise ConfigError(f"train.{name}", "must be >= 1")
        if not t.lr > 0:
            raise ConfigError("train.lr", "must be > 0")
        if t.lora_rank < 0:
            raise ConfigError("train.lora_rank", "must be >= 0 (0 = full fine-tune)")
        if t.mixed_precision not in PRECISIONS:
            raise ConfigError("train.mixed_precision", f"must be one of {PRECISIONS} (fp16 is never used on CPU)")
        if not 0 <= t.ema_decay < 1:
            raise ConfigError("train.ema_decay", "must be in [0, 1)")
        lo, hi = a.ref_count
        if not 1 <= lo <= hi <= 3:
            raise ConfigError("augment.ref_count", f"must be [min, max] within 1..3, got {list(a.ref_count)}")
        for name in ("mask_defects", "prompt_dropout", "ref_dropout"):
            if not 0 <= getattr(a, name) <= 1:
                raise ConfigError(f"augment.{name}", "must be a probability in [0, 1]")
        m = self.model
        if m.preset is None and m.wan is None and m.checkpoint is None:
            raise ConfigError("model", "give preset = NAME, wan = PATH or checkpoint = PATH")


def _section(name: str, values: Any, kind: type):
    if not isinstance(values, dict):
        raise ConfigError(name, "must be a table")
    allowed = {f.name: f for f in fields(kind)}
    for k, v in values.items():
        if k not in allowed:
            raise ConfigError(f"{name}.{k}", f"unknown field; use one of {sorted(allowed)}")
    try:
        out = kind(**{k: (tuple(v) if isinstance(v, list) and k == "ref_count" else v) for k, v in values.items()})
    except TypeError as e:
        raise ConfigError(name, str(e)) from None
    defaults = kind() if kind is not ModelSection else None
    for k, v in values.items():
        default = getattr(defaults, k) if defaults is not None else None
        if default is not None and not isinstance(default, (dict, tuple)) and not _same_kind(v, default):
            raise ConfigError(f"{name}.{k}", f"must be {type(default).__name__}, got {v!r}")
    return out


def _same_kind(v: Any, default: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(v, bool)
    if isinstance(default, float):
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, type(default))
