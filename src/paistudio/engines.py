"""Engine registry: `--engine composite` (CPU, no weights) is the default; the diffusion engine plugs in here."""

from __future__ import annotations

from .errors import EngineUnavailable


def make_engine(name: str, job):
    if name == "composite":
        from .comp.engine import CompositeEngine
        return CompositeEngine(job)
    if name == "dit":
        raise EngineUnavailable("the 'dit' diffusion engine is not built yet; use --engine composite")
    raise EngineUnavailable(f"unknown engine '{name}'; use --engine composite")
