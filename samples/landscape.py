"""The demo shot's new background (`make_sample.py`): a procedural mountain valley, seen through the camera by
the references."""

from __future__ import annotations

import cv2
import numpy as np

from samples.paint import fbm1d, fbm2d, over, smoothstep, tileable_noise, volume_shade

WORLD_W, WORLD_H = 1440, 640  # landscape canvas, in reference pixels; frame 0 sees its centre


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
