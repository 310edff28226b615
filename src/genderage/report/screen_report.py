"""``genderage report`` on a tracks table: reading it, joining metadata, and the report's data.

Input: the Parquet dataset of ``genderage video ... --out DIR.parquet`` (one row per track,
one per video without; schema: docs/video.md), or the JSON lines of one video
(``genderage video VIDEO --out TRACKS.jsonl``; the file stands for the video). ``--meta
FILE.csv --on COLUMN`` adds the CSV's columns to each video whose ``path`` equals the CSV's
``COLUMN``; ``--by`` and ``--trend`` may name any column of either.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np

from .. import __version__
from .rates import lookup_rates
from .screen import Tracks, predictive_rate_sd, screen_time
from .table import ResultsError

TRACK_MARKERS = ("track_id", "on_screen_s")
"""Columns that make a Parquet file a tracks table rather than photo results."""
BUCKETS = ("day", "week", "month", "quarter", "year")
MISSING = "(missing)"

CAVEATS = (
    "Screen time is the seconds in which a detected face was on screen, per track (one "
    "person in one shot); faces the detector misses (small, profile, dark) are not counted, "
    "and a person in several shots counts in each.",
    "Gender is one of the two labels the training data annotates, guessed from appearance: "
    "an estimate of apparent, binary, dataset-defined labels, not of anyone's gender "
    "identity. Age bands are bands of the model's age estimates, not of true age.",
    "The correction uses the error rates measured on labelled dev photos, per band of "
    "estimated age. A track's label averages many frames of one person, so tracks may be "
    "classified somewhat better than single photos; the correction then over-corrects a "
    "little. Collections unlike the dev sets (other populations, many children) can have "
    "other error rates; the interval allows for rates that differ between populations as "
    "the dev sets' differ.",
    "The interval resamples videos: it treats the videos as a sample of the programmes they "
    "stand for. With few videos (under about 10) it is too narrow.",
)


def is_tracks_table(path: str | Path) -> bool:
    """Whether ``path`` is a tracks table (JSON lines, or Parquet with track columns)."""
    path = Path(path)
    if path.suffix.lower() == ".jsonl":
        return True
    try:
        import pyarrow.parquet as pq

        schema = pq.read_schema(path) if path.is_file() else pq.ParquetDataset(path).schema
    except Exception:  # not Parquet: the photo reader gives the precise error
        return False
    return all(name in schema.names for name in TRACK_MARKERS)


def read_tracks_table(path: str | Path):
    """The table as a ``pyarrow.Table`` (JSON lines become the same columns).

    Raises:
        FileNotFoundError, ResultsError: missing, unreadable, or several models mixed.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.suffix.lower() == ".jsonl":
        rows = []
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                lo, hi = row["age_interval"]
                rows.append({**row, "path": str(path), "age_low": lo, "age_high": hi,
                             "video_duration_s": None})
            except (ValueError, KeyError, TypeError) as exc:
                raise ResultsError(f"{path}:{n}: not a track line of `genderage video` "
                                   f"({exc})") from None
        table = pa.Table.from_pylist(rows or [{"path": str(path)}])
        for name in ("track_id", "on_screen_s", "gender", "age", "model_sha256"):
            if name not in table.column_names:
                table = table.append_column(name, pa.nulls(len(table)))
    else:
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as exc:
            raise ResultsError(f"{path}: not a readable Parquet dataset ({exc})") from None
    models = sorted(set(table["model_sha256"].to_pylist()) - {None})
    if len(models) > 1:
        raise ResultsError(
            f"{path}: tracks of {len(models)} different models "
            f"({', '.join(m[:12] for m in models)}): their error rates differ, so one report "
            f"cannot correct them together; report each model's videos separately")
    return table


def join_meta(table, meta: str | Path, on: str, warnings: list[str]):
    """``table`` with the columns of the CSV ``meta`` joined where ``path == meta[on]``.

    Videos the CSV does not name get nulls (and a warning); a join that matches no video is
    a warning naming the file and the column.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        extra = pacsv.read_csv(meta, convert_options=pacsv.ConvertOptions(
            column_types={on: pa.string()}))
    except (pa.ArrowException, OSError) as exc:
        raise ResultsError(f"{meta}: cannot read the --meta CSV ({exc})") from None
    if on not in extra.column_names:
        raise ResultsError(f"{meta}: no column {on!r} to join on (columns: "
                           f"{', '.join(extra.column_names)})")
    keys = extra[on].to_pylist()
    index = {k: i for i, k in enumerate(keys) if k is not None}
    paths = table["path"].to_pylist()
    rows = [index.get(p) for p in paths]
    videos = set(paths)
    matched = {p for p, r in zip(paths, rows) if r is not None}
    if not matched:
        warnings.append(f"{meta}: column {on!r} matches none of the {len(videos)} videos' "
                        f"paths (e.g. {sorted(videos)[0]!r} vs {keys[0] if keys else None!r})")
    elif len(matched) < len(videos):
        missing = sorted(videos - matched)
        warnings.append(f"{meta}: {len(missing)} of {len(videos)} videos not in column "
                        f"{on!r}: {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
    for name in extra.column_names:
        if name == on or name in table.column_names:
            continue
        values = extra[name].to_pylist()
        table = table.append_column(name, pa.array([None if r is None else values[r]
                                                    for r in rows]))
    return table


def tracks_from_table(table, exclude_low_quality: bool = False) -> Tracks:
    """The table's tracks as arrays; every video counts, with or without tracks."""
    paths = np.asarray(table["path"].to_pylist(), object)
    videos, video = np.unique(paths, return_inverse=True)
    duration = np.zeros(len(videos))
    if "video_duration_s" in table.column_names:
        d = np.asarray([v or 0.0 for v in table["video_duration_s"].to_pylist()], float)
        np.maximum.at(duration, video, d)
    is_track = np.asarray([t is not None for t in table["track_id"].to_pylist()], bool)
    low = np.asarray([bool(v) for v in (table["low_quality"].to_pylist()
                                        if "low_quality" in table.column_names
                                        else [False] * len(table))])
    keep = is_track & ~low if exclude_low_quality else is_track
    genders = table["gender"].to_pylist()
    # With --min-gender-probability a track's gender may be null ("unknown"): the report
    # classifies every track by its likelier gender (female_probability), never by the
    # thresholded label, as the error model's rates were measured.
    p_female = table["female_probability"].to_pylist() \
        if "female_probability" in table.column_names else None
    if p_female is not None and all(p is not None for p, k in zip(p_female, keep) if k):
        genders = ["female" if p is not None and p >= 0.5 else "male" for p in p_female]
    unknown = sorted({g for g, k in zip(genders, keep) if k} - {"female", "male"})
    if unknown:
        raise ResultsError(f"column gender holds {unknown[:3]}; expected 'female' or 'male'")
    age_probs = None
    if "age_probs" in table.column_names:
        rows = [r for r, k in zip(table["age_probs"].to_pylist(), keep) if k]
        if rows and all(r is not None for r in rows):
            age_probs = np.asarray(rows, float)
    pick = lambda name: np.asarray(table[name].to_pylist(), object)[keep]  # noqa: E731
    female = np.asarray(genders, object)[keep] == "female"
    return Tracks(video[keep], videos, duration, pick("on_screen_s").astype(float),
                  female, pick("age").astype(float), age_probs)


def bucket_of(value, bucket: str) -> str:
    """The period a date falls in: ``2026-12-06`` -> ``2026-12`` (month), ``2026-W49``
    (week), ``2026-Q4`` (quarter), ``2026`` (year), itself (day)."""
    if value is None:
        return MISSING
    text = str(value)
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        raise ResultsError(f"--trend: {text!r} is not a date (YYYY-MM-DD)") from None
    if bucket == "day":
        return day.isoformat()
    if bucket == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if bucket == "month":
        return f"{day.year}-{day.month:02d}"
    if bucket == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return str(day.year)


def build_screen_report(path: str | Path, *, exclude_low_quality: bool = False,
                        by: str | None = None, meta: str | Path | None = None,
                        on: str = "path", trend: str | None = None, bucket: str = "month",
                        n_boot: int = 1000, seed: int = 0,
                        bundles: list[Path] | None = None) -> dict:
    """The report's data for a tracks table (the content of ``report.json``).

    Raises:
        FileNotFoundError, ResultsError: unusable input, or a ``--by`` / ``--trend`` column
            that neither the table nor ``meta`` has.
    """
    warnings: list[str] = []
    table = read_tracks_table(path)
    if meta is not None:
        table = join_meta(table, meta, on, warnings)
    for option, column in (("--by", by), ("--trend", trend)):
        if column is not None and column not in table.column_names:
            raise ResultsError(f"{option} {column}: no such column (the table and --meta "
                               f"have: {', '.join(table.column_names)})")
    models = sorted(set(table["model_sha256"].to_pylist()) - {None})
    rates = lookup_rates(models[0] if models else None, bundles)
    errors = rates.errors
    kwargs = {"counts": rates.counts, "n_boot": n_boot, "seed": seed}
    if errors is not None:
        kwargs.update(band_counts=errors.band_counts,
                      band_rate_sd=predictive_rate_sd(errors.rate_sd,
                                                      len(errors.age_bias.biases)))
    tracks = tracks_from_table(table, exclude_low_quality)
    report = {
        "input": str(path), "kind": "screen_time", "genderage_version": __version__,
        "model_sha256": models[0] if models else None,
        "exclude_low_quality": exclude_low_quality,
        "videos_failed": _failed(table),
        "screen_time": screen_time(tracks, **kwargs),
        "method": {
            "female_share": ("seconds-weighted adjusted classify-and-count per band of "
                             "estimated age, bands weighted by their seconds"
                             if rates.counts else "naive share of seconds (no error rates)"),
            "intervals": "95% percentile bootstrap over videos (tracks for one video), each "
                         "replicate with band rates drawn from their posteriors and moved by "
                         "the predictive between-population SD",
            "n_boot": n_boot, "seed": seed, "rates_note": rates.note,
            "error_model": rates.errors_note,
            "band_rate_sd": kwargs.get("band_rate_sd", 0.0)},
        "caveats": list(CAVEATS),
        "warnings": warnings,
    }
    for key, column, label in (("by", by, None), ("trend", trend, bucket)):
        if column is None:
            continue
        values = [MISSING if v is None else str(v) for v in table[column].to_pylist()]
        if label is not None:
            values = [bucket_of(None if v == MISSING else v, bucket) for v in values]
        report[key] = {"column": column, **({"bucket": bucket} if label else {}),
                       "groups": _groups(table, values, exclude_low_quality, kwargs)}
    return report


def _failed(table) -> dict[str, str]:
    """``{path: error_kind}`` of the videos that failed or were cut short."""
    if "error_kind" not in table.column_names:
        return {}
    return {p: k for p, k in zip(table["path"].to_pylist(), table["error_kind"].to_pylist())
            if k is not None}


def _groups(table, values: list[str], exclude_low_quality: bool, kwargs: dict) -> dict:
    import pyarrow as pa

    out = {}
    for value in sorted(set(values)):
        mask = pa.array([v == value for v in values])
        out[value] = screen_time(tracks_from_table(table.filter(mask), exclude_low_quality),
                                 **kwargs)
    return out
