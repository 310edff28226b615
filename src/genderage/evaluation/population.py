"""Population-level checks of ``genderage report`` on labelled photos (e.g. All-Age-Faces):
the labels' true female share, mean age and age bands beside the report's estimates."""

from __future__ import annotations

from pathlib import Path

import numpy as np

RESULT_COLUMNS = ("path", "face_index", "gender", "gender_probability", "age", "age_low",
                  "age_high", "low_quality", "quality_reasons", "error", "model_sha256",
                  "genderage_version")


def write_results(paths: list[Path], out: Path, batch_size: int = 32) -> Path:
    """Run ``GenderAge().predict_batch`` on ``paths`` and write Parquet in the columns of
    `genderage batch` that a report reads (one row per face; one per image without a face
    or with an error). For use before `genderage batch` exists, or without it."""
    import hashlib

    import pyarrow as pa
    import pyarrow.parquet as pq

    from genderage import GenderAge, __version__

    analyzer = GenderAge()
    sha256 = hashlib.sha256(Path(analyzer.model.path).read_bytes()).hexdigest()
    rows = {c: [] for c in RESULT_COLUMNS}
    for start in range(0, len(paths), batch_size):
        for result in analyzer.predict_batch(paths[start:start + batch_size]):
            for i, face in enumerate(result.faces or [None]):
                row = dict.fromkeys(RESULT_COLUMNS)
                row.update(path=result.path, error=result.error, model_sha256=sha256,
                           genderage_version=__version__)
                if face is not None:
                    row.update(face_index=i, gender=face.gender,
                               gender_probability=face.gender_probability, age=face.age,
                               age_low=face.age_interval[0], age_high=face.age_interval[1],
                               low_quality=face.quality.low_quality,
                               quality_reasons=list(face.quality.reasons))
                for column in RESULT_COLUMNS:
                    rows[column].append(row[column])
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(rows), out)
    return out


def truth(labels: list[dict]) -> dict:
    """Female share, mean age, band shares and female share per band of the labels."""
    from genderage.report.stats import AGE_BANDS, band_mass

    female = np.array([r["gender"] == "female" for r in labels], float)
    mass = band_mass(np.array([float(r["age"]) for r in labels]))
    return {"female_share": female.mean(),
            "mean_age": float(np.mean([float(r["age"]) for r in labels])),
            "age_bands": dict(zip(AGE_BANDS, mass.mean(0))),
            "female_share_by_age_band": dict(zip(AGE_BANDS, (mass * female[:, None]).sum(0)
                                                 / mass.sum(0)))}


def comparison(report: dict, true: dict) -> list[tuple[str, float, float, list, float | None]]:
    """Rows (quantity, truth, estimate, ci95, naive): every estimate of the report beside the
    truth; shares as fractions, ages in years."""
    fs, age = report["female_share"], report["mean_age"]
    rows = [("female share", true["female_share"], fs["estimate"], fs["ci95"], fs["naive"]),
            ("mean age", true["mean_age"], age["estimate"], age["ci95"], age["naive"])]
    for band, share in true["age_bands"].items():
        b = report["age_bands"][band]
        rows.append((f"share aged {band}", share, b["share"], b["ci95"], None))
    for band, share in true["female_share_by_age_band"].items():
        b = report["female_share_by_age_band"][band]
        rows.append((f"female share, {band}", share, b["estimate"], b["ci95"], b["naive"]))
    return rows
