"""Population-level checks of ``genderage report`` on labelled photos (e.g. All-Age-Faces):
the labels' true female share, mean age and age bands beside the report's estimates."""

from __future__ import annotations

from pathlib import Path

import numpy as np

def run_batch(paths: list[Path], out: Path, workers: int = 1) -> int:
    """Run ``genderage batch`` (local engine, with ``--age-probs``) on ``paths`` into the
    Parquet dataset ``out``; returns its exit status (1 when some input failed)."""
    from ..cli import main

    out.parent.mkdir(parents=True, exist_ok=True)
    listing = out.parent / f"{out.name}.paths.txt"
    listing.write_text("".join(f"{p}\n" for p in paths))
    return main(["batch", str(listing), "--out", str(out), "--age-probs", "--no-progress",
                 "--workers", str(workers)])


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
