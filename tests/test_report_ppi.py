"""Prediction-powered estimates (report/ppi.py, report/labelled.py): golden values against
``ppi_py``, coverage in simulated populations whose errors differ from the dev sets, the
labels file's checks, and ``genderage report --labels`` / ``--plan`` through the real CLI."""

from __future__ import annotations

import csv
import json
import logging

import numpy as np
import pytest

from genderage.cli import main
from genderage.label.sample import face_keys, results_fingerprint, sampling_order
from genderage.label.store import LabelsError, LabelsWriter, Sampling, read_labels
from genderage.report.ppi import Labelled, ppi_ratio

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def plain(y, y_hat):
    n = len(y)
    return Labelled(y, np.ones(n), y_hat, np.ones(n), np.zeros(n, np.int64))


@pytest.fixture(scope="module")
def binary_sample():
    rng = np.random.default_rng(1)
    n_all = 2000
    y_all = (rng.random(n_all) < 0.4).astype(float)
    y_hat_all = np.where(rng.random(n_all) < 0.85, y_all, 1 - y_all)
    idx = rng.choice(n_all, 300, replace=False)
    return y_all[idx], y_hat_all[idx], y_hat_all


# Golden values, computed once with ppi_py 0.2.3 (``ppi_mean_ci(Y, Yhat, Yhat_unlabeled,
# alpha=0.05, lam=lam)``) on ``binary_sample``; the test below recomputes them when ppi_py is
# installed, so that these stand when it is not.
GOLDEN = {None: (0.42048578624947813, 0.3769759386501234, 0.46399563384883286),
          0.0: (0.42, 0.3641496234354357, 0.47585037656456425),
          0.5: (0.42041666666666666, 0.37661975030497374, 0.4642135830283596),
          1.0: (0.42083333333333334, 0.37065071232449515, 0.47101595434217153)}


@pytest.mark.parametrize("lam", list(GOLDEN))
def test_mean_matches_golden_values_of_ppi_py(binary_sample, lam):
    y, y_hat, y_hat_all = binary_sample
    r = ppi_ratio(plain(y, y_hat), y_hat_all, np.ones(len(y_hat_all)), np.array([1.0]), lam)
    estimate, lo, hi = GOLDEN[lam]
    assert r.estimate == pytest.approx(estimate, abs=1e-12)
    assert r.ci95 == pytest.approx((lo, hi), abs=1e-12)
    if lam is None:
        assert 0 < r.lam < 1


@pytest.mark.parametrize("lam", [None, 0.0, 0.3, 1.0])
@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_mean_equals_ppi_py_on_continuous_data(lam):
    ppi_py = pytest.importorskip("ppi_py")
    rng = np.random.default_rng(7)
    truth = rng.normal(30, 15, 5000)
    pred = truth + rng.normal(1.5, 6, 5000)
    idx = rng.choice(5000, 400, replace=False)
    lo, hi = ppi_py.ppi_mean_ci(truth[idx], pred[idx], pred, alpha=0.05, lam=lam)
    est = ppi_py.ppi_mean_pointestimate(truth[idx], pred[idx], pred, lam=lam)
    r = ppi_ratio(plain(truth[idx], pred[idx]), pred, np.ones(5000), np.array([1.0]), lam)
    assert r.estimate == pytest.approx(float(np.ravel(est)[0]), rel=1e-12)
    assert r.ci95 == pytest.approx((float(lo[0]), float(hi[0])), rel=1e-12)


def test_golden_values_are_ppi_py_s(binary_sample):
    ppi_py = pytest.importorskip("ppi_py")
    y, y_hat, y_hat_all = binary_sample
    for lam, (estimate, lo, hi) in GOLDEN.items():
        got_lo, got_hi = ppi_py.ppi_mean_ci(y, y_hat, y_hat_all, alpha=0.05, lam=lam)
        assert (float(got_lo[0]), float(got_hi[0])) == pytest.approx((lo, hi), abs=1e-12)


def test_stratified_point_estimate_is_ppi_py_weighted_one():
    """With strata, the estimate is ppi_py's with inverse-probability weights; the variance
    is the stratified one (no between-strata term), so only the point is compared."""
    ppi_py = pytest.importorskip("ppi_py")
    rng = np.random.default_rng(3)
    strata_all = rng.integers(0, 3, 3000)
    y_all = (rng.random(3000) < np.array([0.2, 0.5, 0.8])[strata_all]).astype(float)
    y_hat_all = np.where(rng.random(3000) < 0.9, y_all, 1 - y_all)
    idx = np.concatenate([rng.choice(np.flatnonzero(strata_all == g), k, replace=False)
                          for g, k in enumerate((40, 80, 120))])
    share = np.bincount(strata_all) / 3000
    n_g = np.bincount(strata_all[idx])
    w = share[strata_all[idx]] / (n_g[strata_all[idx]] / len(idx))
    x = Labelled(y_all[idx], np.ones(len(idx)), y_hat_all[idx], np.ones(len(idx)),
                 strata_all[idx])
    r = ppi_ratio(x, y_hat_all, np.ones(3000), share, 0.6)
    want = ppi_py.ppi_mean_pointestimate(y_all[idx], y_hat_all[idx], y_hat_all, lam=0.6, w=w)
    assert r.estimate == pytest.approx(float(np.ravel(want)[0]), rel=1e-12)


def test_ratio_is_the_mean_of_the_usable_labels_when_labels_alone():
    rng = np.random.default_rng(4)
    a, told = rng.random(100) < 0.3, rng.random(100) < 0.8
    x = Labelled((a & told).astype(float), told.astype(float), rng.random(100),
                 np.ones(100), np.zeros(100, np.int64))
    r = ppi_ratio(x, rng.random(1000), np.ones(1000), np.array([1.0]), lam=0.0)
    assert r.estimate == pytest.approx(a[told].mean())
    assert r.n_used == told.sum()


def simulate(rng, stratified: bool):
    """One population whose gender and age errors are its own, a sample of 300 labels, and
    whether each 95% interval holds the truth. "Can't tell" is more frequent among the faces
    the model calls male and among children (not at random), "not a face" among low scores."""
    n_all = int(rng.integers(800, 6000))
    child = rng.random(n_all) < rng.uniform(0.05, 0.7)
    female = rng.random(n_all) < rng.uniform(0.05, 0.95)
    tpr = np.where(child, rng.uniform(0.55, 0.9), rng.uniform(0.85, 0.99))
    fpr = np.where(child, rng.uniform(0.1, 0.45), rng.uniform(0.01, 0.15))
    pred = rng.random(n_all) < np.where(female, tpr, fpr)
    age = np.where(child, rng.uniform(1, 18, n_all), rng.uniform(18, 85, n_all))
    age_hat = age + rng.normal(rng.normal(0, 4), rng.uniform(3, 10), n_all)
    age_hat += np.where(child, rng.normal(0, 4), 0)
    face = rng.random(n_all) > rng.uniform(0, 0.05)
    told = face & (rng.random(n_all) > np.where(child, 0.2, 0.05) * (1 + pred))
    strata = (child.astype(int) if stratified else np.zeros(n_all, int))
    share = np.bincount(strata) / n_all
    members = [np.flatnonzero(strata == g) for g in range(len(share))]
    idx = np.concatenate([rng.choice(m, min(len(m) // 2, 150) if stratified else 300,
                                     replace=False) for m in members])
    ones, ones_all = np.ones(len(idx)), np.ones(n_all)
    t = told[idx].astype(float)
    fs = ppi_ratio(Labelled(t * female[idx], t, pred[idx].astype(float), ones, strata[idx]),
                   pred.astype(float), ones_all, share)
    f = face[idx].astype(float)
    ma = ppi_ratio(Labelled(f * age[idx], f, age_hat[idx], ones, strata[idx]), age_hat,
                   ones_all, share)
    truth_fs, truth_age = female[told].mean(), age[face].mean()
    return (fs.ci95[0] <= truth_fs <= fs.ci95[1], ma.ci95[0] <= truth_age <= ma.ci95[1])


@pytest.mark.parametrize("stratified", [False, True])
def test_intervals_hold_the_truth_in_populations_unlike_the_dev_sets(stratified):
    rng = np.random.default_rng(11 + stratified)
    hits = np.array([simulate(rng, stratified) for _ in range(600)])
    coverage = hits.mean(0)
    assert coverage[0] >= 0.93, coverage
    assert coverage[1] >= 0.93, coverage


def test_band_estimates_hold_the_truth_in_populations_unlike_the_dev_sets():
    """Through :func:`labelled_estimates`: shares of true-age bands and female shares per band
    of estimated age (groups known for every face), with calibrated-looking P(female)."""
    from genderage.report.estimate import FaceData
    from genderage.report.labelled import Sample, labelled_estimates
    from genderage.report.stats import AGE_BANDS, BAND_EDGES

    rng = np.random.default_rng(5)
    hits, tried = 0, 0
    for _ in range(150):
        n_all = int(rng.integers(1500, 5000))
        age = rng.uniform(1, 90, n_all) ** rng.uniform(0.8, 1.0)
        female = rng.random(n_all) < rng.uniform(0.2, 0.8)
        est_age = np.clip(age + rng.normal(rng.normal(0, 4), rng.uniform(3, 9), n_all), 0, 110)
        child = est_age < 18
        strength = np.where(child, rng.uniform(0.3, 1.5), rng.uniform(1.5, 3.5))
        logit = np.where(female, 1, -1) * strength + rng.normal(0, 1.5, n_all)
        p_female = 1 / (1 + np.exp(-logit))
        faces = FaceData(p_female > 0.5, est_age, p_female=p_female)
        gender = np.where(female, "female", "male").astype(object)
        gender[rng.random(n_all) < np.where(child, 0.15, 0.03)] = "cant_tell"
        idx = rng.choice(n_all, 300, replace=False)
        sample = Sample(pos=idx, gender=gender[idx], age=age[idx], stratum=np.zeros(300, int),
                        share=np.array([1.0]), strata_all=np.zeros(n_all, int), counts={},
                        warnings=[])
        out = labelled_estimates(faces, sample)
        true_band = np.searchsorted(BAND_EDGES, age, side="right") - 1
        est_band = np.searchsorted(BAND_EDGES, est_age, side="right") - 1
        told = gender != "cant_tell"
        for j, band in enumerate(AGE_BANDS):
            for e, truth in ((out["age_bands"][band], np.mean(true_band == j)),
                             (out["female_share_by_age_band"][band],
                              np.mean(female[told & (est_band == j)])
                              if np.any(told & (est_band == j)) else None)):
                if e["available"] and truth is not None:
                    tried += 1
                    hits += e["ci95"][0] <= truth <= e["ci95"][1]
    assert tried > 900
    assert hits / tried >= 0.93, (hits, tried)


def test_sampling_order_is_stable_uniform_and_stratified():
    keys = [f"img{i}.jpg\t0" for i in range(2000)]
    order = sampling_order(keys, 5)
    assert sorted(order.tolist()) == list(range(2000))
    assert (sampling_order(keys, 5) == order).all()
    assert not (sampling_order(keys, 6) == order).all()
    # Adding faces leaves the others in their relative order.
    more = sampling_order(keys + [f"new{i}.jpg\t0" for i in range(500)], 5)
    assert [i for i in more if i < 2000] == order.tolist()
    # Uniform: over seeds, each face is in the first 300 about 15% of the time.
    counts = np.zeros(2000)
    for seed in range(200):
        counts[sampling_order(keys, seed)[:300]] += 1
    assert abs(counts.mean() / 200 - 0.15) < 1e-9
    assert counts[:1000].mean() / 200 == pytest.approx(0.15, abs=0.01)
    # Stratified: a prefix takes from each stratum in proportion to sqrt(size).
    strata = np.array(["big"] * 1600 + ["small"] * 400, object)
    prefix = sampling_order(keys, 0, strata)[:300]
    assert (strata[prefix] == "small").sum() == pytest.approx(100, abs=1)


# ---- labels files, results files and the CLI ---------------------------------------------

SHA = json.loads(
    __import__("genderage.report.rates", fromlist=["x"]).shipped_bundles()[0].read_text()
)["model"]["sha256"]


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    """Results of 1,500 faces (some images with two) and the truth of each face."""
    rng = np.random.default_rng(0)
    rows, truth = [], {}
    for i in range(1400):
        for j in range(2 if i % 14 == 0 else 1):
            female = bool(rng.random() < 0.3)
            age = float(rng.uniform(2, 80))
            pred_f = bool(rng.random() < (0.8 if female else 0.1))
            path = f"img{i:04d}.jpg"
            rows.append({"path": path, "face_index": j, "bbox": [10.0, 10.0, 60.0, 60.0],
                         "gender": "female" if pred_f else "male", "age": age + 3.0,
                         "low_quality": False, "error": None, "site": "ab"[i % 2],
                         "model_sha256": SHA, "genderage_version": "0.2.0"})
            truth[(path, j)] = ("female" if female else "male", age)
    path = tmp_path_factory.mktemp("pop") / "results.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path, truth


def write_labels(results_path, truth, out, n, seed=0, by=None, edit=None):
    from genderage.report.table import read_results

    r = read_results(results_path, by)
    keys = face_keys(r.face_paths, r.face_indices)
    order = sampling_order(keys, seed, r.groups)
    writer = LabelsWriter(out, Sampling(seed, by, n, results_fingerprint(keys)))
    for rank, i in enumerate(order[:n]):
        key = (r.face_paths[i], int(r.face_indices[i]))
        gender, age = truth[key]
        if edit:
            gender, age = edit(rank, gender, age)
        writer.append(key[0], key[1], gender, age, rank,
                      None if r.groups is None else r.groups[i])
    return out


def report_json(tmp_path, results, *args):
    out = tmp_path / "rep"
    code = main(["report", str(results), "--out", str(out), "--bootstrap", "200", *args])
    assert code == 0
    return json.loads((out / "report.json").read_text())


def test_report_with_labels_is_prediction_powered(tmp_path, population):
    results, truth = population
    labels = write_labels(results, truth, tmp_path / "labels.csv", 300,
                          edit=lambda k, g, a: ("cant_tell", a) if k % 25 == 0 else
                          ("not_a_face", None) if k % 40 == 1 else (g, a))
    r = report_json(tmp_path, results, "--labels", str(labels))
    true_share = np.mean([g == "female" for g, _ in truth.values()])
    fs = r["female_share"]
    assert fs["method"] == "ppi" and fs["ppi"]["available"]
    assert fs["ci95"][0] <= true_share <= fs["ci95"][1]
    assert set(fs) >= {"estimate", "ci95", "naive", "naive_ci95"}
    assert r["dev_set"]["female_share"]["estimate"] is not None
    assert r["mean_age"]["method"] == "ppi"
    assert r["mean_age"]["ci95"][0] <= np.mean([a for _, a in truth.values()]) \
        <= r["mean_age"]["ci95"][1]
    # The model's +3 years shows as the measured bias; its 85% accuracy on these faces.
    m = r["labels"]["model_on_collection"]
    assert m["age_bias"]["estimate"] == pytest.approx(3.0, abs=1e-3)  # float32 ages, %g labels
    assert m["gender_accuracy"]["ci95"][0] < 0.87 < m["gender_accuracy"]["ci95"][1] + 0.03
    counts = r["labels"]["counts"]
    assert counts["cant_tell"] == 12 and counts["not_a_face"] == 8 and counts["rows"] == 300
    assert fs["ppi"]["n_labels"] == 300 - 12 - 8
    assert r["labels"]["warnings"] == []
    assert "narrower_than_labels_only" in fs["ppi"]
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "prediction-powered" in md and "Trust the prediction-powered" in md


def test_stratified_labels_and_by_groups(tmp_path, population):
    results, truth = population
    labels = write_labels(results, truth, tmp_path / "labels.csv", 200, by="site")
    r = report_json(tmp_path, results, "--labels", str(labels), "--by", "site")
    assert r["labels"]["sampling"]["by"] == "site" and r["labels"]["warnings"] == []
    for value, group in r["by"]["groups"].items():
        assert group["female_share"]["method"] == "ppi", value
        assert "dev_set" in group


def test_stratified_labels_without_by_weight_the_strata(tmp_path, population):
    """Labels stratified on a column the report is not split by: the report reads the column
    to weight the strata; the overall estimate is the stratified one."""
    results, truth = population
    labels = write_labels(results, truth, tmp_path / "labels.csv", 200, by="site")
    r = report_json(tmp_path, results, "--labels", str(labels))
    assert r["labels"]["sampling"]["strata"] == 2 and r["labels"]["warnings"] == []
    share = r["female_share"]["ppi"]["labels_only"]["estimate"]
    rows = list(csv.DictReader(open(labels)))
    table = pq.read_table(results).to_pylist()
    n_site = {s_: sum(row["site"] == s_ for row in table) for s_ in "ab"}
    sites = {s_: n_site[s_] / len(table) for s_ in "ab"}
    want = sum(sites[s_] * np.mean([x["gender"] == "female" for x in rows if x["stratum"] == s_])
               for s_ in "ab")
    assert share == pytest.approx(want, abs=1e-12)


def test_fewer_than_30_labels_say_why_there_is_no_ppi(tmp_path, population):
    results, truth = population
    labels = write_labels(results, truth, tmp_path / "labels.csv", 20)
    r = report_json(tmp_path, results, "--labels", str(labels))
    fs = r["female_share"]
    assert fs["method"] == "dev_set_correction" and not fs["ppi"]["available"]
    assert "20 usable labels; at least 30" in fs["ppi"]["reason"]
    assert "not available" in r["labels"]["trust"]


def test_a_share_whose_labels_all_agree_has_no_normal_interval(tmp_path, population):
    results, truth = population
    labels = write_labels(results, truth, tmp_path / "labels.csv", 60,
                          edit=lambda k, g, a: ("male", a))
    r = report_json(tmp_path, results, "--labels", str(labels))
    fs = r["female_share"]
    assert fs["method"] == "dev_set_correction" and not fs["ppi"]["available"]
    assert "all 60 usable labels give the same answer" in fs["ppi"]["reason"]
    assert "within 5% of it" in fs["ppi"]["reason"]
    assert r["mean_age"]["method"] == "ppi"


def test_labels_without_sampling_record_are_accepted_with_a_warning(tmp_path, population,
                                                                    caplog):
    results, truth = population
    full = write_labels(results, truth, tmp_path / "full.csv", 100)
    rows = list(csv.DictReader(open(full)))
    bare = tmp_path / "other_tool.csv"
    with open(bare, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "face_index", "gender", "age"])
        w.writerows([[x["path"], x["face_index"], x["gender"], x["age"]] for x in rows])
    with caplog.at_level(logging.WARNING):
        r = report_json(tmp_path, results, "--labels", str(bare))
    assert r["female_share"]["method"] == "ppi"
    assert any("uniformly random sample" in w for w in r["labels"]["warnings"])
    assert "Read the warnings first" in r["labels"]["trust"]
    assert "uniformly random sample" in caplog.text


def test_labels_out_of_order_are_flagged(tmp_path, population):
    results, truth = population
    labels = write_labels(results, truth, tmp_path / "labels.csv", 100)
    rows = list(csv.reader(open(labels)))
    keys = {(p, int(i)) for p, i, *_ in rows[1:]}
    other = next(k for k in truth if k not in keys)
    rows[5][0], rows[5][1] = other[0], str(other[1])
    with open(labels, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    r = report_json(tmp_path, results, "--labels", str(labels))
    assert any("not the first 100" in w for w in r["labels"]["warnings"])


@pytest.mark.parametrize("bad_rows, message", [
    ([["nowhere.jpg", "0", "female", "30"], ["img0001.jpg", "7", "male", ""]],
     "faces not in the results (path and face_index match no face): rows 2, 3"),
    ([["img0001.jpg", "0", "female", "30"], ["img0001.jpg", "0", "male", "31"]],
     "the same face labelled twice (first on line 2): row 3"),
    ([["img0001.jpg", "0", "female", "130"], ["img0002.jpg", "0", "male", "-1"],
      ["img0003.jpg", "0", "male", "old"]],
     "age outside 0-120: rows 2, 3; age is not a number (0-120, or empty): row 4"),
    ([["img0001.jpg", "0", "woman", "30"], ["img0002.jpg", "0", "Female", "30"]],
     "unknown gender word (expected female, male, cant_tell, not_a_face): row 2"),
])
def test_bad_labels_name_the_rows(tmp_path, population, capsys, bad_rows, message):
    results, _ = population
    bad = tmp_path / "bad.csv"
    with open(bad, "w", newline="") as f:
        csv.writer(f).writerows([["path", "face_index", "gender", "age"], *bad_rows])
    code = main(["report", str(results), "--out", str(tmp_path / "rep"), "--labels", str(bad)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"bad.csv: {message}" in err, err
    assert "Traceback" not in err


def test_labels_reader_accepts_spellings_and_skipped_ages(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("path,face_index,gender,age\na.jpg,0,Can't tell,\nb.jpg,1,not a face,33\n"
                    "c.jpg,0,MALE,41.5\n")
    labels = read_labels(path)
    assert [(x.gender, x.age) for x in labels.labels] == [
        ("cant_tell", None), ("not_a_face", None), ("male", 41.5)]
    assert labels.sampling is None
    with pytest.raises(LabelsError, match="missing column"):
        (tmp_path / "m.csv").write_text("path,gender\na.jpg,male\n")
        read_labels(tmp_path / "m.csv")


def test_plan_prints_labels_per_width(population, capsys):
    results, _ = population
    assert main(["report", str(results), "--plan"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("+-")]
    assert [r[0] for r in rows] == ["+-1", "+-2", "+-3", "+-4", "+-5"]
    wide = rows[-1]
    ppi_n, alone_n = int(wide[2]), int(wide[3])
    assert ppi_n < alone_n  # the model's predictions are worth labels
    # A chosen width, and a nonsense one.
    assert main(["report", str(results), "--plan", "--width", "2.5"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()
            if line.strip().startswith("+-")]
    assert [r[0] for r in rows] == ["+-2.5"] and int(rows[0][2]) < int(rows[0][3])
    assert main(["report", str(results), "--plan", "--width", "0"]) == 2
    assert "--width: expected 0 < POINTS < 50, got 0" in capsys.readouterr().err
