"""Hand-built PNG bytes for bad-input tests."""

import struct
import zlib


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def png_claiming(width: int, height: int) -> bytes:
    """A ~100-byte PNG whose header claims ``width x height`` RGB (a decompression bomb's shape)."""
    return (b"\x89PNG\r\n\x1a\n"
            + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(bytes(1024))) + png_chunk(b"IEND", b""))
