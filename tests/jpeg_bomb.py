"""A JPEG scan bomb for the decoding-work tests: a progressive JPEG whose last refinement
scan header is repeated with one byte of data each time."""

import io

import numpy as np
from PIL import Image

from genderage.jpeg_scans import _NEXT_MARKER


def progressive_jpeg(w: int, h: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(coarse).resize((w, h), Image.BILINEAR).save(
        buf, "JPEG", quality=80, progressive=True)
    return buf.getvalue()


def scan_bomb(w: int, h: int, extra_scans: int) -> bytes:
    """``progressive_jpeg(w, h)`` with ``extra_scans`` copies of its last scan's header."""
    data = progressive_jpeg(w, h)
    last_sos = data.rindex(b"\xff\xda")
    header = data[last_sos:last_sos + 2 + int.from_bytes(data[last_sos + 2:last_sos + 4], "big")]
    end = _NEXT_MARKER.search(data, len(header) + last_sos).start()
    return data[:end] + (header + b"\x00") * extra_scans + data[end:]
