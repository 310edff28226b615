"""Re-cropping chips through the pipeline (pad, detect, align): the training-side twin of
what ``GenderAge`` does to a user's photo."""

from pathlib import Path

import numpy as np
import pytest

from genderage.align import warp_chip
from genderage.training.recrop import central_detection, load_recrops, pad_chip, recrop_chip
from genderage.detect import Detection, create_detector
from genderage.imageio import read_image
from genderage.preprocess import resize_face

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg"


@pytest.fixture(scope="module")
def detector():
    return create_detector()


@pytest.fixture(scope="module")
def chip(detector) -> np.ndarray:
    """A 200x200 chip in UTKFace geometry cut from the example photo by the pipeline."""
    image = read_image(EXAMPLE)
    return warp_chip(image, np.asarray(detector.detect(image)[0].landmarks, np.float64))


def test_pad_chip_frames_the_chip():
    chip = np.full((200, 200, 3), 77, np.uint8)
    padded = pad_chip(chip, 100)
    assert padded.shape == (400, 400, 3)
    assert (padded[100:300, 100:300] == 77).all()
    assert padded[:100].max() == 0 and padded[:, 300:].max() == 0
    assert (pad_chip(chip, 10, "replicate") == 77).all()


def _det(x1, y1, x2, y2):
    return Detection(np.array([x1, y1, x2, y2], np.float32), np.zeros((5, 2), np.float32), 0.9)


def test_central_detection_picks_the_face_nearest_the_centre():
    off_centre, central = _det(0, 0, 60, 60), _det(160, 170, 240, 250)
    assert central_detection([off_centre, central], 200, 100) is central
    # Nothing within a quarter of the chip side of its centre: no face.
    assert central_detection([off_centre], 200, 100) is None
    assert central_detection([], 200, 100) is None


def test_recrop_of_a_chip_reproduces_it(chip, detector):
    recrop = recrop_chip(chip, detector)
    assert recrop.shape == (112, 112, 3) and recrop.dtype == np.uint8
    # The chip is already in chip geometry, so the re-crop is the same face in the same
    # place: measured 5.6 grey levels mean deviation; an unrelated crop (the mirror
    # image) deviates by 50.
    assert np.abs(recrop.astype(np.float32) - resize_face(chip)).mean() < 10


def test_recrop_without_a_face_is_none(detector):
    assert recrop_chip(np.full((200, 200, 3), 128, np.uint8), detector) is None


def test_load_recrops_marks_missing_faces_and_caches(chip, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    from PIL import Image
    Image.fromarray(chip).save(data / "face.png")
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(data / "blank.png")
    (data / "broken.jpg").write_bytes(b"not an image")
    files = ["face.png", "blank.png", "broken.jpg"]
    faces, found = load_recrops(data, files, tmp_path / "cache", workers=1)
    assert faces.shape == (3, 112, 112, 3) and found.tolist() == [True, False, False]
    assert faces[1:].max() == 0
    assert len(list((tmp_path / "cache").glob("recrops_*.npz"))) == 1
    (data / "face.png").unlink()  # a second call reads the cache, not the images
    again, found_again = load_recrops(data, files, tmp_path / "cache", workers=1)
    assert np.array_equal(again, faces) and np.array_equal(found_again, found)
