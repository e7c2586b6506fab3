"""Restore case folders: one clip turned into an engine's inputs plus its ground truth, on disk, cached.

Tracks (`TRACKS`), each testing something else:
- `markers`: the masked foreground over a green screen carrying tracking crosses that move with the clip's
  real camera (the camera can be tracked from the backing, as on a real stage);
- `flat`: the same over a plain green backing (the camera must come from the references and the foreground:
  the paper's setting);
- `plain`: the original footage with its (soft-edged) mask as a matte, replaced by a new background photo
  (no pixel ground truth for the background; scored on motion, edges and the foreground).
`defects=True` builds the engine's input from damaged masks (`eval.defects`); ground truth and the scoring
masks stay true.

A case folder holds: foreground.mp4 (the engine's input; perturbed lighting on the green-screen tracks),
matte/ (plain track: the soft matte as PNGs), refs/{begin,middle,end}.png, gt.mp4 (the original clip),
mask/00000.png … (true binary masks), camera_gt.json (the clip's camera, `comp.path` format) and case.json
(how it was made; written last, so a half-built folder never looks finished).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..comp.path import save_path
from ..comp.track import TrackResult
from ..errors import InputError, ReferenceImageError
from ..io.atomic import remove, write_text_atomic
from ..io.images import fit_cover, load_reference
from ..io.writer import VideoSink
from .defects import apply_defects, draw_defects
from .restore import (CAMERA_DILATE_PX, CAMERA_WIDTH, Clip, clean_plate, clip_files, green_screen,
                      illumination_perturbation, load_clip, track_clip)

TRACKS = ("markers", "flat", "plain")
CASE_FORMAT = "paistudio.restore_case"
CASE_VERSION = 2  # bump when anything below changes what a case contains (invalidates cached cases)
GT_CRF = 10  # H.264 crf of gt.mp4: near-lossless (MSE ~1e-4 on DAVIS at crf 16, ~8e-5 at 10), player-compatible 4:2:0
REF_NAMES = {1: ("begin",), 2: ("begin", "end"), 3: ("begin", "middle", "end")}  # the DESIGN's default anchors


@dataclass
class ClipSource:
    """One clip read once for several of its cases, with what those cases share: the camera estimate, the
    clean references and the ground-truth video (the same bytes for every track: the encoder is deterministic)."""

    clip: Clip
    track: TrackResult
    plates: dict[tuple[int, int], tuple[np.ndarray, float]] = field(default_factory=dict)  # (anchor, dilate) -> plate
    grown: dict[int, list] = field(default_factory=dict)  # dilate px -> per-frame dilated masks (filled lazily)
    gt_video: Path | None = None  # a gt.mp4 this source already wrote (same clip, fps and GT_CRF)

    @classmethod
    def read(cls, folder: str | Path, fps: Fraction = Fraction(24)) -> "ClipSource":
        clip = load_clip(folder, fps)
        return cls(clip, track_clip(clip))

    def plate(self, t: int, dilate_px: int) -> tuple[np.ndarray, float]:
        key = (t, dilate_px)
        if key not in self.plates:
            grown = self.grown.setdefault(dilate_px, [None] * len(self.clip.frames))
            self.plates[key] = clean_plate(self.clip, self.track.homographies, t, dilate_px, grown)
        return self.plates[key]

    def write_gt(self, path: Path, fps: Fraction) -> None:
        if self.gt_video is not None and self.gt_video.is_file() and self.clip.fps == fps:
            shutil.copyfile(self.gt_video, path)
            return
        _write_video(path, self.clip.frames, fps, GT_CRF)
        self.gt_video = path


def _anchors(refs, n: int) -> list[int]:
    anchors = [0, (n - 1) // 2, n - 1] if refs is None else [int(r) for r in refs]
    if not 1 <= len(anchors) <= 3:
        raise ReferenceImageError(f"{len(anchors)} reference anchors given; give 1 to 3 frame indices")
    if any(not 0 <= a < n for a in anchors) or any(b <= a for a, b in zip(anchors, anchors[1:])):
        raise ReferenceImageError(f"reference anchors {anchors} must increase within 0..{n - 1}; fix refs=")
    return anchors


def _write_video(path: Path, frames: np.ndarray, fps: Fraction, crf: int) -> None:
    with VideoSink(path, "h264", frames.shape[2], frames.shape[1], fps, 1 / fps, crf=crf) as sink:
        sink.write(frames, list(range(len(frames))))


def _write_png(path: Path, img: np.ndarray) -> None:
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), img):
        raise OSError(f"cannot write {path}")


def _case_files(track: str, anchor_names) -> list[str]:
    files = ["foreground.mp4", "gt.mp4", "camera_gt.json", "mask"] + [f"refs/{k}.png" for k in anchor_names]
    return files + (["matte"] if track == "plain" else [])


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def soft_matte(mask: np.ndarray, edge_softness: float) -> np.ndarray:
    """A binary mask `[H, W]` uint8 with its edge blurred by `edge_softness` px (Gaussian sigma), uint8."""
    if edge_softness <= 0:
        return mask.copy()
    return cv2.GaussianBlur(mask, (0, 0), edge_softness)


def build_case(clip_folder: str | Path, out_dir: str | Path, backing: str = "markers", refs=None, seed: int = 0, *,
               fps: Fraction = Fraction(24), crf: int = 16, spill: float = 0.4, edge_softness: float = 1.5,
               dilate_px: int = 15, defects: bool = False, background: str | Path | None = None,
               source: Callable[[], ClipSource] | None = None) -> Path:
    """Write one restore case of track `backing` (one of TRACKS) for the clip in `clip_folder` to `out_dir`.

    Green-screen tracks: references at `refs` (default first/middle/last frame; 1 ref → begin, 2 → begin+end),
    each the clip's frame with the foreground removed and filled from other frames. `plain` track: the one
    reference is `background` (a photo, fitted by cover/crop), anchored at the begin. Deterministic for given
    settings; when case.json records the same settings and every file is there, nothing is rebuilt.
    `source`: gives the clip as a `ClipSource` (read at `fps`), for a caller that builds several cases of one clip
    (called only when something has to be built).
    """
    if backing not in TRACKS:
        raise ValueError(f"track must be one of {TRACKS}, not {backing!r}")
    clip_folder, out_dir = Path(clip_folder).resolve(), Path(out_dir)
    files, mask_files = clip_files(clip_folder)
    if mask_files is None:
        raise InputError(f"{clip_folder} has no masks/; restore cases need one foreground mask per frame "
                         "(masks/00000.png …, 255 = foreground)")
    if backing == "plain":
        if background is None:
            raise InputError("the plain track replaces the clip's background with a photo; give one (--background IMG)")
        background = Path(background).resolve()
        anchors = _anchors([0] if refs is None else refs, len(files))
        if len(anchors) != 1:
            raise ReferenceImageError("the plain track has one reference (the new background photo); give refs=[0]")
    else:
        anchors = _anchors(refs, len(files))
    names = REF_NAMES[len(anchors)]
    fps = Fraction(fps)
    settings = {"clip_folder": str(clip_folder), "clip_frames": len(files),
                "clip_bytes": sum(p.stat().st_size for p in files + mask_files),
                "backing": backing, "seed": int(seed), "anchors": anchors, "fps": f"{fps.numerator}/{fps.denominator}",
                "crf": int(crf), "gt_crf": GT_CRF, "spill": float(spill), "edge_softness": float(edge_softness),
                "dilate_px": int(dilate_px), "camera_width": CAMERA_WIDTH, "camera_dilate_px": CAMERA_DILATE_PX,
                "defects": bool(defects)}
    if background is not None and backing == "plain":
        if not background.is_file():
            raise InputError(f"background photo {background} does not exist; give an image file")
        settings["background"] = {"path": str(background), "sha256": _file_digest(background)}
    case_json = out_dir / "case.json"
    if _cached(case_json, settings, _case_files(backing, names)):
        return out_dir

    src = source() if source is not None else ClipSource.read(clip_folder, fps)
    clip, track = src.clip, src.track
    out_dir.mkdir(parents=True, exist_ok=True)
    remove(case_json)  # a half-rebuilt folder must never look cached
    for d in ("mask", "refs", "matte"):
        remove(out_dir / d)
    (out_dir / "mask").mkdir()
    (out_dir / "refs").mkdir()

    path = track.homographies
    defect_params = draw_defects(seed) if defects else None
    damaged = clip if defect_params is None else Clip(
        clip.name, clip.frames, np.stack([apply_defects(m, defect_params) for m in clip.masks]), clip.fps)
    case = {"format": CASE_FORMAT, "version": CASE_VERSION, "clip": clip.name}
    if backing == "plain":
        _write_video(out_dir / "foreground.mp4", clip.frames, fps, crf)
        (out_dir / "matte").mkdir()
        for i, m in enumerate(damaged.masks):
            _write_png(out_dir / "matte" / f"{i:05d}.png", soft_matte(m, edge_softness))
        h, w = clip.frames.shape[1:3]
        _write_png(out_dir / "refs" / "begin.png", fit_cover(load_reference(background), (w, h)))
        case["perturbation"] = None
        case["references_inpainted_share"] = None
    else:
        fg, alpha = green_screen(damaged, path, backing, seed, spill, edge_softness)
        fg, perturbation = illumination_perturbation(fg, alpha, seed)
        _write_video(out_dir / "foreground.mp4", fg, fps, crf)
        del fg, alpha
        inpainted = {}
        for name, a in zip(names, anchors):
            img, share = src.plate(a, dilate_px)
            _write_png(out_dir / "refs" / f"{name}.png", img)
            inpainted[name] = round(share, 4)
        case["perturbation"] = perturbation
        case["references_inpainted_share"] = inpainted
    src.write_gt(out_dir / "gt.mp4", fps)
    for i, m in enumerate(clip.masks):
        _write_png(out_dir / "mask" / f"{i:05d}.png", m)
    h, w = clip.frames.shape[1:3]
    save_path(out_dir / "camera_gt.json", path, {"width": w, "height": h, "reliable": track.reliable,
                                                 "source": "BackingTracker on the clip background"})
    files = {"foreground": "foreground.mp4", "ground_truth": "gt.mp4", "masks": "mask", "camera": "camera_gt.json",
             "references": {k: f"refs/{k}.png" for k in names}}
    if backing == "plain":
        files["matte"] = "matte"
    case.update({"frames": len(clip.frames), "width": w, "height": h, "fps": settings["fps"], "backing": backing,
                 "seed": int(seed), "anchors": dict(zip(names, anchors)), "files": files,
                 "camera": {"reliable": track.reliable, "median_inliers": float(np.median(track.inliers))},
                 "defects": defect_params, "settings": settings})
    write_text_atomic(case_json, json.dumps(case, indent=2) + "\n")
    return out_dir


def _cached(case_json: Path, settings: dict, files: list[str]) -> bool:
    try:
        case = json.loads(case_json.read_text())
    except (OSError, ValueError):
        return False
    return (isinstance(case, dict) and case.get("version") == CASE_VERSION and case.get("settings") == settings
            and all((case_json.parent / f).exists() for f in files))
