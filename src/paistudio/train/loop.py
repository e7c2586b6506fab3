"""The training loop: flow matching on the target tokens, with accelerate.

Each step draws its cases and noise from generators seeded by (seed, step), so a resumed run continues exactly
where an interrupted one stopped (optimizer, schedule and EMA state come from the checkpoint).

    OUT/log.jsonl                    one line per logged step: loss, lr, seconds per step
    OUT/checkpoints/step-NNNNNN/     accelerate state (model safetensors, optimizer, scheduler, RNG) + ema + trainer.json
    OUT/samples/step-NNNNNN.png      condition | target | sample, middle frames (sample_every > 0)
    OUT/final/                       the trained model as a paistudio checkpoint (EMA weights if enabled)
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..progress import Progress, Silent
from .augment import Sample, make_sample
from .cases import ClipFolders, ShardCases, SyntheticPanning
from .config import ConfigError, TrainConfig


def shifted_sigmas(u: torch.Tensor, shift: float) -> torch.Tensor:
    """Map uniform u in [0, 1] to noise levels biased towards high noise (Wan / SD3 timestep shift)."""
    return shift * u / (1 + (shift - 1) * u)


def flow_matching_loss(model, x0, condition, references, ref_t, text, shift: float,
                       generator: torch.Generator) -> torch.Tensor:
    """x0 [B, C, F, H, W] clean target latents. x_s = (1 - s) x0 + s noise; the model predicts noise - x0.
    The loss is over the target tokens only (the model returns nothing else)."""
    b = x0.shape[0]
    sigma = shifted_sigmas(torch.rand(b, generator=generator), shift).to(x0.device)  # [B]
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    s = sigma.view(b, 1, 1, 1, 1)
    xt = (1 - s) * x0 + s * noise
    v = model(xt, sigma * 1000, text, condition=condition, references=references, ref_t=ref_t)
    return F.mse_loss(v.float(), (noise - x0).float())


def build_bundle(cfg: TrainConfig):
    from ..model.checkpoint import from_wan, load_bundle, tiny_bundle
    from ..model.config import preset

    m = cfg.model
    if m.checkpoint:
        return load_bundle(cfg.resolve(m.checkpoint))
    if m.wan:
        return from_wan(cfg.resolve(m.wan), **m.overrides)
    try:
        dit = preset(m.preset, **m.overrides)
    except ValueError as e:
        raise ConfigError("model.preset", str(e)) from None
    if not dit.codec.startswith("pixel:"):
        raise ConfigError("model.preset", f"{m.preset!r} uses the Wan VAE and umT5, which come from a checkpoint: "
                          "give wan = PATH to a local diffusers Wan folder")
    return tiny_bundle(dit, seed=cfg.train.seed)


def build_source(cfg: TrainConfig):
    d = cfg.data
    if d.kind == "synthetic":
        if d.width != d.height:
            raise ConfigError("data.width", "synthetic cases are square: set width = height")
        return SyntheticPanning(d.cases, d.frames, d.width, seed=d.seed)
    if d.kind == "dataset":
        return ShardCases(cfg.resolve(d.path), d.frames, (d.width, d.height))
    return ClipFolders(cfg.resolve(d.path), d.frames, (d.width, d.height))


def encode_batch(bundle, samples: list[Sample]):
    """Samples sharing one layout -> (x0, condition, references or None, ref_t, text) tensors."""
    from ..model.codec import to_model_range
    from ..model.packing import latent_index

    codec = bundle.codec
    x0 = torch.cat([codec.encode(to_model_range(s.target)) for s in samples])  # [B, C, f, h, w]
    cond = torch.cat([codec.encode(to_model_range(s.condition)) for s in samples])
    anchors = samples[0].anchors
    refs = None
    if anchors:
        refs = torch.stack([torch.stack([codec.encode_image(to_model_range(r[None])[:, :, 0])[0] for r in s.references])
                            for s in samples])  # [B, K, C, h, w]
    ref_t = [latent_index(a, codec.temporal_stride) for a in anchors]
    text = bundle.prompts.encode([s.prompt for s in samples])
    return x0, cond, refs, ref_t, text


def draw_batch(source, cfg: TrainConfig, step: int, rank: int = 0) -> list[Sample]:
    """The step's samples: one reference count and reference-dropout draw per batch (so the batch shares a
    layout), everything else per sample; seeded by (seed, step, process rank)."""
    rng = np.random.default_rng([cfg.train.seed, step, rank])
    aug = cfg.augment
    k = int(rng.integers(aug.ref_count[0], aug.ref_count[1] + 1))
    drop = aug.ref_dropout > 0 and rng.random() < aug.ref_dropout
    per_batch = replace(aug, ref_count=(k, k), ref_dropout=1.0 if drop else 0.0)
    return [make_sample(source.case(int(rng.integers(len(source))), rng), per_batch, rng)
            for _ in range(cfg.train.batch_size)]


class Ema:
    def __init__(self, params: dict[str, torch.Tensor], decay: float):
        self.decay = decay
        self.shadow = {k: v.detach().float().clone() for k, v in params.items()}

    @torch.no_grad()
    def update(self, params: dict[str, torch.Tensor]) -> None:
        for k, v in params.items():
            self.shadow[k].mul_(self.decay).add_(v.detach().float(), alpha=1 - self.decay)


def _trainable(model) -> dict[str, torch.Tensor]:
    return {k: p for k, p in model.named_parameters() if p.requires_grad}


def _setup_trainable(model, cfg: TrainConfig) -> None:
    t = cfg.train
    if t.lora_rank > 0:
        from peft import LoraConfig

        model.wan.add_adapter(LoraConfig(r=t.lora_rank, lora_alpha=t.lora_alpha or t.lora_rank,
                                         target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
        for name, p in model.named_parameters():
            p.requires_grad_("lora_" in name or name == "role")
    else:
        model.requires_grad_(True)
    model.gradient_checkpointing = t.gradient_checkpointing


def _latest_checkpoint(out: Path) -> Path | None:
    done = sorted(p for p in (out / "checkpoints").glob("step-*") if (p / "trainer.json").is_file())
    return done[-1] if done else None


def train(cfg: TrainConfig, progress: Progress | None = None, source=None) -> dict:
    """Run (or resume) the training `cfg` describes; returns a summary (steps, losses, where the model is)."""
    from accelerate import Accelerator
    from safetensors.torch import load_file, save_file

    from ..model.checkpoint import save_bundle

    progress = progress or Silent()
    t = cfg.train
    out = cfg.resolve(t.out)
    out.mkdir(parents=True, exist_ok=True)
    cuda = torch.cuda.is_available()
    precision = t.mixed_precision
    if precision == "auto":
        precision = "bf16" if cuda and torch.cuda.is_bf16_supported() else "no"
    acc = Accelerator(cpu=not cuda, mixed_precision=precision)
    torch.manual_seed(t.seed)
    bundle = build_bundle(cfg)
    source = source if source is not None else build_source(cfg)
    model = bundle.transformer.train()
    _setup_trainable(model, cfg)
    params = _trainable(model)
    opt = torch.optim.AdamW(params.values(), lr=t.lr, weight_decay=t.weight_decay, betas=(0.9, 0.99))
    warm = max(1, t.warmup_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm))
    model, opt, sched = acc.prepare(model, opt, sched)
    ema = Ema(params, t.ema_decay) if t.ema_decay > 0 else None

    start = 0
    latest = _latest_checkpoint(out)
    if latest is not None:
        acc.load_state(str(latest))
        start = json.loads((latest / "trainer.json").read_text())["step"]
        if ema is not None and (latest / "ema.safetensors").is_file():
            ema.shadow = load_file(str(latest / "ema.safetensors"))

    def save(step: int) -> None:
        acc.wait_for_everyone()
        if not acc.is_main_process:
            return
        final = out / "checkpoints" / f"step-{step:06d}"
        tmp = final.with_name(final.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        acc.save_state(str(tmp))
        if ema is not None:
            save_file({k: v.contiguous() for k, v in ema.shadow.items()}, str(tmp / "ema.safetensors"))
        (tmp / "trainer.json").write_text(json.dumps({"step": step}) + "\n")  # written last: marks it complete
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for old in sorted((out / "checkpoints").glob("step-*"))[:-2]:  # keep the newest two
            shutil.rmtree(old, ignore_errors=True)

    shift = bundle.cfg.shift
    losses: list[float] = []
    progress.phase("train", t.steps)
    progress.advance(start)
    started = time.perf_counter()
    with open(out / "log.jsonl", "a") as log:
        for step in range(start, t.steps):
            step_start = time.perf_counter()
            samples = draw_batch(source, cfg, step, acc.process_index)
            x0, cond, refs, ref_t, text = (v.to(acc.device) if torch.is_tensor(v) else v
                                           for v in encode_batch(bundle, samples))
            g = torch.Generator().manual_seed((int(t.seed) * 1_000_003 + step) * 1009 + acc.process_index)
            with acc.autocast():
                loss = flow_matching_loss(model, x0, cond, refs, ref_t, text, shift, g)
            if not math.isfinite(loss.item()):
                raise FloatingPointError(f"loss became {loss.item()} at step {step}; lower train.lr")
            acc.backward(loss)
            if t.grad_clip > 0:
                acc.clip_grad_norm_(list(params.values()), t.grad_clip)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            if ema is not None:
                ema.update(params)
            losses.append(loss.item())
            n = step + 1
            if t.log_every and (n % t.log_every == 0 or n == t.steps):
                log.write(json.dumps({"step": n, "loss": round(float(np.mean(losses[-t.log_every:])), 6),
                                      "lr": sched.get_last_lr()[0],
                                      "sec_per_step": round(time.perf_counter() - step_start, 4)}) + "\n")
                log.flush()
            if t.sample_every and n % t.sample_every == 0:
                _write_sample(bundle, samples[0], out / "samples" / f"step-{n:06d}.png", t.sample_steps)
                model.train()
            if t.save_every and n % t.save_every == 0 and n < t.steps:
                save(n)
            progress.advance(1)
    progress.close()
    if start < t.steps:
        save(t.steps)
    acc.wait_for_everyone()
    if not acc.is_main_process:
        return {"steps": t.steps, "resumed_from": start, "losses": losses, "first_loss": None, "last_loss": None,
                "seconds": round(time.perf_counter() - started, 2), "final": str(out / "final"), "out": str(out)}
    if ema is not None:  # export the averaged weights
        with torch.no_grad():
            for k, p in params.items():
                p.copy_(ema.shadow[k].to(p.dtype))
    final = out / "final"
    tmp = out / "final.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    save_bundle(bundle, tmp)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return {"steps": t.steps, "resumed_from": start, "losses": losses,
            "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
            "seconds": round(time.perf_counter() - started, 2), "final": str(final), "out": str(out)}


def _write_sample(bundle, sample: Sample, path: Path, steps: int) -> None:
    import cv2

    from ..model.pipeline import DitPipeline

    if not sample.anchors:
        return
    gen = DitPipeline(bundle)(sample.condition, sample.references, sample.anchors, sample.prompt,
                              steps=steps, guidance=1.0)
    mid = len(gen) // 2
    strip = np.concatenate([sample.condition[mid], sample.target[mid], gen[mid]], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
