"""Decoding images from files or bytes into RGB uint8 arrays, with clear errors.

Two ways to decode: :func:`decode_image` / :func:`read_image` / :func:`load_image` give the
full resolution; :func:`decode_reduced` / :func:`load_image_reduced` decode a very large
image at an integer fraction of its size (JPEG DCT scaling, Pillow ``reduce`` otherwise) and
say by how much, for detection and alignment, which need far fewer pixels (see
:data:`REDUCED_MIN_SIDE` for the rule).
"""

from __future__ import annotations

import io
import math
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, JpegImagePlugin

from .jpeg_scans import walk_scans

MAX_PIXELS = 40_000_000
"""Images with more pixels than this (read from the header, before decoding) are refused:
the decompression-bomb guard. 40 Mpx takes the largest common camera outputs (36 Mpx
full-frame, 24 Mpx APS-C, 12 Mpx phones) and refuses the 48-50 Mpx sizes that cost seconds
of CPU for nothing: detection looks at a 320-pixel canvas and a face at a 112-pixel chip."""

MAX_FILE_BYTES = 64 * 2**20
"""Files larger than this are refused before reading: 64 MiB, several times a 40 Mpx
camera JPEG (10-20 MB)."""

MAX_JPEG_SCANS = 100
"""A JPEG is refused (``"too_complex"``) when it has more scans than this, or more than
:data:`JPEG_SCAN_PIXELS` allows for its size: the scan-bomb guard (see
:mod:`genderage.jpeg_scans`). Encoders write 1-3 scans (baseline) or about 10
(progressive: libjpeg's default script has 10 for colour, 6 for grey)."""

JPEG_SCAN_PIXELS = 1_000_000_000
"""Scans x pixels a JPEG may ask the decoder for: 25 scans at 40 Mpx, 27 at 36 Mpx, the
:data:`MAX_JPEG_SCANS` cap from 10 Mpx down. Each scan walks the whole image, so this bounds
the decoding work per image; never fewer than :data:`MIN_JPEG_SCANS` are allowed."""

MIN_JPEG_SCANS = 16

REDUCED_MIN_SIDE = 2048
""":func:`decode_reduced` never lets the longer side fall below this many pixels.

Why that keeps every face's chip at full detail with the default detector: MTCNN searches
a 320-pixel canvas holding the image plus a 10% border for faces of at least 24 canvas
pixels, so the smallest face it can find spans 24 / 320 * 1.2 = 9% of the image's longer
side: at least 184 pixels at 2048. The 112x112 chip holds a face of about 100 pixels (44
between the eyes), so even that smallest face is still shrunk (by ~1.8x) into its chip:
the reduced image has more pixels on every detectable face than the chip can use. Images
with a longer side under 4096 are never reduced. (:class:`~genderage.pipeline.GenderAge`
scales this side with the detector's canvas when it is larger than 320.)"""


class ImageDecodeError(ValueError):
    """An input could not be turned into an RGB image; the message says why.

    ``kind`` says why in a machine-readable way, one of :data:`DECODE_ERROR_KINDS`:
    ``"empty"``, ``"not_image"``, ``"corrupt"`` (corrupt or truncated), ``"too_large"``
    (too many pixels or bytes), ``"too_complex"`` (a JPEG with more scans than
    :func:`allowed_jpeg_scans` allows) or ``"unreadable"`` (the file could not be read, or is not a
    regular file).
    """

    def __init__(self, message: str, kind: str = "corrupt"):
        super().__init__(message)
        self.kind = kind

    def __reduce__(self):
        return type(self), (str(self), self.kind)


DECODE_ERROR_KINDS = ("empty", "not_image", "corrupt", "too_large", "too_complex", "unreadable")

IMAGE_SIGNATURES = {
    b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG", b"GIF87a": "GIF", b"GIF89a": "GIF",
    b"BM": "BMP", b"II*\x00": "TIFF", b"MM\x00*": "TIFF", b"RIFF": "WebP",
    b"\x00\x00\x00\x0cjP  ": "JPEG 2000", b"\xff\x4f\xff\x51": "JPEG 2000",
}
"""Leading bytes of the common formats: data that starts like one but that Pillow cannot
identify is a truncated or corrupt file of that format, not a non-image."""


@dataclass(frozen=True)
class DecodedImage:
    """An image decoded at ``1 / factor`` of its size.

    Attributes:
        rgb: uint8 ``[h, w, 3]`` RGB.
        factor: source pixels per decoded pixel along each axis (1: full resolution). A
            point ``(x, y)`` of ``rgb`` is ``(x * factor, y * factor)`` in the source.
    """

    rgb: np.ndarray
    factor: int = 1


def decode_image(data: bytes, name: str = "<bytes>", max_pixels: int = MAX_PIXELS,
                 opencv_jpeg: bool = True) -> np.ndarray:
    """Decode encoded image bytes into an RGB uint8 ``[H, W, 3]`` array, full resolution.

    EXIF orientation is applied; grayscale, palette, RGBA (composited on white), 16-bit and
    CMYK inputs are converted to 8-bit RGB.

    Args:
        opencv_jpeg: let OpenCV decode plain JPEGs (the same pixels, faster; see
            :func:`_decode_plain_jpeg`); ``False``: Pillow decodes everything, as genderage
            0.1 did (benchmarks compare against it).

    Raises:
        ImageDecodeError: empty, corrupt, truncated, non-image or over-large input.
    """
    return _decode(data, name, max_pixels, None, opencv_jpeg).rgb


def decode_reduced(data: bytes, name: str = "<bytes>", max_pixels: int = MAX_PIXELS,
                   min_side: int = REDUCED_MIN_SIDE) -> DecodedImage:
    """:func:`decode_image`, but a large image comes back reduced by an integer factor.

    The factor is the largest that keeps the longer side at ``min_side`` pixels or more
    (for JPEG: 2, 4 or 8, decoded that small by DCT scaling, so the full image is never in
    memory; other formats are decoded, then box-filtered by ``Image.reduce``). Images with
    a longer side under ``2 * min_side`` come back at full resolution, ``factor == 1``.
    ``max_pixels`` applies to the full size.

    Raises:
        ImageDecodeError: as :func:`decode_image`.
    """
    return _decode(data, name, max_pixels, min_side)


def _decode(data: bytes, name: str, max_pixels: int, min_side: int | None,
            opencv_jpeg: bool = True) -> DecodedImage:
    if not data:
        raise ImageDecodeError(f"{name}: empty file", "empty")
    too_large = ImageDecodeError(f"{name}: image too large (over the limit of "
                                 f"{max_pixels:,} pixels)", "too_large")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.width * img.height > max_pixels:
                    raise ImageDecodeError(
                        f"{name}: image too large ({img.width}x{img.height} pixels, "
                        f"limit {max_pixels:,})", "too_large")
                _check_jpeg_scans(img, data, name)
                longer = max(img.size)
                factor = max(1, longer // min_side) if min_side else 1
                if factor == 1 and opencv_jpeg:
                    fast = _decode_plain_jpeg(img, data)
                    if fast is not None:
                        return DecodedImage(fast)
                if factor > 1 and isinstance(img, JpegImagePlugin.JpegImageFile):  # + MPO
                    img.draft(img.mode, (math.ceil(img.width / factor),
                                         math.ceil(img.height / factor)))
                    factor = round(longer / max(img.size))
                img.load()
                # In place: no copy of the pixels when there is no orientation to apply.
                ImageOps.exif_transpose(img, in_place=True)
                if factor > 1 and max(img.size) == longer:  # not already drafted smaller
                    img = _reduce(img, factor)
                return DecodedImage(_to_rgb(img), factor)
    except ImageDecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own guard fired first (its limit, not ours, would be in its message).
        raise too_large from None
    except Image.UnidentifiedImageError:
        kind = _signature_format(data)
        if kind is not None:
            raise ImageDecodeError(f"{name}: corrupt or truncated {kind} image",
                                   "corrupt") from None
        raise ImageDecodeError(f"{name}: not an image or unsupported format",
                               "not_image") from None
    except MemoryError:
        raise too_large from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"{name}: corrupt or truncated image ({exc})",
                               "corrupt") from None
    except Exception as exc:  # noqa: BLE001 - malformed files reach odd corners of Pillow
        raise ImageDecodeError(f"{name}: corrupt image ({type(exc).__name__}: {exc})",
                               "corrupt") from None


def allowed_jpeg_scans(pixels: int) -> int:
    """How many scans a JPEG of ``pixels`` pixels may have (see :data:`JPEG_SCAN_PIXELS`)."""
    return max(MIN_JPEG_SCANS, min(MAX_JPEG_SCANS, JPEG_SCAN_PIXELS // max(1, pixels)))


def _check_jpeg_scans(img: Image.Image, data: bytes, name: str) -> None:
    """Refuse scan bombs (``too_complex``) and damaged scan data (``corrupt``) from the
    marker structure, before decoding (:func:`~genderage.jpeg_scans.walk_scans`)."""
    if not isinstance(img, JpegImagePlugin.JpegImageFile):  # + MPO
        return
    allowed = allowed_jpeg_scans(img.width * img.height)
    scans, bad_marker = walk_scans(data, stop_after=allowed)
    if bad_marker is not None:
        raise ImageDecodeError(f"{name}: corrupt JPEG data (marker 0xFF{bad_marker:02X} "
                               f"inside the image data)", "corrupt")
    if scans > allowed:
        raise ImageDecodeError(
            f"{name}: JPEG too complex to decode (more than {allowed} scans for "
            f"{img.width}x{img.height} pixels; ordinary files have at most about 10)",
            "too_complex")


EXIF_ORIENTATION = 0x0112


def _decode_plain_jpeg(img: Image.Image, data: bytes) -> np.ndarray | None:
    """The pixels of a complete, upright, 8-bit RGB or grayscale JPEG, decoded by OpenCV;
    ``None`` for anything else (Pillow decodes it).

    Both libraries decode with libjpeg-turbo's defaults, so the pixels are the same to the
    bit (``tests/test_imageio.py`` checks every subsampling, progressive and grayscale);
    OpenCV's decode is ~2.5 ms faster on a 640x480 photo (no row-by-row Pillow buffers and
    no ``tobytes`` copy). Only files that end with the JPEG end-of-image marker take this
    path: OpenCV fills a truncated file with grey where Pillow reports it, and such files
    must keep failing. Oriented (EXIF orientation other than 1), CMYK and multi-picture
    files go through Pillow.
    """
    if img.format != "JPEG" or img.mode not in ("RGB", "L") or not data.endswith(b"\xff\xd9"):
        return None
    if img.getexif().get(EXIF_ORIENTATION, 1) != 1:
        return None
    import cv2

    bgr = cv2.imdecode(np.frombuffer(data, np.uint8),
                       cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if bgr is None or bgr.shape[:2] != (img.height, img.width):
        return None
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _reduce(img: Image.Image, factor: int) -> Image.Image:
    """Box-filter ``img`` down by ``factor``, first widening modes ``reduce`` lacks."""
    if img.mode.startswith("I;16"):
        img = img.convert("I")  # keeps the 16-bit range for _to_rgb
    elif img.mode in ("P", "PA"):
        img = img.convert("RGBA" if img.mode == "PA" or "transparency" in img.info else "RGB")
    elif img.mode == "1":
        img = img.convert("L")
    return img.reduce(factor)


def _signature_format(data: bytes) -> str | None:
    """The format ``data`` starts like: its whole signature, or (cut shorter than the
    signature, at least 2 bytes) the signature's start, as a 2-byte ``FF D8`` JPEG."""
    for signature, fmt in IMAGE_SIGNATURES.items():
        if data.startswith(signature) or (2 <= len(data) < len(signature)
                                          and signature.startswith(data)):
            return fmt
    return None


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


def read_file_bytes(path: str | os.PathLike, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``.

    FIFOs, devices, sockets and folders are refused without reading (a FIFO would block,
    ``/dev/zero`` never ends); the file is opened non-blocking for that check, so even a
    FIFO with no writer returns at once.

    Raises:
        ImageDecodeError: ``"unreadable"`` (missing, unreadable, not a regular file) or
            ``"too_large"`` (over ``max_bytes``); the message names the path.
    """
    path = os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ImageDecodeError(f"{path}: cannot read file ({exc.strerror or exc})",
                               "unreadable") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
        os.close(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ImageDecodeError(f"{path}: not a regular file ({_file_type(info.st_mode)})",
                                   "unreadable")
        raise ImageDecodeError(f"{path}: file too large ({info.st_size:,} bytes, limit "
                               f"{max_bytes:,})", "too_large")
    with os.fdopen(fd, "rb") as f:
        try:
            data = f.read(max_bytes + 1)
        except OSError as exc:
            raise ImageDecodeError(f"{path}: cannot read file ({exc.strerror or exc})",
                                   "unreadable") from None
    if len(data) > max_bytes:  # the file grew while we read it
        raise ImageDecodeError(f"{path}: file too large (limit {max_bytes:,} bytes)",
                               "too_large")
    return data


def _file_type(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a special file"


def read_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file into an RGB uint8 ``[H, W, 3]`` array.

    Raises:
        ImageDecodeError: missing/unreadable/non-regular/oversized file or any
            :func:`decode_image` failure.
    """
    return decode_image(read_file_bytes(path), os.fspath(path), max_pixels)


ImageSource = str | os.PathLike | bytes | np.ndarray | DecodedImage | Image.Image
"""What :func:`load_image` (and ``GenderAge.predict``) accepts."""


def source_name(source: ImageSource) -> str | None:
    """The path of a file source as a string; ``None`` for bytes and arrays."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return None


def load_image(source: ImageSource, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Any supported input -> RGB uint8 ``[H, W, 3]``, full resolution.

    Args:
        source: a file path (``str`` / ``os.PathLike``), encoded image ``bytes``, a PIL
            image (any mode; converted to RGB, EXIF orientation applied), or an RGB uint8
            ``[H, W, 3]`` array (returned as is, C-contiguous; for OpenCV's BGR arrays see
            ``GenderAge.predict(..., color="bgr")``).

    Raises:
        ImageDecodeError: unreadable or undecodable input, or an array of the wrong
            dtype/shape; the message names the file (or says which kind of input it was).
    """
    return _load(source, max_pixels, None).rgb


def load_image_reduced(source: ImageSource, max_pixels: int = MAX_PIXELS,
                       min_side: int = REDUCED_MIN_SIDE) -> DecodedImage:
    """:func:`load_image` with :func:`decode_reduced` for files and bytes; arrays and
    :class:`DecodedImage` inputs are passed through as they are."""
    return _load(source, max_pixels, min_side)


def _load(source: ImageSource, max_pixels: int, min_side: int | None) -> DecodedImage:
    if isinstance(source, DecodedImage):
        return DecodedImage(_checked_array(source.rgb), source.factor)
    if isinstance(source, (str, os.PathLike)):
        return _decode(read_file_bytes(source), os.fspath(source), max_pixels, min_side)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _decode(bytes(source), "<bytes>", max_pixels, min_side)
    if isinstance(source, np.ndarray):
        return DecodedImage(_checked_array(source))
    if isinstance(source, Image.Image):
        return DecodedImage(_from_pil(source, max_pixels))
    raise ImageDecodeError(f"<{type(source).__name__}>: expected a path, bytes, a PIL image or "
                           f"an RGB uint8 array", "not_image")


def _from_pil(img: Image.Image, max_pixels: int) -> np.ndarray:
    """A PIL image (any mode) as RGB uint8, its EXIF orientation applied, as for files."""
    if img.width * img.height > max_pixels:
        raise ImageDecodeError(f"<PIL image>: image too large ({img.width}x{img.height} "
                               f"pixels, limit {max_pixels:,})", "too_large")
    try:
        img.load()
        upright = ImageOps.exif_transpose(img) or img
        return _to_rgb(upright)
    except (OSError, ValueError) as exc:
        raise ImageDecodeError(f"<PIL image>: cannot read its pixels ({exc})",
                               "corrupt") from None


def _checked_array(source: np.ndarray) -> np.ndarray:
    if source.dtype != np.uint8 or source.ndim != 3 or source.shape[2] != 3 \
            or min(source.shape[:2]) < 1:
        raise ImageDecodeError(f"<array>: expected uint8 [H,W,3] RGB, got {source.dtype} "
                               f"{source.shape}", "not_image")
    return np.ascontiguousarray(source)
