"""Reading frames from a video file or a camera, and writing an annotated video, with OpenCV.

OpenCV's bundled FFmpeg reads mp4, avi, mkv and webm; cameras go through the platform's
capture backend (V4L2 on Linux).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

DEFAULT_CAMERA_FPS = 25.0
"""Frame rate assumed for a camera (or file) that does not report one."""


class VideoOpenError(OSError):
    """A video file or camera could not be opened or decoded; the message says which."""


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes:
        index: position in the source, from 0 (counting frames skipped by ``max_fps``).
        time_s: seconds from the start (file timestamps; wall clock for a camera).
        rgb: uint8 ``[H, W, 3]`` RGB.
    """

    index: int
    time_s: float
    rgb: np.ndarray


class VideoSource:
    """Frames of a video file or a camera.

    Args:
        source: a file path, or an ``int`` camera index.
        max_fps: keep at most this many frames per second of video (frames in between are
            read and dropped); ``None`` keeps every frame.

    Raises:
        VideoOpenError: the file is missing, is not a video OpenCV can decode, or the
            camera cannot be opened.
    """

    def __init__(self, source: str | Path | int, max_fps: float | None = None):
        self.is_camera = isinstance(source, int)
        self.name = f"camera {source}" if self.is_camera else str(source)
        if not self.is_camera and not Path(source).is_file():
            raise VideoOpenError(f"{self.name}: no such file")
        self._capture = cv2.VideoCapture(source if self.is_camera else str(source))
        if not self._capture.isOpened():
            self._capture.release()
            what = "cannot open the camera" if self.is_camera else \
                "not a video file OpenCV can read (mp4, avi, mkv, webm)"
            raise VideoOpenError(f"{self.name}: {what}")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 0 < fps < 1000 else DEFAULT_CAMERA_FPS
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if count > 0 and not self.is_camera else None
        self.size = (int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                     int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        self.step = max(1, round(self.fps / max_fps)) if max_fps else 1

    @property
    def output_fps(self) -> float:
        """Frames per second of the frames this source yields (after ``max_fps``)."""
        return self.fps / self.step

    def frames(self) -> Iterator[Frame]:
        """Decoded frames in order, every ``step``-th one.

        Raises:
            VideoOpenError: the file opened but not a single frame could be decoded.
        """
        start = time.monotonic()
        index = -1
        while True:
            ok = self._capture.grab()
            if not ok:
                break
            index += 1
            if index % self.step:
                continue
            ok, bgr = self._capture.retrieve()
            if not ok or bgr is None:
                break
            if self.is_camera:
                t = time.monotonic() - start
            else:
                msec = self._capture.get(cv2.CAP_PROP_POS_MSEC)
                t = msec / 1000.0 if msec > 0 or index == 0 else index / self.fps
            yield Frame(index, t, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if index < 0:
            raise VideoOpenError(f"{self.name}: no frame could be decoded")

    def close(self) -> None:
        self._capture.release()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoWriter:
    """Writes RGB frames to a video file (MPEG-4 Part 2, ``mp4v``, readable by common players).

    Raises:
        VideoOpenError: the file cannot be created.
    """

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]):
        self.path = Path(path)
        fourcc = cv2.VideoWriter_fourcc(*"mp4v")
        self._writer = cv2.VideoWriter(str(self.path), fourcc, float(fps), tuple(size))
        if not self._writer.isOpened():
            raise VideoOpenError(f"{self.path}: cannot write a video here")
        self.size = tuple(size)

    def write(self, rgb: np.ndarray) -> None:
        """Append one uint8 ``[H, W, 3]`` RGB frame of the writer's size."""
        self._writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        self._writer.release()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
