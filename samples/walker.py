"""The demo shot's subject (`make_sample.py`): a hiker with a backpack walking to the right, drawn in frame pixels
with a soft, semi-transparent alpha."""

from __future__ import annotations

import cv2
import numpy as np

from samples.paint import volume_shade


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


def person(cx: float, ground_y: float, body_h: float, phase: float, size: tuple[int, int]):
    """A person with a backpack walking to the right (side view), in frame pixels: RGB uint8, alpha float32.

    `cx` is the hip's x, `ground_y` where the lower shoe touches the floor, `body_h` the height, `phase` the
    walk cycle (radians; the near leg is fully forward at pi/2). Parts are drawn 3x supersampled; each is
    shaded as a rounded volume lit from the upper left/front; far-side limbs are in shadow; the hair has a soft,
    semi-transparent edge and the whole silhouette a slight lens softness.
    """
    WIDTH, HEIGHT = size  # the frame's
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
