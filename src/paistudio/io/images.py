"""Still images: sequence frames and reference photos (EXIF orientation, colour profiles, 16-bit, alpha, a sane
pixel limit, scene-linear EXR and float TIFF, log and linear DPX)."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from ..errors import InputError, ReferenceImageError
from . import dpx, hdr, tiff

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".exr", ".dpx"}
EXR_SOURCE = "scene-linear EXR"  # what the record says an EXR was converted from
FLOAT_TIFF_SOURCE = "scene-linear float TIFF"
MAX_REFERENCE_PIXELS = 100_000_000  # 100 MP: larger is a mistake or a decompression bomb


def read_image(path: Path, role: str = "image", light: bool = True) -> np.ndarray:
    """A sequence frame as RGB or RGBA uint8 (16-bit and grey inputs converted). Fast path: OpenCV.

    An EXR or a float TIFF is scene-linear (`read_exr`, `io.tiff`), a DPX log, linear or video-coded (`io.dpx`):
    `light` maps scene colour to sRGB; a matte's values are coverage, read as they are (0.5 -> 128)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".exr":
        return read_exr(path, role, light)
    if suffix == ".dpx":
        return dpx.read_dpx(path, role, light)
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(f"{role} {path} cannot be read; is it a valid image?")
    layout = tiff.float_layout(path) if suffix in (".tif", ".tiff") and img.dtype.kind == "f" else None
    if layout is not None:  # scene-linear, as compositing and HDR tools write float TIFF
        img = img.astype(np.float32, copy=False)
        if img.ndim == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA if img.shape[2] == 4 else cv2.COLOR_BGR2RGB)
        return _scene_linear_to_rgb8(img, light, layout.premultiplied)
    return _to_rgb8(img)


def _to_rgb8(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint16:
        img = (img.astype(np.uint32) * 255 + 32767) // 65535
        img = img.astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img.astype(np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_exr(path: Path, role: str = "image", light: bool = True) -> np.ndarray:
    """An OpenEXR image (FFmpeg's decoder: RGB, RGBA or Y, half or float) as RGB(A) uint8.

    EXR colour is scene-linear and, with alpha, premultiplied (the format's convention): it is unpremultiplied,
    then with `light` mapped like HDR video (`hdr.scene_linear_to_sdr`: 1.0 = white, highlights rolled off) and
    sRGB-encoded; without, clipped to [0, 1] as it is. Alpha is coverage: scaled to 0..255."""
    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
            x = half_float_planes(frame) if "f16" in frame.format.name else frame.to_ndarray()  # [H, W, 3|4] | [H, W]
    except (av.FFmpegError, StopIteration, OSError, ValueError) as e:
        raise InputError(f"{role} {path} cannot be read as an EXR ({e}); is it a valid image?") from None
    return _scene_linear_to_rgb8(x, light, premultiplied=True)


def half_float_planes(frame: av.VideoFrame) -> np.ndarray:
    """A half-float frame (the usual EXR: gbrpf16, gbrapf16 or grayf16) as float32 RGB(A) or grey, read from its
    planes. PyAV cannot convert these to numpy, and swscale's conversion to 32-bit floats clips at 1.0, which
    would flatten every highlight."""
    w, h = frame.width, frame.height
    planes = [np.frombuffer(p, np.float16).reshape(h, p.line_size // 2)[:, :w] for p in frame.planes]
    if len(planes) == 1:
        return planes[0].astype(np.float32)
    order = [2, 0, 1] + ([3] if len(planes) == 4 else [])  # planar G, B, R(, A) -> R, G, B(, A)
    return np.dstack([planes[i] for i in order]).astype(np.float32)


def _scene_linear_to_rgb8(x: np.ndarray, light: bool, premultiplied: bool) -> np.ndarray:
    """Scene-linear `[H, W, 3|4]` or `[H, W]` float -> RGB(A) uint8: unpremultiplied when it says so, then mapped to
    sRGB with `light` (`hdr.scene_linear_to_sdr`) or clipped to [0, 1] as coverage; alpha scaled to 0..255."""
    x = np.nan_to_num(x.astype(np.float32, copy=False), nan=0.0, posinf=1e6, neginf=0.0)
    if x.ndim == 2:
        x = np.repeat(x[..., None], 3, -1)
    rgb, alpha = x[..., :3], (np.clip(x[..., 3], 0.0, 1.0) if x.shape[-1] == 4 else None)
    if alpha is not None and premultiplied:
        rgb = np.divide(rgb, alpha[..., None], out=np.zeros_like(rgb), where=alpha[..., None] > 1e-6)
    rgb8 = hdr.scene_linear_to_sdr(rgb) if light else np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if alpha is None:
        return rgb8
    return np.dstack([rgb8, (alpha * 255.0 + 0.5).astype(np.uint8)])


def scene_encoding(path: str | Path) -> str | None:
    """What a still's colour is converted from to sRGB when read with `light` ("scene-linear EXR", "scene-linear float
    TIFF", "Cineon log DPX (printing density)", "scene-linear DPX"); None for display-referred images, whose codes
    are used as they are."""
    suffix = Path(path).suffix.lower()
    if suffix == ".exr":
        return EXR_SOURCE
    if suffix in (".tif", ".tiff"):
        return FLOAT_TIFF_SOURCE if tiff.float_layout(path) is not None else None
    return dpx.read_header(Path(path)).describe() if suffix == ".dpx" else None


def _decoded_by_us(path: Path) -> bool:
    """EXR, DPX and float TIFF, which `read_image` reads and Pillow does not (or not their colour)."""
    suffix = path.suffix.lower()
    return suffix in (".exr", ".dpx") or (suffix in (".tif", ".tiff") and tiff.float_layout(path) is not None)


def load_reference(path: str | Path, max_pixels: int = MAX_REFERENCE_PIXELS) -> np.ndarray:
    """A background reference as RGB uint8, EXIF orientation applied; alpha (if any) is dropped over black."""
    path = Path(path)
    if not path.is_file():
        raise ReferenceImageError(f"reference {path} does not exist; check the path")
    if _decoded_by_us(path):
        try:
            img = read_image(path, role="reference")
        except InputError as e:
            raise ReferenceImageError(str(e)) from None
        if img.shape[0] * img.shape[1] > max_pixels:
            raise ReferenceImageError(f"reference {path} is {img.shape[1]}x{img.shape[0]}, over the "
                                      f"{max_pixels / 1e6:.0f} MP limit; downscale it first")
        return np.ascontiguousarray(img[..., :3])
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > max_pixels:
                raise ReferenceImageError(
                    f"reference {path} is {w}x{h} ({w * h / 1e6:.0f} MP), over the {max_pixels / 1e6:.0f} MP limit; "
                    "downscale it first")
            profile = _embedded_profile(im)
            im = ImageOps.exif_transpose(im)
            if profile is not None:
                return np.asarray(_to_srgb(im, profile), dtype=np.uint8).copy()
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.uint32)
                arr = ((arr * 255 + 32767) // 65535).astype(np.uint8) if arr.max() > 255 else arr.astype(np.uint8)
                return cv2.cvtColor(arr, cv2.COLOR_GRAY2RGB)
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except ReferenceImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise ReferenceImageError(f"reference {path} cannot be read as an image ({e}); give a JPEG/PNG/TIFF") from None


def reference_profile(path: str | Path) -> str | None:
    """The name of the colour profile a reference is converted from to sRGB (None: it is sRGB or says nothing)."""
    if _decoded_by_us(Path(path)):
        return scene_encoding(path)
    try:
        with Image.open(path) as im:
            profile = _embedded_profile(im)
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    return None if profile is None else ImageCms.getProfileDescription(profile).strip() or "an embedded ICC profile"


_PROBE_COLOURS = np.array([[[v, v, v] for v in (0, 32, 64, 128, 192, 255)] +
                           [[255, 0, 0], [0, 255, 0], [0, 0, 255], [200, 100, 50], [50, 160, 210]]], np.uint8)


@cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _embedded_profile(im: Image.Image) -> ImageCms.ImageCmsProfile | None:
    """The image's ICC profile when it is not sRGB (phone photos are often Display P3, print scans Adobe RGB or CMYK:
    read as sRGB they lose saturation or shift hue). A profile that does not parse is ignored, as browsers do."""
    icc = im.info.get("icc_profile")
    if not icc or im.mode in ("I;16", "I;16B", "I;16L", "I"):
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (OSError, ImageCms.PyCMSError):
        return None
    if im.mode not in ("RGB", "RGBA", "P", "PA"):
        return profile
    # an sRGB profile by another name (or an sRGB-like one): the probe colours come through within a code
    probe = Image.fromarray(_PROBE_COLOURS)
    if np.abs(np.asarray(_to_srgb(probe, profile), np.int16) - _PROBE_COLOURS).max() <= 1:
        return None
    return profile


def _to_srgb(im: Image.Image, profile: ImageCms.ImageCmsProfile) -> Image.Image:
    """RGB in sRGB through littlecms (relative colorimetric: colours sRGB holds stay exact, the rest are clipped)."""
    if im.mode not in ("RGB", "CMYK", "L"):  # palette, alpha: the colours alone
        im = im.convert("RGB")
    try:
        return ImageCms.profileToProfile(im, profile, _srgb(), renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
                                         outputMode="RGB")
    except ImageCms.PyCMSError:  # a profile for another colour space than the pixels': read them as they are
        return im.convert("RGB")


def cover(image: np.ndarray, size: tuple[int, int], pixel_aspect: float = 1.0) -> tuple[np.ndarray, tuple[int, int]]:
    """`image` scaled so it covers `size` = (W, H), whole, and where the frame's centre crop starts in it (x0, y0).

    What `fit_cover` cuts away is kept here: a wide panorama's sides are real background the camera may pan onto
    (the plate uses them before any synthetic fill). `pixel_aspect` as for `fit_cover`."""
    W, H = size
    h, w = image.shape[:2]
    scale = max(W * pixel_aspect / w, H / h)  # square (display) pixels per image pixel
    nw, nh = max(W, round(w * scale / pixel_aspect)), max(H, round(h * scale))
    interp = cv2.INTER_AREA if nw * nh < w * h else cv2.INTER_CUBIC
    resized = cv2.resize(image, (nw, nh), interpolation=interp) if (nw, nh) != (w, h) else image
    return resized, ((nw - W) // 2, (nh - H) // 2)


def fit_cover(image: np.ndarray, size: tuple[int, int], pixel_aspect: float = 1.0) -> np.ndarray:
    """Scale `image` so it covers `size` = (W, H) and crop the centre: no borders, no distortion, the
    overflow (left/right for a wide image, top/bottom for a tall one) is cut evenly from both sides.

    `pixel_aspect` (width / height of a frame pixel, e.g. 4/3 for anamorphic HDV) makes it cover the frame as it
    is displayed, (W · pixel_aspect, H) in square pixels, and squeezes the result into W stored columns, so a
    circle in the image is still a circle on screen."""
    W, H = size
    resized, (x0, y0) = cover(image, size, pixel_aspect)
    return np.ascontiguousarray(resized[y0:y0 + H, x0:x0 + W])
