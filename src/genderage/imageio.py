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
    """An input could not be turned into an RGB image; the message says why.

    ``kind`` says why in a machine-readable way, one of :data:`DECODE_ERROR_KINDS`:
    ``"empty"``, ``"not_image"``, ``"corrupt"`` (corrupt or truncated), ``"too_large"``
    (too many pixels) or ``"unreadable"`` (the file could not be read).
    """

    def __init__(self, message: str, kind: str = "corrupt"):
        super().__init__(message)
        self.kind = kind

    def __reduce__(self):
        return type(self), (str(self), self.kind)


DECODE_ERROR_KINDS = ("empty", "not_image", "corrupt", "too_large", "unreadable")


def decode_image(data: bytes, name: str = "<bytes>", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode encoded image bytes into an RGB uint8 ``[H, W, 3]`` array.

    EXIF orientation is applied; grayscale, palette, RGBA (composited on white), 16-bit and
    CMYK inputs are converted to 8-bit RGB.

    Raises:
        ImageDecodeError: empty, corrupt, truncated, non-image or over-large input.
    """
    if not data:
        raise ImageDecodeError(f"{name}: empty file", "empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.width * img.height > max_pixels:
                    raise ImageDecodeError(
                        f"{name}: image too large ({img.width}x{img.height} pixels, "
                        f"limit {max_pixels:,})", "too_large")
                img.load()
                # In place: no copy of the pixels when there is no orientation to apply.
                ImageOps.exif_transpose(img, in_place=True)
                return _to_rgb(img)
    except ImageDecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(f"{name}: image too large ({exc})", "too_large") from None
    except Image.UnidentifiedImageError:
        raise ImageDecodeError(f"{name}: not an image or unsupported format",
                               "not_image") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"{name}: corrupt or truncated image ({exc})",
                               "corrupt") from None
    except Exception as exc:  # noqa: BLE001 - malformed files reach odd corners of Pillow
        raise ImageDecodeError(f"{name}: corrupt image ({type(exc).__name__}: {exc})",
                               "corrupt") from None


def _to_rgb(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        # 16-bit modes span 0..65535; 32-bit "I" carries no depth, so judge by the values.
        peak = 65535.0 if img.mode != "I" or arr.max() > 255 else 255.0
        gray = np.clip(np.rint(arr * (255.0 / peak)), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.array(img, dtype=np.uint8)  # a writable copy, independent of the Pillow image


def read_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file into an RGB uint8 ``[H, W, 3]`` array.

    Raises:
        ImageDecodeError: missing/unreadable file or any :func:`decode_image` failure.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageDecodeError(f"{path}: cannot read file ({exc.strerror or exc})",
                               "unreadable") from None
    return decode_image(data, str(path), max_pixels)


ImageSource = str | os.PathLike | bytes | np.ndarray
"""What :func:`load_image` (and ``GenderAge.predict``) accepts."""


def source_name(source: ImageSource) -> str | None:
    """The path of a file source as a string; ``None`` for bytes and arrays."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return None


def load_image(source: ImageSource, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Any supported input -> RGB uint8 ``[H, W, 3]``.

    Args:
        source: a file path (``str`` / ``os.PathLike``), encoded image ``bytes``, or an RGB
            uint8 ``[H, W, 3]`` array (returned as is, C-contiguous).

    Raises:
        ImageDecodeError: unreadable or undecodable input, or an array of the wrong
            dtype/shape; the message names the file (or says which kind of input it was).
    """
    if isinstance(source, (str, os.PathLike)):
        return read_image(source, max_pixels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_image(bytes(source), "<bytes>", max_pixels)
    if isinstance(source, np.ndarray):
        if source.dtype != np.uint8 or source.ndim != 3 or source.shape[2] != 3 \
                or min(source.shape[:2]) < 1:
            raise ImageDecodeError(f"<array>: expected uint8 [H,W,3] RGB, got {source.dtype} "
                                   f"{source.shape}", "not_image")
        return np.ascontiguousarray(source)
    raise ImageDecodeError(f"<{type(source).__name__}>: expected a path, bytes or an RGB "
                           f"uint8 array", "not_image")
