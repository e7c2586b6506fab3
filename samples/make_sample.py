#!/usr/bin/env python3
"""Generate the bundled demo shot `samples/walk/` (what `make demo` renders).

Everything is procedural and deterministic (fixed seeds); no network, no external data:

* `foreground.mp4` — 640x360, 72 frames at 24000/1001 fps, H.264 yuv420p + mono 48 kHz AAC (a soft chord):
  a shaded person walking in front of a green screen that carries tracking crosses in a more saturated
  green; the camera pans right and slowly pushes in (`CAMERA` below); mild green spill on the edges.
* `begin.jpg`, `middle.jpg`, `end.jpg` — 960x540 JPEGs (quality 90): views of a procedural mountain landscape
  through the same camera at the default anchors (frames 0, 35 = (72-1)//2 as in
  `paistudio.shot.default_anchors`, and 71), so the references agree with the camera and with each other.

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

OUT = ROOT / "samples" / "walk"
WIDTH, HEIGHT = 640, 360
N_FRAMES = 72
FPS = Fraction(24000, 1001)
AUDIO_HZ = 48000
CAMERA = dict(pan=0.2, tilt=0.0, zoom=1.12, rotate_deg=0.0)  # tests.media.camera_path parameters
REF_SCALE = 1.5  # references are 960x540: the same camera, 1.5x the pixels (the engine fits them by cover)
REF_W, REF_H = int(WIDTH * REF_SCALE), int(HEIGHT * REF_SCALE)
ANCHORS = {"begin": 0, "middle": (N_FRAMES - 1) // 2, "end": N_FRAMES - 1}  # = paistudio.shot.default_anchors
WORLD_W, WORLD_H = 1440, 640  # landscape canvas, in reference pixels; frame 0 sees its centre


# ----------------------------------------------------------------------------------------------- noise

def _smooth_noise(rng, h, w, cells_y, cells_x):
    small = rng.random((max(2, cells_y) + 3, max(2, cells_x) + 3)).astype(np.float32)
    big = cv2.resize(small, (w + w * 3 // max(2, cells_x), h + h * 3 // max(2, cells_y)),
                     interpolation=cv2.INTER_CUBIC)
    return big[h // max(2, cells_y):h // max(2, cells_y) + h, w // max(2, cells_x):w // max(2, cells_x) + w]


def fbm2d(rng, h, w, cells=(4, 8), octaves=5, gain=0.5):
    """Fractal value noise in ~[0, 1]; `cells` = (rows, cols) of the coarsest octave."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    cy, cx = cells
    for _ in range(octaves):
        out += amp * _smooth_noise(rng, h, w, int(cy), int(cx))
        total += amp
        amp *= gain
        cy, cx = cy * 2, cx * 2
    out /= total
    lo, hi = np.percentile(out, 1), np.percentile(out, 99)
    return np.clip((out - lo) / (hi - lo + 1e-6), 0, 1)


def tileable_noise(rng, size, beta=2.0, min_freq=2.0):
    """Periodic fractal noise (spectral synthesis, 1/f^beta) in [0, 1]: tiles seamlessly on a size x size grid."""
    f = np.fft.fftfreq(size) * size
    fr = np.hypot(f[:, None], f[None, :])
    amp = np.where(fr >= min_freq, 1.0 / np.maximum(fr, 1.0) ** (beta / 2 + 0.5), 0.0)
    spec = amp * np.exp(2j * np.pi * rng.random((size, size)))
    n = np.real(np.fft.ifft2(spec)).astype(np.float32)
    lo, hi = np.percentile(n, 1), np.percentile(n, 99)
    return np.clip((n - lo) / (hi - lo), 0, 1)


def fbm1d(rng, n, cells=6, octaves=6, gain=0.5, ridged=False):
    out = np.zeros(n, np.float32)
    amp, total, c = 1.0, 0.0, cells
    for _ in range(octaves):
        pts = rng.random(c + 4).astype(np.float32)
        xs = np.linspace(1, c + 2, n)
        v = np.interp(xs, np.arange(c + 4), pts)
        v = cv2.GaussianBlur(v[None], (0, 0), max(0.6, n / c / 4))[0]
        if ridged:
            v = 1.0 - np.abs(v - 0.5) * 2.0
        out += amp * v
        total += amp
        amp *= gain
        c *= 2
    out /= total
    return (out - out.min()) / (out.max() - out.min() + 1e-6)


def smoothstep(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0, 1)
    return t * t * (3 - 2 * t)


def over(dst, colour, alpha):
    """dst (float RGB) <- colour over dst with alpha [H, W]."""
    a = alpha[..., None]
    dst *= 1 - a
    dst += a * colour
    return dst


# ------------------------------------------------------------------------------------------- landscape

def landscape(seed: int = 7) -> np.ndarray:
    """A mountain valley on a summer afternoon: sky, clouds, hazy ridges, forest, meadow, path, trees, rocks.

    WORLD_W x WORLD_H, in reference pixels; each element has its own seeded generator."""
    W, H = WORLD_W, WORLD_H
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    horizon = 0.56 * H  # where the meadow meets the forest
    haze = np.array([196, 212, 226], np.float32)

    # sky: deep blue overhead to pale warm haze at the horizon, sun glow to the upper left
    t = np.clip(yy / horizon, 0, 1) ** 0.8
    top, bottom = np.array([62, 112, 184], np.float32), np.array([206, 220, 232], np.float32)
    img = top * (1 - t[..., None]) + bottom * t[..., None]
    sun = (-0.05 * W, 0.05 * H)
    d = np.hypot(xx - sun[0], (yy - sun[1]) * 1.4) / W
    img += (np.exp(-d * 3.0) * 55)[..., None] * np.array([1.0, 0.85, 0.55], np.float32)

    # clouds: faint high cirrus streaks, then cumulus built from puffs (flat bases, smaller toward the
    # horizon), lit from the sun's side with blue-grey undersides
    rng = np.random.default_rng([seed, 1])
    streak = fbm2d(rng, H, W, cells=(14, 3), octaves=4)
    img = over(img, np.array([236, 240, 246], np.float32), smoothstep(0.6, 0.9, streak) * 0.35 * smoothstep(0.45 * H, 0.1 * H, yy))
    dens = np.zeros((H, W), np.float32)
    for _ in range(16):
        base = rng.uniform(0.12, 0.42) * H
        size = np.interp(base, [0.12 * H, 0.42 * H], [130, 45]) * rng.uniform(0.75, 1.3)
        cx = rng.uniform(-0.05, 1.05) * W
        for _ in range(int(rng.integers(10, 20))):
            px = cx + rng.normal(0, size * 0.8)
            r = size * rng.uniform(0.2, 0.42) * (1 - 0.5 * min(1.0, abs(px - cx) / (1.6 * size)))
            py = base - r * rng.uniform(0.2, 0.9)
            x0, x1 = int(max(0, px - 3 * r)), int(min(W, px + 3 * r))
            y0, y1 = int(max(0, py - 3 * r)), int(min(H, py + 3 * r))
            if x1 <= x0 or y1 <= y0 or r < 10:
                continue
            d2 = ((xx[y0:y1, x0:x1] - px) ** 2 + (yy[y0:y1, x0:x1] - py) ** 2) / (r * r)
            dens[y0:y1, x0:x1] += np.exp(-d2) * (yy[y0:y1, x0:x1] < base + 0.15 * r)
    dens = cv2.GaussianBlur(dens, (0, 0), 1.5)
    soft = cv2.GaussianBlur(dens, (0, 0), 5.0)
    toward_sun = np.roll(soft, (10, 12), axis=(0, 1))  # density up-left of each pixel
    light = np.clip(1.03 - 0.5 * (toward_sun - soft) - 0.06 * np.clip(soft - 0.8, 0, 2), 0.72, 1.04)
    dens *= 0.55 + 0.9 * fbm2d(rng, H, W, cells=(40, 90), octaves=3, gain=0.6)  # cauliflower edges
    cover = smoothstep(0.3, 0.85, dens)
    cloud_col = np.array([252, 250, 246], np.float32) * light[..., None]
    cloud_col += (1.04 - light[..., None]) * np.array([-50, -34, 4], np.float32)  # blue-grey shade
    img = over(img, cloud_col, cover * 0.95)

    # mountain ridges, far to near; each further one paler and bluer (aerial perspective). The rock is a
    # hill-shaded ridged-noise relief lit from the upper left, snow lies on the high parts of the far ranges.
    ridges = [  # (peak y, base y, roughness cells, colour, haze amount, snow line as a fraction down)
        (0.17, 0.47, 4, (112, 118, 140), 0.42, 0.40),
        (0.27, 0.52, 6, (86, 94, 104), 0.28, 0.22),
        (0.38, 0.565, 8, (56, 80, 60), 0.16, None),
    ]
    rng = np.random.default_rng([seed, 2])
    for i, (peak, base, cells, colour, hz, snow) in enumerate(ridges):
        prof = fbm1d(rng, W, cells=cells, octaves=6, gain=0.45, ridged=True)
        top_y = (base - (base - peak) * prof ** 1.5) * H
        mask = smoothstep(top_y - 0.8, top_y + 0.8, yy)
        depth = np.clip((yy - top_y) / (base * H - top_y + 1e-3), 0, 1)
        n = fbm2d(rng, H, W, cells=(4 + 2 * i, 10 + 4 * i), octaves=6, gain=0.55)
        relief = 1.0 - np.abs(2.0 * n - 1.0)  # ridged: sharp crests, soft valleys
        elev = cv2.GaussianBlur(relief, (0, 0), 1.3) * (42 - 8 * i) - depth * (25 + 10 * i)
        gy, gx = np.gradient(elev)
        lit = (-gx * 0.7 - gy * 0.5 + 1.0) / np.sqrt(gx * gx + gy * gy + 1.0)
        slope = np.gradient(top_y)[None, :]  # faces under a rising ridge line catch the light
        shade = np.clip(0.35 + 0.6 * lit - np.clip(slope * 0.12, -0.12, 0.12) * (1 - depth), 0.35, 1.2)
        col = np.array(colour, np.float32) * shade[..., None]
        if snow is None:  # forested ridge: dark canopy blobs
            trees = fbm2d(rng, H, W, cells=(50, 160), octaves=2)
            col *= (0.78 + 0.45 * smoothstep(0.3, 0.7, trees))[..., None]
        else:
            line = (peak + (base - peak) * snow) * H
            snowy = smoothstep(line + 10, line - 10, yy + 40 * (n - 0.5)) * smoothstep(0.35, 0.6, relief + 0.3 * (1 - depth))
            snow_col = np.array([238, 242, 250], np.float32) * np.clip(0.5 + 0.55 * lit, 0.62, 1.05)[..., None]
            snow_col[..., 2] += 8 * (1 - lit)  # blue shadows
            col = col * (1 - snowy[..., None]) + snow_col * snowy[..., None]
        fog = hz + (1 - hz) * 0.4 * depth ** 2  # valley mist at each ridge's foot
        col = col * (1 - fog[..., None]) + haze * fog[..., None]
        img = over(img, col, mask)

    # forest band along the horizon: conifer silhouettes
    rng = np.random.default_rng([seed, 3])
    canvas = np.zeros((H * 2, W * 2), np.uint8)
    for _ in range(900):
        x = rng.uniform(0, W)
        h = rng.uniform(10, 26)
        base_y = horizon + rng.uniform(-2, 4)
        w = h * rng.uniform(0.28, 0.4)
        pts = np.array([[x, base_y - h], [x - w, base_y], [x + w, base_y]]) * 2
        cv2.fillConvexPoly(canvas, pts.astype(np.int32), 255, lineType=cv2.LINE_AA)
    forest = cv2.resize(canvas, (W, H), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    forest = np.maximum(forest, smoothstep(horizon - 3, horizon + 1, yy) * (yy < horizon + 14))
    fcol = np.array([38, 62, 44], np.float32) * (0.8 + 0.4 * fbm2d(rng, H, W, cells=(20, 160), octaves=2))[..., None]
    fcol = fcol * 0.72 + haze * 0.28
    img = over(img, fcol, forest)

    # meadow: perspective ground texture (ground-plane coordinates per pixel)
    rng = np.random.default_rng([seed, 4])
    f_cam, cam_h = 900.0, 1.6
    below = np.maximum(yy - (horizon + 2), 0.5)
    Z = f_cam * cam_h / below  # depth in metres
    X = (xx - W / 2) * Z / f_cam  # lateral position in metres
    near = np.clip((yy - horizon) / (H - horizon), 0, 1)
    tex = tileable_noise(rng, 256, beta=2.2)
    tex_fine = tileable_noise(rng, 256, beta=1.6, min_freq=6)
    # metres -> texels (the textures tile every 256 texels); contrast fades where the texture would alias
    g1 = cv2.remap(tex, ((X * 6.0) % 256).astype(np.float32), ((Z * 3.0) % 256).astype(np.float32),
                   cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    g2 = cv2.remap(tex_fine, ((X * 40.0) % 256).astype(np.float32), ((Z * 28.0) % 256).astype(np.float32),
                   cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    g1 = 0.5 + (g1 - 0.5) * smoothstep(0.0, 0.12, near)
    g2 = 0.5 + (g2 - 0.5) * smoothstep(0.05, 0.4, near)
    fine_w = smoothstep(0.0, 0.5, near)
    grass_far = np.array([150, 168, 92], np.float32)
    grass_near = np.array([86, 134, 50], np.float32)
    gcol = grass_far * (1 - near[..., None]) + grass_near * near[..., None]
    gshade = 0.8 + 0.35 * (g1 - 0.5) * 1.4 + 0.3 * (g2 - 0.5) * fine_w
    gcol = gcol * gshade[..., None]
    dry = smoothstep(0.55, 0.8, g1)[..., None] * 0.35  # sun-bleached patches
    gcol = gcol * (1 - dry) + np.array([176, 170, 96], np.float32) * dry
    # a footpath winding into the distance
    xc = 1.2 + 2.2 * np.sin(Z * 0.11 + 0.6) + 0.8 * np.sin(Z * 0.043 + 2.0)
    half = 0.7 + 0.15 * np.sin(Z * 0.5)
    path = smoothstep(half + 0.12, half - 0.12, np.abs(X - xc)) * (Z < 200)
    pcol = np.array([176, 150, 112], np.float32) * (0.82 + 0.3 * (g2 - 0.5) + 0.2 * (g1 - 0.5))[..., None]
    gcol = gcol * (1 - path[..., None]) + pcol * path[..., None]
    gfog = np.clip(1 - near * 3.0, 0, 1) ** 2 * 0.45
    gcol = gcol * (1 - gfog[..., None]) + haze * gfog[..., None]
    ground = smoothstep(horizon + 1, horizon + 3, yy)
    img = over(img, gcol, ground)

    # grass blades and wild flowers, denser and bigger toward the camera
    rng = np.random.default_rng([seed, 5])
    ss = 2
    layer = np.zeros((H * ss, W * ss, 3), np.float32)
    lmask = np.zeros((H * ss, W * ss), np.float32)
    n_blades = 9000
    ys = horizon + 8 + (H - horizon - 8) * rng.random(n_blades) ** 0.6
    for y in np.sort(ys):
        x = rng.uniform(0, W)
        s = (y - horizon) / (H - horizon)
        if path[min(H - 1, int(y)), min(W - 1, int(x))] > 0.5:
            continue
        length = (2 + 14 * s) * rng.uniform(0.6, 1.3)
        lean = rng.normal(0.25, 0.35) * length
        shade = rng.uniform(0.65, 1.25)
        col = (grass_near * shade * np.array([1.0, 1.0, 0.9]) + rng.normal(0, 8, 3)).tolist()
        p0 = (int(x * ss), int(y * ss))
        p1 = (int((x + lean) * ss), int((y - length) * ss))
        cv2.line(layer, p0, p1, col, max(1, int(ss * (0.6 + 1.2 * s))), cv2.LINE_AA)
        cv2.line(lmask, p0, p1, 1.0, max(1, int(ss * (0.6 + 1.2 * s))), cv2.LINE_AA)
    palette = [(245, 245, 240), (250, 212, 60), (196, 120, 210), (235, 90, 70), (120, 150, 235)]
    for _ in range(1400):
        y = horizon + 6 + (H - horizon - 6) * rng.random() ** 0.7
        x = rng.uniform(0, W)
        if path[min(H - 1, int(y)), min(W - 1, int(x))] > 0.3:
            continue
        s = (y - horizon) / (H - horizon)
        r = max(1, int(ss * (0.5 + 2.6 * s) * rng.uniform(0.7, 1.2)))
        col = palette[int(rng.integers(0, len(palette)))] if rng.random() < 0.85 else palette[0]
        c = np.array(col, np.float32) * rng.uniform(0.85, 1.05)
        cv2.circle(layer, (int(x * ss), int(y * ss)), r, c.tolist(), -1, cv2.LINE_AA)
        cv2.circle(lmask, (int(x * ss), int(y * ss)), r, 1.0, -1, cv2.LINE_AA)
        if r >= 3:
            cv2.circle(layer, (int(x * ss), int(y * ss)), max(1, r // 3), (240, 200, 60), -1, cv2.LINE_AA)
    layer = cv2.resize(layer, (W, H), interpolation=cv2.INTER_AREA)
    lmask = np.clip(cv2.resize(lmask, (W, H), interpolation=cv2.INTER_AREA), 0, 1)
    colour = layer / np.maximum(lmask[..., None], 1e-3)
    bfog = np.clip(1 - near * 3.0, 0, 1) ** 2 * 0.4
    colour = colour * (1 - bfog[..., None]) + haze * bfog[..., None]
    img = over(img, colour, lmask)

    # trees and rocks standing on the meadow (depth-sorted, scaled by perspective)
    rng = np.random.default_rng([seed, 6])
    things = [  # (world x, pixels below the horizon, kind); x 460..1200 is seen by all three references
        (190, 24, "pine"), (235, 28, "pine"), (280, 19, "pine"), (318, 16, "pine"), (420, 17, "oak"),
        (560, 7, "pine"), (590, 8, "pine"), (645, 6, "oak"), (800, 5, "pine"), (905, 8, "oak"),
        (1010, 13, "pine"), (1040, 16, "pine"), (1075, 12, "pine"), (1110, 14, "pine"), (1240, 24, "oak"),
        (1380, 22, "pine"), (1420, 18, "pine"),
        (330, 120, "rock"), (560, 62, "rock"), (600, 66, "rock"), (760, 30, "rock"), (1010, 95, "rock"),
        (1190, 52, "rock"), (870, 19, "rock"),
    ]
    for x, dy, kind in sorted(things, key=lambda k: k[1]):
        y = horizon + dy
        s = dy / 16.0  # perspective: one drawing unit is 10 cm at that depth (camera 1.6 m above the meadow)
        img = _draw_thing(img, rng, x, y, s, kind, haze, near_amount=float(np.clip((y - horizon) / (H - horizon), 0, 1)))

    # gentle vignette and a little film grain
    rng = np.random.default_rng([seed, 7])
    vig = 1 - 0.12 * (((xx - W / 2) / (W / 2)) ** 2 + ((yy - H / 2) / (H / 2)) ** 2)
    img *= vig[..., None]
    img += rng.normal(0, 1.5, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def volume_shade(mask: np.ndarray, sigma: float, light=(0.55, 0.6, 0.6), bulge: float = 1.0) -> np.ndarray:
    """Lambert shading of a shape treated as a rounded volume (normals from a blurred copy of its mask),
    lit from the upper left and in front; in [0, 1]. `bulge` > 1 rounds the edges more."""
    sigma = max(0.8, sigma)
    h = cv2.GaussianBlur(mask, (0, 0), sigma)
    gy, gx = np.gradient(h)
    flat = 0.25 / sigma / bulge
    norm = np.sqrt(gx * gx + gy * gy + flat * flat)
    return np.clip((light[0] * gx + light[1] * gy + light[2] * flat) / norm, 0, 1)


def _draw_thing(img, rng, x, y, s, kind, haze, near_amount):
    """One tree or boulder standing at (x, y), `s` pixels per 10 cm, lit from the upper left, with a soft
    contact shadow falling to the right."""
    H, W = img.shape[:2]
    reach, up = {"oak": (75, 135), "pine": (34, 150), "rock": (16, 22)}[kind]
    x0, x1 = int(x - reach * s) - 6, int(x + reach * s + 40 * s) + 6
    y0, y1 = int(y - up * s) - 6, int(y + 8 * s) + 6
    bw, bh = x1 - x0, y1 - y0
    ss = 3 if s < 1.5 else 2
    col = np.zeros((bh * ss, bw * ss, 3), np.float32)
    m = np.zeros((bh * ss, bw * ss), np.float32)
    lx, ly = (x - x0) * ss, (y - y0) * ss

    def P(px, py):
        return int(round((lx + px * ss * s) * 16)), int(round((ly + py * ss * s) * 16))

    def R(r):
        return max(1, int(round(r * ss * s * 16)))

    def poly(dst, pts, value):
        cv2.fillConvexPoly(dst, np.array(pts, np.int32), value, cv2.LINE_AA, shift=4)

    shadow = np.zeros((bh, bw), np.float32)
    sx, sy = x - x0, y - y0
    if kind == "oak":
        th = rng.uniform(40, 50)
        trunk = [P(-4, 0), P(4, 0), P(2.5, -th), P(-2.5, -th)]
        poly(col, trunk, (70, 54, 40))
        poly(m, trunk, 1.0)
        for side in (-1, 1):  # two main boughs
            b = [P(side * 1, -th + 4), P(side * 2.5, -th + 2), P(side * 16, -th - 16), P(side * 13, -th - 18)]
            poly(col, b, (66, 50, 38))
            poly(m, b, 1.0)
        crown = rng.normal(0, 1, (90, 2)) * np.array([24, 15]) + np.array([0, -th - 26])
        cm = np.zeros_like(m)
        clump = np.zeros_like(m)
        for cx, cy in crown[np.argsort(crown[:, 1] - crown[:, 0] * 0.3)[::-1]]:
            r = rng.uniform(9, 16)
            cv2.circle(cm, P(cx, cy), R(r), 1.0, -1, cv2.LINE_AA, shift=4)
            # each clump: lit on its upper-left rim
            cv2.circle(clump, P(cx, cy), R(r), 0.55, -1, cv2.LINE_AA, shift=4)
            cv2.circle(clump, P(cx - r * 0.25, cy - r * 0.3), R(r * 0.7), 1.0, -1, cv2.LINE_AA, shift=4)
        vol = volume_shade(cm, 12 * ss * s)
        tex = fbm2d(rng, cm.shape[0], cm.shape[1], cells=(8, 10), octaves=4)
        leaf = np.array([60, 100, 42], np.float32)
        leaves = leaf * (0.3 + 0.55 * vol + 0.25 * clump + 0.35 * (tex - 0.5))[..., None]
        col = col * (1 - cm[..., None]) + leaves * cm[..., None]
        m = np.maximum(m, cm)
        cv2.ellipse(shadow, (int(sx + 25 * s), int(sy)), (int(38 * s) + 1, int(5 * s) + 1), 0, 0, 360, 1.0, -1)
    elif kind == "pine":
        th = 105 * rng.uniform(0.85, 1.15)
        trunk = [P(-2.5, 0), P(2.5, 0), P(1.2, -22), P(-1.2, -22)]
        poly(col, trunk, (68, 50, 36))
        poly(m, trunk, 1.0)
        tiers = 8
        for k in range(tiers):
            f = k / (tiers - 1)
            cy = -16 - f * (th - 22)
            w = 28 * (1 - f) ** 0.9 + 5
            tip = cy - 30 * (1 - 0.45 * f)
            for side in (-1, 1):
                jag = rng.uniform(-2, 2)
                pts = [P(0, tip), P(side * w, cy + 4 + jag), P(side * w * 0.45, cy + 1), P(0, cy)]
                lit = 1.08 if side < 0 else 0.7
                c = np.array([36, 72, 48], np.float32) * lit * (0.85 + 0.25 * f)
                poly(col, pts[:3], c.tolist())
                poly(col, [pts[0], pts[2], pts[3]], c.tolist())
                poly(m, pts[:3], 1.0)
                poly(m, [pts[0], pts[2], pts[3]], 1.0)
        cv2.ellipse(shadow, (int(sx + 16 * s), int(sy)), (int(24 * s) + 1, int(4 * s) + 1), 0, 0, 360, 1.0, -1)
    else:  # boulder: a rounded irregular lump with hill-shaded facets and a little lichen
        k = 11
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        rad = rng.uniform(0.75, 1.0, k)
        rx, ry = rng.uniform(8, 13), rng.uniform(5, 8)
        pts = [P(np.cos(a) * r * rx, min(1.0, np.sin(a) * r * ry) - ry * 0.7) for a, r in zip(ang, rad)]
        hull = cv2.convexHull(np.array(pts, np.int32))
        cv2.fillConvexPoly(m, hull, 1.0, cv2.LINE_AA, shift=4)
        vol = volume_shade(m, rx * ss * s * 0.3, bulge=1.5)
        facets = fbm2d(rng, m.shape[0], m.shape[1], cells=(3, 4), octaves=3)
        gy, gx = np.gradient(cv2.GaussianBlur(facets, (0, 0), 2.0) * 40)
        fac = np.clip((gx * 0.6 + gy * 0.6 + 1.0) / np.sqrt(gx * gx + gy * gy + 1.0), 0.4, 1.2)
        lichen = smoothstep(0.6, 0.8, fbm2d(rng, m.shape[0], m.shape[1], cells=(6, 8), octaves=3))
        base = np.array([150, 146, 136], np.float32)
        stone = base * (0.3 + 0.55 * vol + 0.25 * (fac - 0.8))[..., None]
        stone = stone * (1 - 0.5 * lichen[..., None]) + np.array([130, 138, 80], np.float32) * (0.4 + 0.5 * vol[..., None]) * 0.5 * lichen[..., None]
        col = stone * m[..., None]
        cv2.ellipse(shadow, (int(sx + rx * 0.4 * s), int(sy - 0.5 * s)), (int(rx * 1.35 * s) + 1, int(2.2 * s) + 1), 0, 0, 360, 1.0, -1)
    col = cv2.resize(col, (bw, bh), interpolation=cv2.INTER_AREA)
    m = np.clip(cv2.resize(m, (bw, bh), interpolation=cv2.INTER_AREA), 0, 1)
    col = col / np.maximum(m[..., None], 1e-3)
    col *= (0.92 + 0.16 * fbm2d(rng, bh, bw, cells=(max(2, bh // 3), max(2, bw // 3)), octaves=1))[..., None]
    fog = (1 - near_amount) ** 3 * 0.45
    col = col * (1 - fog) + haze * fog
    shadow = cv2.GaussianBlur(shadow, (0, 0), 1 + 1.5 * s) * 0.4 * (1 - fog)
    # paste, clipped to the canvas
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(W, x1), min(H, y1)
    if cx1 <= cx0 or cy1 <= cy0:
        return img
    sl = (slice(cy0, cy1), slice(cx0, cx1))
    bl = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
    region = img[sl]
    region *= (1 - shadow[bl])[..., None]
    over(region, col[bl], m[bl])
    return img


# --------------------------------------------------------------------------------------------- figure

SKIN = np.array([226, 172, 138], np.float32)
HAIR = np.array([64, 42, 30], np.float32)
SHIRT = np.array([184, 72, 52], np.float32)  # rust red: far from the backing hue
JEANS = np.array([50, 66, 104], np.float32)
SHOES = np.array([58, 44, 38], np.float32)
BAG = np.array([112, 82, 52], np.float32)


def _capsule(img, p0, p1, r0, r1, value):
    """A tapered limb: circles at both ends joined by their tangent quad."""
    p0, p1 = np.asarray(p0, np.float64), np.asarray(p1, np.float64)
    d = p1 - p0
    n = np.array([-d[1], d[0]]) / (np.hypot(*d) + 1e-9)
    quad = np.array([p0 + n * r0, p1 + n * r1, p1 - n * r1, p0 - n * r0])
    cv2.fillConvexPoly(img, np.round(quad * 16).astype(np.int32), value, cv2.LINE_AA, shift=4)
    cv2.circle(img, tuple(np.round(p0 * 16).astype(int)), int(round(r0 * 16)), value, -1, cv2.LINE_AA, shift=4)
    cv2.circle(img, tuple(np.round(p1 * 16).astype(int)), int(round(r1 * 16)), value, -1, cv2.LINE_AA, shift=4)


def _polar(p, length, angle_deg):
    """Point `length` away from p; angle 0 = straight down, positive = toward +x (the walking direction)."""
    a = np.deg2rad(angle_deg)
    return np.array([p[0] + length * np.sin(a), p[1] + length * np.cos(a)])


def _ellipse(img, centre, axes, angle, value, start=0, end=360):
    cv2.ellipse(img, tuple(int(v) for v in np.round(np.asarray(centre) * 16)),
                tuple(max(1, int(v)) for v in np.round(np.asarray(axes) * 16)), angle, start, end, value, -1,
                cv2.LINE_AA, shift=4)


def person(cx: float, ground_y: float, body_h: float, phase: float):
    """A person with a backpack walking to the right (side view), in frame pixels: RGB uint8, alpha float32.

    `cx` is the hip's x, `ground_y` where the lower shoe touches the floor, `body_h` the height, `phase` the
    walk cycle (radians; the near leg is fully forward at pi/2). Parts are drawn 3x supersampled; each is
    shaded as a rounded volume lit from the upper left/front; far-side limbs are in shadow; the hair has a soft,
    semi-transparent edge and the whole silhouette a slight lens softness.
    """
    ss = 3
    W, H = WIDTH * ss, HEIGHT * ss
    u = body_h * ss  # body height in supersampled pixels
    thigh, shin, foot = 0.245 * u, 0.215 * u, 0.125 * u
    upper, fore = 0.17 * u, 0.14 * u

    def leg_pose(ph):
        t = 22 * np.sin(ph)
        knee = 4 + 55 * max(0.0, np.cos(ph + 0.5)) ** 2  # flexes in early swing, straight at heel strike
        sh = t - knee
        foot_a = 90 + 0.6 * min(0.0, sh) + 10 * max(0.0, np.sin(ph)) ** 2  # heel off at push-off, toe up at strike
        return t, sh, foot_a

    def leg_points(hip, ph):
        t, sh, fa = leg_pose(ph)
        knee = _polar(hip, thigh, t)
        ankle = _polar(knee, shin, sh)
        heel = ankle + np.array([-0.025 * u, 0.015 * u])
        toe = _polar(heel, foot, fa)
        return knee, ankle, heel, toe

    # the lower shoe stands on the ground: that sets the body's bob
    low = max(max(h[1], tp[1]) for h, tp in (leg_points(np.zeros(2), ph)[2:] for ph in (phase, phase + np.pi)))
    hip = np.array([cx * ss, ground_y * ss - low - 0.028 * u])
    lean = np.deg2rad(5.0)
    shoulder = hip + np.array([0.31 * u * np.sin(lean), -0.31 * u])
    neck_top = shoulder + np.array([0.022 * u, -0.05 * u])
    head_c = neck_top + np.array([0.006 * u, -0.06 * u])

    parts = []  # (mask, colour, radius in frame pixels for the volume shading, kind)

    def new():
        return np.zeros((H, W), np.float32)

    def leg(ph, kind):
        knee, ankle, heel, toe = leg_points(hip, ph)
        m = new()
        _capsule(m, hip, knee, 0.06 * u, 0.043 * u, 1.0)
        _capsule(m, knee, ankle + (knee - ankle) * 0.1, 0.043 * u, 0.034 * u, 1.0)
        parts.append((m, JEANS, 0.05 * body_h, kind))
        sh = new()
        _capsule(sh, heel, toe, 0.028 * u, 0.02 * u, 1.0)
        _capsule(sh, ankle + (knee - ankle) * 0.08, heel + (toe - heel) * 0.35, 0.03 * u, 0.03 * u, 1.0)
        parts.append((sh, SHOES, 0.025 * body_h, kind))

    def arm(ph, kind):
        a_u = -20 * np.sin(ph)
        a_f = a_u + 14 + 18 * max(0.0, -np.sin(ph))  # the elbow bends more on the forward swing
        top = shoulder + np.array([0.0, 0.025 * u])
        elbow = _polar(top, upper, a_u)
        wrist = _polar(elbow, fore, a_f)
        skin = new()
        _capsule(skin, elbow - (elbow - top) * 0.4, elbow, 0.03 * u, 0.027 * u, 1.0)
        _capsule(skin, elbow, wrist, 0.027 * u, 0.02 * u, 1.0)
        _ellipse(skin, _polar(wrist, 0.035 * u, a_f - 8), (0.022 * u, 0.04 * u), -(a_f - 8), 1.0)
        parts.append((skin, SKIN, 0.025 * body_h, kind))
        sleeve = new()
        _capsule(sleeve, top, top + (elbow - top) * 0.55, 0.045 * u, 0.036 * u, 1.0)
        parts.append((sleeve, SHIRT, 0.04 * body_h, kind))

    arm(phase, "far")  # the far arm swings with the near leg
    leg(phase + np.pi, "far")
    bag = new()
    _capsule(bag, shoulder + np.array([-0.085 * u, 0.03 * u]), hip + np.array([-0.09 * u, -0.08 * u]), 0.05 * u, 0.058 * u, 1.0)
    parts.append((bag, BAG, 0.05 * body_h, "near"))
    leg(phase, "near")
    pelvis = new()
    _capsule(pelvis, hip + np.array([-0.004 * u, -0.04 * u]), hip + np.array([0.004 * u, 0.012 * u]), 0.07 * u, 0.064 * u, 1.0)
    parts.append((pelvis, JEANS, 0.06 * body_h, "near"))
    torso = new()
    _capsule(torso, shoulder + np.array([0.004 * u, 0.035 * u]), hip + np.array([0.0, -0.05 * u]), 0.082 * u, 0.07 * u, 1.0)
    parts.append((torso, SHIRT, 0.07 * body_h, "near"))
    neck = new()
    _capsule(neck, shoulder + np.array([0.0, 0.0]), neck_top, 0.03 * u, 0.028 * u, 1.0)
    parts.append((neck, SKIN, 0.025 * body_h, "near"))
    # head: skull, jaw and nose
    head = new()
    _ellipse(head, head_c, (0.054 * u, 0.066 * u), 8, 1.0)
    _ellipse(head, head_c + np.array([0.018 * u, 0.034 * u]), (0.038 * u, 0.03 * u), 10, 1.0)
    _ellipse(head, head_c + np.array([0.05 * u, 0.012 * u]), (0.011 * u, 0.015 * u), -25, 1.0)
    parts.append((head, SKIN, 0.05 * body_h, "near"))
    ear = new()
    _ellipse(ear, head_c + np.array([-0.008 * u, 0.004 * u]), (0.011 * u, 0.017 * u), -10, 1.0)
    parts.append((ear, SKIN * 0.85, 0.01 * body_h, "near"))
    # hair: the top and back of the skull, with a soft, slightly larger wisp around it
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    dx, dy = (xx - head_c[0]) / (0.054 * u), (yy - head_c[1]) / (0.066 * u)
    cover = ((dy < -0.42 + 0.25 * np.clip(-dx, 0, 1)) | (dx < -0.3 - 0.35 * np.clip(dy, 0, 1))) & (dy < 0.75)
    cover = cover.astype(np.float32) * ((dx - 0.2) ** 2 + (dy + 0.05) ** 2 > 0.12)  # keep the ear clear
    hair = cv2.GaussianBlur(cover, (0, 0), 2.0) * head
    wisp = new()
    _ellipse(wisp, head_c + np.array([-0.006 * u, -0.006 * u]), (0.062 * u, 0.074 * u), 8, 1.0, 150, 320)
    hair = np.maximum(hair, wisp * (1 - head) * 0.8)
    parts.append((hair, HAIR, 0.05 * body_h, "hair"))
    face = new()  # eye and brow
    eye = head_c + np.array([0.033 * u, 0.0])
    _ellipse(face, eye, (0.007 * u, 0.0045 * u), 0, 1.0)
    cv2.line(face, tuple(int(v) for v in np.round((eye + np.array([-0.012 * u, -0.014 * u])) * 16)),
             tuple(int(v) for v in np.round((eye + np.array([0.012 * u, -0.016 * u])) * 16)), 1.0,
             max(1, int(0.006 * u)), cv2.LINE_AA, shift=4)
    parts.append((face * 0.85, HAIR * 0.6, 0.0, "flat"))
    strap = new()
    _capsule(strap, shoulder + np.array([-0.03 * u, 0.0]), shoulder + np.array([0.035 * u, 0.11 * u]), 0.012 * u, 0.012 * u, 1.0)
    parts.append((strap, BAG * 0.8, 0.01 * body_h, "near"))
    arm(phase + np.pi, "near")

    rgb = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    alpha = np.zeros((HEIGHT, WIDTH), np.float32)
    rng = np.random.default_rng(11)
    fy, fx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    for m, colour, radius, kind in parts:
        a = np.clip(cv2.resize(m, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA), 0, 1)
        shade = 0.4 + 0.72 * volume_shade(a, radius * 0.8) if radius > 0 else np.ones_like(a)
        c = colour * shade[..., None]
        if colour is JEANS:  # twill
            c *= (1 + 0.05 * np.sin((fx + fy) * 1.9))[..., None]
        if colour is SHIRT:  # soft folds
            c *= (1 + 0.06 * np.sin(fy * 0.45 + 2.5 * np.sin(fx * 0.09)))[..., None]
        if kind == "far":
            c *= 0.62
        rgb = rgb * (1 - a[..., None]) + c * a[..., None]
        alpha = alpha + a * (1 - alpha)
    rgb = rgb / np.maximum(alpha[..., None], 1e-4)
    rgb += rng.normal(0, 1.5, rgb.shape).astype(np.float32)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 0.6)  # a slightly soft lens edge
    alpha[alpha < 2e-3] = 0
    alpha[alpha > 1 - 2e-3] = 1
    return np.clip(rgb, 0, 255).astype(np.uint8), alpha


# ---------------------------------------------------------------------------------------------- output

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
        fg, a = person(cx, ground, 0.68 * HEIGHT * zoom, phase=2 * np.pi * 2.0 * s + 0.3)
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
