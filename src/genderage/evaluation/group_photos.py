"""A group-photo evaluation for face detectors: scenes composed from real face crops, with
known faces, and recall / false boxes per face size.

The datasets hold one large face per photo, so they cannot tell a detector that finds every
face from one that finds the largest. Here each photo is built from All-Age-Faces crops
(``../shared/data/AAF``) pasted at known places and sizes, so every face's eyes are known:

- ``collage``: a grid of rectangular crops edge to edge (contact sheets, yearbook pages);
- ``scene``: crops blended with soft elliptical edges into a background, at random places
  that do not overlap (a group, a cast, people at a bar), several sizes in one photo;
- ``single``: one face, large or small, in an otherwise empty photo;

each rendered ``ordinary``, ``dark`` (underexposed, noisy) or ``busy`` (a cluttered
background of shapes, lines and text). A face's ground truth is the five landmarks that the
v1 cascade finds on its crop at full size, mapped into the photo; its size is the distance
between the eyes (IOD) in photo pixels.

A detection matches a face when its eye midpoint lies within half the face's IOD of the true
one and its own IOD is within a factor of two; matching is one-to-one, best first. Every
backend's landmarks follow the same order, so one rule serves them all without box
conventions. A detection that matches no face is a false box; the backgrounds hold no
faces by construction.

    from genderage.evaluation.group_photos import build_photos, score_detector
    photos = build_photos(aaf_dir, n_photos=60, seed=0)
    score_detector(create_detector(), photos)   # -> DetectionScore
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

SIZE_BINS = ((12.0, 20.0), (20.0, 30.0), (30.0, 50.0), (50.0, 90.0), (90.0, 1e9))
"""Face sizes (inter-ocular distance in photo pixels) that results are reported by."""

MIN_IOD = 20.0
"""Faces at least this many pixels between the eyes count towards the headline recall."""


@dataclass(frozen=True)
class Face:
    """One known face of a composed photo: five landmarks ``[5, 2]`` (photo pixels, insightface
    order) and the crop it came from."""

    landmarks: np.ndarray
    source: str

    @property
    def eye_mid(self) -> np.ndarray:
        return self.landmarks[:2].mean(axis=0)

    @property
    def iod(self) -> float:
        return float(np.linalg.norm(self.landmarks[1] - self.landmarks[0]))


@dataclass
class GroupPhoto:
    """A composed RGB photo and its known faces."""

    name: str
    kind: str            # collage / scene / single
    lighting: str        # ordinary / dark / busy
    image: np.ndarray    # uint8 [H, W, 3] RGB
    faces: list[Face]


@dataclass
class DetectionScore:
    """Recall and false boxes of one detector on a set of photos."""

    found: dict[str, int] = field(default_factory=dict)      # per size bin
    total: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind/lighting -> [found, total]
    false_boxes: int = 0
    photos: int = 0
    ms_per_photo: list[float] = field(default_factory=list)
    missed: list[tuple[str, float]] = field(default_factory=list)  # (photo, iod)

    def recall(self, min_iod: float = MIN_IOD) -> float:
        """Share of faces with IOD >= ``min_iod`` that were found."""
        keys = [k for k, (lo, _) in zip(self.total, SIZE_BINS) if lo >= min_iod]
        total = sum(self.total[k] for k in keys)
        return sum(self.found[k] for k in keys) / total if total else float("nan")

    def summary(self) -> dict:
        return {
            "recall_iod20": round(self.recall(), 4),
            "faces_iod20": sum(self.total[k] for k, (lo, _) in zip(self.total, SIZE_BINS)
                               if lo >= MIN_IOD),
            "recall_by_iod": {k: [self.found[k], self.total[k]] for k in self.total},
            "by_kind": self.by_kind,
            "false_boxes": self.false_boxes,
            "false_boxes_per_10_photos": round(10 * self.false_boxes / max(self.photos, 1), 3),
            "photos": self.photos,
            "median_ms": round(float(np.median(self.ms_per_photo)), 2) if self.ms_per_photo else None,
        }


def bin_name(lo: float, hi: float) -> str:
    return f"{lo:.0f}+ px" if hi >= 1e9 else f"{lo:.0f}-{hi:.0f} px"


# --- the faces ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SourceFace:
    crop: np.ndarray       # uint8 RGB crop
    landmarks: np.ndarray  # [5, 2] in crop pixels
    name: str


def load_source_faces(aaf_dir: Path, n: int, seed: int = 0) -> list[SourceFace]:
    """``n`` AAF crops, chosen by ``seed``, each with the v1 cascade's landmarks of its one
    confident face (crops where it finds no face or several are skipped: unlike the photo
    sets' largest face, a source face must be its crop's only one, so that a composed photo
    holds exactly the faces it lists)."""
    from ..data.aaf import read_labels
    from ..detect.mtcnn import V1_SETTINGS, MtcnnDetector
    from ..imageio import read_image

    files = sorted(record.file for record in read_labels(aaf_dir))
    order = np.random.default_rng(seed).permutation(len(files))
    reference = MtcnnDetector(**V1_SETTINGS)
    faces = []
    for i in order:
        if len(faces) >= n:
            break
        image = read_image(Path(aaf_dir) / files[i])
        found = reference.detect(image)
        if len(found) != 1 or found[0].score < 0.95:
            continue
        faces.append(SourceFace(image, found[0].landmarks.astype(np.float32), files[i]))
    return faces


# --- the photos --------------------------------------------------------------------------

def _background(rng: np.random.Generator, h: int, w: int, busy: bool) -> np.ndarray:
    """A face-free background: a smooth two-colour gradient with noise, or clutter."""
    c1, c2 = rng.integers(30, 230, 3), rng.integers(30, 230, 3)
    t = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    image = (c1 * (1 - t) + c2 * t).repeat(h, axis=0)
    image = image + rng.normal(0, 6, (h, w, 3))
    image = np.clip(image, 0, 255).astype(np.uint8)
    if busy:
        for _ in range(int(rng.integers(60, 120))):
            color = tuple(int(c) for c in rng.integers(0, 256, 3))
            kind = rng.integers(0, 4)
            x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
            size = int(rng.integers(8, max(9, min(h, w) // 4)))
            if kind == 0:
                cv2.rectangle(image, (x, y), (x + size, y + size // 2), color, -1)
            elif kind == 1:
                cv2.circle(image, (x, y), size // 2, color, int(rng.integers(1, 6)))
            elif kind == 2:
                cv2.line(image, (x, y), (int(rng.integers(0, w)), int(rng.integers(0, h))),
                         color, int(rng.integers(1, 5)))
            else:
                cv2.putText(image, "NEWS 24 LIVE"[: int(rng.integers(3, 12))], (x, y),
                            cv2.FONT_HERSHEY_SIMPLEX, float(rng.uniform(0.5, 2.5)), color, 2)
    return image


def _place(canvas: np.ndarray, src: SourceFace, scale: float, x: int, y: int,
           soft: bool) -> Face:
    """Paste ``src`` scaled by ``scale`` with its top-left corner at ``(x, y)``; return the
    face with its landmarks in canvas pixels."""
    crop = cv2.resize(src.crop, None, fx=scale, fy=scale,
                      interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    h, w = crop.shape[:2]
    region = canvas[y:y + h, x:x + w]
    crop = crop[:region.shape[0], :region.shape[1]]
    if soft:
        mask = np.zeros(crop.shape[:2], np.float32)
        cv2.ellipse(mask, (w // 2, h // 2), (int(w * 0.46), int(h * 0.48)), 0, 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.05 * w))[..., None]
        region[:] = (crop * mask + region * (1 - mask)).astype(np.uint8)
    else:
        region[:] = crop
    return Face(src.landmarks * scale + np.array([x, y], np.float32), src.name)


def _light(rng: np.random.Generator, image: np.ndarray, lighting: str) -> np.ndarray:
    if lighting != "dark":
        return image
    gain = rng.uniform(0.25, 0.45)
    dark = 255.0 * (image / 255.0) ** rng.uniform(1.3, 1.8) * gain
    return np.clip(dark + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)


def _iod_scale(src: SourceFace, iod: float) -> float:
    return iod / float(np.linalg.norm(src.landmarks[1] - src.landmarks[0]))


def _collage(rng, faces: Sequence[SourceFace], lighting: str) -> tuple[np.ndarray, list[Face]]:
    cols = int(rng.choice([3, 4, 5, 6, 8]))
    rows = int(rng.choice([2, 3, 4]))
    cell_w = int(rng.choice([110, 150, 200, 260]))
    chosen = [faces[i] for i in rng.choice(len(faces), rows * cols, replace=False)]
    ch, cw = chosen[0].crop.shape[:2]
    cell_h = int(cell_w * ch / cw)
    canvas = _background(rng, rows * cell_h + 20, cols * cell_w + 20, lighting == "busy")
    out = []
    for k, src in enumerate(chosen):
        r, c = divmod(k, cols)
        scale = cell_w / src.crop.shape[1]
        out.append(_place(canvas, src, scale, 10 + c * cell_w, 10 + r * cell_h, soft=False))
    return canvas, out


def _scene(rng, faces: Sequence[SourceFace], lighting: str) -> tuple[np.ndarray, list[Face]]:
    w, h = [(640, 480), (1024, 768), (1280, 720), (1600, 1200), (1920, 1080)][rng.integers(0, 5)]
    canvas = _background(rng, h, w, lighting == "busy")
    count = int(rng.integers(2, 12))
    # one size for the group, or each face its own: bars and casts vary, portraits not
    base = float(rng.uniform(18, min(110, w / 10)))
    taken: list[tuple[int, int, int, int]] = []
    out = []
    for src in (faces[i] for i in rng.choice(len(faces), count * 3, replace=False)):
        if len(out) >= count:
            break
        iod = base * float(rng.uniform(0.8, 1.25)) if rng.random() < 0.6 else \
            float(rng.uniform(14, min(140, w / 8)))
        scale = _iod_scale(src, iod)
        ch, cw = int(src.crop.shape[0] * scale), int(src.crop.shape[1] * scale)
        if cw >= w or ch >= h:
            continue
        for _ in range(30):
            x, y = int(rng.integers(0, w - cw)), int(rng.integers(0, h - ch))
            if all(x + cw <= a or a + c <= x or y + ch <= b or b + d <= y for a, b, c, d in taken):
                taken.append((x, y, cw, ch))
                out.append(_place(canvas, src, scale, x, y, soft=True))
                break
    return canvas, out


def _single(rng, faces: Sequence[SourceFace], lighting: str) -> tuple[np.ndarray, list[Face]]:
    w, h = [(640, 480), (800, 600), (1280, 960)][rng.integers(0, 3)]
    canvas = _background(rng, h, w, lighting == "busy")
    src = faces[int(rng.integers(0, len(faces)))]
    iod = float(rng.uniform(20, min(160, w / 5)))
    scale = _iod_scale(src, iod)
    ch, cw = int(src.crop.shape[0] * scale), int(src.crop.shape[1] * scale)
    x, y = int(rng.integers(0, max(1, w - cw))), int(rng.integers(0, max(1, h - ch)))
    return canvas, [_place(canvas, src, scale, x, y, soft=True)]


KINDS = {"collage": _collage, "scene": _scene, "single": _single}
LIGHTING = ("ordinary", "dark", "busy")


def build_photos(source: Path | Sequence[SourceFace], n_photos: int = 60, seed: int = 0,
                 n_faces: int = 150, kinds: Sequence[str] = ("collage", "scene", "scene",
                                                             "single")) -> list[GroupPhoto]:
    """``n_photos`` composed photos (kinds cycled, lighting cycled), reproducible from
    ``seed``. ``source``: the AAF folder, or faces from :func:`load_source_faces`."""
    faces = list(source) if not isinstance(source, (str, Path)) else \
        load_source_faces(Path(source), n_faces, seed)
    rng = np.random.default_rng(seed + 1)
    photos = []
    for i in range(n_photos):
        kind = kinds[i % len(kinds)]
        lighting = LIGHTING[(i // len(kinds)) % len(LIGHTING)]
        image, truth = KINDS[kind](rng, faces, lighting)
        image = _light(rng, image, lighting)
        photos.append(GroupPhoto(f"{i:03d}-{kind}-{lighting}", kind, lighting, image, truth))
    return photos


# --- scoring -----------------------------------------------------------------------------

def match(truth: Sequence[Face], landmarks: Sequence[np.ndarray]) -> tuple[list[int], int]:
    """One-to-one matches of detections (their ``[5, 2]`` landmarks) to known faces.

    Returns ``(matched, false_boxes)``: for each known face the index of its detection or -1,
    and the number of detections that match no face.
    """
    pairs = []
    for i, face in enumerate(truth):
        for j, marks in enumerate(landmarks):
            marks = np.asarray(marks, np.float32)
            dist = float(np.linalg.norm(marks[:2].mean(axis=0) - face.eye_mid))
            iod = float(np.linalg.norm(marks[1] - marks[0]))
            if dist <= 0.5 * face.iod and 0.5 * face.iod <= iod <= 2.0 * face.iod:
                pairs.append((dist / face.iod, i, j))
    matched, used = [-1] * len(truth), set()
    for _, i, j in sorted(pairs):
        if matched[i] < 0 and j not in used:
            matched[i] = j
            used.add(j)
    return matched, len(landmarks) - len(used)


def score_detections(photos: Sequence[GroupPhoto], detections: Sequence[Sequence[np.ndarray]]
                     ) -> DetectionScore:
    """Score per-photo detection landmarks against the photos' known faces."""
    score = DetectionScore(found={bin_name(*b): 0 for b in SIZE_BINS},
                           total={bin_name(*b): 0 for b in SIZE_BINS})
    for photo, marks in zip(photos, detections):
        matched, false = match(photo.faces, marks)
        score.false_boxes += false
        score.photos += 1
        for face, m in zip(photo.faces, matched):
            for lo, hi in SIZE_BINS:
                if lo <= face.iod < hi:
                    key = bin_name(lo, hi)
                    score.total[key] += 1
                    score.found[key] += m >= 0
            if face.iod >= MIN_IOD:
                for key in (photo.kind, photo.lighting):
                    cell = score.by_kind.setdefault(key, [0, 0])
                    cell[0] += m >= 0
                    cell[1] += 1
                if m < 0:
                    score.missed.append((photo.name, round(face.iod, 1)))
    return score


def score_detector(detector, photos: Sequence[GroupPhoto]) -> DetectionScore:
    """Run ``detector.detect`` on every photo (timed) and score it."""
    detections, times = [], []
    for photo in photos:
        t0 = time.perf_counter()
        found = detector.detect(photo.image)
        times.append(1000 * (time.perf_counter() - t0))
        detections.append([d.landmarks for d in found])
    score = score_detections(photos, detections)
    score.ms_per_photo = times
    return score
