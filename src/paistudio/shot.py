"""The data model: a `Shot` describes one background-replacement job and round-trips through shot.json.

Paths inside a saved shot.json are relative to the file's folder, so a job folder can be moved whole.
Every validation error is a `ShotError` naming the field (`references[1].anchor`, `camera.zoom`, ...).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field, fields
from fractions import Fraction
from pathlib import Path
from typing import Any

from .errors import ReferenceImageError, ShotError

SCHEMA_VERSION = 1
MAX_REFERENCES = 3
ENGINES = ("composite", "dit")
MATTE_MODES = ("auto", "key", "file", "alpha", "segment")
STAGE_MODES = ("auto", "on", "off")  # repair, complete: auto applies to the mattes that need it
REFERENCE_FITS = ("frame", "sweep")  # stages.reference_fit
LAYER_CODECS = ("png", "exr")  # output.layers_codec
BACKINGS = ("auto", "green", "blue")
CAMERA_MODES = ("auto", "static", "file", "moves")
CODECS = ("h264", "hevc", "prores422hq", "dnxhr", "prores4444", "ffv1", "png", "dpx", "exr")
DIT_SAMPLERS = ("unipc", "euler")
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
PROMPT_FIELDS = ("foreground_content", "background_content", "foreground_motion", "background_motion",
                 "camera_motion_analysis", "camera_angle", "focal_length", "caption")

_ANCHOR = re.compile(r"^(?P<num>[+-]?\d+(?:\.\d+)?)\s*(?P<unit>s|%)?$")


@dataclass(frozen=True)
class Anchor:
    """When a reference is seen: a frame index, a time in seconds, or a percentage of the clip."""

    kind: str  # "frame" | "seconds" | "percent"
    value: float

    @classmethod
    def parse(cls, text: str, field_name: str = "anchor") -> "Anchor":
        """`12` → frame 12, `1.5s` → 1.5 seconds, `75%` → three quarters of the clip."""
        m = _ANCHOR.match(text.strip())
        if not m:
            raise ShotError(field_name, f"cannot read anchor '{text}'; use a frame (@12), seconds (@1.5s) or percent (@75%)")
        num, unit = float(m["num"]), m["unit"]
        if unit == "s":
            return cls("seconds", num)
        if unit == "%":
            return cls("percent", num)
        if num != int(num):
            raise ShotError(field_name, f"frame anchor '{text}' is not a whole number; add 's' for seconds")
        return cls("frame", num)

    def to_text(self) -> str:
        if self.kind == "frame":
            return str(int(self.value))
        return f"{self.value:g}{'s' if self.kind == 'seconds' else '%'}"

    def resolve(self, n_frames: int, fps: Fraction, field_name: str = "anchor") -> int:
        """The frame index this anchor names; raises if it falls outside the clip."""
        if self.kind == "frame":
            index = int(self.value)
        elif self.kind == "seconds":
            index = int(round(self.value * float(fps)))
        else:
            index = int(round(self.value / 100.0 * (n_frames - 1)))
        if not 0 <= index < n_frames:
            raise ReferenceImageError(
                f"{field_name} @{self.to_text()} is frame {index}, outside the clip's frames 0..{n_frames - 1}; "
                "pick an anchor inside the clip")
        return index


def default_anchors(count: int, n_frames: int) -> list[int]:
    """1 → begin; 2 → begin, end; 3 → begin, middle, end."""
    last = n_frames - 1
    return {1: [0], 2: [0, last], 3: [0, last // 2, last]}[count]


@dataclass
class Source:
    """The foreground: a video file or a folder of frames (`fps` is used for folders only)."""

    path: str
    fps: Fraction | None = None
    lut: str | None = None  # a .cube LUT applied to its colour on decode (camera log to Rec.709, a look)


@dataclass
class MatteSpec:
    """How alpha is obtained: auto (RGBA alpha if present, else key), key (chroma key), file (matte video/folder), alpha."""

    mode: str = "auto"
    path: str | None = None
    backing: str = "auto"


@dataclass
class Reference:
    """A background image and when it is seen (None: the default begin/middle/end placement)."""

    path: str
    anchor: Anchor | None = None

    @classmethod
    def parse(cls, text: str, field_name: str = "references") -> "Reference":
        """`plate.jpg`, `plate.jpg@0`, `plate.jpg@2.5s`, `plate.jpg@75%` (a file name may itself hold '@')."""
        if "@" in text:
            head, tail = text.rsplit("@", 1)
            if _ANCHOR.match(tail.strip()):
                return cls(head, Anchor.parse(tail, field_name))
            if Path(head).is_file() and not Path(text).exists():
                Anchor.parse(tail, field_name)  # raises: the name is a file, so the tail was meant as an anchor
        return cls(text, None)


@dataclass
class CameraSpec:
    """auto (track the source / align the references), static, file (per-frame 3x3 path) or moves (pan/tilt/zoom)."""

    mode: str = "auto"
    path: str | None = None
    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 1.0

    @classmethod
    def parse(cls, text: str) -> "CameraSpec":
        """`auto`, `static`, `path.json`, or moves such as `pan=0.2,zoom=1.1`."""
        text = text.strip()
        if text in ("auto", "static"):
            return cls(text)
        if "=" in text:
            spec = cls("moves")
            for part in text.split(","):
                key, _, value = part.partition("=")
                key = key.strip()
                if key not in ("pan", "tilt", "zoom"):
                    raise ShotError("camera", f"unknown move '{key}'; use pan=, tilt= or zoom=")
                try:
                    setattr(spec, key, float(value))
                except ValueError:
                    raise ShotError(f"camera.{key}", f"'{value}' is not a number") from None
            return spec
        return cls("file", path=text)


@dataclass
class StructuredPrompt:
    """The paper's structured JSON prompt (used by the diffusion engine; recorded by every engine)."""

    foreground_content: str = ""
    background_content: str = ""
    foreground_motion: str = ""
    background_motion: str = ""
    camera_motion_analysis: str = ""
    camera_angle: str = ""
    focal_length: str = ""
    caption: str = ""


@dataclass
class OutputSpec:
    """Where and how the result is written."""

    path: str
    codec: str = "h264"
    layers: str | None = None  # folder for foreground RGBA, alpha and background plate
    layers_codec: str = "png"  # png | exr (half float, linear light; the foreground premultiplied)
    overwrite: bool = False
    audio: bool = True  # pass the input's audio through
    crf: int = 18  # H.264 quality (lower is better)
    preset: str = "veryfast"  # H.264 speed/size trade-off


@dataclass
class Stages:
    """Engine choice and stage switches (so the benchmark can ablate each stage)."""

    engine: str = "composite"
    relight: bool = True
    despill: bool = True
    fade: bool = True  # keyed footage: a frame whose screen is darker (a fade, an exposure dip) is keyed at the
    #                    screen's own level and the fade put back on the composite (`comp.fade`)
    parallax: bool = True  # move references along their residual flow between anchors when the scene has depth
    repair: str = "auto"  # fill holes and briefly lost parts of the matte: auto (matte files and segmentation, whose
    #                       holes are errors; not keys, whose holes show the real screen) | on (keys too) | off
    complete: str = "auto"  # plain footage: add parts of the subject the matte cut off (they look like it and do not
    #                         move with the camera): auto (segmentation, whose masks lose limbs) | on (matte files
    #                         too; on clean ones it takes in look-alike background) | off. Never keys or alpha.
    refine: bool = True  # guided-filter refinement of a segmented matte's edge (a key has its own edge model)
    edge_blur: bool = True  # soften the matte's edge to a blurrier plate (a defocused background photo)
    light_wrap: float = 0.0  # share of the plate's light screened onto the subject's rim (0 = off: it alters opaque
    #                           pixels near the edge, which identity preservation otherwise keeps exact)
    grain: bool = False  # give a subject cleaner than the plate the plate's grain (it changes opaque pixels)
    relight_direction: float = 0.0  # share of the plate's light slope shaded onto the subject (0 = off)
    contact_shadow: float = 0.0  # darkening of the floor under the subject's base (0 = off, 1 = black)
    reference_fit: str = "frame"  # frame: a reference is what its anchor frame sees (cover-fitted to the frame) |
    #                               sweep: one reference is the whole background the camera sweeps over, scaled to
    #                               cover every frame's view (its anchor frame then sees a part of it)

    @classmethod
    def from_dict(cls, d: dict) -> "Stages":
        """Stages from JSON-like fields, type-checked; an unknown field is a ShotError naming it."""
        return _section("stages", d, cls)


@dataclass
class DitSpec:
    """Settings of the diffusion engine (`stages.engine = "dit"`); ignored by the composite engine."""

    model: str | None = None  # a paistudio checkpoint folder or a local diffusers Wan folder
    steps: int = 30  # denoising steps
    guidance: float = 5.0  # classifier-free guidance on the prompt (1 = off); conditions are kept in both branches
    sampler: str = "unipc"  # unipc | euler (flow matching, with the model's shift)
    seed: int = 0
    width: int | None = None  # working size; default: the model's sample area at the input's aspect
    height: int | None = None
    window: int | None = None  # frames per temporal window; default: the model's
    overlap: int = 8  # frames shared (and cross-faded) by consecutive windows
    paste_back: bool = True  # put the opaque foreground from the matte back (identity cannot drift)


@dataclass
class Shot:
    foreground: Source
    references: list[Reference]
    output: OutputSpec
    matte: MatteSpec = field(default_factory=MatteSpec)
    camera: CameraSpec = field(default_factory=CameraSpec)
    prompt: StructuredPrompt = field(default_factory=StructuredPrompt)
    stages: Stages = field(default_factory=Stages)
    dit: DitSpec = field(default_factory=DitSpec)
    schema_version: int = SCHEMA_VERSION

    def validate(self) -> "Shot":
        """Checks that need no file access; raises ShotError naming the field."""
        if not self.foreground.path:
            raise ShotError("foreground.path", "is empty; give the foreground video or frame folder")
        if self.foreground.fps is not None and self.foreground.fps <= 0:
            raise ShotError("foreground.fps", "must be positive")
        if not self.references:
            raise ShotError("references", "none given; give 1 to 3 background images")
        if len(self.references) > MAX_REFERENCES:
            raise ShotError("references", f"{len(self.references)} given; at most {MAX_REFERENCES} (begin, middle, end)")
        anchored = [r.anchor is not None for r in self.references]
        if any(anchored) and not all(anchored):
            raise ShotError("references", "anchor all references or none (e.g. a.jpg@0 b.jpg@50%)")
        _choice("matte.mode", self.matte.mode, MATTE_MODES)
        _choice("matte.backing", self.matte.backing, BACKINGS)
        if self.matte.mode == "file" and not self.matte.path:
            raise ShotError("matte.path", "matte mode 'file' needs a matte video or folder")
        _choice("camera.mode", self.camera.mode, CAMERA_MODES)
        if self.camera.mode == "file" and not self.camera.path:
            raise ShotError("camera.path", "camera mode 'file' needs a path file")
        for name in ("pan", "tilt", "zoom"):
            if not math.isfinite(getattr(self.camera, name)):
                raise ShotError(f"camera.{name}", "must be a finite number")
        if self.camera.zoom <= 0:
            raise ShotError("camera.zoom", "must be positive (1.0 = no zoom)")
        _choice("output.codec", self.output.codec, CODECS)
        _choice("output.layers_codec", self.output.layers_codec, LAYER_CODECS)
        if not 0 <= self.output.crf <= 51:
            raise ShotError("output.crf", "must be 0..51")
        _choice("output.preset", self.output.preset, X264_PRESETS)
        _choice("stages.engine", self.stages.engine, ENGINES)
        _choice("stages.repair", self.stages.repair, STAGE_MODES)
        _choice("stages.complete", self.stages.complete, STAGE_MODES)
        _choice("stages.reference_fit", self.stages.reference_fit, REFERENCE_FITS)
        if self.stages.reference_fit == "sweep" and len(self.references) != 1:
            raise ShotError("stages.reference_fit", f"sweep takes one reference, not {len(self.references)}: with "
                            "several, each is the view at its anchor (use frame)")
        for name in ("relight_direction", "contact_shadow", "light_wrap"):
            if not 0.0 <= getattr(self.stages, name) <= 1.0:
                raise ShotError(f"stages.{name}", "must be between 0 and 1 (0 = off)")
        if self.stages.engine == "dit":
            self._validate_dit()
        return self

    def _validate_dit(self) -> None:
        d = self.dit
        if not d.model:
            raise ShotError("dit.model", "the dit engine needs a model folder (--model DIR): a paistudio checkpoint "
                            "or a local diffusers Wan folder")
        if d.steps < 1:
            raise ShotError("dit.steps", "must be >= 1")
        if not (math.isfinite(d.guidance) and d.guidance >= 1):
            raise ShotError("dit.guidance", "must be >= 1 (1 = no guidance)")
        _choice("dit.sampler", d.sampler, DIT_SAMPLERS)
        for name in ("width", "height", "window"):
            v = getattr(d, name)
            if v is not None and v < 1:
                raise ShotError(f"dit.{name}", "must be >= 1")
        if d.overlap < 0:
            raise ShotError("dit.overlap", "must be >= 0")

    # --- JSON -------------------------------------------------------------------------------------
    def to_dict(self, relative_to: Path | None = None) -> dict[str, Any]:
        d = asdict(self)
        d["foreground"]["fps"] = _fraction_text(self.foreground.fps)
        d["references"] = [{"path": r.path, "anchor": r.anchor.to_text() if r.anchor else None}
                           for r in self.references]
        if relative_to is not None:
            base = Path(relative_to).resolve()
            d["foreground"]["path"] = _relative(self.foreground.path, base)
            d["output"]["path"] = _relative(self.output.path, base)
            for key, sub in (("foreground", "lut"), ("matte", "path"), ("camera", "path"), ("output", "layers"),
                             ("dit", "model")):
                if d[key][sub]:
                    d[key][sub] = _relative(d[key][sub], base)
            for r in d["references"]:
                r["path"] = _relative(r["path"], base)
        return {"schema_version": d.pop("schema_version"), **d}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        text = json.dumps(self.to_dict(relative_to=path.parent), indent=2)
        from .io.atomic import write_text_atomic
        write_text_atomic(path, text + "\n")
        return path

    @classmethod
    def from_dict(cls, d: Any, base: Path | None = None) -> "Shot":
        """Build and validate a Shot from parsed JSON; relative paths are taken from `base`."""
        if not isinstance(d, dict):
            raise ShotError("shot", "the file must hold a JSON object")
        version = d.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise ShotError("schema_version", f"{version!r} is not supported; this paistudio reads {SCHEMA_VERSION}")
        _known("shot", d, {f.name for f in fields(cls)})
        for key in ("foreground", "references", "output"):
            if key not in d:
                raise ShotError(key, "is missing")
        fg = _section("foreground", d["foreground"], Source)
        if fg.fps is not None:
            try:
                fg.fps = frame_rate(str(fg.fps))
            except (ValueError, ZeroDivisionError):
                raise ShotError("foreground.fps", f"'{fg.fps}' is not a frame rate like 24 or 24000/1001") from None
        if not isinstance(d["references"], list):
            raise ShotError("references", "must be a list of {path, anchor}")
        refs = []
        for i, r in enumerate(d["references"]):
            name = f"references[{i}]"
            if not isinstance(r, dict) or not isinstance(r.get("path"), str):
                raise ShotError(f"{name}.path", "must be a string path")
            _known(name, r, {"path", "anchor"})
            anchor = r.get("anchor")
            if anchor is not None and not isinstance(anchor, (str, int, float)):
                raise ShotError(f"{name}.anchor", "must be like 12, '1.5s' or '75%'")
            refs.append(Reference(r["path"], Anchor.parse(str(anchor), f"{name}.anchor") if anchor is not None else None))
        shot = cls(
            foreground=fg, references=refs, output=_section("output", d["output"], OutputSpec),
            matte=_section("matte", d.get("matte", {}), MatteSpec),
            camera=_section("camera", d.get("camera", {}), CameraSpec),
            prompt=_section("prompt", d.get("prompt", {}), StructuredPrompt),
            stages=_section("stages", d.get("stages", {}), Stages),
            dit=_section("dit", d.get("dit", {}), DitSpec),
        )
        if base is not None:
            shot = shot.resolved_against(Path(base))
        return shot.validate()

    @classmethod
    def load(cls, path: str | Path) -> "Shot":
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except FileNotFoundError:
            raise ShotError("shot", f"{path} does not exist") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ShotError("shot", f"cannot read {path}: {e}") from None
        except json.JSONDecodeError as e:
            raise ShotError("shot", f"{path} is not valid JSON (line {e.lineno}, column {e.colno}): {e.msg}") from None
        return cls.from_dict(d, base=path.parent)

    def resolved_against(self, base: Path) -> "Shot":
        """A copy whose relative paths are made absolute against `base`."""
        def abs_(p):
            return None if p is None else str(p if Path(p).is_absolute() else (base / p))
        self.foreground.path = abs_(self.foreground.path)
        self.foreground.lut = abs_(self.foreground.lut)
        self.matte.path = abs_(self.matte.path)
        self.camera.path = abs_(self.camera.path)
        self.output.path = abs_(self.output.path)
        self.output.layers = abs_(self.output.layers)
        self.dit.model = abs_(self.dit.model)
        for r in self.references:
            r.path = abs_(r.path)
        return self


_TYPES = {"str": str, "int": int, "float": (int, float), "bool": bool}


def _section(name: str, value: Any, kind: type):
    if not isinstance(value, dict):
        raise ShotError(name, "must be a JSON object")
    _known(name, value, {f.name for f in fields(kind)})
    for f in fields(kind):
        if f.name not in value or value[f.name] is None:
            continue
        expected = str(f.type).replace(" | None", "")
        types = _TYPES.get(expected)
        v = value[f.name]
        if types is not None and (not isinstance(v, types) or (expected != "bool" and isinstance(v, bool))):
            raise ShotError(f"{name}.{f.name}", f"must be {expected}, got {type(v).__name__}")
    try:
        return kind(**value)
    except TypeError as e:
        raise ShotError(name, str(e)) from None


def _known(name: str, d: dict, allowed: set[str]) -> None:
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise ShotError(f"{name}.{unknown[0]}", f"unknown field; known fields are {', '.join(sorted(allowed))}")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ShotError(name, f"'{value}' is not one of {', '.join(allowed)}")


def frame_rate(text: str) -> Fraction:
    """A frame rate from '24', '24000/1001' or a decimal; the decimals editors write for the NTSC rates (23.976,
    29.97, 47.952, 59.94, 119.88) mean N·1000/1001, as every NLE takes them (23.976 exactly would drift from the
    real rate by a frame every 12 minutes). ValueError / ZeroDivisionError when it is not a number."""
    value = Fraction(str(text).strip())
    if value.denominator != 1 and "/" not in str(text):
        for n in (24, 30, 48, 60, 120):
            ntsc = Fraction(n * 1000, 1001)
            if abs(value - ntsc) < Fraction(1, 200):
                return ntsc
    return value


def _fraction_text(f: Fraction | None) -> str | None:
    if f is None:
        return None
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def _relative(p: str, base: Path) -> str:
    return Path(os.path.relpath(Path(p).resolve(), base)).as_posix()
