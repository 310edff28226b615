"""Counting the scans of a JPEG before decoding it: the guard against scan bombs.

A progressive JPEG is decoded scan by scan, and every scan walks the whole image's
coefficient buffer however few bytes it holds. A file of a few hundred kilobytes that
repeats one 12-byte refinement scan thousands of times costs libjpeg seconds to minutes of
CPU (issue #28: 4-60 CPU-seconds for 220-330 KB files). Counting start-of-scan markers
reads only the marker structure, so the work a file asks for is known before any decoding.
"""

from __future__ import annotations

import re

# After a start-of-scan header the entropy-coded data runs until the next marker: 0xFF
# followed by anything but a stuffed zero, a restart marker (D0-D7) or another fill byte.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_SOS, _EOI = 0xDA, 0xD9
_NO_LENGTH = {0x01, 0xD8, *range(0xD0, 0xD8)}
_AFTER_SCAN = {0xC4, 0xCC, 0xDB, 0xDC, 0xDD, _SOS, 0xFE, _EOI, *range(0xE0, 0xF0)}
"""Markers that may follow a scan's data: tables, restart interval, number of lines, the
next scan, comments, application segments, end of image. Anything else there (a second
start of image, a frame header, a reserved code) is damaged data."""


def count_scans(data: bytes, stop_after: int) -> int:
    """The number of start-of-scan (SOS) markers in the first image of JPEG ``data``
    (see :func:`walk_scans`)."""
    return walk_scans(data, stop_after)[0]


def walk_scans(data: bytes, stop_after: int) -> tuple[int, int | None]:
    """``(scans, bad_marker)``: the start-of-scan (SOS) markers in the first image of JPEG
    ``data``, and the first marker found right after a scan's data that cannot follow one
    (``None`` if none: damaged entropy-coded data shows up this way; OpenCV decodes such a
    file into a smeared picture where Pillow reports a broken data stream).

    Walks the marker segments from the start-of-image marker to the first end-of-image
    marker (so the thumbnails inside an EXIF segment or a multi-picture file's later images
    are not counted). Stops counting once the count exceeds ``stop_after``, so a bomb costs
    no more than ``stop_after`` regex searches. Other malformed structure ends the walk with
    the count so far: the decoder then reports the file as corrupt.
    """
    count, pos, end = 0, 2, len(data)
    while pos + 1 < end:
        if data[pos] != 0xFF:
            return count, None
        while pos + 1 < end and data[pos + 1] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos + 1 >= end:
            return count, None
        marker = data[pos + 1]
        if marker == _EOI:
            return count, None
        if marker in _NO_LENGTH:
            pos += 2
            continue
        if pos + 4 > end:
            return count, None
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker == _SOS:
            count += 1
            if count > stop_after:
                return count, None
            found = _NEXT_MARKER.search(data, pos)
            if found is None:
                return count, None
            if found[0][1] not in _AFTER_SCAN:
                return count, found[0][1]
            pos = found.start()
    return count, None
