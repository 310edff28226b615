"""The detector registry and the runtime options every session shares.

A backend is one module that registers itself: a throwaway backend written here is found by
``available_detectors()``, ``create_detector``, ``GenderAge``, the CLI and the service, with
no other file touched. Every backend declares whether it is thread-safe and which file it
needs. One :class:`RuntimeOptions` reaches the attribute model and every detector network:
a worker with a budget of one thread runs every onnxruntime session on one thread, and the
default single-process path keeps its tuned threads (model: onnxruntime's default; MTCNN's
nets 1, 2, 2 and 2 for P-Net's large levels).
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from PIL import Image

from genderage import GenderAge
from genderage.cli import main
from genderage.detect import DetectorError, available_detectors, create_detector, registry
from genderage.onnx_runtime import RuntimeOptions

CENTRE_DETECTOR = '''"""A throwaway backend: one face, the centre square of the image."""
import numpy as np

from genderage.detect.registry import Backend, register
from genderage.detect.types import check_image, drop_small, make_detections

MARKS = np.array([[0.35, 0.4], [0.65, 0.4], [0.5, 0.55], [0.38, 0.72], [0.62, 0.72]])


class CentreDetector:
    name = "centre"
    thread_safe = False

    def __init__(self, score_threshold=0.9, min_face_px=None, runtime=None):
        self.score_threshold, self.min_face_px, self.runtime = score_threshold, min_face_px, runtime

    def detect(self, image_rgb):
        h, w = check_image(image_rgb).shape[:2]
        side = min(h, w) / 2
        x1, y1 = (w - side) / 2, (h - side) / 2
        box = np.array([[x1, y1, x1 + side, y1 + side]])
        found = make_detections(box, MARKS * side + [x1, y1], np.array([0.95]))
        return drop_small(found, self.min_face_px)


register(Backend("centre", lambda path, settings, runtime:
                 CentreDetector(**settings, runtime=runtime)))
'''


@pytest.fixture
def centre_backend(tmp_path, monkeypatch):
    """The module above as ``genderage/detect/centre.py`` (a folder added to the package's
    ``__path__`` stands for the package's own) and ``".centre"`` in ``BACKEND_MODULES``, the
    one line a new backend adds; its registration is dropped after the test."""
    import genderage.detect

    (tmp_path / "centre.py").write_text(CENTRE_DETECTOR)
    monkeypatch.setattr(genderage.detect, "__path__", [*genderage.detect.__path__,
                                                       str(tmp_path)])
    monkeypatch.setattr(registry, "_BACKENDS", dict(registry.backends()))
    monkeypatch.setattr(registry, "BACKEND_MODULES", (*registry.BACKEND_MODULES, ".centre"))
    yield
    sys.modules.pop("genderage.detect.centre", None)


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "photo.png"
    Image.fromarray(rng.integers(60, 200, (240, 320, 3), np.uint8)).save(path)
    return path


def sessions(*owners) -> list:
    """The distinct onnxruntime sessions held by ``owners`` (a model, a detector)."""
    import onnxruntime as ort

    found = {id(v): v for owner in owners for v in vars(owner).values()
             if isinstance(v, ort.InferenceSession)}
    return list(found.values())


def intra_op_threads(*owners) -> list[int]:
    return [s.get_session_options().intra_op_num_threads for s in sessions(*owners)]


# --- a new backend is one module ------------------------------------------------------------

def test_a_backend_module_that_registers_itself_is_found_everywhere(centre_backend, photo,
                                                                    model_path, capsys):
    assert available_detectors() == ["mtcnn", "centre", "mtcnn-v1", "scrfd", "yunet"]
    detector = create_detector("centre", min_face=20, runtime=RuntimeOptions(threads=1))
    assert (detector.min_face_px, detector.runtime) == (20.0, RuntimeOptions(threads=1))

    (face,) = GenderAge(model_path, "centre").predict(photo).faces
    assert face.bbox == pytest.approx([100.0, 60.0, 220.0, 180.0])

    assert main(["predict", "--json", "--model", str(model_path), "--detector", "centre",
                 str(photo)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert [f["bbox"] for f in json.loads(line)["faces"]] == [[100.0, 60.0, 220.0, 180.0]]

    assert main(["info", "--json", "--detector", "centre"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["detector"]["detector"] == "centre" and "centre" in info["detectors"]

    assert main(["predict", "--detector", "nope", str(photo)]) == 2
    assert "unknown detector 'nope': use one of ['mtcnn', 'centre'," in capsys.readouterr().err


def test_the_service_locks_exactly_the_backends_that_are_not_thread_safe(centre_backend,
                                                                         model_path):
    pytest.importorskip("fastapi")
    from genderage.serve.app import create_app

    analyzer = GenderAge(model_path, "centre")
    assert create_app(analyzer).state.serve.predict_lock is not None
    type(analyzer.detector).thread_safe = True  # the backend's declaration, nothing else
    assert create_app(analyzer).state.serve.predict_lock is None


def test_a_backend_registered_twice_is_refused(centre_backend):
    backend = registry.backends()["mtcnn"]
    assert registry.register(backend) is backend  # the same registration again is harmless
    with pytest.raises(ValueError, match="'mtcnn' is registered twice"):
        registry.register(registry.Backend("mtcnn", lambda path, settings, runtime: None))


# --- what every backend declares ------------------------------------------------------------

@pytest.mark.parametrize("name", available_detectors())
def test_every_backend_declares_thread_safety_and_its_file(name, request, monkeypatch):
    backend = registry.backends()[name]
    if backend.model_file is not None:  # asked for by name: looked up, or a clear error
        monkeypatch.delenv(registry.MODEL_DIR_ENV, raising=False)
        with pytest.raises(DetectorError, match=f"needs its model file {backend.model_file}.*"
                                                f"{registry.MODEL_DIR_ENV}"):
            create_detector(name)
        models = request.getfixturevalue("shared_dir") / "models"
        if not (models / backend.model_file).is_file():
            pytest.skip(f"{models / backend.model_file} is absent")
        monkeypatch.setenv(registry.MODEL_DIR_ENV, str(models))
    detector = create_detector(name, runtime=RuntimeOptions(threads=1))
    assert detector.name in available_detectors()
    assert isinstance(vars(type(detector))["thread_safe"], bool)  # declared by the backend
    assert all(t == 1 for t in intra_op_threads(detector))  # a budget reaches every session


def test_the_default_detectors_missing_weights_are_named(tmp_path, monkeypatch):
    import genderage.detect.mtcnn as mtcnn

    monkeypatch.setattr(mtcnn, "weights_dir", lambda: tmp_path)
    with pytest.raises(DetectorError, match=r"cannot read MTCNN weights .*pnet\.lz4"):
        create_detector()


# --- one RuntimeOptions for the model and the detector --------------------------------------

def test_runtime_options_cap_each_sessions_own_threads():
    assert [RuntimeOptions().threads_for(t) for t in (None, 0, 1, 2)] == [None, None, 1, 2]
    assert [RuntimeOptions(threads=1).threads_for(t) for t in (None, 0, 1, 2)] == [1, 1, 1, 1]
    assert [RuntimeOptions(threads=4).threads_for(t) for t in (None, 0, 1, 2)] == [4, 4, 1, 2]
    assert RuntimeOptions(providers=["CPUExecutionProvider"]).providers == ("CPUExecutionProvider",)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="threads must be"):
            RuntimeOptions(threads=bad)


def test_the_default_path_keeps_its_tuned_threads(model_path):
    analyzer = GenderAge(model_path)
    detector = analyzer.detector
    assert intra_op_threads(analyzer.model) == [0]  # onnxruntime's default: one per core
    assert [detector._pnet, detector._pnet_large, detector._rnet, detector._onet] \
        == sessions(detector)
    assert intra_op_threads(detector) == [1, 2, 2, 2]  # P-Net, P-Net's large levels, R, O


@pytest.mark.parametrize("kind", ["photos", "videos"])
def test_a_worker_with_one_thread_runs_every_session_on_one_thread(kind, model_path):
    if kind == "photos":
        from genderage.batch.worker import BatchOptions as Options
        from genderage.batch.worker import ChunkAnalyzer as Analyzer
    else:
        pytest.importorskip("av")
        from genderage.video.table import VideoChunkAnalyzer as Analyzer
        from genderage.video.table import VideoOptions as Options

    worker = Analyzer(Options(model=str(model_path)), threads=1)
    analyzer = worker.analyzer
    assert analyzer.runtime == RuntimeOptions(threads=1)
    assert len(sessions(analyzer.model, analyzer.detector)) == 4  # model, P-Net, R-Net, O-Net
    assert intra_op_threads(analyzer.model, analyzer.detector) == [1, 1, 1, 1]


def test_the_local_engines_worker_process_gets_a_budget_of_one_thread(model_path, monkeypatch):
    from genderage.batch import local
    from genderage.batch.worker import BatchOptions, ChunkAnalyzer

    # What the pool's initializer does in each worker process, minus the process-wide parts.
    monkeypatch.setattr(local, "die_with_parent", lambda pid: None)
    monkeypatch.setattr(local.signal, "signal", lambda *args: None)
    monkeypatch.setattr(local, "_analyzer", None)
    local._start_worker(BatchOptions(model=str(model_path)), ChunkAnalyzer, 0)
    analyzer = local._analyzer.analyzer
    assert intra_op_threads(analyzer.model, analyzer.detector) == [1, 1, 1, 1]


def test_a_budget_of_one_thread_changes_no_detection():
    """Batch workers (one thread) and ``predict`` (MTCNN at 1, 2, 2) find the same faces to
    the last bit, P-Net's large pyramid levels included (a 1200x900 photo searched for
    64 px faces)."""
    import cv2
    from batch_photos import ASTRONAUT

    from genderage.imageio import read_image

    rgb = cv2.resize(read_image(ASTRONAUT), (1200, 900), interpolation=cv2.INTER_AREA)
    tuned, single = create_detector(), create_detector(runtime=RuntimeOptions(threads=1))
    assert intra_op_threads(tuned) != intra_op_threads(single)
    found, again = tuned.detect(rgb), single.detect(rgb)
    assert len(found) >= 1
    assert [d.to_dict() for d in found] == [d.to_dict() for d in again]
    for a, b in zip(found, again):
        assert np.array_equal(a.bbox, b.bbox) and np.array_equal(a.landmarks, b.landmarks)
        assert a.score == b.score


def test_the_old_module_names_the_same_objects():
    """``detect/base.py`` is a re-export: one ``DetectorError`` class, whichever module it is
    imported from, so ``except DetectorError`` catches the registry's and the backends'."""
    from genderage.detect import base, types

    assert base.DetectorError is types.DetectorError is DetectorError
    assert base.create_detector is registry.create_detector is create_detector
    assert base.Detection is types.Detection
    assert set(base.__all__) <= set(vars(base))
