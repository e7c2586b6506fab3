#!/usr/bin/env python3
"""Generate the bundled demo shot `samples/walk/` (what `make demo` renders).

Everything is procedural and deterministic (fixed seeds); no network, no external data:

* `foreground.mp4` — 640x360, 72 frames at 24000/1001 fps, H.264 yuv420p + mono 48 kHz AAC (a soft chord):
  a shaded person walking in front of a green screen that carries tracking crosses in a more saturated
  green; the camera pans right and slowly pushes in (`CAMERA` below); mild green spill on the edges.
* `begin.jpg`, `middle.jpg`, `end.jpg` — 960x540 JPEGs (quality 90): views of a procedural mountain landscape
  through the same camera at the default anchors (frames 0, 35 = (72-1)//2 as in
  `paistudio.shot.default_anchors`, and 71), so the references agree with the camera and with each other.

The landscape is painted by `samples/landscape.py`, the hiker by `samples/walker.py` (both with the helpers of
`samples/paint.py`); this script sets the camera, composites the foreground and writes the files.

Run from the repository root:  python samples/make_sample.py
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.media import (  # noqa: E402
    GREEN_BACKING,
    backing_plate,
    camera_path,
    centred_crop,
    linear_to_srgb,
    srgb_to_linear,
    view,
)
from samples.landscape import WORLD_H, WORLD_W, landscape  # noqa: E402
from samples.walker import person  # noqa: E402

OUT = ROOT / "samples" / "walk"
WIDTH, HEIGHT = 640, 360
N_FRAMES = 72
FPS = Fraction(24000, 1001)
AUDIO_HZ = 48000
CAMERA = dict(pan=0.2, tilt=0.0, zoom=1.12, rotate_deg=0.0)  # tests.media.camera_path parameters
REF_SCALE = 1.5  # references are 960x540: the same camera, 1.5x the pixels (the engine fits them by cover)
REF_W, REF_H = int(WIDTH * REF_SCALE), int(HEIGHT * REF_SCALE)
ANCHORS = {"begin": 0, "middle": (N_FRAMES - 1) // 2, "end": N_FRAMES - 1}  # = paistudio.shot.default_anchors


def foreground_frames(path: np.ndarray) -> list[np.ndarray]:
    screen = backing_plate(WIDTH, HEIGHT, GREEN_BACKING, markers=True, seed=3)
    to_frame0 = centred_crop(screen.shape[1], screen.shape[0], WIDTH, HEIGHT)
    rng = np.random.default_rng(5)
    green = np.array(GREEN_BACKING, np.float32)
    frames = []
    for t in range(N_FRAMES):
        s = t / (N_FRAMES - 1)
        zoom = CAMERA["zoom"] ** s  # the push-in magnifies the person too
        cx = WIDTH * (0.36 + 0.22 * s)
        ground = HEIGHT / 2 + (0.9 * HEIGHT - HEIGHT / 2) * zoom
        fg, a = person(cx, ground, 0.68 * HEIGHT * zoom, phase=2 * np.pi * 2.0 * s + 0.3,
                       size=(WIDTH, HEIGHT))
        # spill: the screen tints the edge band and, faintly, the side facing away from the key light
        inner = cv2.GaussianBlur(a, (0, 0), 2.5)
        edge = np.clip(1.0 - inner, 0, 1) * (a > 0)
        f = fg.astype(np.float32)
        f += (0.28 * edge + 0.03)[..., None] * (green - f) * np.array([0.6, 1.0, 0.6], np.float32)
        plate = view(screen, to_frame0, path[t], (WIDTH, HEIGHT))
        frame = linear_to_srgb(a[..., None] * srgb_to_linear(np.clip(f, 0, 255)) + (1 - a[..., None]) * srgb_to_linear(plate))
        noise = rng.normal(0, 1.2, frame.shape)
        frames.append(np.clip(np.round(frame + noise), 0, 255).astype(np.uint8))
    return frames


def chord(n_samples: int, rate: int) -> np.ndarray:
    """A soft C-major-add-9 pad: sine partials with slow attack and release, mono float32."""
    t = np.arange(n_samples) / rate
    out = np.zeros(n_samples, np.float64)
    for freq, amp in [(130.81, 0.35), (261.63, 0.5), (329.63, 0.4), (392.00, 0.4), (587.33, 0.2), (523.25, 0.25)]:
        vib = 1 + 0.002 * np.sin(2 * np.pi * 5 * t)
        out += amp * (np.sin(2 * np.pi * freq * t * vib) + 0.15 * np.sin(4 * np.pi * freq * t))
    dur = n_samples / rate
    env = np.minimum(1, t / 0.35) * np.minimum(1, (dur - t) / 0.8).clip(0, 1) ** 1.5
    out *= env
    return (0.25 * out / np.abs(out).max()).astype(np.float32)


def write_foreground(path: Path, frames: list[np.ndarray]) -> None:
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        vs.options = {"crf": "20", "preset": "slow", "threads": "1"}
        vs.codec_context.color_range = 1  # limited ("tv") range; BT.709 primaries, transfer and matrix
        vs.codec_context.colorspace = 1
        vs.codec_context.color_primaries = 1
        vs.codec_context.color_trc = 1
        aus = out.add_stream("aac", rate=AUDIO_HZ, layout="mono")
        for f in frames:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            vf = vf.reformat(format="yuv420p", src_colorspace=1, dst_colorspace=1, dst_color_range=1)  # BT.709 matrix
            for pkt in vs.encode(vf):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
        n_samples = round(len(frames) / FPS * AUDIO_HZ)  # 72 * 1001 / 24000 s = 144144 samples
        tone = chord(n_samples, AUDIO_HZ)
        for i in range(0, n_samples, 1024):
            af = av.AudioFrame.from_ndarray(tone[None, i:i + 1024], format="fltp", layout="mono")
            af.sample_rate = AUDIO_HZ
            af.pts = i
            for pkt in aus.encode(af):
                out.mux(pkt)
        for pkt in aus.encode():
            out.mux(pkt)


def reference_path() -> np.ndarray:
    """The camera path in reference pixels: the frame path conjugated by the 640 -> 960 pixel scaling."""
    k = REF_SCALE
    S = np.array([[k, 0, (k - 1) / 2], [0, k, (k - 1) / 2], [0, 0, 1]], np.float64)  # pixel-centre convention
    path = camera_path(N_FRAMES, WIDTH, HEIGHT, **CAMERA)
    return S @ path @ np.linalg.inv(S)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    path = camera_path(N_FRAMES, WIDTH, HEIGHT, **CAMERA)
    world = landscape()
    to_frame0 = centred_crop(WORLD_W, WORLD_H, REF_W, REF_H)
    ref_path = reference_path()
    for name, t in ANCHORS.items():
        h = ref_path[t] @ to_frame0
        img = cv2.warpPerspective(world, h, (REF_W, REF_H), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        Image.fromarray(img).save(OUT / f"{name}.jpg", quality=90, optimize=True)
    write_foreground(OUT / "foreground.mp4", foreground_frames(path))
    for f in sorted(OUT.iterdir()):
        print(f"{f.relative_to(ROOT)}  {f.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
