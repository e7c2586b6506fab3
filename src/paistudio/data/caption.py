"""Step 7: the structured caption (the paper's JSON schema). Offline default: fields that measured facts decide
(camera motion type and direction, motion amounts, shot length) filled from templates; content fields left
empty for a captioner. A captioner is any object with `caption(frames, facts) -> dict` of the same fields, e.g.
a local VLM; register it in CAPTIONERS."""

from __future__ import annotations

from typing import Callable

from ..shot import PROMPT_FIELDS
from .motion import Motion

STILL = 0.002  # camera speed (share of width per frame) under which the camera counts as static


def _camera_words(m: Motion) -> str:
    parts = []
    if abs(m.zoom) > 0.001:
        parts.append("pushes in" if m.zoom > 0 else "pulls out")
    if m.camera_speed >= STILL:
        # image content moving left means the camera pans right
        if abs(m.camera_dx) >= abs(m.camera_dy) / 2 and abs(m.camera_dx) >= STILL / 2:
            parts.append("pans right" if m.camera_dx < 0 else "pans left")
        if abs(m.camera_dy) >= abs(m.camera_dx) / 2 and abs(m.camera_dy) >= STILL / 2:
            parts.append("tilts down" if m.camera_dy < 0 else "tilts up")
    return "the camera " + " and ".join(parts) if parts else "static camera"


def _amount(speed: float) -> str:
    return "still" if speed < STILL else "slow" if speed < 0.01 else "moderate" if speed < 0.03 else "fast"


class TemplateCaptioner:
    name = "template"

    def caption(self, frames, facts: dict) -> dict:
        m: Motion = facts["motion"]
        seconds = facts["frames"] / float(facts["fps"])
        cam = _camera_words(m)
        return {
            "foreground_content": "",
            "background_content": "",
            "foreground_motion": f"{_amount(m.foreground_speed)} foreground motion",
            "background_motion": f"{_amount(m.camera_speed)} background motion",
            "camera_motion_analysis": f"{cam}, {m.camera_speed * 100:.2f}% of the frame width per frame",
            "camera_angle": "",
            "focal_length": "",
            "caption": f"A {seconds:.1f} s shot; {cam}.",
        }


CAPTIONERS: dict[str, Callable[[], object]] = {"template": TemplateCaptioner}


def make_caption(name: str, frames, facts: dict) -> dict:
    if name not in CAPTIONERS:
        raise ValueError(f"unknown captioner {name!r}; registered: {sorted(CAPTIONERS)}")
    cap = CAPTIONERS[name]().caption(frames, facts)
    unknown = set(cap) - set(PROMPT_FIELDS)
    if unknown:
        raise ValueError(f"captioner {name!r} returned unknown fields {sorted(unknown)}")
    return {k: str(cap.get(k, "")) for k in PROMPT_FIELDS}
