"""Photo -> faces -> gender and age: detection, 5-point alignment, one batched model call.

The caller owns the analyzer (no global cache)::

    analyzer = GenderAge()                     # shipped model, default detector
    result = analyzer.predict("photo.jpg")     # ImageResult; result.to_dict() is JSON-ready
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .align import align_face, template_landmarks
from .attribute import AttributeBatch, AttributeModel
from .contract import gender_index, gender_label
from .detect.types import drop_small
from .imageio import (
    REDUCED_MIN_SIDE,
    ImageDecodeError,
    ImageSource,
    load_image_reduced,
    source_name,
)
from .models import DEFAULT_MODEL, default_model_path, int8_matches_fp32
from .onnx_runtime import RuntimeOptions
from .options import FaceOptions
from .preprocess import resize_face
from .quality import DEFAULT_THRESHOLDS, Quality, QualityThresholds, assess
from .results import Face, ImageResult

if TYPE_CHECKING:
    from .detect import Detection, Detector

log = logging.getLogger(__name__)


def resolve_model_path(model: str | os.PathLike | None, precision: str | None = None) -> Path:
    """The attribute model to load: ``model`` if given, else the shipped one of that precision.

    ``precision=None`` takes the shipped int8 model when there is one made from the shipped
    fp32 file (its recorded SHA-256 matches), else the fp32 model.

    Raises:
        FileNotFoundError: no model given and this build ships none, or the file is missing.
        ValueError: both ``model`` and ``precision`` given, an unknown precision, or
            ``precision="int8"`` when the shipped int8 file was made from another fp32 file.
    """
    if model is None:
        if precision is None:
            precision = "int8" if int8_matches_fp32() else "fp32"
        elif precision == "int8" and default_model_path("int8") and not int8_matches_fp32():
            raise ValueError("the shipped int8 model was not made from the shipped fp32 model; "
                             "re-run tools/quantize_model.py quantize")
        path = default_model_path(precision)
        if path is None:
            raise FileNotFoundError(
                f"no {precision} attribute model: this build ships none "
                f"({DEFAULT_MODEL.parent} has no such file); "
                f"pass one with GenderAge(model=PATH) or --model PATH")
        return path
    if precision is not None:
        raise ValueError(f"precision={precision!r} selects a shipped model; "
                         f"it cannot be combined with model={os.fspath(model)!r}")
    path = Path(model)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model file not found")
    return path


@dataclass(frozen=True)
class Candidate:
    """A located, aligned face waiting for the attribute model (``crop``: uint8 112x112 RGB)."""

    bbox: np.ndarray
    landmarks: np.ndarray
    score: float
    crop: np.ndarray
    quality: Quality


@dataclass(frozen=True)
class LocatedImage:
    """One input after decoding, detection and alignment: the half of a prediction that
    needs no attribute model (picklable, so it can be made in another process).

    Attributes:
        path: the input's file path, or ``None`` for bytes / arrays.
        candidates: the faces to analyse, largest first.
        error: ``None``, or the message of the :class:`ImageDecodeError` that stopped it,
            or of a ``min_face`` larger than the image.
        error_kind: the error's ``kind`` (see :data:`~genderage.imageio.DECODE_ERROR_KINDS`),
            or :data:`MIN_FACE_ERROR_KIND`.
    """

    path: str | None
    candidates: tuple[Candidate, ...] = ()
    error: str | None = None
    error_kind: str | None = None


MIN_FACE_ERROR_KIND = "min_face_too_large"
"""``LocatedImage.error_kind`` of an image smaller than the ``min_face`` asked for."""


class GenderAge:
    """Gender and age estimation for every face in a photo.

    Args:
        model: path of a genderage ONNX file, or an :class:`AttributeModel`; ``None`` for
            the model shipped with the package.
        detector: a :class:`~genderage.detect.Detector`, or a spec for
            :func:`~genderage.detect.create_detector` (backend name or ``.onnx`` path);
            ``None`` for the default backend. A spec is turned into a detector on first use,
            so ``aligned`` predictions need no detector at all.
        skip_low_quality: drop faces whose :class:`Quality` is flagged ``low_quality``.
        providers: ONNX Runtime execution providers, for the attribute model and the
            detector: ``runtime=RuntimeOptions(providers=...)`` in short.
        runtime: onnxruntime threads budget and providers of the attribute model created
            from a path and of the detector created from a spec (one thread for every
            session of a batch worker). Default: each session's own threads, on the CPU.
        quality_thresholds: what counts as low quality.
        flip_tta: average each face's prediction with its mirror image's (twice the model
            cost, a little more accurate; see :class:`AttributeModel`).
        precision: which shipped model, ``"int8"`` or ``"fp32"``; ``None``: int8 when this
            build ships one made from its fp32 model, else fp32 (docs/pipeline.md, latency).
        min_face: smallest face to return, the shorter side of its box in pixels of the
            source image (>= 8). Given to the detector created from a spec (which may then
            search no smaller) and applied to every detector's boxes. A photo decoded
            reduced by a factor k (longer side 4096 px or more) gives its detector the
            reduced image: that detector then drops faces below ``k * min_face``.
        det_threshold: detector score in (0, 1) a face must reach (the detector's own
            default when ``None``); given to a detector created from a spec and applied to
            every detector's boxes.
        max_faces: keep the ``max_faces`` largest faces of each image, chosen after
            detection and before alignment and the attribute model, so that a photo with
            hundreds of faces costs at most ``max_faces`` model inputs. ``skip_low_quality``
            then drops flagged faces among them.
        min_gender_probability: in [0.5, 1): a face whose likelier gender has a lower
            probability gets ``gender=None`` ("unknown"); its probabilities stay reported.
        strict: raise :class:`~genderage.imageio.ImageDecodeError` for an input that cannot
            be read (a missing file, ``None``, a corrupt image) instead of returning a
            result whose ``error`` says why (the default, which suits batches).

    Raises:
        FileNotFoundError: no model given and none shipped, or the model file is missing.
        OptionError: one of the four options above out of range (a ``ValueError``).
    """

    def __init__(self, model: str | os.PathLike | AttributeModel | None = None,
                 detector: str | os.PathLike | Detector | None = None, *,
                 skip_low_quality: bool = False, providers: list[str] | None = None,
                 runtime: RuntimeOptions | None = None,
                 quality_thresholds: QualityThresholds = DEFAULT_THRESHOLDS,
                 flip_tta: bool = False, precision: str | None = None,
                 min_face: float | None = None, det_threshold: float | None = None,
                 max_faces: int | None = None, min_gender_probability: float | None = None,
                 strict: bool = False):
        self.options = FaceOptions(min_face, det_threshold, max_faces, min_gender_probability)
        runtime = runtime or RuntimeOptions()
        if providers is not None:
            runtime = replace(runtime, providers=tuple(providers))
        self.runtime = runtime
        if isinstance(model, AttributeModel):
            if flip_tta and not model.flip_tta:
                raise ValueError("flip_tta=True with an AttributeModel built without it: "
                                 "pass AttributeModel(..., flip_tta=True) or a model path")
            self.model = model
        else:
            self.model = AttributeModel(resolve_model_path(model, precision), runtime,
                                        flip_tta=flip_tta)
        if detector is None or isinstance(detector, (str, os.PathLike)):
            self._detector_spec = None if detector is None else os.fspath(detector)
            self._detector = None
        else:
            self._detector_spec, self._detector = None, detector
        self.skip_low_quality = skip_low_quality
        self.quality_thresholds = quality_thresholds
        self.strict = strict

    @property
    def detector(self) -> Detector:
        """The face detector, created from the spec on first access.

        Raises:
            DetectorError: the spec names no usable backend.
        """
        if self._detector is None:
            from .detect import create_detector

            self._detector = create_detector(self._detector_spec,
                                             score_threshold=self.options.det_threshold,
                                             min_face=self.options.min_face,
                                             runtime=self.runtime)
        return self._detector

    def with_options(self, **changes) -> GenderAge:
        """A copy sharing this analyzer's model and detector, with some of the
        :class:`~genderage.options.FaceOptions` changed (e.g. per request in the service).

        Raises:
            OptionError: a value out of range.
        """
        from copy import copy

        changed = copy(self)
        changed.options = replace(self.options, **changes)
        return changed

    def detector_settings(self) -> dict:
        """:func:`detector_settings` of this analyzer's detector and options (creates the
        detector)."""
        return detector_settings(self.detector, self.options)

    def predict(self, image: ImageSource, aligned: bool = False, color: str = "rgb"
                ) -> ImageResult:
        """Detect, align and analyse every face in one image.

        A very large file or bytes input is decoded reduced (never below
        :data:`~genderage.imageio.REDUCED_MIN_SIDE` pixels on the longer side, scaled up
        with a detector canvas over 320 pixels), which leaves every detectable face more
        pixels than its chip uses; boxes and landmarks are given in the source's pixels.

        Args:
            image: a file path, encoded image bytes, a PIL image, a uint8 ``[H, W, 3]``
                array in RGB order (see ``color``), or a
                :class:`~genderage.imageio.DecodedImage` (an array decoded reduced, with its
                factor, as the service passes it).
            aligned: the image is already a face crop in UTKFace chip geometry (e.g. a
                UTKFace chip): skip detection and use the whole image as one face.
            color: channel order of an array input: ``"rgb"`` (default) or ``"bgr"`` (what
                ``cv2.imread`` returns; an array passed in the wrong order still gives
                faces, with shifted estimates). Other inputs ignore it.

        Returns:
            An :class:`ImageResult`; undecodable input gives ``error`` (no exception unless
            ``strict``), an image without faces gives ``faces == []``.

        Raises:
            ImageDecodeError: with ``strict=True``, an input that cannot be read.
            ValueError: an unknown ``color``.
        """
        return self.predict_batch([image], aligned=aligned, color=color)[0]

    def predict_batch(self, images: list[ImageSource], aligned: bool = False,
                      color: str = "rgb") -> list[ImageResult]:
        """:meth:`predict` for several images, with ONE attribute-model call for all faces.

        Returns:
            One :class:`ImageResult` per input, in input order.
        """
        if color not in COLORS:
            raise ValueError(f"color must be one of {COLORS}, got {color!r}")
        if isinstance(images, (str, bytes, os.PathLike, np.ndarray)):
            raise TypeError(f"predict_batch takes a list of images, got one "
                            f"{type(images).__name__}: use predict()")
        if color == "bgr":
            images = [_bgr_to_rgb(image) for image in images]
        results, _ = self.analyze([self.locate_image(image, aligned) for image in images])
        return results

    def locate_image(self, image: ImageSource, aligned: bool = False) -> LocatedImage:
        """Decode one input and :meth:`locate` its faces (or take it whole when ``aligned``);
        no attribute model.

        Returns:
            A :class:`LocatedImage`; undecodable input gives ``error`` (never an exception).
        """
        name = source_name(image)
        try:
            decoded = load_image_reduced(image, min_side=self.decode_min_side(aligned))
        except ImageDecodeError as exc:
            if self.strict:
                raise
            log.info("%s", exc)
            return LocatedImage(name, (), str(exc), exc.kind)
        min_face = self.options.min_face
        h, w = (side * decoded.factor for side in decoded.rgb.shape[:2])
        if not aligned and min_face is not None and min_face > max(h, w):
            message = (f"{name + ': ' if name else ''}min_face {min_face:g} px is larger "
                       f"than the image ({w}x{h} px)")
            log.info("%s", message)
            return LocatedImage(name, (), message, MIN_FACE_ERROR_KIND)
        candidates = (self._whole_image(decoded.rgb, decoded.factor) if aligned
                      else self.locate(decoded.rgb, decoded.factor))
        if self.skip_low_quality:
            candidates = [c for c in candidates if not c.quality.low_quality]
        return LocatedImage(name, tuple(candidates))

    def analyze(self, located: list[LocatedImage]
                ) -> tuple[list[ImageResult], AttributeBatch]:
        """Run the attribute model ONCE on all faces of ``located``.

        Returns:
            One :class:`ImageResult` per item, in order, and the model's raw
            :class:`AttributeBatch` for all their faces (row ``k`` is the ``k``-th face in
            that order), for callers that want more than the results carry (``age_probs``).
        """
        crops = [c.crop for item in located for c in item.candidates]
        size = self.model.preprocessing.input_size
        batch = self.model.predict(np.stack(crops) if crops else
                                   np.zeros((0, size, size, 3), np.uint8))
        results, k = [], 0
        for item in located:
            if item.error is not None:
                results.append(ImageResult(item.path, [], item.error))
                continue
            faces = [make_face(c, batch, k + j, self.options)
                     for j, c in enumerate(item.candidates)]
            k += len(faces)
            results.append(ImageResult(item.path, faces, None))
        return results, batch

    analyse = analyze  # the earlier spelling, kept for one release

    def decode_min_side(self, aligned: bool) -> int:
        """Longer side a reduced decode keeps: :data:`REDUCED_MIN_SIDE` for a 320-pixel
        detector canvas (and for aligned input), proportionally more for a larger one."""
        if aligned:
            return REDUCED_MIN_SIDE
        canvas = getattr(self.detector, "input_size", 320)
        return max(REDUCED_MIN_SIDE, -(-REDUCED_MIN_SIDE * canvas // 320))

    def locate(self, rgb: np.ndarray, factor: int = 1) -> list[Candidate]:
        """Detect, align and assess every face of an RGB uint8 image (no attribute model).

        ``rgb`` may be an image decoded at ``1 / factor`` of its source's size: boxes and
        landmarks are then scaled back to the source's pixels. The faces below
        ``det_threshold`` or ``min_face`` are dropped, then all but the ``max_faces``
        largest."""
        candidates = []
        for det in self.select(self.detector.detect(rgb), factor):
            crop = align_face(rgb, det.landmarks, self.model.preprocessing)
            bbox, landmarks = det.bbox * factor, det.landmarks * factor
            quality = assess(bbox, landmarks, det.score, crop, self.quality_thresholds)
            candidates.append(Candidate(bbox, landmarks, det.score, crop, quality))
        return candidates

    def select(self, detections: list[Detection], factor: int = 1) -> list[Detection]:
        """The detections that :attr:`options` keep, largest box first: score at least
        ``det_threshold``, box's shorter side at least ``min_face`` source pixels (``factor``
        source pixels per detector pixel), at most ``max_faces`` of them."""
        o = self.options
        if o.det_threshold is not None:
            detections = [d for d in detections if d.score >= o.det_threshold]
        if o.min_face is not None:
            detections = drop_small(detections, o.min_face / factor)
        detections = sorted(detections, key=lambda d: -d.area)  # stable: ties keep order
        return detections if o.max_faces is None else detections[:o.max_faces]

    def _whole_image(self, rgb: np.ndarray, factor: int = 1) -> list[Candidate]:
        h, w = rgb.shape[:2]
        bbox = np.array([0, 0, w, h], np.float32) * factor
        landmarks = template_landmarks(w, h, self.model.preprocessing) * factor
        crop = resize_face(rgb, self.model.preprocessing)
        quality = assess(bbox, landmarks, 1.0, crop, self.quality_thresholds)
        return [Candidate(bbox, landmarks, 1.0, crop, quality)]


COLORS = ("rgb", "bgr")
"""Channel orders ``GenderAge.predict`` takes for array input."""


def _bgr_to_rgb(image):
    """An array input with its channels reversed (other inputs as they are)."""
    if isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3:
        return np.ascontiguousarray(image[..., ::-1])
    return image


def detector_settings(detector: Detector, options: FaceOptions) -> dict:
    """What decides which faces are found, for ``genderage info``, ``/healthz`` and the batch
    and video outputs: ``{"detector": name, "score_threshold": float | None, "min_face": px |
    None, "max_faces": int | None}``.

    ``score_threshold`` is the one applied: ``options.det_threshold`` when given, else the
    detector's own (``None`` when a custom detector has no such attribute); ``min_face``
    likewise: ``options.min_face``, else the detector's own smallest face (``min_face_px``:
    64 for the default MTCNN).
    """
    threshold = options.det_threshold
    if threshold is None:
        threshold = getattr(detector, "score_threshold", None)
    min_face = options.min_face
    if min_face is None:
        min_face = getattr(detector, "min_face_px", None)
    return {"detector": detector.name, "score_threshold": threshold,
            "min_face": min_face, "max_faces": options.max_faces}


def make_face(c: Candidate, batch: AttributeBatch, k: int,
              options: FaceOptions = FaceOptions()) -> Face:
    """The :class:`Face` record of candidate ``c``, whose predictions are row ``k`` of
    ``batch``; its gender is ``None`` below ``options.min_gender_probability``."""
    index = int(np.argmax(batch.gender_probs[k]))
    probability = float(batch.gender_probs[k, index])
    lo, hi = (float(v) for v in batch.age_interval[k])
    return Face(
        bbox=tuple(float(v) for v in c.bbox),
        landmarks=tuple((float(x), float(y)) for x, y in c.landmarks),
        det_score=float(c.score),
        gender=options.label(gender_label(index), probability),
        gender_probability=probability,
        age=float(batch.age[k]),
        age_interval=(lo, hi),
        quality=c.quality,
        female_probability=float(batch.gender_probs[k, gender_index("female")]),
    )
