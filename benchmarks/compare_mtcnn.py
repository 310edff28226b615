"""MTCNN settings side by side: detection rate, alignment, and speed, on the same images.

Every configuration runs on the same AAF crops, the same UTKFace validation chips and the
same 640x480 photo, in one process:

- ``AAF found``: share of AAF crops with a face;
- ``vs v1``: median (p90) distance of the largest face's five landmarks to those of the v1
  cascade (``MtcnnDetector(**V1_SETTINGS)``), % of the inter-ocular distance;
- ``UTK found`` / ``re-crop``: on UTKFace validation chips framed by 100 black pixels (as
  ``research/check_alignment.py`` and training's re-crops do), the share with a
  face near the centre, and how far the pipeline's re-crop moves the chip: RMS displacement of
  the template's five points, % of the template's inter-ocular distance (79 px), median (p90);
- ``ms``: median (p90) of ``detect`` on the 640x480 photo of ``bench_e2e.py``, all
  configurations interleaved round by round so that the host's drift hits them alike;
- with ``--model``: gender accuracy and age MAE of that model on the largest face of each
  AAF crop that has one, aligned as the pipeline aligns it (``GenderAge.predict``'s path).

    PYTHONPATH=src python benchmarks/compare_mtcnn.py --aaf-limit 1000 --utk-limit 1000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from bench_e2e import SHARED, one_face_photo  # benchmarks/ is the script's folder

from genderage.detect.mtcnn import V1_SETTINGS, MtcnnDetector

CONFIGS = {
    "v1 (min face 24, refine NMS 0.7, area resize)": V1_SETTINGS,
    "min face 48 + small-face retry": {**V1_SETTINGS, "min_face": 48.0, "small_face_retry": 24.0},
    "refine NMS 0.4": {**V1_SETTINGS, "refine_nms": 0.4},
    "fast resize": {**V1_SETTINGS, "fast_resize": True},
    "canvas 256": {**V1_SETTINGS, "input_size": 256},
    "min face 24, NMS 0.4, fast resize": {"min_face": 24.0, "small_face_retry": None},
    "min face 36 + retry, NMS 0.4, fast resize": {"min_face": 36.0},
    "min face 48 + retry, NMS 0.3, fast resize": {"refine_nms": 0.3},
    "min face 48 + retry, NMS 0.5, fast resize": {"refine_nms": 0.5},
    "min face 48 + retry, NMS 0.7, fast resize": {"refine_nms": 0.7},
    "default: min face 48 + retry, NMS 0.4, fast resize": {},
}


def evenly(items: list, limit: int | None) -> list:
    if not limit or limit >= len(items):
        return items
    return [items[i] for i in np.linspace(0, len(items) - 1, limit).round().astype(int)]


def recrop_displacement(landmarks: np.ndarray, pad: int) -> float:
    """RMS displacement of the template points by the re-crop of a chip padded by ``pad``,
    % of the template's inter-ocular distance (0 = the chip comes back unchanged)."""
    from genderage.align import TEMPLATE, chip_transform, transform_points

    moved = transform_points(chip_transform(landmarks), TEMPLATE + pad)
    iod = np.linalg.norm(TEMPLATE[1] - TEMPLATE[0])
    return 100 * float(np.sqrt(((moved - TEMPLATE) ** 2).sum(1).mean())) / iod


def interleaved_ms(detectors: dict, image: np.ndarray, rounds: int, runs: int) -> dict:
    times = {name: [] for name in detectors}
    for d in detectors.values():
        d.detect(image)
    for _ in range(rounds):
        for name, d in detectors.items():
            for _ in range(runs):
                t0 = time.perf_counter()
                d.detect(image)
                times[name].append(1000 * (time.perf_counter() - t0))
    return times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--aaf", type=Path, default=SHARED / "AAF")
    ap.add_argument("--aaf-limit", type=int, default=1000, help="AAF crops (0 = all 6443)")
    ap.add_argument("--utk", type=Path, default=SHARED / "UTKFace")
    ap.add_argument("--split-csv", type=Path,
                    default=Path(__file__).resolve().parents[1] / "splits" / "utkface_seed0.csv")
    ap.add_argument("--utk-limit", type=int, default=1000, help="validation chips (0 = all, -1 = none)")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=20, help="timed runs per round and config")
    ap.add_argument("--only", nargs="*", help="substrings of the configurations to run")
    ap.add_argument("--model", type=Path, help="attribute model: adds AAF accuracy columns")
    args = ap.parse_args(argv)

    from genderage.align import align_face
    from genderage.attribute import AttributeModel
    from genderage.contract import CHIP_SIZE
    from genderage.training.recrop import DEFAULT_PAD, central_detection, pad_chip
    from genderage.data.split import read_manifest
    from genderage.imageio import decode_image, read_image

    cv2.setNumThreads(2)
    configs = {k: v for k, v in CONFIGS.items()
               if not args.only or any(s in k for s in args.only)}
    detectors = {name: MtcnnDetector(**kw) for name, kw in configs.items()}
    v1 = MtcnnDetector(**V1_SETTINGS)
    photo = decode_image(one_face_photo())
    times = interleaved_ms(detectors, photo, args.rounds, args.runs)

    aaf_files = evenly(sorted((args.aaf / "images").glob("*.jpg")), args.aaf_limit)
    found = {name: 0 for name in detectors}
    vs_v1 = {name: [] for name in detectors}
    crops = {name: [] for name in detectors}   # (file name, aligned largest face)
    for f in aaf_files:
        image = read_image(f)
        ref = v1.detect(image)
        for name, d in detectors.items():
            faces = ref if configs[name] == V1_SETTINGS else d.detect(image)
            found[name] += bool(faces)
            if faces and args.model:
                crops[name].append((f.name, align_face(image, faces[0].landmarks)))
            if faces and ref:
                iod = np.linalg.norm(ref[0].landmarks[1] - ref[0].landmarks[0])
                vs_v1[name].append(100 * np.linalg.norm(
                    faces[0].landmarks - ref[0].landmarks, axis=1).mean() / iod)

    chips = [] if args.utk_limit < 0 else evenly(read_manifest(args.split_csv, "val"),
                                                  args.utk_limit)
    utk_found = {name: 0 for name in detectors}
    recrop = {name: [] for name in detectors}
    for row in chips:
        padded = pad_chip(read_image(args.utk / row.file), DEFAULT_PAD)
        for name, d in detectors.items():
            det = central_detection(d.detect(padded), CHIP_SIZE, DEFAULT_PAD)
            if det is not None:
                utk_found[name] += 1
                recrop[name].append(recrop_displacement(np.asarray(det.landmarks, np.float64),
                                                        DEFAULT_PAD))

    accuracy = {}
    if args.model:
        from genderage.evaluation.photos import load_labels

        labels = {Path(r.file).name: r for r in load_labels(args.aaf / "labels.csv")}
        model = AttributeModel(args.model)
        for name, pairs in crops.items():
            out = [model.predict(np.stack([c for _, c in pairs[i:i + 256]]))
                   for i in range(0, len(pairs), 256)]
            rows = [labels[file] for file, _ in pairs]
            pred_gender = np.concatenate([o.gender_probs for o in out]).argmax(1)
            pred_age = np.concatenate([o.age for o in out])
            true_gender = np.array([r.gender for r in rows])
            true_age = np.array([float(r.age) for r in rows])
            accuracy[name] = (100 * float((pred_gender == true_gender).mean()),
                              float(np.abs(pred_age - true_age).mean()))

    def med_p90(values) -> str:
        return f"{np.median(values):.2f} ({np.percentile(values, 90):.2f})" if values else "-"

    print(f"AAF crops: {len(aaf_files)}; UTKFace val chips: {len(chips)}; timing: 640x480 "
          f"photo, {args.rounds} rounds x {args.runs} runs, interleaved")
    extra = " AAF gender | AAF age MAE |" if accuracy else ""
    print("| MTCNN settings | AAF found | vs v1 (% IOD) | UTK found | re-crop (% IOD) "
          "| ms median (p90) |" + extra)
    print("|---|---|---|---|---|---|" + "---|---|" * bool(accuracy))
    for name in detectors:
        cells = f" {accuracy[name][0]:.2f}% | {accuracy[name][1]:.3f} |" if accuracy else ""
        utk = f"{100 * utk_found[name] / len(chips):.2f}%" if chips else "-"
        print(f"| {name} | {100 * found[name] / len(aaf_files):.2f}% | {med_p90(vs_v1[name])} "
              f"| {utk} | {med_p90(recrop[name])} | {med_p90(times[name])} |" + cells)
    return 0


if __name__ == "__main__":
    sys.exit(main())
