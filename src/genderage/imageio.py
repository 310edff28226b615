"""Decoding images from files or bytes into RGB uint8 arrays, with clear errors."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

MAX_PIXELS = 50_000_000
"""Images with more pixels than this are refused (decompression-bomb guard)."""


class ImageDecodeError(ValueError):
    """An input could not be turned into an RGB image; the message says why."""


def decode_image(data: bytes, name: str = "<bytes>", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode encoded image bytes into an RGB uint8 ``[H, W, 3]`` array.

    EXIF orientation is applied; grayscale, palette, RGBA (composited on white), 16-bit and
    CMYK inputs are converted to 8-bit RGB.

    Raises:
        ImageDecodeError: empty, corrupt, truncated, non-image or over-large input.
    """
    if not data:
        raise ImageDecodeError(f"{name}: empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.width * img.height > max_pixels:
                    raise ImageDecodeError(
                        f"{name}: image too large ({img.width}x{img.height} pixels, "
                        f"limit {max_pixels:,})")
                img.load()
                return _to_rgb(ImageOps.exif_transpose(img))
    except ImageDecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(f"{name}: image too large ({exc})") from None
    except Image.UnidentifiedImageError:
        raise ImageDecodeError(f"{name}: not an image or unsupported format") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"{name}: corrupt or truncated image ({exc})") from None


def _to_rgb(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if arr.max() > 255 else 255.0
        gray = np.clip(arr * (255.0 / peak), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def read_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file into an RGB uint8 ``[H, W, 3]`` array.

    Raises:
        ImageDecodeError: missing/unreadable file or any :func:`decode_image` failure.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageDecodeError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    return decode_image(data, str(path), max_pixels)
