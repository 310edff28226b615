"""Face detection backends: behaviour on real faces, golden values for the numeric helpers,
and clear errors from ``create_detector``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from genderage.detect import (
    Detection,
    Detector,
    DetectorError,
    available_detectors,
    create_detector,
    mtcnn,
)
from genderage.detect.onnx_build import GraphBuilder
from genderage.detect.registry import identify_onnx
from genderage.detect.types import make_detections
from genderage.detect.ops import (
    anchor_centers,
    distance2bbox,
    distance2kps,
    letterbox,
    nms,
    overlap_one_to_many,
)
from genderage.detect.scrfd import decode_scrfd, group_scrfd_outputs
from genderage.imageio import read_image

SHARED = Path(__file__).resolve().parents[2] / "shared"
MODELS = SHARED / "models"
OPTIONAL_MODELS = {
    "yunet_s": "yunet_s_dynamic.onnx",
    "yunet_n": "yunet_n_dynamic.onnx",
    "scrfd_500m": "scrfd_500m_bnkps.onnx",
    "scrfd_2.5g": "scrfd_2.5g_bnkps.onnx",
}
BACKENDS = ["default", *OPTIONAL_MODELS]


@pytest.fixture(scope="module", params=BACKENDS)
def detector(request) -> Detector:
    if request.param == "default":
        return create_detector()
    path = MODELS / OPTIONAL_MODELS[request.param]
    if not path.is_file():
        pytest.skip(f"{path} not available")
    return create_detector(str(path))


@pytest.fixture(scope="module")
def default_detector() -> Detector:
    return create_detector()


@pytest.fixture(scope="module")
def hopper() -> np.ndarray:
    """Grace Hopper's portrait (600x512), shipped with matplotlib (a dev dependency)."""
    cbook = pytest.importorskip("matplotlib.cbook")
    return read_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


@pytest.fixture(scope="module")
def aaf_image() -> np.ndarray:
    folder = SHARED / "data" / "AAF" / "images"
    if not folder.is_dir():
        pytest.skip(f"{folder} not available")
    return read_image(sorted(folder.glob("*.jpg"))[0])


def textured_background(h: int = 480, w: int = 640) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    noise = np.random.default_rng(0).normal(0, 10, (h, w, 3))
    return np.clip(np.stack([90 + xx / 8, 120 + yy / 6, 150 - xx / 10], -1) + noise,
                   0, 255).astype(np.uint8)


def paste(canvas: np.ndarray, face: np.ndarray, height: int, x: int, y: int) -> None:
    import cv2

    width = round(face.shape[1] * height / face.shape[0])
    canvas[y:y + height, x:x + width] = cv2.resize(face, (width, height), interpolation=cv2.INTER_AREA)


def assert_plausible_face(det: Detection, image_shape) -> None:
    assert det.bbox.dtype == np.float32 and det.bbox.shape == (4,)
    assert det.landmarks.dtype == np.float32 and det.landmarks.shape == (5, 2)
    assert 0.0 <= det.score <= 1.0
    x1, y1, x2, y2 = det.bbox
    assert x1 < x2 and y1 < y2
    assert (det.landmarks[:, 0] >= x1).all() and (det.landmarks[:, 0] <= x2).all()
    assert (det.landmarks[:, 1] >= y1).all() and (det.landmarks[:, 1] <= y2).all()
    left_eye, right_eye, nose, mouth_left, mouth_right = det.landmarks
    assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    h, w = image_shape[:2]
    assert -0.1 * w < x1 and x2 < 1.1 * w and -0.1 * h < y1 and y2 < 1.1 * h


# --- behaviour on real faces, every backend --------------------------------------------------

def test_finds_one_face_in_portrait(detector, hopper):
    found = detector.detect(hopper)
    assert len(found) == 1
    assert_plausible_face(found[0], hopper.shape)
    # The face occupies roughly x 170..355, y 105..345 of the 512x600 portrait.
    cx, cy = (found[0].bbox[:2] + found[0].bbox[2:]) / 2
    assert 230 < cx < 300 and 190 < cy < 260


def test_finds_one_face_in_aaf_crop(detector, aaf_image):
    found = detector.detect(aaf_image)
    assert len(found) == 1
    assert_plausible_face(found[0], aaf_image.shape)


def test_two_faces_sorted_by_area(detector, hopper):
    face = hopper[60:420, 110:420]
    image = textured_background()
    paste(image, face, 150, 420, 200)   # small face, right
    paste(image, face, 320, 40, 100)    # large face, left
    found = detector.detect(image)
    assert len(found) == 2
    assert found[0].area > 2.5 * found[1].area
    assert found[0].bbox[2] < 320 < found[1].bbox[0]
    for det in found:
        assert_plausible_face(det, image.shape)


@pytest.mark.parametrize("fill", [0, 128, 255])
def test_blank_image_has_no_face(detector, fill):
    assert detector.detect(np.full((480, 640, 3), fill, np.uint8)) == []


def test_textured_background_has_no_face(detector):
    assert detector.detect(textured_background()) == []


def test_tiny_and_odd_sized_images(detector):
    assert detector.detect(np.zeros((1, 1, 3), np.uint8)) == []
    assert detector.detect(np.full((7, 1000, 3), 90, np.uint8)) == []


@pytest.mark.parametrize("bad", [np.zeros((10, 10, 3), np.float32), np.zeros((10, 10), np.uint8),
                                 np.zeros((10, 10, 4), np.uint8), np.zeros((0, 10, 3), np.uint8)])
def test_rejects_non_rgb_uint8(detector, bad):
    with pytest.raises(ValueError, match="uint8"):
        detector.detect(bad)


def test_score_threshold_is_applied(hopper):
    strict = create_detector(score_threshold=0.99)
    assert strict.score_threshold == 0.99
    assert all(d.score >= 0.99 for d in strict.detect(hopper))
    assert create_detector(score_threshold=0.9).detect(textured_background()) == []


def test_detection_record():
    det = make_detections(np.array([[1, 2, 3, 4]]), np.arange(10), np.array([0.5]))[0]
    assert det.to_dict() == {"bbox": [1.0, 2.0, 3.0, 4.0],
                             "landmarks": [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0], [8.0, 9.0]],
                             "score": 0.5}
    assert det.area == 4.0


def test_make_detections_sorts_by_area_and_clips_scores():
    boxes = np.array([[0, 0, 2, 2], [0, 0, 10, 1], [0, 0, 5, 5]], np.float32)   # areas 4, 10, 25
    found = make_detections(boxes, np.zeros((3, 5, 2)), np.array([0.9, 1.2, -0.1]))
    assert [d.area for d in found] == [25.0, 10.0, 4.0]
    assert [d.score for d in found] == [0.0, 1.0, pytest.approx(0.9)]


# --- create_detector ----------------------------------------------------------------------------

def test_available_detectors_lists_default_first():
    names = available_detectors()
    assert names[0] == "mtcnn" and {"yunet", "scrfd"} <= set(names)
    assert create_detector().name == create_detector("default").name == "mtcnn"


def test_unknown_name_is_a_clear_error():
    with pytest.raises(DetectorError, match=r"unknown detector 'retinaface'.*mtcnn"):
        create_detector("retinaface")


def test_missing_model_file(tmp_path):
    with pytest.raises(DetectorError, match="not found"):
        create_detector(str(tmp_path / "absent.onnx"))


def test_bogus_model_file(tmp_path):
    path = tmp_path / "bogus.onnx"
    path.write_bytes(b"this is not a protobuf")
    with pytest.raises(DetectorError, match=r"bogus\.onnx: cannot load as an ONNX model"):
        create_detector(str(path))


def test_onnx_that_is_no_detector(tmp_path):
    g = GraphBuilder()
    g.node("Relu", ["x"], ["y"])
    path = tmp_path / "relu.onnx"
    path.write_bytes(g.model([("x", ["N", 3])], [("y", ["N", 3])]))
    with pytest.raises(DetectorError, match=r"relu\.onnx: not a SCRFD or YuNet face detector \(outputs: y"):
        create_detector(str(path))


def test_named_optional_backend_needs_a_file(monkeypatch):
    monkeypatch.delenv("GENDERAGE_DETECTOR_DIR", raising=False)
    with pytest.raises(DetectorError, match="GENDERAGE_DETECTOR_DIR"):
        create_detector("scrfd")


def test_score_threshold_out_of_range():
    with pytest.raises(DetectorError, match="score_threshold"):
        create_detector(score_threshold=1.5)


@pytest.mark.parametrize("file,kind", [("yunet_s_dynamic.onnx", "yunet"),
                                       ("scrfd_500m_bnkps.onnx", "scrfd"),
                                       ("scrfd_2.5g_bnkps.onnx", "scrfd")])
def test_model_kind_recognised_from_file(file, kind, monkeypatch):
    if not (MODELS / file).is_file():
        pytest.skip(f"{MODELS / file} not available")
    assert create_detector(str(MODELS / file)).name == kind
    monkeypatch.setenv("GENDERAGE_DETECTOR_DIR", str(MODELS))
    assert create_detector(kind).name == kind


def test_an_onnx_file_finds_its_backend_by_its_outputs():
    yunet = [(f"{p}_{s}", ["batch", "dim", d]) for p, d in
             (("cls", 1), ("obj", 1), ("bbox", 4), ("kps", 10)) for s in (8, 16, 32)]
    assert identify_onnx(yunet).name == "yunet"
    scrfd = [(str(440 + i), [None, d]) for i, d in enumerate([1, 1, 1, 4, 4, 4, 10, 10, 10])]
    assert identify_onnx(scrfd).name == "scrfd"
    with pytest.raises(DetectorError, match="without keypoints"):
        identify_onnx(scrfd[:6])
    with pytest.raises(DetectorError, match="not a SCRFD or YuNet face detector"):
        identify_onnx([("loc", [1, "n", 4]), ("conf", [1, "n", 2]), ("landmarks", [1, "n", 10])])


# --- numeric helpers: golden values ----------------------------------------------------------

def test_nms_golden():
    boxes = np.array([[0, 0, 10, 10],     # 0: IoU with 3 = 50/100 = 0.5
                      [1, 1, 11, 11],     # 1: IoU with 0 = 81/119 = 0.681, with 3 = 36/114
                      [20, 20, 30, 30],   # 2: disjoint
                      [0, 0, 10, 5]],     # 3: best score
                     np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    # Suppression needs overlap strictly above the threshold: at 0.5 box 0 survives box 3.
    assert nms(boxes, scores, 0.5).tolist() == [3, 0, 2]
    assert nms(boxes, scores, 0.49).tolist() == [3, 1, 2]
    assert nms(boxes, scores, 0.3).tolist() == [3, 2]
    # Intersection over the smaller area: box 3 lies inside box 0 (overlap 1); box 1 covers
    # 36 of box 3's 50 px^2 (0.72).
    assert nms(boxes, scores, 0.75, mode="min").tolist() == [3, 1, 2]
    assert nms(boxes, scores, 0.7, mode="min").tolist() == [3, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


@pytest.mark.parametrize("mode", ["union", "min"])
def test_nms_pairwise_matrix_matches_row_by_row(monkeypatch, mode):
    """The N x N fast path and the row-at-a-time path (used past _PAIRWISE_MAX boxes) keep
    exactly the same boxes, ties and degenerate boxes included."""
    from genderage.detect import ops

    rng = np.random.default_rng(0)
    for trial in range(300):
        n = int(rng.integers(1, 60))
        xy, wh = rng.uniform(0, 100, (n, 2)), rng.uniform(0, 40, (n, 2))
        wh[: n // 4] *= trial % 2  # some zero-area boxes
        boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
        scores = rng.integers(0, 5, n).astype(np.float32)  # many ties
        threshold = float(rng.uniform(0, 1))
        fast = ops.nms(boxes, scores, threshold, mode)
        monkeypatch.setattr(ops, "_PAIRWISE_MAX", -1)
        slow = ops.nms(boxes, scores, threshold, mode)
        monkeypatch.undo()
        assert fast.tolist() == slow.tolist(), trial


def test_overlap_golden():
    box = np.array([0, 0, 10, 10], np.float32)
    others = np.array([[5, 0, 15, 10], [0, 0, 10, 10], [10, 10, 20, 20], [2, 2, 4, 4], [3, 3, 3, 8]],
                      np.float32)
    np.testing.assert_allclose(overlap_one_to_many(box, others), [50 / 150, 1, 0, 4 / 100, 0])
    np.testing.assert_allclose(overlap_one_to_many(box, others, "min"), [0.5, 1, 0, 1, 0])


def test_anchor_centers_and_distances_golden():
    centers = anchor_centers(16, 24, 8, 2)          # 2 rows x 3 cols, 2 anchors per cell
    assert centers.shape == (12, 2)
    np.testing.assert_array_equal(centers[:6], [[0, 0], [0, 0], [8, 0], [8, 0], [16, 0], [16, 0]])
    np.testing.assert_array_equal(centers[6], [0, 8])
    assert anchor_centers(17, 17, 8, 1).shape == (9, 2)   # partial cells count (ceil)
    np.testing.assert_allclose(distance2bbox([[10, 20]], [[1, 2, 3, 4]]), [[9, 18, 13, 24]])
    np.testing.assert_allclose(distance2kps([[10, 20]], [[1, -1, 0, 2]]), [[[11, 19], [10, 22]]])


def test_scrfd_decoding_golden():
    """Hand-built outputs of a 32x32 input: stride 8 has 4x4 cells, 16 has 2x2, 32 has 1,
    two anchors each -> 32, 8 and 2 rows."""
    rows = {8: 32, 16: 8, 32: 2}
    scores = {s: np.zeros((1, n, 1), np.float32) for s, n in rows.items()}
    bboxes = {s: np.zeros((1, n, 4), np.float32) for s, n in rows.items()}
    kpss = {s: np.zeros((1, n, 10), np.float32) for s, n in rows.items()}
    # Stride 8, cell (row 1, col 2), second anchor: row index (1 * 4 + 2) * 2 + 1 = 13,
    # anchor centre (16, 8); distances are in stride units.
    scores[8][0, 13, 0] = 0.9
    bboxes[8][0, 13] = [1, 0.5, 2, 1]
    kpss[8][0, 13] = [0, 0, 1, 0, 0.5, 0.5, -1, 1, 1, 1]
    scores[32][0, 0, 0] = 0.7                      # centre (0, 0)
    bboxes[32][0, 0] = [1, 1, 1, 1]
    scores[16][0, 3, 0] = 0.4                      # below the threshold
    order = [32, 8, 16]                            # any order: strides are found by row count
    boxes, kps, sc = decode_scrfd([scores[s] for s in order], [bboxes[s] for s in order],
                                  [kpss[s] for s in order], 32, 32, 0.5)
    np.testing.assert_allclose(sc, [0.9, 0.7])
    np.testing.assert_allclose(boxes, [[8, 4, 32, 16], [-32, -32, 32, 32]])
    np.testing.assert_allclose(kps[0], [[16, 8], [24, 8], [20, 12], [8, 16], [24, 16]])
    np.testing.assert_allclose(kps[1], np.zeros((5, 2)))


def test_scrfd_output_grouping():
    assert group_scrfd_outputs([1, 1, 1, 4, 4, 4, 10, 10, 10]) == {
        "score": [0, 1, 2], "bbox": [3, 4, 5], "kps": [6, 7, 8]}
    with pytest.raises(DetectorError):
        group_scrfd_outputs([1, 4, 10, 2, 4, 10, 1, 4, 10])


def test_letterbox_maps_back_to_image_pixels():
    image = np.zeros((50, 100, 3), np.uint8)
    canvas, box = letterbox(image, 64)
    assert canvas.shape == (32, 64, 3)
    np.testing.assert_allclose(box.to_image([[32, 16, 64, 32]]), [[50, 25, 100, 50]])
    # Border 0.25 of the longer side: 25 px each side, so 150 px -> 64: scale 64/150.
    canvas, box = letterbox(image, 64, border=0.25)
    assert canvas.shape == (64, 96, 3) and box.pad_x == box.pad_y == 11
    assert canvas[:11].max() == 0 and canvas.shape[0] % 32 == 0 and canvas.shape[1] % 32 == 0
    np.testing.assert_allclose(box.to_image([[11, 11, 54, 32]]), [[0, 0, 100, 50]], atol=1e-5)


# --- MTCNN: weights, graphs, cascade helpers --------------------------------------------------

def test_mtcnn_weights_are_verified(tmp_path):
    for name in ("pnet", "rnet", "onet"):
        data = (mtcnn.weights_dir() / f"{name}.lz4").read_bytes()
        assert hashlib.sha256(data).hexdigest() == mtcnn.WEIGHT_SHA256[name]
    (tmp_path / "pnet.lz4").write_bytes(b"tampered")
    with pytest.raises(DetectorError, match="unexpected SHA-256"):
        mtcnn.load_weights("pnet", tmp_path)
    with pytest.raises(DetectorError, match="cannot read MTCNN weights"):
        mtcnn.load_weights("rnet", tmp_path)


def _conv_valid(x, kernel, bias):
    """Reference 'valid' convolution: x [H, W, Cin], Keras kernel [kh, kw, Cin, Cout]."""
    kh, kw = kernel.shape[:2]
    h, w = x.shape[0] - kh + 1, x.shape[1] - kw + 1
    out = np.zeros((h, w, kernel.shape[3]))
    for i in range(h):
        for j in range(w):
            out[i, j] = np.tensordot(x[i:i + kh, j:j + kw], kernel, axes=3) + bias
    return out


def test_pnet_graph_matches_reference_convolution():
    """P-Net built from random Keras-layout weights vs a direct numpy forward pass."""
    rng = np.random.default_rng(0)
    shapes = [(3, 3, 3, 10), (10,), (1, 1, 10), (3, 3, 10, 16), (16,), (1, 1, 16),
              (3, 3, 16, 32), (32,), (1, 1, 32), (1, 1, 32, 4), (4,), (1, 1, 32, 2), (2,)]
    w = [rng.normal(0, 0.3, s).astype(np.float32) for s in shapes]
    x = rng.uniform(-1, 1, (15, 13, 3)).astype(np.float32)

    def prelu(v, a):
        return np.where(v > 0, v, v * a.reshape(-1))
    y = prelu(_conv_valid(x, w[0], w[1]), w[2])                    # 13 x 11
    y = np.pad(y, ((0, 1), (0, 1), (0, 0)), constant_values=-np.inf)  # TF "same" pooling
    y = y.reshape(7, 2, 6, 2, 10).max(axis=(1, 3))
    y = prelu(_conv_valid(y, w[3], w[4]), w[5])
    y = prelu(_conv_valid(y, w[6], w[7]), w[8])                     # 3 x 2 x 32
    reg = _conv_valid(y, w[9], w[10])
    logits = _conv_valid(y, w[11], w[12])
    prob = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)

    session = ort.InferenceSession(mtcnn.build_pnet(w), providers=["CPUExecutionProvider"])
    got_reg, got_prob = session.run(["reg", "prob"], {"image": x[None]})
    np.testing.assert_allclose(got_reg[0], reg, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got_prob[0], prob, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape, alpha_shape", [((2, 5, 4, 3), (5, 1, 1)), ((6, 7), (7,))])
def test_prelu_rewrite_equals_onnx_prelu_bit_for_bit(shape, alpha_shape):
    """The MTCNN graphs' Relu(x) + alpha * Min(x, 0) gives exactly ONNX PRelu's values, for
    per-channel (conv) and per-feature (dense) slopes, negative and above 1 included."""
    rng = np.random.default_rng(1)
    x = rng.normal(0, 2, shape).astype(np.float32)
    x.flat[:4] = [0.0, -0.0, 1e-30, -1e-30]
    alpha = rng.uniform(-1.5, 1.5, alpha_shape).astype(np.float32)
    g = GraphBuilder()
    g.node("Identity", [mtcnn._prelu(g, "x", alpha)], ["rewritten"])
    g.node("PRelu", ["x", g.constant(alpha)], ["reference"])
    dims = [f"d{i}" for i in range(len(shape))]
    session = ort.InferenceSession(g.model([("x", dims)], [("rewritten", dims), ("reference", dims)]),
                                   providers=["CPUExecutionProvider"])
    rewritten, reference = session.run(None, {"x": x})
    np.testing.assert_array_equal(rewritten, reference)
    np.testing.assert_array_equal(reference, np.where(x > 0, x, x * alpha))


def test_blocked_prelu_equals_onnx_prelu_bit_for_bit():
    """The conv maps' PReLU as depthwise convolutions, Relu(x) + (-alpha) * Relu(-x), gives
    exactly ONNX PRelu's values: zeros, tiny values, negative slopes and slopes above 1."""
    rng = np.random.default_rng(2)
    x = rng.normal(0, 2, (2, 16, 5, 4)).astype(np.float32)
    x.flat[:4] = [0.0, -0.0, 1e-30, -1e-30]
    alpha = rng.uniform(-1.5, 1.5, 16).astype(np.float32)
    g = GraphBuilder()
    g.node("Identity", [mtcnn._prelu_blocked(g, "x", alpha)], ["rewritten"])
    g.node("PRelu", ["x", g.constant(alpha.reshape(-1, 1, 1))], ["reference"])
    dims = ["N", 16, "H", "W"]
    session = ort.InferenceSession(g.model([("x", dims)], [("rewritten", dims), ("reference", dims)]),
                                   providers=["CPUExecutionProvider"])
    rewritten, reference = session.run(None, {"x": x})
    np.testing.assert_array_equal(rewritten, reference)


@pytest.mark.parametrize("blocked", [True, False])
def test_mtcnn_graphs_equal_textbook_graphs_bit_for_bit(monkeypatch, hopper, blocked):
    """Both forms of the graphs (for onnxruntime's blocked layout: depthwise PReLU, explicit
    pool pads, padded first layers; and the elementwise one) compute exactly what the
    textbook graphs (ONNX PRelu, auto_pad pooling) compute, on a real photo: P-Net on levels
    of odd and even sizes, R-Net and O-Net on batches of crops in and out of the image."""
    def run(model, names, feeds):
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        return session.run(names, feeds)

    weights = {name: mtcnn.load_weights(name) for name in ("pnet", "rnet", "onet")}
    graphs = {name: getattr(mtcnn, f"build_{name}")(w, blocked) for name, w in weights.items()}
    with monkeypatch.context() as m:
        m.setattr(mtcnn, "_prelu", lambda g, x, alpha: g.node("PRelu", [x, g.constant(alpha)]))
        textbook = {name: getattr(mtcnn, f"build_{name}")(w, blocked=False)
                    for name, w in weights.items()}
    for size in [(12, 12), (13, 17), (53, 37), (160, 120), (301, 257)]:
        level = mtcnn.normalise(cv2.resize(hopper, size, interpolation=cv2.INTER_AREA))[None]
        want = run(textbook["pnet"], ["reg", "prob"], {"image": level})
        got = run(graphs["pnet"], ["reg", "prob"], {"image": level})
        for w, g in zip(want, got):
            np.testing.assert_array_equal(g, w)
    rng = np.random.default_rng(3)
    corners = rng.integers(-40, 480, (64, 2))
    boxes = np.concatenate([corners, corners + rng.integers(12, 200, (64, 1))], 1)
    for name, size, outputs in [("rnet", 24, ["reg", "prob"]),
                                ("onet", 48, ["reg", "landmarks", "prob"])]:
        crops = mtcnn.crop_patches(hopper, boxes.astype(np.float32), size)
        want = run(textbook[name], outputs, {"image": crops})
        got = run(graphs[name], outputs, {"image": crops})
        for w, g in zip(want, got):
            np.testing.assert_array_equal(g, w)


def test_graph_builder_gemm_and_negative_attributes():
    g = GraphBuilder()
    y = g.node("Gemm", ["x", g.constant(np.array([[1.0, 2.0], [3.0, 4.0]])),
                        g.constant(np.array([0.5, -0.5]))])
    g.node("Softmax", [y], ["p"], axis=-1)
    session = ort.InferenceSession(g.model([("x", ["N", 2])], [("p", ["N", 2])]),
                                   providers=["CPUExecutionProvider"])
    (p,) = session.run(None, {"x": np.array([[1.0, 1.0]], np.float32)})
    logits = np.array([4.5, 5.5])
    np.testing.assert_allclose(p[0], np.exp(logits) / np.exp(logits).sum(), rtol=1e-6)


def test_mtcnn_geometry_golden():
    # 12 px windows over faces >= 24 px: scales 0.5 * 0.709^k while 100 * scale >= 12.
    np.testing.assert_allclose(mtcnn.pyramid_scales(100, 200, 24),
                               [0.5 * 0.709 ** k for k in range(5)], rtol=1e-6)
    np.testing.assert_allclose(mtcnn.calibrate(np.array([[10., 20, 30, 60]]),
                                               np.array([[0.1, -0.25, 0.5, 0]])),
                               [[12, 10, 40, 60]])
    np.testing.assert_array_equal(mtcnn.to_square(np.array([[10., 20, 30, 60], [0, 0, 0.2, 0.1]])),
                                  [[0, 20, 40, 60], [0, 0, 1, 1]])


def test_crop_patches_reads_outside_as_black():
    image = np.full((10, 10, 3), 255, np.uint8)
    patches = mtcnn.crop_patches(image, np.array([[-10., 0, 10, 20]]), 4)
    # Left half of the box is outside the image, bottom half too: only the top-right quarter
    # is white (normalised (255 - 127.5) / 128), the rest black ((0 - 127.5) / 128).
    white, black = (255 - 127.5) / 128, -127.5 / 128
    np.testing.assert_allclose(patches[0, :2, 2:], white)
    np.testing.assert_allclose(patches[0, 2:, :], black)
    np.testing.assert_allclose(patches[0, :, :2], black)


def test_mtcnn_thread_settings_change_speed_not_results(default_detector, hopper):
    # The default runs P-Net on one thread and R-Net/O-Net on two
    # (docs/experiments/2026-11-29-latency.md).
    assert [s.get_session_options().intra_op_num_threads for s in
            (default_detector._pnet, default_detector._rnet, default_detector._onet)] == [1, 2, 2]
    single = mtcnn.MtcnnDetector(threads=1)
    assert single._onet.get_session_options().intra_op_num_threads == 1
    a, b = default_detector.detect(hopper), single.detect(hopper)
    assert len(a) == len(b) == 1
    np.testing.assert_allclose(a[0].landmarks, b[0].landmarks, atol=1e-3)
    np.testing.assert_allclose(a[0].score, b[0].score, atol=1e-5)


# --- MTCNN settings: the v1 cascade, the faster default, the resampling helpers -------------

V1_HOPPER_LANDMARKS = [[218.8419, 191.7136], [308.5130, 186.2113], [266.8470, 237.6298],
                       [228.0512, 275.9668], [307.5477, 271.8550]]
"""Grace Hopper's landmarks from the genderage 0.1 default detector (commit 16e65b0)."""


def test_v1_settings_reproduce_the_v1_cascade(hopper):
    found = mtcnn.MtcnnDetector(**mtcnn.V1_SETTINGS).detect(hopper)
    assert len(found) == 1
    np.testing.assert_allclose(found[0].landmarks, V1_HOPPER_LANDMARKS, atol=1e-3)
    np.testing.assert_allclose(found[0].bbox, [173.3547, 109.7724, 349.4574, 329.7885], atol=1e-3)


def test_default_passes_search_small_faces_first_time():
    # Since issue 23 the first pass already searches down to the smallest face; 0.2 searched
    # small faces only when nothing larger was found.
    det = mtcnn.MtcnnDetector()
    assert det._passes() == [(0.1, 24.0), (0.25, 24.0)]
    assert mtcnn.MtcnnDetector(**mtcnn.V02_SETTINGS)._passes() == \
        [(0.1, 48.0), (0.25, 48.0), (0.1, 24.0)]
    v1 = mtcnn.MtcnnDetector(**mtcnn.V1_SETTINGS)
    assert v1._passes() == [(0.1, 24.0), (0.25, 24.0)]


def test_canvas_grows_with_the_photo_so_min_face_px_stays_in_image_pixels():
    det = mtcnn.MtcnnDetector()                         # min_face_px 64 -> 24 canvas px
    assert det.canvas_side(480, 640, 0.1) == 288         # 768 * 24 / 64
    assert det.canvas_side(200, 200, 0.1) == 160         # a small crop: the floor
    assert det.canvas_side(1080, 1920, 0.1) == 864       # 2304 * 24 / 64
    assert det.canvas_side(20000, 30000, 0.1) == mtcnn.MAX_CANVAS
    assert mtcnn.MtcnnDetector(**mtcnn.V1_SETTINGS).canvas_side(1080, 1920, 0.1) == 320


def test_small_face_alone_is_found(hopper):
    # A 70 px tall crop in a 640x480 photo: its face box (~38 px wide) is below what 0.2's
    # first pass finds (boxes from ~46 px here); its small-face pass and today's default
    # search find it.
    image = textured_background()
    paste(image, hopper[60:420, 110:420], 70, 300, 200)
    assert mtcnn.MtcnnDetector(**{**mtcnn.V02_SETTINGS, "small_face_retry": None}
                               ).detect(image) == []
    assert len(mtcnn.MtcnnDetector(**mtcnn.V02_SETTINGS).detect(image)) == 1
    found = mtcnn.MtcnnDetector().detect(image)
    assert len(found) == 1
    assert_plausible_face(found[0], image.shape)
    assert 300 < found[0].bbox[0] and found[0].bbox[2] < 300 + 70


def test_shrink_is_an_exact_box_average_then_bilinear():
    from genderage.detect.ops import shrink

    image = np.arange(8 * 12 * 3, dtype=np.uint8).reshape(8, 12, 3)
    out, covered = shrink(image, (6, 4))                 # factor 2 exactly: box means only
    assert covered == (12, 8)
    means = image.reshape(4, 2, 6, 2, 3).astype(np.float64).mean(axis=(1, 3))
    np.testing.assert_allclose(out, np.round(means), atol=1)
    out, covered = shrink(image[:7, :11], (3, 2))        # factor 3: the remainder is dropped
    assert covered == (9, 6) and out.shape == (2, 3, 3)
    np.testing.assert_allclose(out, np.round(image[:6, :9].reshape(2, 3, 3, 3, 3)
                                             .astype(np.float64).mean(axis=(1, 3))), atol=1)
    out, covered = shrink(image, (8, 6))                 # factor < 2: bilinear only
    assert covered == (12, 8) and out.shape == (6, 8, 3)


def test_fast_letterbox_maps_back_to_image_pixels():
    # A bright square at a known place must come back at the same place from the canvas.
    image = np.zeros((480, 641, 3), np.uint8)
    image[100:200, 300:400] = 255
    canvas, box = letterbox(image, 320, border=0.1, multiple=1, fast=True)
    ys, xs = np.nonzero(canvas[..., 0] > 127)
    corners = box.to_image([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]])
    np.testing.assert_allclose(corners, [[300, 100, 400, 200]], atol=1.5)


def test_detector_fingerprint_names_the_settings():
    """Cache keys of detections (AAF landmarks, re-crops) change with the detector's
    settings: genderage 0.1's cascade (`mtcnn-v1`) and today's default differ."""
    from genderage.detect.registry import detector_fingerprint
    from genderage.detect.mtcnn import V1_SETTINGS

    assert detector_fingerprint(None) == detector_fingerprint("mtcnn") \
        == detector_fingerprint("default")
    v1 = detector_fingerprint("mtcnn-v1")
    assert v1 != detector_fingerprint(None)
    assert "'min_face': 24.0" in v1 and "'refine_nms': 0.7" in v1
    det = create_detector("mtcnn-v1")
    assert {k: getattr(det, k) for k in V1_SETTINGS} == V1_SETTINGS
