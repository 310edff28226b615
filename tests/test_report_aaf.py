"""``genderage report`` on 300 labelled All-Age-Faces photos (../shared; skips without it):
the true female share and mean age lie inside the reported 95% intervals. (Every k-th photo
of AAF: about a fifth are in the AAF dev fold the shipped error model was measured on.)"""

from __future__ import annotations

import pytest

pytest.importorskip("pyarrow")


@pytest.mark.slow  # 12 s: reproduces docs/report.md's AAF table from ../shared
def test_report_intervals_hold_the_truth_on_aaf(shared_dir, tmp_path):
    aaf = shared_dir / "data" / "AAF"
    if not (aaf / "labels.csv").is_file():
        pytest.skip(f"{aaf} is absent")
    from genderage.evaluation.photos import load_labels
    from genderage.evaluation.population import run_batch, truth
    from genderage.report import build_report

    labels = load_labels(aaf / "labels.csv", 300)
    results = tmp_path / "results"
    assert run_batch([aaf / r.file for r in labels], results) == 0
    report = build_report(results, n_boot=1000)
    true = truth(labels)
    assert report["n_images"] == 300 and report["n_faces_used"] >= 295

    for name in ("female_share", "mean_age"):
        lo, hi = report[name]["ci95"]
        assert lo <= true[name] <= hi, (name, true[name], report[name])
    # The interval is informative, not the whole range.
    assert report["female_share"]["ci95"][1] - report["female_share"]["ci95"][0] < 0.2
    age = report["mean_age"]
    assert age["uncorrected_ci95"][1] - age["uncorrected_ci95"][0] < 5
    # The corrected interval adds the bias of a new population, Normal(b, se_b^2 + tau^2), to
    # the sampling spread: its width is what the two give together, no more.
    bias = report["method"]["error_model"]["age_bias"]
    sampling_sd = (age["uncorrected_ci95"][1] - age["uncorrected_ci95"][0]) / (2 * 1.96)
    width = 2 * 1.96 * (sampling_sd ** 2 + bias["se_b"] ** 2 + bias["tau"] ** 2) ** 0.5
    assert age["ci95"][1] - age["ci95"][0] == pytest.approx(width, rel=0.1)
