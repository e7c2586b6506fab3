"""Step 3: how the camera and the foreground move, from DIS optical flow at low resolution.

Per consecutive frame pair: the camera's image motion is the median flow of the background (outside the
dilated foreground mask); the foreground's own motion is its median flow minus that; zoom is the mean radial
component of the background flow. Speeds are in shares of the frame width per frame, so they do not depend on
resolution. `keep` applies the configured ranges."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

FLOW_WIDTH = 160


@dataclass(frozen=True)
class Motion:
    camera_speed: float  # median |background motion| per frame, share of frame width
    camera_dx: float  # mean background motion per frame (share of width): > 0 the image content moves right
    camera_dy: float
    zoom: float  # mean radial background flow per frame (share of width): > 0 content expands (zoom in)
    foreground_speed: float  # median |foreground motion relative to the camera| per frame, share of width
    foreground_share: float  # mean share of the frame the foreground covers

    def to_dict(self) -> dict:
        return {k: round(float(v), 6) for k, v in asdict(self).items()}


def measure(frames: np.ndarray, masks: np.ndarray) -> Motion:
    """frames [T, H, W, 3] uint8, masks [T, H, W] uint8 (255 = foreground)."""
    t, h, w = masks.shape
    scale = FLOW_WIDTH / w
    size = (FLOW_WIDTH, max(8, round(h * scale)))
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    grey = [cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA) for f in frames]
    small = [cv2.resize(m, size, interpolation=cv2.INTER_NEAREST) > 127 for m in masks]
    kernel = np.ones((5, 5), np.uint8)
    yy, xx = np.mgrid[0:size[1], 0:size[0]].astype(np.float32)
    rx, ry = xx - size[0] / 2, yy - size[1] / 2
    rn = np.maximum(np.hypot(rx, ry), 1)
    cam, cams, zooms, fgs = [], [], [], []
    for i in range(t - 1):
        flow = dis.calc(grey[i], grey[i + 1], None)  # [h, w, 2] px at flow size
        fg = small[i]
        bg = ~(cv2.dilate(fg.astype(np.uint8), kernel) > 0)
        if bg.sum() < 16:
            continue
        v = np.median(flow[bg], axis=0)  # camera motion in px
        cams.append(v)
        cam.append(float(np.hypot(*v)))
        zooms.append(float(np.mean(((flow[..., 0] * rx + flow[..., 1] * ry) / rn)[bg])))
        if fg.sum() >= 4:
            fgs.append(float(np.median(np.hypot(*(flow[fg] - v).T))))
    norm = 1.0 / size[0]
    mean_cam = np.mean(cams, axis=0) if cams else np.zeros(2)
    return Motion(camera_speed=float(np.median(cam)) * norm if cam else 0.0,
                  camera_dx=float(mean_cam[0]) * norm, camera_dy=float(mean_cam[1]) * norm,
                  zoom=float(np.mean(zooms)) * norm if zooms else 0.0,
                  foreground_speed=float(np.median(fgs)) * norm if fgs else 0.0,
                  foreground_share=float(np.mean(masks > 127)))


def keep(m: Motion, settings) -> str | None:
    """None when the shot is kept, else why it is filtered out."""
    lo, hi = settings.camera_speed
    if not lo <= m.camera_speed <= hi:
        return f"camera speed {m.camera_speed:.4f} outside [{lo}, {hi}]"
    lo, hi = settings.foreground_speed
    if not lo <= m.foreground_speed <= hi:
        return f"foreground speed {m.foreground_speed:.4f} outside [{lo}, {hi}]"
    if m.foreground_share < settings.min_foreground:
        return f"foreground covers {m.foreground_share:.3f} of the frame, under {settings.min_foreground}"
    return None
