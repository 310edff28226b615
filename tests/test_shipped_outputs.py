"""The shipped models' answers on fixed images, pinned: a refactor must not change them.

Five images made deterministically from ``examples/astronaut.jpg`` (the photo, its mirror
image, the two side by side, a half-size copy, a darkened copy) go through
``GenderAge()`` with each shipped file (int8, the default, and fp32); every face's box,
landmarks, detection score, P(female), age and age interval must equal the recorded values
in ``tests/golden/shipped_outputs.json``. The tolerances (1e-4 in probabilities and years,
0.01 px) allow for onnxruntime's kernels differing between CPUs, not for a change of
arithmetic. A release that ships a new model records its answers again:

    PYTHONPATH=src python tests/test_shipped_outputs.py --write

The file records each model's SHA-256, so a new model fails with that message, not a diff.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "shipped_outputs.json"
ASTRONAUT = ROOT / "examples" / "astronaut.jpg"


def fixed_images() -> dict[str, np.ndarray]:
    from genderage.imageio import read_image

    rgb = read_image(ASTRONAUT)
    h, w = rgb.shape[:2]
    return {"astronaut": rgb,
            "mirror": np.ascontiguousarray(rgb[:, ::-1]),
            "two_faces": np.concatenate([rgb, rgb[:, ::-1]], axis=1),
            "half_size": np.ascontiguousarray(rgb[::2, ::2]),
            "dark": (rgb.astype(np.float32) * 0.35).astype(np.uint8)}


def answers() -> dict:
    from genderage import GenderAge
    from genderage.models import default_model_path, file_sha256

    out = {}
    for precision in ("int8", "fp32"):
        path = default_model_path(precision)
        analyzer = GenderAge(path)
        faces = {}
        for name, rgb in fixed_images().items():
            faces[name] = [{"bbox": [float(v) for v in f.bbox],
                            "landmarks": np.asarray(f.landmarks, float).round(6).tolist(),
                            "det_score": float(f.det_score),
                            "female_probability": float(f.female_probability),
                            "age": float(f.age),
                            "age_interval": [float(v) for v in f.age_interval]}
                           for f in analyzer.predict(rgb).faces]
        out[precision] = {"model_sha256": file_sha256(path), "faces": faces}
    return out


def test_shipped_models_answer_as_recorded():
    from genderage.models import default_model_path

    if any(default_model_path(p) is None for p in ("int8", "fp32")):
        pytest.skip("no shipped model")
    golden = json.loads(GOLDEN.read_text())
    now = answers()
    for precision, rec in golden.items():
        assert now[precision]["model_sha256"] == rec["model_sha256"], (
            f"the shipped {precision} model changed; record its answers again: "
            f"PYTHONPATH=src python tests/test_shipped_outputs.py --write")
        for name, faces in rec["faces"].items():
            got = now[precision]["faces"][name]
            assert len(got) == len(faces), f"{precision} {name}: {len(got)} faces"
            for g, e in zip(got, faces):
                np.testing.assert_allclose(g["bbox"], e["bbox"], atol=0.01)
                np.testing.assert_allclose(g["landmarks"], e["landmarks"], atol=0.01)
                for key in ("det_score", "female_probability", "age"):
                    assert g[key] == pytest.approx(e[key], abs=1e-4), (precision, name, key)
                np.testing.assert_allclose(g["age_interval"], e["age_interval"], atol=1e-4)
    # the fixed images hold what they are meant to: two faces where two were put
    assert [len(f) for f in golden["int8"]["faces"].values()] == [1, 1, 2, 1, 1]


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(answers(), indent=1) + "\n")
    print(f"wrote {GOLDEN}")
