"""SCRFD (insightface "bnkps" variants) from a user-supplied ONNX file, decoded in numpy.

Model layout: input RGB, ``(pixel - 127.5) / 128``, NCHW, spatial size a multiple of 32.
Outputs, for each stride in 8, 16, 32: sigmoid scores ``[n, 1]``, box distances ``[n, 4]`` and
keypoint offsets ``[n, 10]``, all distances in units of the stride, ``n`` = cells x anchors.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..onnx_runtime import RuntimeOptions
from .ops import anchor_centers, distance2bbox, distance2kps, letterbox, nms
from .registry import Backend, register
from .session import open_session
from .types import Detection, DetectorError, check_image, drop_small, make_detections

logger = logging.getLogger(__name__)

STRIDES = (8, 16, 32)

MODEL_FILE = "scrfd_500m_bnkps.onnx"
"""The file ``--detector scrfd`` looks for in ``$GENDERAGE_DETECTOR_DIR``."""


def group_scrfd_outputs(output_dims: list[int | str | None]) -> dict[str, list[int]]:
    """Which output indices are scores, boxes and keypoints, from their last dimension.

    Args:
        output_dims: the last dimension of each model output, in graph order.

    Returns:
        ``{"score": [i, j, k], "bbox": [...], "kps": [...]}`` in graph order (three each).

    Raises:
        DetectorError: the outputs are not three each of widths 1, 4 and 10.
    """
    groups: dict[str, list[int]] = {"score": [], "bbox": [], "kps": []}
    for i, d in enumerate(output_dims):
        key = {1: "score", 4: "bbox", 10: "kps"}.get(d if isinstance(d, int) else -1)
        if key is None:
            raise DetectorError(f"output {i} has last dimension {d!r}; SCRFD outputs end in 1, 4 or 10")
        groups[key].append(i)
    if any(len(v) != len(STRIDES) for v in groups.values()):
        raise DetectorError(f"SCRFD needs 3 score, 3 box and 3 keypoint outputs, got "
                            f"{ {k: len(v) for k, v in groups.items()} }")
    return groups


def decode_scrfd(scores: list[np.ndarray], bboxes: list[np.ndarray], kpss: list[np.ndarray],
                 height: int, width: int, score_threshold: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode SCRFD head outputs for one image into canvas-pixel boxes and keypoints.

    The three lists hold one array per stride; within a list the arrays may come in any order
    (the stride of each is found from its row count: rows = anchors x cells, and the finer the
    stride, the more rows). The number of anchors per cell is found the same way.

    Args:
        scores: ``[n_s, 1]`` sigmoid scores per stride (a leading batch axis of 1 is allowed).
        bboxes: ``[n_s, 4]`` distances (left, top, right, bottom) in stride units.
        kpss: ``[n_s, 10]`` keypoint offsets (dx, dy) x 5 in stride units.
        height, width: the canvas size the model saw, in pixels.
        score_threshold: keep anchors with score >= this.

    Returns:
        ``(boxes [K, 4], kps [K, 5, 2], scores [K])`` float32 in canvas pixels, before NMS.
    """
    def by_rows(arrays, width_):
        flat = [np.asarray(a, np.float32).reshape(-1, width_) for a in arrays]
        return sorted(flat, key=len, reverse=True)

    scores_s, bboxes_s, kpss_s = by_rows(scores, 1), by_rows(bboxes, 4), by_rows(kpss, 10)
    cells = -(-height // STRIDES[0]) * -(-width // STRIDES[0])
    num_anchors, rest = divmod(len(scores_s[0]), cells)
    if rest or num_anchors < 1:
        raise DetectorError(f"SCRFD stride-8 output has {len(scores_s[0])} rows, not a multiple "
                            f"of the {cells} cells of a {width}x{height} input")
    out_boxes, out_kps, out_scores = [], [], []
    for stride, sc, bb, kp in zip(STRIDES, scores_s, bboxes_s, kpss_s):
        centers = anchor_centers(height, width, stride, num_anchors)
        if len(centers) != len(sc) or len(bb) != len(sc) or len(kp) != len(sc):
            raise DetectorError(f"SCRFD stride-{stride} outputs have {len(sc)}/{len(bb)}/{len(kp)} "
                                f"rows, expected {len(centers)}")
        keep = np.flatnonzero(sc[:, 0] >= score_threshold)
        out_boxes.append(distance2bbox(centers[keep], bb[keep] * stride))
        out_kps.append(distance2kps(centers[keep], kp[keep] * stride))
        out_scores.append(sc[keep, 0])
    return np.concatenate(out_boxes), np.concatenate(out_kps), np.concatenate(out_scores)


class ScrfdDetector:
    """SCRFD with five keypoints, from an ONNX file such as ``scrfd_500m_bnkps.onnx``.

    Args:
        model_path: the ``.onnx`` file.
        score_threshold: minimum face score in [0, 1].
        nms_threshold: boxes overlapping a better one by more than this IoU are dropped.
        input_size: longer side of the canvas the image (plus border) is scaled to.
        border: frame added around the image, as a fraction of its longer side, so that faces
            filling a tight crop are found (see :func:`ops.letterbox`).
        threads: onnxruntime intra-op threads (0 = onnxruntime's default), at most
            ``runtime.threads``.
        min_face_px: drop faces whose box's shorter side is below this many pixels of the
            image given to :meth:`detect` (``None``: keep all).
        runtime: the analyzer's threads budget and providers (default: none, CPU).
    """

    name = "scrfd"
    thread_safe = True  # detect() only calls onnxruntime's run(), which is thread-safe

    def __init__(self, model_path: str | Path, *, score_threshold: float = 0.5,
                 nms_threshold: float = 0.4, input_size: int = 320, border: float = 0.1,
                 threads: int = 0, min_face_px: float | None = None,
                 runtime: RuntimeOptions | None = None):
        self.model_path = Path(model_path)
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.input_size = input_size
        self.border = border
        self.min_face_px = min_face_px
        self._session = open_session(self.model_path, runtime, threads=threads)
        self._input_name = self._session.get_inputs()[0].name
        outputs = self._session.get_outputs()
        self._groups = group_scrfd_outputs([o.shape[-1] if o.shape else None for o in outputs])
        self._output_names = [o.name for o in outputs]

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """All faces in a uint8 ``[H, W, 3]`` RGB image, largest box first."""
        check_image(image_rgb)
        canvas, box = letterbox(image_rgb, self.input_size, border=self.border, fill=0)
        blob = (canvas.astype(np.float32) - 127.5) / 128.0
        blob = np.ascontiguousarray(blob.transpose(2, 0, 1)[None])
        outs = self._session.run(self._output_names, {self._input_name: blob})
        h, w = canvas.shape[:2]
        boxes, kps, scores = decode_scrfd([outs[i] for i in self._groups["score"]],
                                          [outs[i] for i in self._groups["bbox"]],
                                          [outs[i] for i in self._groups["kps"]],
                                          h, w, self.score_threshold)
        keep = nms(boxes, scores, self.nms_threshold)
        return drop_small(make_detections(box.to_image(boxes[keep]),
                                          box.to_image(kps[keep].reshape(-1, 10)), scores[keep]),
                          self.min_face_px)


def recognise(outputs: list[tuple[str, list]]) -> bool:
    """SCRFD with keypoints has nine outputs whose last dimensions are 1, 4 and 10, three of
    each (insightface names them ``score_S``/``bbox_S``/``kps_S`` or by number).

    Raises:
        DetectorError: an SCRFD model without keypoints (six outputs), useless for alignment.
    """
    last = sorted(d for d in (shape[-1] if shape else None for _, shape in outputs)
                  if isinstance(d, int))
    if len(outputs) == 6 and last == [1] * 3 + [4] * 3:
        described = ", ".join(f"{n}{list(s) if s else ''}" for n, s in outputs)
        raise DetectorError(f"SCRFD model without keypoints (outputs: {described}); a *_kps / "
                            f"*_bnkps model is needed for face alignment")
    return len(outputs) == 9 and last == [1] * 3 + [4] * 3 + [10] * 3


register(Backend("scrfd", lambda path, settings, runtime:
                 ScrfdDetector(path, **settings, runtime=runtime),
                 model_file=MODEL_FILE, recognise=recognise, title="SCRFD"))
