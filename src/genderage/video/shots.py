"""Shot boundaries: where a video cuts from one camera shot to the next.

A hard cut changes the whole picture between two frames; motion, zoom, blur and lighting
inside a shot change it little. Each frame is shrunk to :data:`THUMB_WIDTH` pixels wide and
compared with the previous frame by two scores:

- ``colour``: the Bhattacharyya distance between the hue-saturation histograms
  (:data:`HUE_BINS` x :data:`SAT_BINS`) of the two thumbnails, in [0, 1]. Hue and saturation
  do not change when the light gets brighter or darker.
- ``layout``: ``1 - r``, ``r`` the correlation between the two grey thumbnails after
  undoing the shift between them that phase correlation finds (a camera pan moves the
  picture without changing it), in [0, 2]. A correlation ignores brightness and contrast; it
  catches a cut between two shots of the same colours (the same studio, another speaker).

A frame starts a new shot when ``colour >= COLOUR_CUT``, or when ``layout >= MIN_LAYOUT``,
neither half of the picture stayed as it was, and either ``colour + layout >= CUT_SCORE``
or the score is a spike (at least ``SPIKE_SCORE`` and ``SPIKE_RATIO`` times the mean of the
frames before it). The thresholds were set on synthetic programmes made by
``tests/video_synth.py``; ``tests/test_video_shots.py`` checks them and docs/video.md gives
the measurements. Known misses and false cuts: a cut that leaves one half of the picture
unchanged (the same wall, a speaker on the other side) is missed; a whip pan that phase
correlation loses, or a flash that more than doubles the brightness, can be taken for a
cut (the track is then split in two and keeps its seconds). Fades and dissolves are not
detected: a track continues through them.

No scene-detection library is used: PySceneDetect would pull in click, platformdirs and tqdm
for a test that OpenCV does in a few lines here.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

THUMB_WIDTH = 64
"""Thumbnail width in pixels (height keeps the frame's aspect)."""
HUE_BINS, SAT_BINS = 16, 8
CUT_SCORE = 0.45
"""``colour + layout`` at or above which a frame starts a new shot..."""
MIN_LAYOUT = 0.12
"""... provided ``layout`` is at least this: colour alone is too easily moved by light."""
STILL_HALF = 0.98
"""... and provided neither half of the picture stayed as it was: something that covers one
side (a board, a passer-by) is not a cut. A half stayed when its correlation is at least
this, or differs from 1 by at most twice the mean ``layout`` of the frames before (frames far
apart, as under ``--max-fps``, differ more inside a shot)."""
COLOUR_CUT = 0.6
"""Colour score that makes a cut by itself (two shots of the same layout, other colours)."""
SPIKE_SCORE, SPIKE_RATIO, SPIKE_FRAMES = 0.2, 3.0, 8
"""A lower score is a cut too when it stands out: at least ``SPIKE_SCORE`` and
``SPIKE_RATIO`` times the mean score of the ``SPIKE_FRAMES`` frames before it (a cut between
two similar shots, in a shot that was otherwise still)."""


@dataclass(frozen=True)
class ShotChange:
    """The scores of one frame against the previous one, and the verdict.

    Attributes:
        colour: hue-saturation histogram distance (Bhattacharyya), [0, 1].
        layout: ``1 - correlation`` of the grey thumbnails, [0, 2].
        cut: the frame starts a new shot.
    """

    colour: float
    layout: float
    cut: bool


def thumbnail(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two signatures of a frame: a normalised hue-saturation histogram (float32
    ``[HUE_BINS, SAT_BINS]``) and a standardised grey thumbnail (float32, mean 0, SD 1;
    all zeros for a flat frame).

    Args:
        rgb: uint8 ``[H, W, 3]`` RGB.
    """
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (THUMB_WIDTH, max(1, round(THUMB_WIDTH * h / w))),
                       interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [HUE_BINS, SAT_BINS], [0, 180, 0, 256])
    # Spread each bin's mass to its neighbours (hue wraps around): a flat wall whose colour
    # sits on a bin edge would otherwise jump between two bins as the light flickers.
    hist = (2 * hist + np.roll(hist, 1, 0) + np.roll(hist, -1, 0)) / 4
    hist[:, 1:-1] = (2 * hist[:, 1:-1] + hist[:, :-2] + hist[:, 2:]) / 4
    hist /= max(float(hist.sum()), 1.0)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    sd = float(grey.std())
    grey = (grey - grey.mean()) / sd if sd > 1e-3 else np.zeros_like(grey)
    return hist, grey


def aligned_correlation(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Correlations of two grey thumbnails after shifting ``b`` by the whole-pixel
    translation that phase correlation finds between them (a camera pan moves the picture;
    it does not change it), over the part where they overlap: ``(whole, half)``, the
    correlation of the whole overlap and the larger of its left and right halves', each in
    [-1, 1]. A cut changes both halves; something passing in front of one side does not."""
    (dx, dy), _ = cv2.phaseCorrelate(a, b)
    dx, dy = int(round(dx)), int(round(dy))
    h, w = a.shape
    if abs(dx) >= w // 2 or abs(dy) >= h // 2:
        dx = dy = 0
    # b[y, x] ~ a[y - dy, x - dx]
    a = a[max(0, -dy):h + min(0, -dy), max(0, -dx):w + min(0, -dx)]
    b = b[max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)]
    half = a.shape[1] // 2
    return _correlation(a, b), max(_correlation(a[:, :half], b[:, :half]),
                                   _correlation(a[:, half:], b[:, half:]))


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    sa, sb = float(a.std()), float(b.std())
    if sa < 1e-3 or sb < 1e-3:
        return 1.0 if sa < 1e-3 and sb < 1e-3 and abs(float(a.mean() - b.mean())) < 0.5 else 0.0
    return float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))


class ShotDetector:
    """Feed frames in order; :meth:`update` says whether each one starts a new shot.

    The first frame starts shot 0 (not counted as a cut). ``shot`` is the current shot's
    index.
    """

    def __init__(self):
        self._previous: tuple[np.ndarray, np.ndarray] | None = None
        self._recent: deque[tuple[float, float]] = deque(maxlen=SPIKE_FRAMES)
        self.shot = 0

    def update(self, rgb: np.ndarray) -> ShotChange:
        """Compare ``rgb`` (uint8 ``[H, W, 3]``) with the previous frame given."""
        current = thumbnail(rgb)
        previous, self._previous = self._previous, current
        if previous is None or previous[1].shape != current[1].shape:
            return ShotChange(0.0, 0.0, False)
        colour = float(cv2.compareHist(previous[0], current[0], cv2.HISTCMP_BHATTACHARYYA))
        whole, half = aligned_correlation(previous[1], current[1])
        layout = 1.0 - whole
        score = colour + layout
        recent = np.array(self._recent).reshape(-1, 2)
        baseline = float(recent[:, 0].mean()) if len(recent) == SPIKE_FRAMES else None
        still_half = 1.0 - half <= max(1.0 - STILL_HALF,
                                       2 * float(recent[:, 1].mean()) if len(recent) else 0.0)
        self._recent.append((score, layout))
        cut = colour >= COLOUR_CUT or (layout >= MIN_LAYOUT and not still_half and (
            score >= CUT_SCORE
            or (baseline is not None and score >= SPIKE_SCORE
                and score >= SPIKE_RATIO * baseline)))
        if cut:
            self._recent.clear()
            self.shot += 1
        return ShotChange(colour, layout, cut)
