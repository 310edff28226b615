"""Where should the `dark` quality flag start? Darken UTKFace val chips, watch accuracy.

Every 4th chip of the UTKFace val split, resized as the pipeline does, is darkened by
``255 * gain * (v / 255) ** 1.3`` plus noise (sigma 2), for several gains; prints v1's
gender accuracy and the distribution of :func:`genderage.quality.brightness_score`.

    PYTHONPATH=src python research/dark_threshold.py --manifest splits/utkface_seed0.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", type=Path, default=ROOT / "splits" / "utkface_seed0.csv")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "UTKFace")
    ap.add_argument("--model", default=None)
    ap.add_argument("--step", type=int, default=4)
    args = ap.parse_args(argv)

    from genderage.attribute import AttributeModel
    from genderage.data.split import read_manifest
    from genderage.imageio import read_image
    from genderage.pipeline import resolve_model_path
    from genderage.preprocess import resize_face
    from genderage.quality import brightness_score

    rows = read_manifest(args.manifest, "val", "utkface")[::args.step]
    faces = np.stack([resize_face(read_image(args.data / r.file)) for r in rows])
    gender = np.array([r.gender for r in rows])
    model = AttributeModel(resolve_model_path(args.model))
    noise = np.random.default_rng(0).normal(0, 2, faces.shape)
    print(f"{len(rows)} chips; gain | gender accuracy | brightness p1 p5 p50 p95")
    for gain in (1.0, 0.5, 0.35, 0.25, 0.18):
        x = faces if gain == 1 else np.clip(255 * gain * (faces / 255.0) ** 1.3 + noise, 0,
                                            255).astype(np.uint8)
        acc = (model.predict(x).gender_probs.argmax(1) == gender).mean()
        b = np.array([brightness_score(f) for f in x])
        print(f"{gain:4.2f} | {acc:.4f} | " + " ".join(f"{v:.0f}" for v in
                                                       np.percentile(b, [1, 5, 50, 95])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
