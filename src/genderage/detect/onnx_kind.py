"""Recognising which detector family an ``.onnx`` file belongs to, from its outputs."""

from __future__ import annotations

from pathlib import Path

from .base import DetectorError
from .session import open_session

YUNET_PREFIXES = ("cls_", "obj_", "bbox_", "kps_")


def classify_outputs(outputs: list[tuple[str, list]]) -> str:
    """``"yunet"`` or ``"scrfd"`` from a model's ``(name, shape)`` outputs.

    YuNet: twelve outputs named ``cls_S``, ``obj_S``, ``bbox_S``, ``kps_S`` for S in 8, 16, 32.
    SCRFD with keypoints: nine outputs whose last dimensions are 1, 4 and 10, three of each
    (insightface names them ``score_S``/``bbox_S``/``kps_S`` or by number).

    Raises:
        DetectorError: anything else, including SCRFD without keypoints (six outputs).
    """
    names = [n for n, _ in outputs]
    if {f"{p}{s}" for p in YUNET_PREFIXES for s in (8, 16, 32)} <= set(names):
        return "yunet"
    last = [shape[-1] if shape else None for _, shape in outputs]
    if len(outputs) == 9 and sorted(d for d in last if isinstance(d, int)) == [1] * 3 + [4] * 3 + [10] * 3:
        return "scrfd"
    described = ", ".join(f"{n}{list(s) if s else ''}" for n, s in outputs)
    if len(outputs) == 6 and sorted(d for d in last if isinstance(d, int)) == [1] * 3 + [4] * 3:
        raise DetectorError(f"SCRFD model without keypoints (outputs: {described}); a *_kps / "
                            f"*_bnkps model is needed for face alignment")
    raise DetectorError(f"not a YuNet or SCRFD face detector (outputs: {described})")


def identify_onnx_detector(path: str | Path) -> str:
    """Open an ONNX file and tell whether it is YuNet or SCRFD; see :func:`classify_outputs`."""
    session = open_session(path)
    try:
        return classify_outputs([(o.name, o.shape) for o in session.get_outputs()])
    except DetectorError as exc:
        raise DetectorError(f"{path}: {exc}") from None
