"""Small test videos made from still photos: each face drifts, zooms, blurs and changes
brightness from frame to frame, the way a face in front of a camera does.

Nothing is written except the video file the test asks for (in its tmp_path).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from genderage.video.io import VideoWriter


def place(canvas: np.ndarray, photo: np.ndarray, cx: float, cy: float, width: float) -> None:
    """Paste ``photo`` scaled to ``width`` pixels wide, centred at (cx, cy), clipped."""
    h, w = photo.shape[:2]
    height = width * h / w
    m = np.array([[width / w, 0, cx - width / 2], [0, height / h, cy - height / 2]])
    warped = cv2.warpAffine(photo, m, canvas.shape[1::-1], flags=cv2.INTER_AREA,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), m, canvas.shape[1::-1],
                          flags=cv2.INTER_NEAREST)
    canvas[mask > 0] = warped[mask > 0]


def animate(photos: list[np.ndarray], size=(320, 240), n_frames: int = 75, width: float = 110,
            seed: int = 0, occlude: tuple[int, int, int] | None = None) -> list[np.ndarray]:
    """Frames with the photos side by side, each moving a little.

    Args:
        photos: RGB uint8 portraits (a face filling most of the photo).
        size: ``(width, height)`` of the frames.
        n_frames: number of frames.
        width: on-screen width of each photo, pixels (before zoom).
        seed: random seed of the blur and brightness changes.
        occlude: ``(photo_index, first_frame, last_frame)``: cover that photo with a grey
            board on those frames (inclusive), like a person walking past.

    Returns:
        ``n_frames`` uint8 ``[H, W, 3]`` RGB frames.
    """
    rng = np.random.default_rng(seed)
    w, h = size
    frames = []
    slots = [(i + 0.5) * w / len(photos) for i in range(len(photos))]
    for t in range(n_frames):
        canvas = np.full((h, w, 3), (60, 70, 80), np.uint8)
        for i, (photo, cx) in enumerate(zip(photos, slots)):
            phase = t / 12.0 + 1.7 * i
            zoom = 1.0 + 0.08 * np.sin(t / 17.0 + i)
            place(canvas, photo, cx + 6 * np.sin(phase), h / 2 + 4 * np.cos(phase * 0.8),
                  width * zoom)
            if occlude is not None and occlude[0] == i and occlude[1] <= t <= occlude[2]:
                x0 = int(cx - width * 0.7)
                canvas[:, max(0, x0):x0 + int(width * 1.4)] = (128, 128, 128)
        sigma = rng.uniform(0.0, 1.2)
        if sigma > 0.3:
            canvas = cv2.GaussianBlur(canvas, (0, 0), sigma)
        gain = rng.uniform(0.8, 1.2)
        frames.append(np.clip(canvas.astype(np.float32) * gain, 0, 255).astype(np.uint8))
    return frames


def write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    """Write RGB frames to ``path`` with genderage's own writer (mp4v)."""
    h, w = frames[0].shape[:2]
    with VideoWriter(path, fps, (w, h)) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def astronaut_portrait() -> np.ndarray:
    """The face region of ``examples/astronaut.jpg`` (public domain), RGB."""
    path = Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg"
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    return rgb[20:300, 110:330]


@dataclass(frozen=True)
class Shot:
    """One camera shot of a synthetic programme.

    Attributes:
        n_frames: its length in frames.
        background: RGB colour behind the faces.
        faces: ``(photo, cx, width)`` per face: the portrait, its centre as a fraction of the
            frame width, and its on-screen width in pixels (before zoom).
    """

    n_frames: int
    background: tuple[int, int, int]
    faces: tuple[tuple[np.ndarray, float, float], ...]


def programme(shots: list[Shot], size=(320, 240), seed: int = 0) -> tuple[list[np.ndarray],
                                                                          list[int]]:
    """Frames of ``shots`` played one after the other with hard cuts, each face drifting,
    zooming, blurring and changing brightness as in :func:`animate`, on a background with a
    soft gradient (a studio wall).

    Returns:
        ``(frames, cuts)``: uint8 ``[H, W, 3]`` RGB frames, and the index of the first frame
        of every shot after the first.
    """
    rng = np.random.default_rng(seed)
    w, h = size
    frames, cuts = [], []
    shade = np.linspace(0.8, 1.15, w, dtype=np.float32)[None, :, None]
    for k, shot in enumerate(shots):
        if k:
            cuts.append(len(frames))
        wall = np.clip(np.full((h, w, 3), shot.background, np.float32) * shade, 0, 255)
        for t in range(shot.n_frames):
            canvas = wall.astype(np.uint8)
            for i, (photo, cx, width) in enumerate(shot.faces):
                phase = (len(frames) + t) / 12.0 + 1.7 * i
                zoom = 1.0 + 0.08 * np.sin(t / 17.0 + i)
                place(canvas, photo, cx * w + 6 * np.sin(phase), h / 2 + 4 * np.cos(phase * 0.8),
                      width * zoom)
            sigma = rng.uniform(0.0, 1.2)
            if sigma > 0.3:
                canvas = cv2.GaussianBlur(canvas, (0, 0), sigma)
            gain = rng.uniform(0.85, 1.15)
            frames.append(np.clip(canvas.astype(np.float32) * gain, 0, 255).astype(np.uint8))
    return frames, cuts


def astronaut_videos(folder: Path, n: int = 2, fps: float = 25.0) -> dict[str, float]:
    """``n`` videos of 1-2 s, one face for the whole video; returns path -> seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    face = astronaut_portrait()
    seconds = {}
    for i in range(n):
        frames, _ = programme([Shot(25 + 10 * i, (70 + 30 * i, 90, 120), ((face, 0.5, 120),))],
                              seed=i)
        seconds[str(write_video(folder / f"v{i}.mp4", frames, fps))] = len(frames) / fps
    return seconds
