"""RetinaFace (MobileNet backbone, biubug6/Pytorch_Retinaface layout) decoded in numpy.

Model layout: input BGR minus the per-channel mean (104, 117, 127), NCHW, any size. Outputs:
``loc [1, n, 4]`` (prior-relative box deltas), ``conf [1, n, 2]`` (softmax, column 1 = face),
``landmarks [1, n, 10]`` (prior-relative offsets), over priors of strides 8, 16, 32 with two
square sizes each (16/32, 64/128, 256/512 px), ordered row-major by cell, sizes adjacent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import Detection, check_image, make_detections
from .ops import letterbox, nms
from .session import open_session

PRIOR_STRIDES = (8, 16, 32)
PRIOR_SIZES = ((16, 32), (64, 128), (256, 512))
VARIANCE_CENTER, VARIANCE_SIZE = 0.1, 0.2
BGR_MEAN = np.array([104.0, 117.0, 127.0], np.float32)


def retinaface_priors(height: int, width: int) -> np.ndarray:
    """Prior boxes for a ``height x width`` canvas, in canvas pixels.

    Cell ``(row, col)`` of stride ``s`` has priors centred at ``((col + 0.5) s, (row + 0.5) s)``,
    one per size of that stride.

    Returns:
        float32 ``[n, 4]`` = (cx, cy, w, h), strides in order, cells row-major, sizes adjacent.
    """
    priors = []
    for stride, sizes in zip(PRIOR_STRIDES, PRIOR_SIZES):
        rows, cols = -(-height // stride), -(-width // stride)
        ys, xs = np.mgrid[:rows, :cols]
        centers = (np.stack([xs, ys], -1).reshape(-1, 2).astype(np.float32) + 0.5) * stride
        centers = np.repeat(centers, len(sizes), axis=0)
        wh = np.tile(np.repeat(np.asarray(sizes, np.float32), 2).reshape(-1, 2), (rows * cols, 1))
        priors.append(np.concatenate([centers, wh], axis=1))
    return np.concatenate(priors)


def decode_retinaface(loc: np.ndarray, landmarks: np.ndarray, priors: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Prior-relative outputs -> boxes and keypoints in canvas pixels.

    ``center = prior_c + 0.1 * d_c * prior_wh``, ``size = prior_wh * exp(0.2 * d_wh)``,
    ``keypoint_k = prior_c + 0.1 * d_k * prior_wh``.

    Args:
        loc: ``[n, 4]`` (dcx, dcy, dw, dh). landmarks: ``[n, 10]``. priors: ``[n, 4]`` (cx, cy, w, h).

    Returns:
        ``(boxes [n, 4] x1, y1, x2, y2, keypoints [n, 5, 2])`` float32.
    """
    c, wh = priors[:, :2], priors[:, 2:]
    centers = c + VARIANCE_CENTER * loc[:, :2] * wh
    sizes = wh * np.exp(VARIANCE_SIZE * loc[:, 2:])
    boxes = np.concatenate([centers - sizes / 2, centers + sizes / 2], axis=1)
    kps = c[:, None, :] + VARIANCE_CENTER * landmarks.reshape(-1, 5, 2) * wh[:, None, :]
    return boxes.astype(np.float32), kps.astype(np.float32)


class RetinaFaceDetector:
    """RetinaFace-MobileNet from ONNX bytes or an ``.onnx`` path.

    Args:
        model: the model (path or serialized bytes).
        score_threshold: minimum face probability in [0, 1].
        nms_threshold: boxes overlapping a better one by more than this IoU are dropped.
        input_size: longer side of the canvas the image (plus border) is scaled to.
        border: frame added around the image, as a fraction of its longer side.
        threads: onnxruntime intra-op threads (0 = onnxruntime's default).
    """

    name = "retinaface"

    def __init__(self, model: str | Path | bytes, *, score_threshold: float = 0.8,
                 nms_threshold: float = 0.4, input_size: int = 640, border: float = 0.0,
                 threads: int = 0):
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.input_size = input_size
        self.border = border
        self._session = open_session(model, threads)
        self._input_name = self._session.get_inputs()[0].name
        self._priors: dict[tuple[int, int], np.ndarray] = {}

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """All faces in a uint8 ``[H, W, 3]`` RGB image, largest box first."""
        check_image(image_rgb)
        canvas, box = letterbox(image_rgb[..., ::-1], self.input_size, border=self.border,
                                fill=0)
        blob = np.ascontiguousarray((canvas.astype(np.float32) - BGR_MEAN).transpose(2, 0, 1)[None])
        loc, conf, lms = self._session.run(None, {self._input_name: blob})
        h, w = canvas.shape[:2]
        priors = self._priors.get((h, w))
        if priors is None:
            priors = self._priors[(h, w)] = retinaface_priors(h, w)
        scores = conf[0, :, 1]
        keep = np.flatnonzero(scores >= self.score_threshold)
        boxes, kps = decode_retinaface(loc[0, keep], lms[0, keep], priors[keep])
        scores = scores[keep]
        keep = nms(boxes, scores, self.nms_threshold)
        return make_detections(box.to_image(boxes[keep]), box.to_image(kps[keep].reshape(-1, 10)),
                               scores[keep])
