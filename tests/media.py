"""Synthetic media factory: scenes with known answers (alpha, camera path, frame times).

Everything is RGB uint8 `[H, W, 3]` (or `[T, H, W, 3]`), alpha float32 in [0, 1], homographies map
frame-0 background pixel coordinates to frame-t coordinates (the convention of `paistudio.comp.track`).
Mixing of foreground and backing happens in linear light, as a camera sees it.
Used by the tests, the benchmarks and `samples/make_sample.py`; no file here depends on ../shared.
"""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from paistudio.eval.restore import MARKER_BLUE, MARKER_GREEN, screen  # noqa: F401  (re-exported for tests)
from paistudio.eval.restore import SCREEN_BLUE as BLUE_BACKING  # noqa: F401  (re-exported for tests)
from paistudio.eval.restore import SCREEN_GREEN as GREEN_BACKING


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32) / 255.0
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(np.asarray(x, np.float32), 0.0, 1.0)
    y = np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    return np.clip(np.round(y * 255.0), 0, 255).astype(np.uint8)


def textured_background(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A natural-looking, feature-rich image: smooth colour field + random shapes + fine noise."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(40, 220, size=(6, 8, 3)).astype(np.float32)
    img = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(max(30, width * height // 6000)):
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(3, max(4, min(width, height) // 12)))
        if rng.random() < 0.5:
            cv2.circle(img, (x, y), r, colour, -1, lineType=cv2.LINE_AA)
        else:
            cv2.rectangle(img, (x - r, y - r // 2), (x + r, y + r // 2), colour, -1, lineType=cv2.LINE_AA)
    img += rng.normal(0, 6, size=img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def camera_path(n: int, width: int, height: int, pan: float = 0.0, tilt: float = 0.0,
                zoom: float = 1.0, rotate_deg: float = 0.0) -> np.ndarray:
    """True per-frame homographies `[N, 3, 3]`: background points of frame 0 → frame t.

    `pan`/`tilt` are the total background shift over the clip as a fraction of width/height
    (positive pan moves the camera right, so the background moves left), `zoom` the total scale at
    the last frame, `rotate_deg` the total roll; all change linearly about the frame centre.
    """
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    out = np.empty((n, 3, 3), np.float64)
    for t in range(n):
        s = t / max(1, n - 1)
        scale = zoom ** s
        a = np.deg2rad(rotate_deg * s)
        c, si = np.cos(a) * scale, np.sin(a) * scale
        tx, ty = -pan * width * s, -tilt * height * s
        out[t] = [[c, -si, cx - c * cx + si * cy + tx], [si, c, cy - si * cx - c * cy + ty], [0, 0, 1]]
    return out


def view(world: np.ndarray, world_to_frame0: np.ndarray, path_t: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Render frame t of a camera looking at `world` (frame 0 sees `world_to_frame0`)."""
    h = path_t @ world_to_frame0
    return cv2.warpPerspective(world, h, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def centred_crop(world_w: int, world_h: int, width: int, height: int) -> np.ndarray:
    """Homography from a large world image to a centred `width`×`height` frame."""
    return np.array([[1, 0, -(world_w - width) / 2], [0, 1, -(world_h - height) / 2], [0, 0, 1]], np.float64)


def figure(width: int, height: int, t: float, seed: int = 1, soft: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """A walking figure (head, torso, arms, legs) with texture: RGB uint8 and alpha float32 in [0, 1].

    `t` in [0, 1] moves it across the frame and swings the limbs; edges are anti-aliased and blurred
    by `soft` pixels so the matte has a real semi-transparent band.
    """
    rng = np.random.default_rng(seed)
    scale = 4
    W, H = width * scale, height * scale
    mask = np.zeros((H, W), np.uint8)
    cx = int((0.3 + 0.4 * t) * W)
    top = int(0.2 * H)
    body_h = int(0.65 * H)
    unit = body_h // 8
    swing = int(np.sin(t * 6 * np.pi) * unit * 0.8)
    cv2.circle(mask, (cx, top + unit), unit, 255, -1)
    cv2.ellipse(mask, (cx, top + int(3.6 * unit)), (int(unit * 1.1), int(unit * 1.8)), 0, 0, 360, 255, -1)
    th = max(2, unit // 2)
    cv2.line(mask, (cx, top + int(2.6 * unit)), (cx - unit + swing, top + int(5 * unit)), 255, th)
    cv2.line(mask, (cx, top + int(2.6 * unit)), (cx + unit - swing, top + int(5 * unit)), 255, th)
    cv2.line(mask, (cx, top + int(5 * unit)), (cx - unit // 2 - swing, top + 8 * unit), 255, th + 2)
    cv2.line(mask, (cx, top + int(5 * unit)), (cx + unit // 2 + swing, top + 8 * unit), 255, th + 2)
    alpha = cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    if soft > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), soft)
    alpha[alpha < 1e-3] = 0.0
    alpha[alpha > 1 - 1e-3] = 1.0
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.array([200, 140, 110], np.float32)  # warm skin/clothing tone, never green-dominant
    stripes = 25 * np.sin(yy / 5.0 + xx / 17.0)[..., None] * np.array([1.0, 0.5, 0.3], np.float32)
    noise = rng.normal(0, 5, (height, width, 1)).astype(np.float32)
    rgb = np.clip(base + stripes + noise, 0, 255).astype(np.uint8)
    return rgb, alpha


def composite_linear(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray:
    a = alpha[..., None]
    return linear_to_srgb(a * srgb_to_linear(fg) + (1 - a) * srgb_to_linear(bg))


def backing_plate(width: int, height: int, colour=GREEN_BACKING, markers: bool = False,
                  seed: int = 0, margin: float = 0.5) -> np.ndarray:
    """A screen larger than the frame by `margin` on each side, optionally with tracking crosses (the restore
    benchmark's screen, so tests and benchmark key the same material)."""
    return screen(width, height, markers, seed, margin, colour)[0]


def green_screen_clip(n: int = 24, width: int = 160, height: int = 96, *, colour=GREEN_BACKING,
                      markers: bool = True, path: np.ndarray | None = None, spill: float = 0.0,
                      seed: int = 0):
    """A keyed-foreground test clip. Returns (frames [N,H,W,3] uint8, alpha [N,H,W] float32, fg [N,H,W,3] uint8, path).

    `spill` in [0, 1] tints the foreground towards the backing near its edge (what a real screen does).
    """
    if path is None:
        path = camera_path(n, width, height, pan=0.15, zoom=1.08)
    screen = backing_plate(width, height, colour, markers, seed)
    to_frame0 = centred_crop(screen.shape[1], screen.shape[0], width, height)
    frames = np.empty((n, height, width, 3), np.uint8)
    alphas = np.empty((n, height, width), np.float32)
    fgs = np.empty((n, height, width, 3), np.uint8)
    for t in range(n):
        fg, a = figure(width, height, t / max(1, n - 1), seed=seed + 1)
        if spill > 0:
            inner = cv2.GaussianBlur(a, (0, 0), 3.0)
            edge = np.clip(1.0 - inner, 0, 1) * (a > 0)
            tint = np.array(colour, np.float32) - fg.astype(np.float32)
            fg = np.clip(fg + spill * 0.5 * edge[..., None] * tint, 0, 255).astype(np.uint8)
        bg = view(screen, to_frame0, path[t], (width, height))
        frames[t] = composite_linear(fg, a, bg)
        alphas[t] = a
        fgs[t] = fg
    return frames, alphas, fgs, path


def write_video(path: str | Path, frames, fps: Fraction = Fraction(24), codec: str = "libx264",
                pix_fmt: str = "yuv420p", audio_hz: int | None = None, options: dict | None = None,
                colour: tuple[int, int] | None = None, pixel_aspect: Fraction | None = None,
                timecode: str | None = None, audio_tracks: int = 1, field_order: int | None = None,
                audio_codec: str = "aac") -> Path:
    """Write RGB(A) frames (uint8 or uint16) to a video file; `audio_hz` adds `audio_tracks` mono tones of
    the same length (track k at 440 (k + 1) Hz) in `audio_codec`; `colour` = (primaries, transfer) tags the stream
    (FFmpeg's codes; the matrix tag follows: BT.2020 for BT.2020 primaries, else BT.709); `pixel_aspect` tags
    anamorphic pixels (their width / height); `timecode` the first frame's timecode (a tmcd track in mov/mp4);
    `field_order` FFmpeg's AVFieldOrder for interlaced frames."""
    path = Path(path)
    frames = list(frames)
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height = frames[0].shape[1], frames[0].shape[0]
        vs.pix_fmt = pix_fmt
        if options:
            vs.options = options
        if pixel_aspect is not None:
            vs.codec_context.sample_aspect_ratio = pixel_aspect
        if timecode is not None:
            vs.metadata["timecode"] = timecode
        if field_order is not None:
            vs.codec_context.field_order = field_order
        if colour is not None:
            cc = vs.codec_context
            cc.color_primaries, cc.color_trc = colour
            cc.colorspace, cc.color_range = (9 if colour[0] == 9 else 1), 1
        astreams = [out.add_stream(audio_codec, rate=audio_hz, layout="mono")
                    for _ in range(audio_tracks if audio_hz else 0)]
        deep = frames[0].dtype == np.uint16
        fmt = ("rgba64le" if deep else "rgba") if frames[0].shape[-1] == 4 else ("rgb48le" if deep else "rgb24")
        for t, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format=fmt)
            vf.pts = t  # in 1/fps: what the encoders count by themselves, but explicit (x265 in Matroska needs it)
            for pkt in vs.encode(vf):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
        for k, astream in enumerate(astreams):
            seconds = len(frames) / float(fps)
            samples = int(seconds * audio_hz)
            tone = (0.3 * np.sin(2 * np.pi * 440 * (k + 1) * np.arange(samples) / audio_hz)).astype(np.float32)
            step = 1024
            for i in range(0, samples, step):
                chunk = tone[None, i:i + step]
                af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                af.sample_rate = audio_hz
                af.pts = i
                for pkt in astream.encode(af):
                    out.mux(pkt)
            for pkt in astream.encode():
                out.mux(pkt)
    return path


def read_video(path: str | Path) -> np.ndarray:
    """Every frame of a video or frame folder as paistudio reads it, `[T, H, W, C]` uint8."""
    from paistudio.io.video import probe, read_chunks
    return np.concatenate(list(read_chunks(probe(path))))


def write_sequence(folder: str | Path, frames, ext: str = "png") -> Path:
    """Write frames as `00000.ext …` (RGBA when frames have 4 channels)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        code = cv2.COLOR_RGBA2BGRA if f.shape[-1] == 4 else cv2.COLOR_RGB2BGR
        cv2.imwrite(str(folder / f"{i:05d}.{ext}"), cv2.cvtColor(f, code))
    return folder


def write_image(path: str | Path, rgb: np.ndarray) -> Path:
    path = Path(path)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def write_clip_folder(folder: str | Path, width: int = 240, height: int = 144, n: int = 24, seed: int = 11,
                      pan: float = 0.2, zoom: float = 1.05):
    """A clip folder as restore cases read it (frames/*.png, masks/*.png): a textured world seen through a known
    camera path, with a walking figure (binary mask). Returns (folder, path [N, 3, 3], backgrounds [N, H, W, 3])."""
    folder = Path(folder)
    world = textured_background(width * 2, height * 2, seed=seed)
    to0 = centred_crop(world.shape[1], world.shape[0], width, height)
    path = camera_path(n, width, height, pan=pan, zoom=zoom)
    bgs = np.stack([view(world, to0, path[t], (width, height)) for t in range(n)])
    frames, masks = [], []
    for t in range(n):
        fg, a = figure(width, height, t / (n - 1), soft=0)
        frames.append(np.where(a[..., None] > 0.5, fg, bgs[t]))
        masks.append(np.repeat(np.where(a > 0.5, 255, 0).astype(np.uint8)[..., None], 3, -1))
    write_sequence(folder / "frames", frames, "png")
    write_sequence(folder / "masks", masks, "png")
    return folder, path, bgs


def two_layer_scene(n: int, width: int, height: int, far_px: float = 2.0, near_px: float = 5.0):
    """A camera panning over a far textured wall with a near band in front (the lower 40 % of the frame) moving
    `near_px` instead of `far_px` per frame: parallax a single homography cannot explain.

    Returns (frames [n, H, W, 3] uint8, path [n, 3, 3] following the far wall, the band's row slice).
    """
    far = textured_background(width + int(far_px * n) + 8, height, seed=3)
    near = textured_background(width + int(near_px * n) + 8, height, seed=9)
    near = (near.astype(np.float32) * [1.0, 0.6, 0.5]).astype(np.uint8)  # a warmer, distinct layer
    band = slice(int(height * 0.6), height)
    frames = np.empty((n, height, width, 3), np.uint8)
    for t in range(n):
        frames[t] = far[:, int(round(far_px * t)):][:, :width]
        frames[t][band] = near[band, int(round(near_px * t)):][:, :width]
    path = np.stack([np.array([[1, 0, -far_px * t], [0, 1, 0], [0, 0, 1]], np.float64) for t in range(n)])
    return frames, path, band


def _s15(v: float) -> bytes:  # ICC s15Fixed16Number
    return struct.pack(">i", int(round(v * 65536)))


def _icc_tag_xyz(xyz) -> bytes:
    return b"XYZ " + bytes(4) + b"".join(_s15(v) for v in xyz)


def icc_rgb_profile(name: str, primaries, white, gamma: float) -> bytes:
    """A minimal ICC v2 RGB display profile (matrix and one pure-gamma curve), written from the ICC spec: `primaries`
    [(x, y)] * 3 and `white` (x, y) as chromaticities; the colorants are adapted to the D50 connection space
    (Bradford), as the spec asks."""
    bradford = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])

    def xyz(xy):  # chromaticity -> XYZ with Y = 1
        return np.array([xy[0] / xy[1], 1.0, (1 - xy[0] - xy[1]) / xy[1]])
    p = np.stack([xyz(c) for c in primaries], 1)
    to_xyz = p * np.linalg.solve(p, xyz(white))  # [3, 3] RGB -> XYZ, white -> Y 1
    d50 = np.array([0.9642, 1.0, 0.8249])
    adapt = np.linalg.inv(bradford) @ np.diag((bradford @ d50) / (bradford @ xyz(white))) @ bradford
    colorants = adapt @ to_xyz
    text = name.encode("ascii") + b"\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(4 + 4 + 2 + 1 + 67)  # + empty Unicode, Mac
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)
    tags = [(b"desc", desc), (b"wtpt", _icc_tag_xyz(d50)), (b"rXYZ", _icc_tag_xyz(colorants[:, 0])),
            (b"gXYZ", _icc_tag_xyz(colorants[:, 1])), (b"bXYZ", _icc_tag_xyz(colorants[:, 2])),
            (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve), (b"cprt", b"text" + bytes(4) + b"none\0")]
    start = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        data += bytes(-(start + len(data)) % 4)  # each tag starts on 4 bytes
        table += sig + struct.pack(">II", start + len(data), len(body))
        data += body
    header = (struct.pack(">I", start + len(data)) + b"lcms" + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
              + bytes(12) + b"acsp" + bytes(24) + bytes(4) + b"".join(_s15(v) for v in d50) + bytes(48))
    return header + struct.pack(">I", len(tags)) + table + data


def write_exr(path: str | Path, channels: np.ndarray, half: bool = False) -> Path:
    """A float OpenEXR image (FFmpeg's encoder) from `[H, W, 3|4]` float RGB(A), written as given (EXR colour is
    scene-linear and, with alpha, premultiplied: pass it so) or `[H, W]` grey; `half`: 16-bit half floats."""
    path = Path(path)
    x = np.asarray(channels, np.float32)
    h, w = x.shape[:2]
    fmt, order = {2: ("grayf32le", [None]), 3: ("gbrpf32le", [1, 2, 0])}.get(x.ndim if x.ndim == 2 else x.shape[2],
                                                                          ("gbrapf32le", [1, 2, 0, 3]))
    with av.open(str(path), "w", format="image2") as out:
        stream = out.add_stream("exr", rate=24)
        stream.width, stream.height, stream.pix_fmt = w, h, fmt
        if half:
            stream.options = {"format": "half"}
        frame = av.VideoFrame(w, h, fmt)
        for plane, c in zip(frame.planes, order):  # planar G, B, R(, A)
            rows = np.frombuffer(plane, np.float32).reshape(h, plane.line_size // 4)
            rows[:, :w] = x if c is None else x[..., c]
        frame.pts = 0
        for packet in list(stream.encode(frame)) + list(stream.encode()):
            out.mux(packet)
    return path


def write_dpx(path: str | Path, codes: np.ndarray, bits: int = 10, transfer: int | None = None,
              orientation: int = 0, ref_codes: tuple[int, int] | None = None) -> Path:
    """A DPX image (FFmpeg's encoder) holding `codes` exactly: `[H, W, 3]` integer codes at `bits` (10 or 12:
    planar; 16: packed RGB), or `[H, W, 4]` 16-bit RGBA. FFmpeg writes transfer 4 (unspecified video), orientation
    0 and no reference codes; `transfer`, `orientation` and `ref_codes` (low, high) are patched into the header."""
    path = Path(path)
    x = np.asarray(codes, np.uint16)
    h, w, c = x.shape
    planar = c == 3 and bits in (10, 12)
    fmt = f"gbrp{bits}le" if planar else ("rgba64le" if c == 4 else "rgb48le")
    with av.open(str(path), "w", format="image2") as out:
        stream = out.add_stream("dpx", rate=24)
        stream.width, stream.height, stream.pix_fmt = w, h, fmt
        frame = av.VideoFrame(w, h, fmt)
        for plane, ch in zip(frame.planes, [1, 2, 0] if planar else [None]):  # planar G, B, R
            rows = np.frombuffer(plane, np.uint16).reshape(h, plane.line_size // 2)
            rows[:, :w * (1 if planar else c)] = x[..., ch] if planar else x.reshape(h, w * c)
        frame.pts = 0
        for packet in list(stream.encode(frame)) + list(stream.encode()):
            out.mux(packet)
    data = bytearray(path.read_bytes())
    order = ">" if data[:4] == b"SDPX" else "<"
    if transfer is not None:
        data[801] = transfer
    data[768:770] = struct.pack(order + "H", orientation)
    if ref_codes is not None:
        data[784:788], data[792:796] = struct.pack(order + "I", ref_codes[0]), struct.pack(order + "I", ref_codes[1])
    path.write_bytes(bytes(data))
    return path


def write_float_tiff(path: str | Path, rgb: np.ndarray, extra_samples: int | None = None, order: str = "<") -> Path:
    """An uncompressed 32-bit float RGB(A) TIFF written tag by tag, so the tags are known: `extra_samples` for the
    fourth channel (1: associated, i.e. premultiplied alpha; 2: unassociated; None: no ExtraSamples tag);
    `order` "<" little-endian (II), ">" big-endian (MM)."""
    path = Path(path)
    x = np.ascontiguousarray(np.asarray(rgb, np.dtype(np.float32).newbyteorder(order)))
    h, w, spp = x.shape
    pixels = x.tobytes()
    tags = [(256, 4, [w]), (257, 4, [h]), (258, 3, [32] * spp), (259, 3, [1]), (262, 3, [2]), (273, 4, [0]),
            (277, 3, [spp]), (278, 4, [h]), (279, 4, [len(pixels)]), (284, 3, [1]), (339, 3, [3] * spp)]
    if spp == 4 and extra_samples is not None:
        tags.append((338, 3, [extra_samples]))
    tags.sort()
    ifd_at = 8
    extra_at = ifd_at + 2 + 12 * len(tags) + 4
    extra, entries = b"", b""
    for tag, kind, values in tags:
        code = "H" if kind == 3 else "I"
        raw = struct.pack(order + code * len(values), *values)
        if len(raw) > 4:
            field = struct.pack(order + "I", extra_at + len(extra))
            extra += raw + bytes(len(raw) % 2)
        else:
            field = raw + bytes(4 - len(raw))
        entries += struct.pack(order + "HHI", tag, kind, len(values)) + field
    pixels_at = extra_at + len(extra)
    entries = entries.replace(struct.pack(order + "HHI", 273, 4, 1) + bytes(4),
                              struct.pack(order + "HHII", 273, 4, 1, pixels_at))
    head = (b"II" if order == "<" else b"MM") + struct.pack(order + "HI", 42, ifd_at)
    path.write_bytes(head + struct.pack(order + "H", len(tags)) + entries + bytes(4) + extra + pixels)
    return path


def write_cube(path: str | Path, fn, size: int = 17, dims: int = 3) -> Path:
    """A .cube LUT of `fn` (RGB in [0, 1] `[N, 3]` -> `[N, 3]`): 3D on a `size`^3 grid (red fastest, as the format
    orders it) or 1D with `size` entries (`fn` then gets r = g = b)."""
    path = Path(path)
    grid = np.linspace(0.0, 1.0, size)
    if dims == 3:
        b, g, r = np.meshgrid(grid, grid, grid, indexing="ij")
        rgb = np.stack([r.ravel(), g.ravel(), b.ravel()], 1)
    else:
        rgb = np.repeat(grid[:, None], 3, 1)
    rows = "\n".join(" ".join(f"{v:.6f}" for v in row) for row in np.asarray(fn(rgb), np.float64))
    path.write_text(f'TITLE "test"\nLUT_{dims}D_SIZE {size}\n{rows}\n')
    return path
