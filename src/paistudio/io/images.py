"""Still images: sequence frames and reference photos (EXIF orientation, 16-bit, alpha, a sane pixel limit)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputError, ReferenceImageError

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
MAX_REFERENCE_PIXELS = 100_000_000  # 100 MP: larger is a mistake or a decompression bomb


def read_image(path: Path, role: str = "image") -> np.ndarray:
    """A sequence frame as RGB or RGBA uint8 (16-bit and grey inputs converted). Fast path: OpenCV."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(f"{role} {path} cannot be read; is it a valid image?")
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


def load_reference(path: str | Path, max_pixels: int = MAX_REFERENCE_PIXELS) -> np.ndarray:
    """A background reference as RGB uint8, EXIF orientation applied; alpha (if any) is dropped over black."""
    path = Path(path)
    if not path.is_file():
        raise ReferenceImageError(f"reference {path} does not exist; check the path")
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > max_pixels:
                raise ReferenceImageError(
                    f"reference {path} is {w}x{h} ({w * h / 1e6:.0f} MP), over the {max_pixels / 1e6:.0f} MP limit; "
                    "downscale it first")
            im = ImageOps.exif_transpose(im)
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.uint32)
                arr = ((arr * 255 + 32767) // 65535).astype(np.uint8) if arr.max() > 255 else arr.astype(np.uint8)
                return cv2.cvtColor(arr, cv2.COLOR_GRAY2RGB)
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except ReferenceImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise ReferenceImageError(f"reference {path} cannot be read as an image ({e}); give a JPEG/PNG/TIFF") from None


def fit_cover(image: np.ndarray, size: tuple[int, int], pixel_aspect: float = 1.0) -> np.ndarray:
    """Scale `image` so it covers `size` = (W, H) and crop the centre: no borders, no distortion, the
    overflow (left/right for a wide image, top/bottom for a tall one) is cut evenly from both sides.

    `pixel_aspect` (width / height of a frame pixel, e.g. 4/3 for anamorphic HDV) makes it cover the frame as it
    is displayed, (W · pixel_aspect, H) in square pixels, and squeezes the result into W stored columns, so a
    circle in the image is still a circle on screen."""
    W, H = size
    h, w = image.shape[:2]
    scale = max(W * pixel_aspect / w, H / h)  # square (display) pixels per image pixel
    nw, nh = max(W, round(w * scale / pixel_aspect)), max(H, round(h * scale))
    interp = cv2.INTER_AREA if nw * nh < w * h else cv2.INTER_CUBIC
    resized = cv2.resize(image, (nw, nh), interpolation=interp) if (nw, nh) != (w, h) else image
    x0, y0 = (nw - W) // 2, (nh - H) // 2
    return np.ascontiguousarray(resized[y0:y0 + H, x0:x0 + W])
