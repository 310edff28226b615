"""YuNet (libfacedetection) from a user-supplied ONNX file, run by ``cv2.FaceDetectorYN``.

OpenCV decodes the model and applies NMS; this wrapper letterboxes the image (with an optional
border), converts RGB to the BGR the model wants and maps results back to image pixels.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .ops import letterbox
from .registry import Backend, register
from .types import Detection, DetectorError, check_image, drop_small, make_detections

MODEL_FILE = "yunet_s_dynamic.onnx"
"""The file ``--detector yunet`` looks for in ``$GENDERAGE_DETECTOR_DIR``."""

OUTPUT_PREFIXES = ("cls_", "obj_", "bbox_", "kps_")


class YuNetDetector:
    """YuNet from an ONNX file such as ``yunet_s_dynamic.onnx``.

    Args:
        model_path: the ``.onnx`` file.
        score_threshold: minimum face score in [0, 1].
        nms_threshold: IoU above which OpenCV's NMS drops the weaker box.
        input_size: longer side of the canvas the image (plus border) is scaled to.
        border: frame added around the image, as a fraction of its longer side.
        top_k: at most this many candidates enter NMS.
        min_face_px: drop faces whose box's shorter side is below this many pixels of the
            image given to :meth:`detect` (``None``: keep all).
    """

    name = "yunet"
    thread_safe = False  # cv2.FaceDetectorYN resizes itself on every call

    def __init__(self, model_path: str | Path, *, score_threshold: float = 0.6,
                 nms_threshold: float = 0.3, input_size: int = 320, border: float = 0.1,
                 top_k: int = 5000, min_face_px: float | None = None):
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise DetectorError(f"detector model file not found: {self.model_path}")
        self.score_threshold = score_threshold
        self.input_size = input_size
        self.border = border
        self.min_face_px = min_face_px
        try:
            self._net = cv2.FaceDetectorYN.create(str(self.model_path), "", (input_size, input_size),
                                                  score_threshold, nms_threshold, top_k)
        except cv2.error as exc:
            raise DetectorError(f"{self.model_path}: OpenCV cannot load it as YuNet ({exc})") from None

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """All faces in a uint8 ``[H, W, 3]`` RGB image, largest box first."""
        check_image(image_rgb)
        canvas, box = letterbox(image_rgb[..., ::-1], self.input_size, border=self.border, fill=0)
        self._net.setInputSize((canvas.shape[1], canvas.shape[0]))
        _, faces = self._net.detect(canvas)
        if faces is None or len(faces) == 0:
            return []
        faces = np.asarray(faces, np.float32).reshape(-1, 15)
        # Row: x, y, w, h, then (x, y) of the image-left eye, image-right eye, nose tip,
        # image-left and image-right mouth corners, then the score.
        boxes = np.concatenate([faces[:, :2], faces[:, :2] + faces[:, 2:4]], axis=1)
        return drop_small(make_detections(box.to_image(boxes), box.to_image(faces[:, 4:14]),
                                          faces[:, 14]), self.min_face_px)


def recognise(outputs: list[tuple[str, list]]) -> bool:
    """YuNet has twelve outputs named ``cls_S``, ``obj_S``, ``bbox_S``, ``kps_S`` for S in
    8, 16, 32 (``outputs``: the model's ``(name, shape)`` pairs)."""
    names = {n for n, _ in outputs}
    return {f"{p}{s}" for p in OUTPUT_PREFIXES for s in (8, 16, 32)} <= names


# OpenCV's DNN module runs YuNet on OpenCV's own threads, not onnxruntime: ``runtime`` does
# not apply (cv2.setNumThreads is process-wide).
register(Backend("yunet", lambda path, settings, runtime: YuNetDetector(path, **settings),
                 model_file=MODEL_FILE, recognise=recognise, title="YuNet"))
