"""The default detector: MTCNN (Zhang et al. 2016) with the weights of the ``mtcnn`` PyPI package.

The ``mtcnn`` package (MIT) ships the original P-Net/R-Net/O-Net weights as numpy arrays
(``mtcnn/assets/weights/*.lz4``, read with joblib); its own code needs TensorFlow, so we never
import it. We rebuild the three networks as ONNX graphs (:mod:`.onnx_build`), run them with
onnxruntime, and implement the cascade here:

1. P-Net slides over an image pyramid (12 px windows, stride 2) and proposes boxes;
2. R-Net rescores 24x24 crops of the proposals and refines their boxes;
3. O-Net rescores 48x48 crops, refines the boxes and places the five landmarks.

Graphs take NHWC images and return NHWC maps, so that callers index ``[row, col]`` as usual.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import math
import platform
from pathlib import Path

import cv2
import numpy as np

from ..onnx_runtime import RuntimeOptions
from .onnx_build import GraphBuilder
from .ops import letterbox, nms, shrink
from .registry import Backend, register
from .session import open_session
from .types import Detection, DetectorError, check_image, drop_small, make_detections

logger = logging.getLogger(__name__)

WEIGHT_SHA256 = {
    "pnet": "ea6b0c3e685ebee3165326ad6484acc95f2ef78f1c94fbf40a55704fa989f7b5",
    "rnet": "cb00e6460f3c98b0bfafaba3c0a0ded4bdf6e62cee7174d969e8670d7e757fee",
    "onet": "94f6ea2f4cf985275ee958cdd762d17b6009348a4fb9d8c6be39ba73ffd22ca3",
}
"""SHA-256 of the weight files in ``mtcnn==1.0.0``; other files are refused, not guessed at."""

PIXEL_MEAN, PIXEL_SCALE = 127.5, 1.0 / 128.0
"""Network input = (RGB pixel - 127.5) / 128."""

V1_SETTINGS = {"min_face": 24.0, "small_face_retry": None, "refine_nms": 0.7, "fast_resize": False,
               "min_face_px": None, "stage_thresholds": (0.6, 0.7), "score_threshold": 0.7,
               "input_size": 320}
"""The cascade of genderage 0.1 (the release before issue 19): ``MtcnnDetector(**V1_SETTINGS)``
reproduces its detections; benchmarks compare against it."""

V02_SETTINGS = {"min_face": 48.0, "small_face_retry": 24.0, "min_face_px": None,
                "stage_thresholds": (0.6, 0.7), "score_threshold": 0.7, "input_size": 320}
"""The default of genderage 0.2 (issue 19): a 48 canvas-px search, and faces down to 24 canvas
px only when nothing larger was found. It misses small faces beside large ones (issue 23);
kept for the benchmarks' tables."""

DEFAULT_MIN_FACE_PX = 64.0
"""The default detector's ``min_face_px``: finds faces from about 20 px between the eyes (the
group-photo evaluation in docs/detection.md)."""

PNET_LARGE_LEVEL = 12_000
"""Pyramid levels of at least this many pixels run P-Net on R-Net's thread count: two threads
pay from about 100x120 pixels up, and cost more than they save below
(docs/experiments/2026-12-06-detection-recall.md)."""

MAX_PROPOSALS = 2000
"""At most this many P-Net proposals (the highest-scoring) go to R-Net, and at most
``MAX_PROPOSALS // 4`` R-Net boxes to O-Net: a photo of a stadium costs a bounded time."""

MAX_CANVAS = 4096
"""Largest canvas side searched, whatever ``min_face_px`` asks: bounds time and memory."""


def weights_dir() -> Path:
    """Folder holding ``pnet.lz4``, ``rnet.lz4``, ``onet.lz4`` in the installed ``mtcnn``
    package, found without importing it (its ``__init__`` imports TensorFlow)."""
    spec = importlib.util.find_spec("mtcnn")
    if spec is None or not spec.submodule_search_locations:
        raise DetectorError("the default face detector needs the 'mtcnn' package "
                            "(pip install 'mtcnn==1.0.0'); it provides the weights")
    return Path(next(iter(spec.submodule_search_locations))) / "assets" / "weights"


def load_weights(name: str, folder: Path | None = None) -> list[np.ndarray]:
    """The Keras-ordered weight arrays of ``"pnet"``, ``"rnet"`` or ``"onet"``, checksum-verified.

    Raises:
        DetectorError: missing file, or a file whose SHA-256 is not the expected one.
    """
    path = (folder or weights_dir()) / f"{name}.lz4"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DetectorError(f"cannot read MTCNN weights {path}: {exc.strerror or exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != WEIGHT_SHA256[name]:
        raise DetectorError(f"{path}: unexpected SHA-256 {digest}; genderage expects the weights "
                            f"of mtcnn==1.0.0")
    import joblib

    return [np.asarray(a, np.float32) for a in joblib.load(path)]


BLOCKED_LAYOUT = platform.machine().lower() in ("x86_64", "amd64")
"""Whether onnxruntime runs convolutions here in its blocked NCHWc layout (its x86-64 CPU
kernels; it has none for ARM), and so whether the graphs are built for that layout. Both
forms compute the same values bit for bit; each is the faster where it is used (the blocked
one takes 0.67-0.94 of the other's CPU time on x86-64, and 1.10-1.29 times it with the layout
pass switched off: docs/experiments/2026-12-06-detection-recall.md, section 9)."""

CHANNEL_BLOCK = 16
"""onnxruntime's blocked layout holds channels in blocks of 8 or 16 (the CPU's vector width);
a map whose channel count is not a multiple runs its depthwise and pooling operators outside
that layout."""


def _prelu(g: GraphBuilder, x: str, alpha: np.ndarray) -> str:
    """``PRelu(x, alpha)`` written as ``Relu(x) + alpha * Min(x, 0)``: the same values bit for
    bit (one of the two terms is exactly zero), but onnxruntime's broadcasting Mul/Add are
    several times faster than its PRelu kernel."""
    zero = g.constant(np.zeros((), np.float32), "zero")
    negative = g.node("Mul", [g.node("Min", [x, zero]), g.constant(alpha)])
    return g.node("Add", [g.node("Relu", [x]), negative])


def _prelu_blocked(g: GraphBuilder, x: str, alpha: np.ndarray) -> str:
    """``PRelu`` of a ``[N, C, H, W]`` feature map with per-channel slopes ``alpha [C]``, as
    ``Relu(x) + (-alpha) * Relu(-x)`` where both scalings are depthwise 1x1 convolutions.

    The same values bit for bit (negation is exact, and one of the two terms is exactly
    zero), but every operator here runs in onnxruntime's blocked layout, the first Relu fused
    into the first convolution and the addition into the second: :func:`_prelu`'s Min/Mul/Add
    made the map leave that layout and come back around every PReLU."""
    channels = alpha.size
    zero_bias = g.constant(np.zeros(channels, np.float32), "zero")

    def depthwise(y: str, weight: np.ndarray) -> str:
        kernel = g.constant(weight.reshape(channels, 1, 1, 1).astype(np.float32))
        return g.node("Conv", [y, kernel, zero_bias], kernel_shape=[1, 1], group=channels)

    negative_part = g.node("Relu", [depthwise(x, np.full(channels, -1.0))])
    return g.node("Add", [depthwise(negative_part, -alpha.reshape(-1)), g.node("Relu", [x])])


def _layers(g: GraphBuilder, blocked: bool):
    """The convolution + PReLU and the max-pooling layers of graph ``g``, written for
    onnxruntime's blocked layout or not (:data:`BLOCKED_LAYOUT`)."""

    def conv_prelu(x: str, kernel: np.ndarray, bias: np.ndarray, alpha: np.ndarray) -> str:
        # Keras kernels are [kh, kw, in, out]; ONNX wants [out, in, kh, kw].
        y = g.node("Conv", [x, g.constant(kernel.transpose(3, 2, 0, 1)), g.constant(bias)],
                   kernel_shape=list(kernel.shape[:2]))
        return _prelu_blocked(g, y, alpha) if blocked else _prelu(g, y, alpha.reshape(-1, 1, 1))

    def pool(x: str, size: int, same: bool) -> str:
        if not blocked:  # TensorFlow "same" pooling pads at the end, as ONNX SAME_UPPER does
            return g.node("MaxPool", [x], kernel_shape=[size, size], strides=[2, 2],
                          auto_pad="SAME_UPPER" if same else "VALID")
        # SAME_UPPER with stride 2 pads one row and column at the end for 2x2 windows on any
        # input, and for 3x3 windows on an even-sized input (R-Net pools 22x22 maps and O-Net
        # 46x46 this way); a pad no window reaches changes nothing. Written as explicit pads,
        # the pool stays in the blocked layout (auto_pad does not).
        return g.node("MaxPool", [x], kernel_shape=[size, size], strides=[2, 2],
                      pads=[0, 0, 1, 1] if same else [0, 0, 0, 0])

    return conv_prelu, pool


def _pad_first_layer(w: list[np.ndarray]) -> list[np.ndarray]:
    """The Keras weights with the first convolution's output channels (and the second's input
    channels) padded with zeros to a multiple of :data:`CHANNEL_BLOCK`: P-Net's 10 become 16,
    R-Net's 28 become 32.

    The added channels are zero everywhere (kernel, bias, slope: PReLU(0) = 0) and meet zero
    weights in the next convolution, which onnxruntime pads the same way inside its blocked
    layout anyway, so R-Net's outputs are the same bit for bit (``tests/test_detect.py``;
    P-Net: see :func:`build_pnet`).
    """
    kernel, bias, alpha, next_kernel = w[0], w[1], w[2], w[3]
    pad = -kernel.shape[3] % CHANNEL_BLOCK
    if not pad:
        return w
    return [np.pad(kernel, [(0, 0), (0, 0), (0, 0), (0, pad)]), np.pad(bias, [(0, pad)]),
            np.pad(alpha, [(0, 0), (0, 0), (0, pad)]),
            np.pad(next_kernel, [(0, 0), (0, 0), (0, pad), (0, 0)]), *w[4:]]


def _dense(g: GraphBuilder, x: str, kernel: np.ndarray, bias: np.ndarray) -> str:
    return g.node("Gemm", [x, g.constant(kernel), g.constant(bias)])


def _to_nchw(g: GraphBuilder, x: str) -> str:
    return g.node("Transpose", [x], perm=[0, 3, 1, 2])


def build_pnet(w: list[np.ndarray], blocked: bool | None = None) -> bytes:
    """P-Net as ONNX. Input ``image [1, H, W, 3]`` normalised RGB. Outputs (stride 2, 12 px
    windows): ``reg [1, H', W', 4]`` (x1, y1, x2, y2 offsets in window sizes) and
    ``prob [1, H', W', 2]`` (softmax, channel 1 = face), ``H' = ceil((H - 2) / 2) - 4``.
    ``blocked``: written for onnxruntime's blocked layout (default :data:`BLOCKED_LAYOUT`);
    the values are the same either way."""
    blocked = BLOCKED_LAYOUT if blocked is None else blocked
    g = GraphBuilder()
    conv_prelu, pool = _layers(g, blocked)
    x = _to_nchw(g, "image")
    if blocked:
        x = pool(conv_prelu(x, *_pad_first_layer(w)[0:3]), 2, same=True)
        # Back to the 10 real channels: the second convolution then reads the map through
        # onnxruntime's kernel for few input channels, as it does unpadded; a 16-channel
        # input takes the blocked kernel, which sums in another order (probabilities 2e-6 off).
        x = g.node("Slice", [x, g.constant(np.array([0], np.int64)),
                             g.constant(np.array([w[0].shape[3]], np.int64)),
                             g.constant(np.array([1], np.int64))])
    else:
        x = pool(conv_prelu(x, *w[0:3]), 2, same=True)
    x = conv_prelu(x, *w[3:6])
    x = conv_prelu(x, *w[6:9])
    reg = g.node("Conv", [x, g.constant(w[9].transpose(3, 2, 0, 1)), g.constant(w[10])],
                 kernel_shape=[1, 1])
    logits = g.node("Conv", [x, g.constant(w[11].transpose(3, 2, 0, 1)), g.constant(w[12])],
                    kernel_shape=[1, 1])
    g.node("Transpose", [reg], ["reg"], perm=[0, 2, 3, 1])
    # Softmax over the last axis of the NHWC map: the axis=1 form transposes inside the kernel.
    g.node("Softmax", [g.node("Transpose", [logits], perm=[0, 2, 3, 1])], ["prob"], axis=3)
    return g.model([("image", [1, "H", "W", 3])],
                   [("reg", [1, "h", "w", 4]), ("prob", [1, "h", "w", 2])], "pnet")


def _flatten_keras_order(g: GraphBuilder, x: str) -> str:
    # The dense weights expect Keras's Permute((2, 1, 3)) then Flatten: [N, rows, cols, C] is
    # flattened in (col, row, channel) order; our map is [N, C, rows, cols].
    return g.node("Flatten", [g.node("Transpose", [x], perm=[0, 3, 2, 1])], axis=1)


def build_rnet(w: list[np.ndarray], blocked: bool | None = None) -> bytes:
    """R-Net as ONNX. Input ``image [N, 24, 24, 3]``; outputs ``reg [N, 4]``, ``prob [N, 2]``.
    ``blocked``: as :func:`build_pnet`."""
    blocked = BLOCKED_LAYOUT if blocked is None else blocked
    g = GraphBuilder()
    conv_prelu, pool = _layers(g, blocked)
    w = _pad_first_layer(w) if blocked else w
    x = _to_nchw(g, "image")
    x = pool(conv_prelu(x, *w[0:3]), 3, same=True)
    x = pool(conv_prelu(x, *w[3:6]), 3, same=False)
    x = conv_prelu(x, *w[6:9])
    x = _prelu(g, _dense(g, _flatten_keras_order(g, x), w[9], w[10]), w[11])
    g.node("Gemm", [x, g.constant(w[12]), g.constant(w[13])], ["reg"])
    g.node("Softmax", [_dense(g, x, w[14], w[15])], ["prob"], axis=1)
    return g.model([("image", ["N", 24, 24, 3])], [("reg", ["N", 4]), ("prob", ["N", 2])], "rnet")


def build_onet(w: list[np.ndarray], blocked: bool | None = None) -> bytes:
    """O-Net as ONNX. Input ``image [N, 48, 48, 3]``; outputs ``reg [N, 4]``, ``landmarks
    [N, 10]`` (x0..x4 then y0..y4, as fractions of the box) and ``prob [N, 2]``.
    ``blocked``: as :func:`build_pnet` (O-Net's channels are already multiples of 16)."""
    blocked = BLOCKED_LAYOUT if blocked is None else blocked
    g = GraphBuilder()
    conv_prelu, pool = _layers(g, blocked)
    x = _to_nchw(g, "image")
    x = pool(conv_prelu(x, *w[0:3]), 3, same=True)
    x = pool(conv_prelu(x, *w[3:6]), 3, same=False)
    x = pool(conv_prelu(x, *w[6:9]), 2, same=True)
    x = conv_prelu(x, *w[9:12])
    x = _prelu(g, _dense(g, _flatten_keras_order(g, x), w[12], w[13]), w[14])
    g.node("Gemm", [x, g.constant(w[15]), g.constant(w[16])], ["reg"])
    g.node("Gemm", [x, g.constant(w[17]), g.constant(w[18])], ["landmarks"])
    g.node("Softmax", [_dense(g, x, w[19], w[20])], ["prob"], axis=1)
    return g.model([("image", ["N", 48, 48, 3])],
                   [("reg", ["N", 4]), ("landmarks", ["N", 10]), ("prob", ["N", 2])], "onet")


def pyramid_scales(height: int, width: int, min_face: float, factor: float = 0.709,
                   window: int = 12) -> list[float]:
    """Image scales at which P-Net's ``window``-pixel input covers faces from ``min_face``
    pixels up to the whole image: ``window / min_face * factor**k`` while the scaled shorter
    side is at least ``window``."""
    scales, scale = [], window / float(min_face)
    while min(height, width) * scale >= window:
        scales.append(scale)
        scale *= factor
    return scales


def calibrate(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Shift each side by its regression times the box size: ``x1 + r0 w, y1 + r1 h, x2 + r2 w,
    y2 + r3 h`` (``w = x2 - x1``). ``boxes``, ``reg``: ``[N, 4]``."""
    wh = np.tile(boxes[:, 2:4] - boxes[:, 0:2], 2)
    return boxes + reg * wh


def to_square(boxes: np.ndarray) -> np.ndarray:
    """Whole-pixel squares around the boxes' centres with side ``max(w, h)`` (at least 1).

    ``[N, 4]`` -> float32 ``[N, 4]``; the corners are rounded so that the crop fed to a network
    and the box its outputs are relative to are exactly the same pixels.
    """
    centers = (boxes[:, 0:2] + boxes[:, 2:4]) / 2
    side = np.maximum(np.round(np.max(boxes[:, 2:4] - boxes[:, 0:2], axis=1, keepdims=True)), 1)
    top_left = np.round(centers - side / 2)
    return np.concatenate([top_left, top_left + side], axis=1).astype(np.float32)


def normalise(pixels: np.ndarray) -> np.ndarray:
    """uint8 RGB pixels (any shape) -> float32 ``(pixel - 127.5) / 128``, the networks' input.

    Computed in place on one float32 copy: the same values as ``(x.astype(float32) - 127.5)
    * (1 / 128)`` (both steps are exact in float32), without the two temporaries."""
    out = pixels.astype(np.float32)
    out -= PIXEL_MEAN
    out *= PIXEL_SCALE
    return out


def crop_patches(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Crop boxes (pixels outside the image read as black) and resize them to ``size``.

    Args:
        image: uint8 ``[H, W, 3]``. boxes: ``[N, 4]`` whole-pixel boxes, at least 1 px wide/high.

    Returns:
        float32 ``[N, size, size, 3]`` normalised as the networks expect (:func:`normalise`).
    """
    h, w = image.shape[:2]
    out = np.empty((len(boxes), size, size, 3), np.uint8)
    for i, (x1, y1, x2, y2) in enumerate(boxes.astype(np.int64).tolist()):
        if x1 >= 0 and y1 >= 0 and x2 <= w and y2 <= h:  # inside: resize a view, no copy
            patch = image[y1:y2, x1:x2]
        else:
            patch = np.zeros((y2 - y1, x2 - x1, 3), np.uint8)
            sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
            if sx2 > sx1 and sy2 > sy1:
                patch[sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = image[sy1:sy2, sx1:sx2]
        out[i] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
    return normalise(out)


class MtcnnDetector:
    """MTCNN with the ``mtcnn`` package's weights (the project's default detector).

    Args:
        score_threshold: minimum O-Net face probability in [0, 1]. 0.85 keeps every face
            of the group-photo evaluation that 0.7 keeps and drops its false boxes.
        stage_thresholds: minimum P-Net and R-Net probabilities (proposal filters).
        input_size: the image plus border is scaled so its longer side is at least this many
            pixels (the canvas); more when ``min_face_px`` needs it (from 711 px photos up,
            by default). 0.1 and 0.2 used 320 for every photo; 160 lets a 640x480 photo be
            searched on the 288 px its smallest face needs, with the same detections on AAF
            crops (docs/experiments/2026-12-06-detection-recall.md).
        min_face: smallest face searched for, in canvas pixels. P-Net's pyramid starts at this
            face size: halving it quadruples the largest pyramid level.
        min_face_px: smallest face searched for, in pixels of the image given to ``detect``
            (a square of about 2.9 inter-ocular distances; P-Net's tolerance finds faces
            somewhat smaller). The canvas is enlarged so that this many image pixels are
            ``min_face`` canvas pixels (up to :data:`MAX_CANVAS`), so the search reaches the
            same face size in a large photo as in a small one. ``None``: the canvas is
            ``input_size`` whatever the photo's size (0.1 and 0.2's search, which loses small
            faces in large photos). The default, 64, finds faces from about 20 px between
            the eyes.
        pyramid_factor: scale ratio between P-Net's pyramid levels.
        min_box_px: drop the faces whose box's shorter side is below this many pixels
            (``None``: keep all). ``create_detector(min_face=X)`` (``--min-face X``) sets
            both: the search starts at ``X`` and what P-Net's tolerance finds below it is
            dropped.
        small_face_retry: when neither pass below finds a face, search once more down to this
            face size in canvas pixels; ``None`` (the default): no such pass. 0.2's default
            (48 + a retry at 24) missed the small faces of photos with a large one.
        border: frame added around the image as a fraction of its longer side, so that a
            face filling a tight crop is seen whole (see :func:`ops.letterbox`).
        retry_border: when nothing is found, search once more with this border (``None``: no
            retry). The second look at another scale and framing rescues most misses on face
            crops and costs nothing when the first pass finds a face.
        refine_nms: IoU above which R-Net's boxes are merged before O-Net. One face leaves
            3 boxes at 0.4 and 7 at 0.7; O-Net's cost grows with the number of boxes.
        fast_resize: build the canvas and the pyramid with :func:`ops.shrink` (integer box
            average, then bilinear) instead of OpenCV's area resize at non-integer factors.
        threads: onnxruntime intra-op threads for P-Net, R-Net and O-Net (one int: the same
            for all three; 0 = onnxruntime's default). P-Net runs once per pyramid level;
            small levels are fastest on its one thread, levels of at least
            :data:`PNET_LARGE_LEVEL` pixels run on R-Net's count. R-Net and O-Net take all
            crops in one batch and gain from a second thread
            (docs/experiments/2026-11-29-latency.md).
        runtime: the analyzer's threads budget and providers: no net runs on more than
            ``runtime.threads`` (a batch worker's 1 runs all of them on one thread).
    """

    name = "mtcnn"
    thread_safe = True  # detect() only calls onnxruntime's run(), which is thread-safe

    def __init__(self, *, score_threshold: float = 0.85,
                 stage_thresholds: tuple[float, float] = (0.7, 0.7), input_size: int = 160,
                 min_face: float = 24.0, small_face_retry: float | None = None,
                 border: float = 0.1, retry_border: float | None = 0.25,
                 refine_nms: float = 0.4, fast_resize: bool = True,
                 threads: int | tuple[int, int, int] = (1, 2, 2),
                 min_face_px: float | None = DEFAULT_MIN_FACE_PX, pyramid_factor: float = 0.709,
                 min_box_px: float | None = None, runtime: RuntimeOptions | None = None):
        self.min_face_px = min_face_px
        self.min_box_px = min_box_px
        self.pyramid_factor = pyramid_factor
        self.score_threshold = score_threshold
        self.stage_thresholds = stage_thresholds
        self.input_size = input_size
        self.min_face = min_face
        self.small_face_retry = small_face_retry
        self.border = border
        self.retry_border = retry_border
        self.refine_nms = refine_nms
        self.fast_resize = fast_resize
        p_threads, r_threads, o_threads = (threads,) * 3 if isinstance(threads, int) else threads
        runtime = runtime or RuntimeOptions()
        folder = weights_dir()
        pnet = build_pnet(load_weights("pnet", folder))
        self._pnet = open_session(pnet, runtime, threads=p_threads, name="P-Net")
        # Large pyramid levels (a big photo searched for small faces) gain from R-Net's threads.
        self._pnet_large = self._pnet \
            if runtime.threads_for(r_threads) == runtime.threads_for(p_threads) else \
            open_session(pnet, runtime, threads=r_threads, name="P-Net")
        self._rnet = open_session(build_rnet(load_weights("rnet", folder)), runtime,
                                  threads=r_threads, name="R-Net")
        self._onet = open_session(build_onet(load_weights("onet", folder)), runtime,
                                  threads=o_threads, name="O-Net")

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """All faces in a uint8 ``[H, W, 3]`` RGB image, largest box first."""
        check_image(image_rgb)
        for border, min_face in self._passes():
            found = self._detect(image_rgb, border, min_face)
            if found:
                return drop_small(found, self.min_box_px)
        return []

    def _passes(self) -> list[tuple[float, float]]:
        """(border, min_face) of each pass, tried in order until one finds a face."""
        passes = [(self.border, self.min_face)]
        if self.retry_border is not None:
            passes.append((self.retry_border, self.min_face))
        if self.small_face_retry is not None:
            passes.append((self.border, self.small_face_retry))
        return list(dict.fromkeys(passes))

    def canvas_side(self, height: int, width: int, border: float) -> int:
        """Longer side of the canvas an image is searched on: ``input_size``, or more when
        ``min_face_px`` asks for faces smaller than ``min_face`` canvas pixels would reach
        (so that a face of ``min_face_px`` image pixels is ``min_face`` canvas pixels), at
        most :data:`MAX_CANVAS`."""
        side = self.input_size
        if self.min_face_px is not None:
            bordered = max(height, width) * (1 + 2 * border)
            side = max(side, math.ceil(bordered * self.min_face / self.min_face_px))
        return min(side, MAX_CANVAS)

    def _detect(self, image_rgb: np.ndarray, border: float, min_face: float) -> list[Detection]:
        side = self.canvas_side(*image_rgb.shape[:2], border)
        canvas, box = letterbox(image_rgb, side, border=border, multiple=1,
                                fast=self.fast_resize)
        boxes = self._propose(canvas, min_face)
        if len(boxes):
            boxes = self._refine(canvas, boxes)
        if not len(boxes):
            return []
        boxes, landmarks, scores = self._output(canvas, boxes)
        return make_detections(box.to_image(boxes), box.to_image(landmarks.reshape(-1, 10)),
                               scores)

    def _propose(self, canvas: np.ndarray, min_face: float) -> np.ndarray:
        """Stage 1: P-Net over the pyramid -> square proposals ``[N, 4]`` in canvas pixels."""
        h, w = canvas.shape[:2]
        found = []
        for scale in pyramid_scales(h, w, min_face, self.pyramid_factor):
            size = (math.ceil(w * scale), math.ceil(h * scale))
            scaled = shrink(canvas, size)[0] if self.fast_resize else \
                cv2.resize(canvas, size, interpolation=cv2.INTER_AREA)
            blob = normalise(scaled)[None]
            pnet = self._pnet_large if size[0] * size[1] >= PNET_LARGE_LEVEL else self._pnet
            reg, prob = pnet.run(["reg", "prob"], {"image": blob})
            rows, cols = np.nonzero(prob[0, :, :, 1] >= self.stage_thresholds[0])
            if not len(rows):
                continue
            if len(rows) > 4 * MAX_PROPOSALS:  # bound the NMS below on a sea of faces
                top = np.argpartition(-prob[0, rows, cols, 1], 4 * MAX_PROPOSALS)[:4 * MAX_PROPOSALS]
                rows, cols = rows[top], cols[top]
            corners = np.stack([cols, rows], axis=1).astype(np.float32) * 2
            boxes = np.concatenate([corners, corners + 12], axis=1) / scale
            scores = prob[0, rows, cols, 1]
            keep = nms(boxes, scores, 0.5)
            found.append(np.concatenate([boxes[keep], scores[keep, None], reg[0, rows, cols][keep]], 1))
        if not found:
            return np.zeros((0, 4), np.float32)
        cand = np.concatenate(found)
        cand = cand[nms(cand[:, :4], cand[:, 4], 0.7)[:MAX_PROPOSALS]]
        return to_square(calibrate(cand[:, :4], cand[:, 5:9]))

    def _refine(self, canvas: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Stage 2: R-Net rescoring and box regression -> square boxes ``[M, 4]``."""
        reg, prob = self._rnet.run(["reg", "prob"], {"image": crop_patches(canvas, boxes, 24)})
        keep = np.flatnonzero(prob[:, 1] >= self.stage_thresholds[1])
        boxes, reg, scores = boxes[keep], reg[keep], prob[keep, 1]
        keep = nms(boxes, scores, self.refine_nms)[:MAX_PROPOSALS // 4]
        return to_square(calibrate(boxes[keep], reg[keep]))

    def _output(self, canvas: np.ndarray, boxes: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stage 3: O-Net -> boxes ``[K, 4]``, landmarks ``[K, 5, 2]``, scores ``[K]``."""
        reg, marks, prob = self._onet.run(["reg", "landmarks", "prob"],
                                          {"image": crop_patches(canvas, boxes, 48)})
        keep = np.flatnonzero(prob[:, 1] >= self.score_threshold)
        boxes, reg, marks, scores = boxes[keep], reg[keep], marks[keep], prob[keep, 1]
        size = boxes[:, 2:4] - boxes[:, 0:2]
        landmarks = np.stack([marks[:, :5], marks[:, 5:]], axis=-1) * size[:, None] + boxes[:, None, :2]
        boxes = calibrate(boxes, reg)
        keep = nms(boxes, scores, 0.7, mode="min")
        return boxes[keep], landmarks[keep], scores[keep]


def _settings(settings: dict) -> dict:
    """A user's ``min_face`` is where MTCNN's search starts and the smallest box it returns."""
    if settings.get("min_face_px") is not None:
        return {**settings, "min_box_px": settings["min_face_px"]}
    return settings


register(Backend("mtcnn", lambda path, settings, runtime:
                 MtcnnDetector(**_settings(settings), runtime=runtime), title="MTCNN"))
# genderage 0.1's cascade settings (reproduces its manifests and caches).
register(Backend("mtcnn-v1", lambda path, settings, runtime:
                 MtcnnDetector(**{**V1_SETTINGS, **_settings(settings)}, runtime=runtime),
                 title="MTCNN"))
