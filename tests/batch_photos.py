"""A few dozen real-face photos made from examples/astronaut.jpg, plus faceless and bad files,
and the comparisons the ``genderage batch`` tests share."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from png_bytes import png_claiming

ASTRONAUT = Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg"
BAD_FILES = {"bad/empty.jpg": "empty", "bad/notes.png": "not_image",
             "bad/truncated.jpg": "corrupt", "bad/bomb.png": "too_large"}


def build_photos(folder: Path) -> list[str]:
    """Write 34 images under ``folder``; returns their paths (as predict lists them)."""
    base = Image.open(ASTRONAUT).convert("RGB")
    variants = {
        "plain.jpg": base,
        "mirror.jpg": ImageOps.mirror(base),
        "grey.png": ImageOps.grayscale(base).convert("RGB"),
        "blurred.jpg": base.filter(ImageFilter.GaussianBlur(3)),
        "pair.png": _side_by_side(base, ImageOps.mirror(base)),
    }
    for scale in (0.6, 0.8, 1.3):
        variants[f"scale/{scale}.jpg"] = base.resize(
            (round(base.width * scale), round(base.height * scale)), Image.BILINEAR)
    for angle in (-20, -10, 10, 20):
        variants[f"rotate/{angle}.png"] = base.rotate(angle, Image.BILINEAR)
    for i, box in enumerate([(100, 0, 400, 300), (120, 20, 340, 260), (0, 0, 300, 512),
                             (150, 30, 300, 200)]):
        variants[f"crop/{i}.jpg"] = base.crop(box)
    for quality in (20, 40, 60, 80, 95):
        variants[f"jpeg/q{quality}.jpg"] = base
    for i, gain in enumerate((0.5, 0.7, 1.2, 1.5)):
        array = np.clip(np.asarray(base, np.float32) * gain, 0, 255).astype(np.uint8)
        variants[f"light/{i}.png"] = Image.fromarray(array)
    rng = np.random.default_rng(0)
    for i in range(3):
        variants[f"noface/{i}.png"] = Image.fromarray(
            rng.integers(0, 256, (96 + 32 * i, 128, 3), dtype=np.uint8))
    paths = []
    for name, image in variants.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        quality = int(name.split("/q")[1].split(".")[0]) if name.startswith("jpeg/") else 90
        image.save(target, quality=quality) if target.suffix == ".jpg" else image.save(target)
        paths.append(str(target))
    (folder / "bad").mkdir()
    (folder / "bad/empty.jpg").write_bytes(b"")
    (folder / "bad/notes.png").write_text("not an image")
    (folder / "bad/truncated.jpg").write_bytes(ASTRONAUT.read_bytes()[:4000])
    (folder / "bad/bomb.png").write_bytes(png_claiming(30000, 30000))
    paths += [str(folder / name) for name in BAD_FILES]
    return sorted(paths)


def _side_by_side(left: Image.Image, right: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", (left.width + right.width, max(left.height, right.height)))
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width, 0))
    return canvas


def rows_by_path(table) -> dict[str, list[dict]]:
    """Rows of a batch table grouped by path, each group in face order."""
    groups = defaultdict(list)
    for row in table.to_pylist():
        groups[row["path"]].append(row)
    return {path: sorted(rows, key=lambda r: -1 if r["face_index"] is None else r["face_index"])
            for path, rows in groups.items()}


def read_output(out) -> "pyarrow.Table":  # noqa: F821
    """The whole output dataset, as every reader sees it (hidden files ignored)."""
    import pyarrow.dataset as ds

    return ds.dataset(str(out), format="parquet").to_table()


FLOATS = ("det_score", "gender_probability", "female_probability", "age", "age_low", "age_high")
LISTS = ("bbox", "landmarks", "age_probs")


def assert_same_rows(a, b, tol: float = 1e-4) -> None:
    """Two batch tables hold the same rows: exact strings and flags, floats within ``tol``."""
    rows_a, rows_b = rows_by_path(a), rows_by_path(b)
    assert sorted(rows_a) == sorted(rows_b)
    for path in rows_a:
        assert len(rows_a[path]) == len(rows_b[path]), path
        for x, y in zip(rows_a[path], rows_b[path]):
            assert x.keys() == y.keys()
            for key in x:
                if key in FLOATS and x[key] is not None:
                    assert abs(x[key] - y[key]) <= tol, (path, key, x[key], y[key])
                elif key in LISTS and x[key] is not None:
                    assert np.allclose(x[key], y[key], rtol=0, atol=tol), (path, key)
                else:
                    assert x[key] == y[key], (path, key, x[key], y[key])


def assert_matches_predict_json(table, predictions: list[dict]) -> None:
    """``table`` says what ``predict --json`` printed: same files, errors, faces and labels;
    floats equal to the printed ones up to their rounding (2 or 4 decimals) plus 1e-4."""
    rows = rows_by_path(table)
    assert sorted(rows) == sorted(p["path"] for p in predictions)

    def close(value, printed, decimals):
        assert abs(value - printed) <= 0.5 * 10 ** -decimals + 1e-4, (value, printed)

    for obj in predictions:
        got = rows[obj["path"]]
        if not obj["faces"]:
            assert len(got) == 1 and got[0]["face_index"] is None and got[0]["bbox"] is None
            assert got[0]["error"] == obj["error"]
            continue
        assert [r["face_index"] for r in got] == list(range(len(obj["faces"])))
        for row, face in zip(got, obj["faces"]):
            assert row["error"] is None and row["gender"] == face["gender"]
            assert row["low_quality"] == face["quality"]["low_quality"]
            assert row["quality_reasons"] == face["quality"]["reasons"]
            close(row["det_score"], face["det_score"], 4)
            close(row["gender_probability"], face["gender_probability"], 4)
            close(row["female_probability"], face["female_probability"], 4)
            close(row["age"], face["age"], 2)
            close(row["age_low"], face["age_interval"][0], 2)
            close(row["age_high"], face["age_interval"][1], 2)
            for v, p in zip(row["bbox"], face["bbox"]):
                close(v, p, 2)
            for v, p in zip(row["landmarks"], [c for point in face["landmarks"] for c in point]):
                close(v, p, 2)


def assert_matches_library(table, results) -> None:
    """``table`` holds the full-precision values of ``GenderAge.predict_batch`` results
    (floats within 1e-4)."""
    rows = rows_by_path(table)
    for result in results:
        got = rows[result.path]
        if not result.faces:
            assert got[0]["error"] == result.error and got[0]["face_index"] is None
            continue
        for row, face in zip(got, result.faces, strict=True):
            expected = [face.det_score, face.gender_probability, face.female_probability,
                        face.age, *face.age_interval,
                        *face.bbox, *(c for point in face.landmarks for c in point)]
            actual = [row["det_score"], row["gender_probability"], row["female_probability"],
                      row["age"], row["age_low"],
                      row["age_high"], *row["bbox"], *row["landmarks"]]
            assert all(math.isclose(a, e, rel_tol=0, abs_tol=1e-4)
                       for a, e in zip(actual, expected)), result.path
            assert row["gender"] == face.gender
