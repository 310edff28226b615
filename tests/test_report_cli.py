"""``genderage report`` through the real entry point ``genderage.cli.main`` on tiny Parquet
results written in the schema of ``genderage batch``."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from genderage.cli import main
from genderage.report.rates import shipped_bundles

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

SHIPPED = json.loads(shipped_bundles()[0].read_text())
SHA = SHIPPED["model"]["sha256"]

# Eight faces in six images, one unreadable image, one image without a face.
FACES = [  # path, gender, age, low_quality, site
    ("a.jpg", "female", 10.0, False, "north"),
    ("a.jpg", "male", 40.0, False, "north"),
    ("b.jpg", "female", 25.0, False, "north"),
    ("c.jpg", "female", 33.0, True, "south"),
    ("d.jpg", "male", 55.0, False, "south"),
    ("d.jpg", "male", 72.0, False, "south"),
    ("e.jpg", "female", 20.0, False, "south"),
    ("e.jpg", "male", 61.0, True, "south"),
]


def write_results(path, faces=FACES, sha=SHA, age_probs=False, drop=()):
    rows = [{"path": p, "face_index": i, "gender": g, "gender_probability": 0.9, "age": a,
             "age_low": a - 5, "age_high": a + 5, "low_quality": lq,
             "quality_reasons": ["blurry"] if lq else [], "error": None, "site": site,
             "model_sha256": sha, "genderage_version": "0.1.0"}
            for i, (p, g, a, lq, site) in enumerate(faces)]
    if age_probs:
        for row in rows:
            probs = np.zeros(121)
            probs[int(row["age"]) - 1: int(row["age"]) + 2] = [0.25, 0.5, 0.25]
            row["age_probs"] = probs.tolist()
    empty = dict.fromkeys(rows[0]) | {"model_sha256": sha, "genderage_version": "0.1.0"}
    rows.append(empty | {"path": "broken.jpg", "error": "broken.jpg: cannot decode image"})
    rows.append(empty | {"path": "empty.jpg"})
    table = pa.Table.from_pylist(rows)
    pq.write_table(table.drop_columns(list(drop)), path)
    return path


def run_report(tmp_path, *args):
    out = tmp_path / "rep"
    code = main(["report", *map(str, args), "--out", str(out), "--bootstrap", "300"])
    return code, out


def shipped_age_bias() -> float:
    """b of the shipped bundle's error model: the plain average of its dev sets' biases."""
    return float(np.mean([d["age_bias"]["mean"]
                          for d in SHIPPED["error_model"]["dev_sets"].values()]))


def band_acc(naive: float, band: str) -> float:
    """Adjusted classify-and-count with the band's soft counts pooled over the dev sets."""
    (ff, fm), (mf, mm) = np.sum([d["gender_confusion_by_estimated_band"][band]["rows_true"]
                                 for d in SHIPPED["error_model"]["dev_sets"].values()], axis=0)
    tpr, fpr = (ff + 0.5) / (ff + fm + 1), (mf + 0.5) / (mf + mm + 1)
    return min(1.0, max(0.0, (naive - fpr) / (tpr - fpr)))


def acc(naive: float) -> float:
    """Adjusted classify-and-count with the shipped bundle's rates (Jeffreys posterior means),
    computed here from the bundle independently of the library."""
    (ff, fm), (mf, mm) = SHIPPED["utkface_val"]["gender"]["confusion_matrix"]["rows_true"]
    tpr, fpr = (ff + 0.5) / (ff + fm + 1), (mf + 0.5) / (mf + mm + 1)
    return min(1.0, max(0.0, (naive - fpr) / (tpr - fpr)))


def test_report_files_and_numbers(tmp_path, capsys):
    code, out = run_report(tmp_path, write_results(tmp_path / "r.parquet"))
    assert code == 0
    assert {p.name for p in out.iterdir()} == {"report.md", "report.html", "report.json"}
    r = json.loads((out / "report.json").read_text())
    assert (r["n_images"], r["n_images_failed"], r["n_faces"], r["n_faces_used"]) == (7, 1, 8, 8)
    fs = r["female_share"]
    assert fs["naive"] == 0.5
    assert fs["estimate"] == pytest.approx(acc(0.5))
    lo, hi = fs["ci95"]
    assert 0 <= lo < fs["estimate"] < hi <= 1
    # The shipped bundle has an error model: the mean age is corrected by its average bias.
    assert r["mean_age"]["naive"] == pytest.approx(np.mean([f[2] for f in FACES]))
    assert r["mean_age"]["uncorrected"] == r["mean_age"]["naive"]
    assert r["mean_age"]["estimate"] == pytest.approx(r["mean_age"]["naive"] - shipped_age_bias())
    assert r["method"]["error_model"]["used"]
    shares = {b: v["share"] for b, v in r["age_bands"].items()}
    assert shares == pytest.approx({"0-17": 1 / 8, "18-29": 2 / 8, "30-49": 2 / 8,
                                    "50-69": 2 / 8, "70+": 1 / 8})
    by_band = r["female_share_by_age_band"]
    assert by_band["18-29"]["naive"] == 1.0 and by_band["50-69"]["naive"] == 0.0
    assert by_band["30-49"]["estimate"] == pytest.approx(band_acc(0.5, "30-49"))
    assert by_band["30-49"]["rates"] == "band"
    for band in by_band.values():
        assert set(band) >= {"estimate", "ci95"}
    assert r["method"]["confusion_rates"]["counts"]["tp"] == \
        SHIPPED["utkface_val"]["gender"]["confusion_matrix"]["rows_true"][0][0]
    assert "female share" in capsys.readouterr().out

    md = (out / "report.md").read_text()
    assert f"| female share | 8 | {100 * acc(0.5):.1f}% |" in md
    assert "apparent, binary, dataset-defined labels" in md


def test_html_is_self_contained(tmp_path):
    code, out = run_report(tmp_path, write_results(tmp_path / "r.parquet"))
    assert code == 0
    page = (out / "report.html").read_text()
    assert page.count("<svg") == 3
    # Offline: no scripts, stylesheets or images fetched; links only to ids inside the page.
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert all(u.startswith("#") for u in re.findall(r"url\(([^)]*)\)", page))
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert hrefs and all(h.startswith("#") for h in hrefs)


def test_age_probs_skip_low_quality_and_by(tmp_path):
    path = write_results(tmp_path / "r.parquet", age_probs=True)
    code, out = run_report(tmp_path, path, "--skip-low-quality", "--by", "site")
    assert code == 0
    r = json.loads((out / "report.json").read_text())
    assert r["n_faces"] == 8 and r["n_faces_used"] == 6 and r["n_faces_low_quality"] == 2
    assert r["method"]["age_source"].startswith("age_probs")
    used = [f for f in FACES if not f[3]]
    # Each face's distribution is symmetric around its age: the mean is unchanged (before the
    # correction for the model's age bias).
    assert r["mean_age"]["uncorrected"] == pytest.approx(np.mean([f[2] for f in used]))
    assert r["mean_age"]["estimate"] == pytest.approx(r["mean_age"]["uncorrected"]
                                                      - shipped_age_bias())
    # Age 10 spreads over 9-11, all in 0-17; the others stay inside their bands too.
    assert r["age_bands"]["0-17"]["share"] == pytest.approx(1 / 6)
    assert sum(r["age_distribution"]) == pytest.approx(1.0)
    groups = r["by"]["groups"]
    assert set(groups) == {"north", "south"}
    assert groups["north"]["n_faces_used"] == 3 and groups["south"]["n_faces_used"] == 3
    assert groups["north"]["female_share"]["naive"] == pytest.approx(2 / 3)
    assert groups["south"]["female_share"]["naive"] == pytest.approx(1 / 3)
    assert "## By `site`" in (out / "report.md").read_text()


def test_unknown_model_reports_naive_only(tmp_path, caplog):
    path = write_results(tmp_path / "r.parquet", sha="0" * 64)
    code, out = run_report(tmp_path, path)
    assert code == 0
    r = json.loads((out / "report.json").read_text())
    assert r["female_share"]["estimate"] is None and r["female_share"]["ci95"] is None
    assert r["female_share"]["naive"] == 0.5
    assert r["method"]["confusion_rates"] is None
    assert "naive shares only" in r["method"]["rates_note"]
    assert "naive shares only" in (out / "report.md").read_text()


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    code, _ = run_report(tmp_path, tmp_path / "nowhere.parquet")
    err = capsys.readouterr().err
    assert code == 2 and "nowhere.parquet" in err and "no such file" in err

    text = tmp_path / "notes.parquet"
    text.write_text("path,gender\na.jpg,female\n")
    code, _ = run_report(tmp_path, text)
    err = capsys.readouterr().err
    assert code == 2 and "notes.parquet" in err and "not a readable Parquet file" in err

    path = write_results(tmp_path / "cols.parquet", drop=("gender", "model_sha256"))
    code, _ = run_report(tmp_path, path)
    err = capsys.readouterr().err
    assert code == 2 and "cols.parquet" in err and "missing column(s) gender, model_sha256" in err

    path = write_results(tmp_path / "by.parquet")
    code, _ = run_report(tmp_path, path, "--by", "camera")
    err = capsys.readouterr().err
    assert code == 2 and "missing column(s) camera" in err

    nan_age = write_results(tmp_path / "nan.parquet",
                            faces=[FACES[0], (*FACES[1][:2], float("nan"), *FACES[1][3:])])
    code, _ = run_report(tmp_path, nan_age)
    err = capsys.readouterr().err
    assert code == 2 and "1 face row(s) have an age that is not a finite number" in err

    table = pq.read_table(write_results(tmp_path / "types.parquet"))
    for column, value, words in (("low_quality", "no", "column low_quality is string"),
                                 ("age", "thirty", "column age is string")):
        i = table.column_names.index(column)
        bad = table.set_column(i, column, pa.array([value] * len(table)))
        pq.write_table(bad, tmp_path / f"{column}.parquet")
        code, _ = run_report(tmp_path, tmp_path / f"{column}.parquet")
        err = capsys.readouterr().err
        assert code == 2 and words in err and "Traceback" not in err, err

    only_bad = write_results(tmp_path / "lq.parquet", faces=[FACES[3]])
    code, _ = run_report(tmp_path, only_bad, "--exclude-low-quality")
    err = capsys.readouterr().err
    assert code == 2 and "no faces to report on" in err
    assert "Traceback" not in err


def test_folder_of_parts_equals_one_file(tmp_path):
    table = pq.read_table(write_results(tmp_path / "one.parquet"))
    parts = tmp_path / "parts"
    parts.mkdir()
    pq.write_table(table.slice(0, 4), parts / "part-0.parquet")
    pq.write_table(table.slice(4), parts / "part-1.parquet")
    reports = []
    for name, src in (("file", tmp_path / "one.parquet"), ("folder", parts)):
        assert main(["report", str(src), "--out", str(tmp_path / name), "--bootstrap", "200"]) == 0
        r = json.loads((tmp_path / name / "report.json").read_text())
        reports.append({k: v for k, v in r.items() if k != "input"})
    assert reports[0] == reports[1]


def test_rates_follow_the_model_and_its_mode(tmp_path):
    """The bundle with the results' model hash is used; flip-TTA results (as recorded in the
    batch options) take the flip-TTA confusion matrix."""
    from genderage.report import build_report

    def matrix(tp, fp):
        return {"gender": {"confusion_matrix": {"labels": ["female", "male"],
                                                "rows_true": [[tp, 100 - tp], [fp, 100 - fp]]}}}

    bundle = tmp_path / "mine.metrics.json"
    bundle.write_text(json.dumps({"model": {"sha256": "ab" * 32}, "utkface_val": matrix(90, 5),
                                  "flip_tta_mode": {"utkface_val": matrix(95, 3)}}))
    path = write_results(tmp_path / "r.parquet", sha="ab" * 32)
    plain = build_report(path, n_boot=100, bundles=[bundle])["method"]["confusion_rates"]
    assert plain["counts"] == {"tp": 90, "fn": 10, "fp": 5, "tn": 95}

    options = json.dumps({"flip_tta": True, "age_probs": False}).encode()
    table = pq.read_table(path)
    pq.write_table(table.replace_schema_metadata({b"genderage.batch.options": options}), path)
    flip = build_report(path, n_boot=100, bundles=[bundle])["method"]["confusion_rates"]
    assert flip["counts"] == {"tp": 95, "fn": 5, "fp": 3, "tn": 97}
    assert "flip_tta_mode.utkface_val" in flip["source"]
    # The shipped bundles belong to another model: no rates, naive only.
    assert build_report(path, n_boot=100)["female_share"]["estimate"] is None


def error_model_bundle(path, dev_sets, sha="cd" * 32):
    """A bundle with a 90/5 confusion matrix and the given ``error_model.dev_sets``."""
    path.write_text(json.dumps({
        "model": {"sha256": sha},
        "utkface_val": {"gender": {"confusion_matrix": {
            "labels": ["female", "male"], "rows_true": [[90, 10], [5, 95]]}}},
        **({} if dev_sets is None else {"error_model": {"dev_sets": dev_sets}})}))
    return path


def dev_set(bias, se, child_rows=((30, 10), (10, 30))):
    """A dev set whose estimated-age bands all have 95/5 rates, except 0-17."""
    bands = {b: {"labels": ["female", "male"], "rows_true": [[95, 5], [5, 95]]}
             for b in ("18-29", "30-49", "50-69", "70+")}
    bands["0-17"] = {"labels": ["female", "male"], "rows_true": [list(r) for r in child_rows]}
    return {"age_bias": {"mean": bias, "se": se}, "gender_confusion_by_estimated_band": bands}


def test_error_model_corrects_mean_age_and_band_shares(tmp_path):
    """With an error model: mean age - b, b the average of the dev sets' biases; 0-17 with the
    pooled 0-17 rates of both sets. Golden values computed here from the bundle."""
    from genderage.report import build_report

    bundle = error_model_bundle(tmp_path / "m.metrics.json",
                                {"one": dev_set(0.6, 0.1), "two": dev_set(-1.1, 0.2)})
    path = write_results(tmp_path / "r.parquet", sha="cd" * 32)
    r = build_report(path, n_boot=2000, bundles=[bundle])
    true_mean = np.mean([f[2] for f in FACES])
    age = r["mean_age"]
    assert age["uncorrected"] == pytest.approx(true_mean) == pytest.approx(age["naive"])
    assert age["estimate"] == pytest.approx(true_mean + 0.25)
    # tau^2 = 1.42 and se_b = 0.85 (tests/test_report_stats.py): the bias alone spreads the
    # interval by +-1.96 * 1.46 years beyond the sampling-only one.
    assert age["ci95"][1] - age["ci95"][0] > age["uncorrected_ci95"][1] - \
        age["uncorrected_ci95"][0]
    used = r["method"]["error_model"]
    assert used["used"] and used["age_bias"]["b"] == pytest.approx(-0.25)
    assert used["age_bias"]["tau"] == pytest.approx(np.sqrt(1.42))
    assert "only 2 populations" in used["mean_age"]
    # 0-17 holds one face, predicted female: naive 1.0; pooled 0-17 counts 60/20 of 80 each.
    child = r["female_share_by_age_band"]["0-17"]
    tpr, fpr = 60.5 / 81, 20.5 / 81
    assert child["rates"] == "band"
    assert child["estimate"] == pytest.approx(min(1.0, (1.0 - fpr) / (tpr - fpr)))
    adult = r["female_share_by_age_band"]["30-49"]  # naive 0.5, pooled 190/10 of 200 each
    tpr, fpr = 190.5 / 201, 10.5 / 201
    assert adult["estimate"] == pytest.approx((0.5 - fpr) / (tpr - fpr))
    # The overall female share keeps the validation rates (90/5 of 100).
    assert r["female_share"]["estimate"] == pytest.approx((0.5 - 5.5 / 101) / (85 / 101))
    text = markdown_of(r, tmp_path)
    assert "mean age, uncorrected for the model's age bias" in text
    assert "tau" in text and "only 2 populations" in text


def markdown_of(report, tmp_path):
    from genderage.report import write_report

    write_report(report, tmp_path / "out")
    return (tmp_path / "out" / "report.md").read_text()


def test_without_error_model_the_report_is_uncorrected_and_says_so(tmp_path):
    from genderage.report import build_report

    bundle = error_model_bundle(tmp_path / "m.metrics.json", None)
    r = build_report(write_results(tmp_path / "r.parquet", sha="cd" * 32), n_boot=300,
                     bundles=[bundle])
    assert r["mean_age"]["estimate"] == r["mean_age"]["uncorrected"] == r["mean_age"]["naive"]
    assert r["mean_age"]["ci95"] == r["mean_age"]["uncorrected_ci95"]
    assert r["female_share_by_age_band"]["30-49"]["rates"] == "overall"
    assert r["female_share_by_age_band"]["30-49"]["estimate"] == pytest.approx(
        (0.5 - 5.5 / 101) / (85 / 101))
    assert r["method"]["error_model"] == {
        "used": False, "note": "m.metrics.json has no error_model section: the mean age is not "
        "corrected for the model's age bias and the female share per age band uses the "
        "overall rates"}
    assert any("no error model" in c for c in r["caveats"])
    assert "No error model: m.metrics.json has no error_model section" in markdown_of(r, tmp_path)


@pytest.mark.parametrize("dev_sets, problem", [
    ({"one": dev_set(0.6, 0.0)}, "error_model.dev_sets.one.age_bias.se is 0.0, expected a "
                                 "finite number > 0"),
    ({"one": dev_set("x", 0.1)}, "error_model.dev_sets.one.age_bias.mean is 'x'"),
    ({"one": dev_set(0.6, 0.1, ((-1, 3), (1, 3)))}, "gender_confusion_by_estimated_band.0-17 "
                                                    "is -1, expected a finite number >= 0"),
    ({"one": {"age_bias": {"mean": 1, "se": 1}}}, "lacks 'gender_confusion_by_estimated_band'"),
    ({}, "error_model has no dev_sets"),
])
def test_malformed_error_model_is_a_logged_fallback_naming_the_file(tmp_path, caplog, capsys,
                                                                    monkeypatch, dev_sets,
                                                                    problem):
    bundle = error_model_bundle(tmp_path / "bad.metrics.json", dev_sets)
    path = write_results(tmp_path / "r.parquet", sha="cd" * 32)
    from genderage.report import build_report

    r = build_report(path, n_boot=200, bundles=[bundle])
    assert r["mean_age"]["estimate"] == r["mean_age"]["uncorrected"]
    assert not r["method"]["error_model"]["used"]
    note = r["method"]["error_model"]["note"]
    assert note.startswith("bad.metrics.json: ") and problem in note, note
    assert "bad.metrics.json" in caplog.text and problem in caplog.text
    # The female share keeps the bundle's validation rates.
    assert r["female_share"]["estimate"] is not None
    # Through the CLI, the bad bundle standing in for the shipped ones: exit 0, no traceback.
    monkeypatch.setattr("genderage.report.rates.shipped_bundles", lambda: [bundle])
    caplog.clear()
    code, out = run_report(tmp_path, path)
    assert code == 0 and "Traceback" not in capsys.readouterr().err
    assert problem in json.loads((out / "report.json").read_text())["method"]["error_model"]["note"]
    assert "bad.metrics.json" in caplog.text


def test_flip_tta_results_do_not_take_an_error_model_measured_without_it(tmp_path):
    from genderage.report import build_report

    bundle = error_model_bundle(tmp_path / "m.metrics.json",
                                {"one": dev_set(0.6, 0.1), "two": dev_set(-1.1, 0.2)})
    data = json.loads(bundle.read_text())
    data["flip_tta_mode"] = {"utkface_val": data["utkface_val"]}
    bundle.write_text(json.dumps(data))
    path = write_results(tmp_path / "r.parquet", sha="cd" * 32)
    table = pq.read_table(path)
    options = json.dumps({"flip_tta": True}).encode()
    pq.write_table(table.replace_schema_metadata({b"genderage.batch.options": options}), path)
    r = build_report(path, n_boot=100, bundles=[bundle])
    assert r["mean_age"]["estimate"] == r["mean_age"]["uncorrected"]
    assert r["female_share"]["estimate"] is not None  # the flip-TTA confusion matrix
    assert "measured without flip-TTA" in r["method"]["error_model"]["note"]


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_age_probs_are_streamed_not_held_whole(tmp_path):
    """10 million rows with age_probs needed ~43 GB (#28 item 12): the distributions are
    now read 8,192 rows at a time. 60,000 rows x 121 values: the memory the column adds
    (numpy allocations, traced) stays far below one float64 copy of it (58 MB)."""
    import tracemalloc

    from genderage.report.table import read_results

    n = 60_000
    rng = np.random.default_rng(0)
    probs = rng.random((n, 121)).astype(np.float32)
    base = {"path": [f"{i}.jpg" for i in range(n)], "face_index": np.zeros(n, np.int32),
            "gender": ["female" if i % 3 else "male" for i in range(n)],
            "age": rng.uniform(1, 90, n), "low_quality": np.arange(n) % 7 == 0,
            "error": pa.nulls(n, pa.string()), "model_sha256": ["ab" * 32] * n}
    column = pa.FixedSizeListArray.from_arrays(pa.array(probs.ravel()), 121).cast(
        pa.list_(pa.float32()))
    pq.write_table(pa.table(base), tmp_path / "plain.parquet")
    pq.write_table(pa.table({**base, "age_probs": column}), tmp_path / "probs.parquet")

    def peak(name):
        tracemalloc.start()
        try:
            results = read_results(tmp_path / name)
            return tracemalloc.get_traced_memory()[1], results
        finally:
            tracemalloc.stop()

    plain_peak, _ = peak("plain.parquet")
    probs_peak, results = peak("probs.parquet")
    assert probs_peak - plain_peak < 16 * 2**20
    # The same numbers as from the whole matrix at once.
    from genderage.report.stats import age_distribution, band_mass, expected_age

    whole = probs.astype(np.float64)
    np.testing.assert_allclose(results.faces.mass, band_mass(None, whole), atol=1e-9)
    np.testing.assert_allclose(results.faces.mean_age, expected_age(None, whole), atol=1e-9)
    np.testing.assert_allclose(results.age_distribution, age_distribution(None, whole),
                               atol=1e-12)
    good = np.arange(n) % 7 != 0
    np.testing.assert_allclose(results.age_distribution_good,
                               age_distribution(None, whole[good]), atol=1e-12)


def test_report_reads_plainly_first(tmp_path):
    """#28 item 20: plain sentences first, the method's terms only under Method, one age
    bias figure per dev set (not also the bundle's other "held-out" bias line)."""
    code, out = run_report(tmp_path, write_results(tmp_path / "r.parquet"))
    assert code == 0
    md = (out / "report.md").read_text()
    first = md.split("\n\n")[1]
    assert first.startswith("Of the 8 faces used, about ") and "look female" in first
    main_text = md.split("## Method")[0]
    for term in ("DerSimonian", "tau", "bootstrap", "ACC", "Jeffreys"):
        assert term not in main_text
    assert "Error model:" in md and "held-out faces" not in md
    html_text = (out / "report.html").read_text()
    assert "look female" in html_text.split("<table>")[0]


def test_the_report_reads_the_columns_and_metadata_the_writers_declare():
    """The Parquet formats have one owner each (``batch.schema``, ``video.table``); every
    column the report asks for is one of theirs, of a type it accepts."""
    from genderage.batch.schema import OPTIONS_KEY, batch_schema
    from genderage.report.screen_report import TRACK_MARKERS
    from genderage.report.table import COLUMN_TYPES, REQUIRED_COLUMNS, ROW_KEY, _batch_options
    from genderage.video.table import tracks_schema

    schema = batch_schema(age_probs=True)
    for name in (*REQUIRED_COLUMNS, *ROW_KEY, *COLUMN_TYPES, "female_probability",
                 "gender_probability"):
        assert name in schema.names, name
    for name, (_, accepts) in COLUMN_TYPES.items():
        assert accepts(schema.field(name).type, pa), name
    assert set(TRACK_MARKERS) <= set(tracks_schema(False).names)
    assert set(TRACK_MARKERS).isdisjoint(schema.names)  # a batch table is never taken for tracks
    assert _batch_options({OPTIONS_KEY: b'{"flip_tta": true}'}) == {"flip_tta": True}
