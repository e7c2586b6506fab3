"""Engine registry: `--engine composite` (CPU, no weights) is the default; the diffusion engine plugs in here."""

from __future__ import annotations

from .errors import EngineUnavailable


def make_engine(name: str, job):
    if name == "composite":
        from .comp.engine import CompositeEngine
        return CompositeEngine(job)
    if name == "dit":
        from .model.engine import DitEngine
        return DitEngine(job)
    raise EngineUnavailable(f"unknown engine '{name}'; use --engine composite")
