"""The annotated video in a codec browsers play, with the source's audio, through PyAV.

OpenCV's writer can only make MPEG-4 Part 2 (``mp4v``), which Chromium refuses (media error
4), and it drops the audio. PyAV (``pip install "genderage[video]"``) bundles FFmpeg with
libx264 and libvpx: ``.webm`` files get VP9, every other name H.264 (``yuv420p``, the
``moov`` atom first so playback starts before the download ends). The source's audio is
copied packet by packet, not re-encoded, when the container takes its codec (MP4: AAC, MP3,
Opus; WebM: Opus, Vorbis); otherwise the video is written without it and the log says so.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

AUDIO_CODECS = {".webm": {"opus", "vorbis"}, None: {"aac", "mp3", "opus"}}
"""Audio codecs copied into each container (``None``: MP4 and the other non-WebM names)."""


def available() -> bool:
    """Whether PyAV is installed."""
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


class BrowserVideoWriter:
    """Writes RGB frames as H.264 (or VP9 for ``.webm``), with ``audio_from``'s audio.

    Args:
        path: the output file (created by FFmpeg; pass a path nothing else uses, such as
            :class:`~genderage.outputs.StagedOutput`'s temporary name).
        fps: frames per second of the frames given to :meth:`write`.
        size: ``(width, height)`` of those frames. Odd sizes are padded by one pixel
            (4:2:0 chroma needs even ones).
        audio_from: the source video, whose audio is copied; ``None`` for none (a camera).
        container_format: FFmpeg's format name, when ``path``'s suffix does not say it.
    """

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int],
                 audio_from: str | Path | None = None, container_format: str | None = None):
        import av

        self.suffix = Path(path).suffix.lower()
        webm = self.suffix == ".webm" or container_format == "webm"
        options = {} if webm else {"movflags": "+faststart"}
        self.container = av.open(str(path), "w", format=container_format, options=options)
        rate = Fraction(fps).limit_denominator(1001)
        self.stream = self.container.add_stream("libvpx-vp9" if webm else "libx264", rate=rate)
        self.size = tuple(size)
        self.stream.width, self.stream.height = (v + v % 2 for v in self.size)
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = ({"crf": "32", "b": "0", "deadline": "realtime", "cpu-used": "8"}
                               if webm else {"crf": "23", "preset": "veryfast"})
        self._frames = 0
        self._rate = rate
        self._audio = None
        if audio_from is not None:
            self._audio = _AudioCopy(audio_from, self.container, ".webm" if webm else None)

    def write(self, rgb: np.ndarray) -> None:
        """Append one uint8 ``[H, W, 3]`` RGB frame of the writer's size."""
        import av

        h, w = rgb.shape[:2]
        if (w, h) != (self.stream.width, self.stream.height):
            rgb = np.pad(rgb, ((0, self.stream.height - h), (0, self.stream.width - w), (0, 0)),
                         mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self._frames
        self._frames += 1
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        if self._audio is not None:
            self._audio.copy_until(self._frames / self._rate)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        if self._audio is not None:
            self._audio.copy_until(None)
            self._audio.close()
        self.container.close()


class _AudioCopy:
    """The packets of a file's first audio stream, muxed unchanged into ``output``."""

    def __init__(self, source: str | Path, output, container_key: str | None):
        import av

        self.input = av.open(str(source))
        streams = self.input.streams.audio
        self.stream = self.packets = None
        if not streams:
            self.input.close()
            self.input = None
            return
        codec = streams[0].codec_context.name
        if codec not in AUDIO_CODECS[container_key]:
            log.warning("%s: its audio (%s) cannot go into this container; the annotated "
                        "video has no sound", source, codec)
            self.input.close()
            self.input = None
            return
        self.source_stream = streams[0]
        self.stream = output.add_stream_from_template(streams[0])
        self.output = output
        self.packets = self.input.demux(streams[0])
        self.pending = None

    def copy_until(self, seconds: float | None) -> None:
        """Mux the audio packets that start before ``seconds`` (all when ``None``)."""
        if self.packets is None:
            return
        while True:
            packet = self.pending or next(self.packets, None)
            self.pending = None
            if packet is None:
                self.packets = None
                return
            if packet.dts is None:  # the demuxer's final flush packet
                continue
            if seconds is not None and packet.pts is not None \
                    and float(packet.pts * packet.time_base) >= seconds:
                self.pending = packet
                return
            packet.stream = self.stream
            self.output.mux(packet)

    def close(self) -> None:
        if self.input is not None:
            self.input.close()
