"""The default detector finds every face of a group photo (issue 23).

Photos composed from All-Age-Faces crops with known faces (genderage.evaluation.group_photos);
skipped without ../shared. The recorded recall is the figure of docs/detection.md for the same
photos: a change that loses more than one point of it fails here.
"""

from __future__ import annotations

import numpy as np
import pytest

from genderage.detect.mtcnn import V02_SETTINGS, MtcnnDetector
from genderage.evaluation import group_photos as gp

RECORDED_RECALL = 0.9896
"""Recall of the default detector on the photos of the ``photos`` fixture (faces >= 20 px
between the eyes: 190 of 192, 0 false boxes), measured when the default was chosen
(docs/detection.md has the same evaluation at 120 photos)."""


@pytest.fixture(scope="module")
def source_faces(shared_dir):
    aaf = shared_dir / "data" / "AAF"
    if not (aaf / "labels.csv").is_file():
        pytest.skip("needs ../shared/data/AAF")
    return gp.load_source_faces(aaf, 80, seed=0)


@pytest.fixture(scope="module")
def photos(source_faces):
    return gp.build_photos(source_faces, n_photos=30, seed=0)


@pytest.fixture(scope="module")
def detector():
    return MtcnnDetector()


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_recall_on_group_photos_holds(photos, detector):
    score = gp.score_detector(detector, photos)
    assert score.summary()["faces_iod20"] == 192
    assert score.recall() >= RECORDED_RECALL - 0.01, score.missed
    assert score.false_boxes <= len(photos) / 10


def test_zero_two_recall_regression_is_caught(photos):
    """The evaluation sees what users saw: 0.2's default misses faces beside larger ones."""
    assert gp.score_detector(MtcnnDetector(**V02_SETTINGS), photos).recall() < 0.8


def _portrait(source_faces, iods, width, height, seed):
    """Faces side by side at the given inter-ocular distances on a plain background."""
    rng = np.random.default_rng(seed)
    canvas = np.full((height, width, 3), 120, np.uint8)
    faces, x = [], 10
    for iod, src in zip(iods, source_faces[5:]):
        scale = iod / float(np.linalg.norm(src.landmarks[1] - src.landmarks[0]))
        w = int(src.crop.shape[1] * scale)
        faces.append(gp._place(canvas, src, scale, x, int(rng.integers(0, 20)), soft=True))
        x += w + 10
    return gp.GroupPhoto("portrait", "scene", "ordinary", canvas, faces)


def test_two_people_of_the_same_size_are_both_found(source_faces, detector):
    # The two-person portrait of issue 23: 0.2 found one face of two.
    photo = _portrait(source_faces, [45, 45], 900, 500, 0)
    found = detector.detect(photo.image)
    matched, false = gp.match(photo.faces, [d.landmarks for d in found])
    assert matched.count(-1) == 0 and false == 0


def test_a_large_face_does_not_hide_small_ones(source_faces, detector):
    # One large face and four at ~22 px between the eyes in a 1600 px wide photo.
    photo = _portrait(source_faces, [110, 22, 22, 22, 22], 1600, 900, 1)
    found = detector.detect(photo.image)
    matched, false = gp.match(photo.faces, [d.landmarks for d in found])
    assert matched.count(-1) == 0, [f.iod for f, m in zip(photo.faces, matched) if m < 0]
    assert false == 0
    # 0.2's default stops at the large face.
    old = MtcnnDetector(**V02_SETTINGS).detect(photo.image)
    assert gp.match(photo.faces, [d.landmarks for d in old])[0].count(-1) >= 3


def test_a_24_face_collage_is_found_whole(source_faces, detector):
    canvas = np.zeros((4 * 190 + 20, 6 * 150 + 20, 3), np.uint8)
    faces = []
    for k, src in enumerate(source_faces[:24]):
        r, c = divmod(k, 6)
        faces.append(gp._place(canvas, src, 150 / src.crop.shape[1], 10 + c * 150,
                               10 + r * 190, soft=False))
    found = detector.detect(canvas)
    matched, false = gp.match(faces, [d.landmarks for d in found])
    assert matched.count(-1) == 0 and false == 0


def test_matching_is_one_to_one_and_size_aware():
    face = gp.Face(np.array([[100, 100], [140, 100], [120, 120], [105, 140], [135, 140]],
                            np.float32), "x")
    same = face.landmarks + 3
    tiny = (face.landmarks - 120) * 0.3 + 120          # right place, a third of the size
    assert gp.match([face], [same]) == ([0], 0)
    assert gp.match([face], [tiny]) == ([-1], 1)
    assert gp.match([face], [same, same + 1]) == ([0], 1)  # a double box is a false box


def test_a_crowd_is_bounded_and_still_found(source_faces, detector, monkeypatch):
    """A photo of 300 faces (a stadium, a class photo): R-Net and O-Net see at most
    MAX_PROPOSALS and MAX_PROPOSALS // 4 boxes, and the faces are still found."""
    from genderage.detect import mtcnn

    monkeypatch.setattr(mtcnn, "MAX_PROPOSALS", 400)
    batches = []
    for name in ("_rnet", "_onet"):
        session = getattr(detector, name)

        class Recorder:
            def run(self, outputs, feeds, s=session, n=name):
                batches.append((n, len(feeds["image"])))
                return s.run(outputs, feeds)

        monkeypatch.setattr(detector, name, Recorder())
    canvas = np.full((15 * 95 + 20, 20 * 80 + 20, 3), 90, np.uint8)
    faces = []
    for k in range(300):
        src = source_faces[k % len(source_faces)]
        r, c = divmod(k, 20)
        faces.append(gp._place(canvas, src, 80 / src.crop.shape[1], 10 + c * 80, 10 + r * 95,
                               soft=False))
    found = detector.detect(canvas)
    assert max(n for name, n in batches if name == "_rnet") <= 400
    assert max(n for name, n in batches if name == "_onet") <= 100
    assert len(found) <= 100
    # The cap keeps the highest-scoring boxes: what is found is faces, not clutter.
    matched, false = gp.match(faces, [d.landmarks for d in found])
    assert false == 0 and 300 - matched.count(-1) == len(found)
