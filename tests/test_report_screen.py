"""Screen time in ``genderage report``: golden values, the video bootstrap, coverage on
simulated collections, and the command on tracks tables (joins, trends, bad input)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402

from genderage.cli import main  # noqa: E402
from genderage.report.screen import Tracks, predictive_rate_sd, screen_time  # noqa: E402
from genderage.report.stats import ConfusionCounts, adjusted_share  # noqa: E402
from genderage.video.table import outcomes_table  # noqa: E402


def tracks(video, seconds, female, age, n_videos=None) -> Tracks:
    video = np.asarray(video)
    n = n_videos or int(video.max()) + 1
    return Tracks(video, np.array([f"v{i}" for i in range(n)], object), np.full(n, 60.0),
                  np.asarray(seconds, float), np.asarray(female, bool), np.asarray(age, float))


def test_golden_values_seconds_weighted_per_band():
    """Band 18-29: 30 s female of 40 s; band 30-49: 10 s female of 60 s. Rates tp/fn/fp/tn =
    90/10/10/90 (Jeffreys means 90.5/101, 10.5/101) in both bands."""
    counts = ConfusionCounts(90, 10, 10, 90)
    t = tracks([0, 0, 1, 1, 1], [30, 10, 10, 20, 30], [1, 0, 1, 0, 0], [25, 25, 40, 40, 40])
    out = screen_time(t, counts, n_boot=300)
    fs = out["female_share"]
    assert fs["naive"] == pytest.approx(40 / 100)
    young, mid = adjusted_share(0.75, counts.tpr, counts.fpr), \
        adjusted_share(10 / 60, counts.tpr, counts.fpr)
    assert fs["estimate"] == pytest.approx(0.4 * young + 0.6 * mid)
    assert out["female_share_by_age_band"]["18-29"]["estimate"] == pytest.approx(young)
    assert out["age_bands"]["30-49"]["seconds"] == 60 and out["resampled"] == "videos"
    assert out["seconds"]["female_predicted"] == 40 and out["seconds"]["male_predicted"] == 60
    assert out["seconds"]["female_corrected"] == pytest.approx(100 * fs["estimate"])


def test_the_interval_resamples_videos_not_tracks():
    """Ten videos, each all-female or all-male: resampling videos gives a wide interval; the
    same tracks as one video (resampling tracks) a much narrower one."""
    rng = np.random.default_rng(0)
    video = np.repeat(np.arange(10), 20)
    female = np.repeat(np.arange(10) % 2 == 0, 20)
    seconds = rng.uniform(1, 5, 200)
    by_video = screen_time(tracks(video, seconds, female, np.full(200, 35)), None, 500)
    one = screen_time(tracks(np.zeros(200, int), seconds, female, np.full(200, 35)), None, 500)
    wide, narrow = (np.diff(o["female_share"]["naive_ci95"])[0] for o in (by_video, one))
    assert one["resampled"] == "tracks (one video)"
    assert wide > 2.5 * narrow, (wide, narrow)


def test_predictive_rate_sd_golden_value():
    assert predictive_rate_sd(0.4, 2) == pytest.approx(0.4 * np.sqrt(1.5))


def test_corrected_interval_covers_screen_share_in_collections_unlike_the_dev_sets():
    """research/screen_simulation.py (figures in docs/report.md): >= 93%."""
    from report_simulation import shipped_counts, shipped_world  # research/, on the tests' path
    from screen_simulation import simulate_screen_share

    out = simulate_screen_share(shipped_world(), shipped_counts())
    print(out)
    assert out["coverage"] >= 0.93, out
    assert out["coverage"] > out["naive_coverage"] + 0.1, out


def write_table(path, rows_per_video, sha="a" * 64):
    from genderage.video.records import TrackResult
    from genderage.video.table import VideoOutcome

    outcomes = []
    for name, specs in rows_per_video.items():
        results = [TrackResult(i + 1, 0, 10, 0.0, s, 10, 2, g, 0.9, age, (age - 5, age + 5),
                               0, (0, 0, 1, 1), False,
                               female_probability=0.9 if g == "female" else 0.1,
                               settings={}, shot=0, on_screen_s=s)
                   for i, (s, g, age) in enumerate(specs)]
        outcomes.append(VideoOutcome(name, results, 100.0, 25.0))
    path.mkdir(parents=True, exist_ok=True)
    pq.write_table(outcomes_table(outcomes, False, sha), path / "part-0.parquet")
    return path


def test_report_command_by_meta_column_and_monthly_trend(tmp_path, capsys):
    from genderage.report.rates import shipped_bundles

    sha = json.loads(shipped_bundles()[0].read_text())["model"]["sha256"]
    table = write_table(tmp_path / "t.parquet", {
        "a.mp4": [(30, "female", 30), (10, "male", 40)],
        "b.mp4": [(20, "male", 35)],
        "c.mp4": [(15, "female", 25), (15, "male", 50)],
        "d.mp4": []}, sha)
    meta = tmp_path / "meta.csv"
    meta.write_text("path,channel,aired\na.mp4,one,2026-01-05\nb.mp4,one,2026-01-20\n"
                    "c.mp4,two,2026-02-01\nd.mp4,two,2026-02-03\n")
    out = tmp_path / "report"
    assert main(["report", str(table), "--out", str(out), "--meta", str(meta), "--by",
                 "channel", "--trend", "aired", "--bootstrap", "200"]) == 0
    report = json.loads((out / "report.json").read_text())
    st = report["screen_time"]
    assert st["n_videos"] == 4 and st["on_screen_s"] == 90 and st["video_s"] == 400
    assert st["female_share"]["naive"] == pytest.approx(45 / 90)
    assert set(report["by"]["groups"]) == {"one", "two"}
    assert report["by"]["groups"]["one"]["female_share"]["naive"] == pytest.approx(30 / 60)
    assert list(report["trend"]["groups"]) == ["2026-01", "2026-02"]
    assert report["trend"]["groups"]["2026-02"]["n_videos"] == 2
    html = (out / "report.html").read_text()
    assert html.count("<svg") == 3
    assert "female share of screen time" in capsys.readouterr().out


def test_a_meta_file_that_matches_nothing_is_named_and_the_exit_status_says_so(tmp_path,
                                                                                capsys):
    table = write_table(tmp_path / "t.parquet", {"a.mp4": [(30, "female", 30)]})
    meta = tmp_path / "meta.csv"
    meta.write_text("path,channel\nother.mp4,one\n")
    rc = main(["report", str(table), "--out", str(tmp_path / "r"), "--meta", str(meta),
               "--by", "channel", "--bootstrap", "100"])
    err = capsys.readouterr().err
    assert rc == 1 and f"{meta}: column 'path' matches none of the 1 videos" in err
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert list(report["by"]["groups"]) == ["(missing)"]  # the rest is still reported


def test_tracks_of_two_models_are_refused(tmp_path, capsys):
    table = write_table(tmp_path / "t.parquet", {"a.mp4": [(30, "female", 30)]}, "a" * 64)
    other = write_table(tmp_path / "o", {"b.mp4": [(30, "male", 30)]}, "b" * 64)
    (other / "part-0.parquet").rename(table / "part-1.parquet")
    rc = main(["report", str(table), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and "tracks of 2 different models (aaaaaaaaaaaa, bbbbbbbbbbbb)" in err
    assert "Traceback" not in err


def test_one_video_jsonl_is_a_tracks_table(tmp_path, capsys):
    lines = [{"track_id": 1, "shot": 0, "on_screen_s": 4.0, "gender": "female", "age": 30.0,
              "age_interval": [25, 35], "low_quality": False, "model_sha256": "c" * 64},
             {"track_id": 2, "shot": 1, "on_screen_s": 6.0, "gender": "male", "age": 40.0,
              "age_interval": [35, 45], "low_quality": False, "model_sha256": "c" * 64}]
    path = tmp_path / "tracks.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert main(["report", str(path), "--out", str(tmp_path / "r"), "--bootstrap", "100"]) == 0
    st = json.loads((tmp_path / "r" / "report.json").read_text())["screen_time"]
    assert st["n_videos"] == 1 and st["resampled"] == "tracks (one video)"
    assert st["female_share"]["naive"] == pytest.approx(0.4)


@pytest.mark.parametrize("bucket, expected", [("day", "2026-12-06"), ("week", "2026-W49"),
                                              ("month", "2026-12"), ("quarter", "2026-Q4"),
                                              ("year", "2026")])
def test_time_buckets(bucket, expected):
    from genderage.report.screen_report import bucket_of

    assert bucket_of("2026-12-06T20:15:00", bucket) == expected
    assert bucket_of(None, bucket) == "(missing)"


def test_a_trend_column_that_is_not_a_date_is_refused(tmp_path, capsys):
    table = write_table(tmp_path / "t.parquet", {"a.mp4": [(30, "female", 30)]})
    meta = tmp_path / "meta.csv"
    meta.write_text("path,aired\na.mp4,yesterday\n")
    assert main(["report", str(table), "--out", str(tmp_path / "r"), "--meta", str(meta),
                 "--trend", "aired"]) == 2
    assert "--trend: 'yesterday' is not a date (YYYY-MM-DD)" in capsys.readouterr().err


def test_unknown_tracks_count_by_their_probability(tmp_path):
    """Tracks written with --min-gender-probability (gender null) give the same screen time
    as without: the report classifies by female_probability, never by the label."""
    from genderage.report.screen_report import build_screen_report
    from genderage.video.records import TrackResult
    from genderage.video.table import VideoOutcome

    def table(folder, label):
        tracks = [TrackResult(i + 1, 0, 10, 0.0, s, 10, 2, label(p), max(p, 1 - p), 30.0,
                              (25.0, 35.0), 0, (0, 0, 1, 1), False, female_probability=p,
                              settings={}, shot=0, on_screen_s=s)
                  for i, (s, p) in enumerate([(30, 0.9), (10, 0.2), (20, 0.55)])]
        folder.mkdir()
        pq.write_table(outcomes_table([VideoOutcome("a.mp4", tracks, 100.0, 25.0)], False,
                                      "a" * 64), folder / "part-0.parquet")
        return folder

    plain = table(tmp_path / "plain", lambda p: "female" if p >= 0.5 else "male")
    unknown = table(tmp_path / "unknown", lambda p: None)
    a, b = (build_screen_report(t, n_boot=50, seed=0)["screen_time"] for t in (plain, unknown))
    assert a["female_share"]["naive"] == b["female_share"]["naive"] == pytest.approx(50 / 60)
    assert a["seconds"] == b["seconds"]
