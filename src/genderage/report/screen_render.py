"""Writing a screen-time report as ``report.json``, ``report.md`` and a self-contained
``report.html`` (charts inline as SVG), beside the photo report's :mod:`.render`."""

from __future__ import annotations

import html
import json
from pathlib import Path

from .render import _svg, pct, pct_ci
from .stats import AGE_BANDS


def write_screen_report(report: dict, out_dir: str | Path) -> list[Path]:
    """Write the three files into ``out_dir`` (created if needed); return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"report.json": json.dumps(report, indent=2) + "\n",
             "report.md": markdown(report), "report.html": html_page(report)}
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    return [out / name for name in files]


def hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.2f} h"


def _rows(st: dict) -> list[tuple[str, str, str, str]]:
    fs = st["female_share"]
    rows = [("female share of screen time", pct(fs["estimate"]), pct_ci(fs["ci95"]),
             f"{pct(fs['naive'])} ({pct_ci(fs['naive_ci95'])})")]
    for band in AGE_BANDS:
        b = st["age_bands"].get(band)
        if b:
            rows.append((f"share of screen time, estimated age {band}", pct(b["share"]),
                         pct_ci(b["ci95"]), ""))
    for band in AGE_BANDS:
        b = st["female_share_by_age_band"].get(band)
        if b and b["naive"] is not None:
            rows.append((f"female share, estimated age {band}", pct(b["estimate"]),
                         pct_ci(b["ci95"]), pct(b["naive"])))
    return rows


def _counts(st: dict) -> str:
    s = st["seconds"]
    return (f"{st['n_videos']} videos ({hours(st['video_s'])}), {st['n_tracks']} tracks, "
            f"{hours(st['on_screen_s'])} of faces on screen: predicted female "
            f"{hours(s['female_predicted'])}, male {hours(s['male_predicted'])}; corrected "
            f"female {hours(s['female_corrected'])}, male {hours(s['male_corrected'])}. "
            f"Intervals resample {st['resampled']}.")


def _group_table(section: dict, title: str) -> list[str]:
    out = ["", f"## {title}", "",
           "| group | videos | on screen | female share | 95% interval | naive |",
           "|---|---|---|---|---|---|"]
    for name, g in section["groups"].items():
        fs = g["female_share"]
        out.append(f"| {name} | {g['n_videos']} | {hours(g['on_screen_s'])} | "
                   f"{pct(fs['estimate'])} | {pct_ci(fs['ci95'])} | {pct(fs['naive'])} |")
    return out


def markdown(r: dict) -> str:
    """``report.md``."""
    st = r["screen_time"]
    out = ["# genderage screen-time report", "", f"Input: `{r['input']}`. {_counts(st)}", ""]
    if r["videos_failed"]:
        out += [f"{len(r['videos_failed'])} video(s) failed or were cut short: " + ", ".join(
            f"`{p}` ({k})" for p, k in r["videos_failed"].items()), ""]
    out += [f"**Warning:** {w}" for w in r["warnings"]] + ([""] if r["warnings"] else [])
    out += ["| quantity | estimate | 95% interval | naive |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in _rows(st)]
    if "by" in r:
        out += _group_table(r["by"], f"By `{r['by']['column']}`")
    if "trend" in r:
        out += _group_table(r["trend"], f"By {r['trend']['bucket']} of `{r['trend']['column']}`")
    m = r["method"]
    out += ["", "## Method", "", f"- Female share: {m['female_share']}.",
            f"- Intervals: {m['intervals']} ({m['n_boot']} replicates, seed {m['seed']}).",
            f"- Error rates: {m['rates_note']}; error model: {m['error_model']}.",
            f"- Model sha256 {r['model_sha256'] or 'not recorded'}; genderage "
            f"{r['genderage_version']}. Method: docs/report.md (screen time)."]
    out += ["", "## What these numbers are", ""] + [f"- {c}" for c in r["caveats"]]
    return "\n".join(out) + "\n"


def html_page(r: dict) -> str:
    """``report.html``: the content of ``report.md`` with charts, in one file."""
    esc = html.escape
    st = r["screen_time"]
    rows = "".join(f"<tr><td>{esc(a)}</td><td>{esc(b)}</td><td>{esc(c)}</td><td>{esc(d)}</td>"
                   f"</tr>" for a, b, c, d in _rows(st))
    warnings = "".join(f"<p><strong>Warning:</strong> {esc(w)}</p>" for w in r["warnings"])
    figures = "".join(f"<figure>{svg}</figure>" for svg in plots(r))
    caveats = "".join(f"<li>{esc(c)}</li>" for c in r["caveats"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>genderage screen-time report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2rem .6rem;text-align:left}}
svg{{max-width:100%;height:auto}}</style></head><body>
<h1>genderage screen-time report</h1>
<p>Input: <code>{esc(r['input'])}</code>. {esc(_counts(st))}</p>{warnings}
<table><tr><th>quantity</th><th>estimate</th><th>95% interval</th><th>naive</th></tr>{rows}</table>
<h2>Charts</h2>{figures}
<h2>What these numbers are</h2><ul>{caveats}</ul>
</body></html>
"""


def plots(r: dict) -> list[str]:
    """Inline SVG: screen time by predicted gender and band; the female share per group and
    per time bucket with 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    st = r["screen_time"]
    figures = []
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3))
    bands = st["female_share_by_age_band"]
    f_s = [bands[b]["seconds"] * (bands[b]["naive"] or 0) / 60 for b in AGE_BANDS]
    m_s = [bands[b]["seconds"] / 60 - f for b, f in zip(AGE_BANDS, f_s)]
    left.bar(AGE_BANDS, f_s, label="predicted female")
    left.bar(AGE_BANDS, m_s, bottom=f_s, label="predicted male")
    left.set_ylabel("minutes on screen")
    left.set_title("screen time by band of estimated age")
    left.legend()
    _share_points(right, [("all", st)] + [(f"{b}", {"female_share": bands[b]})
                                          for b in AGE_BANDS if bands[b]["naive"] is not None])
    right.set_title("female share of screen time")
    figures.append(_svg(fig))
    for key in ("by", "trend"):
        if key in r and r[key]["groups"]:
            fig, ax = plt.subplots(figsize=(9, 3))
            _share_points(ax, list(r[key]["groups"].items()), line=key == "trend")
            ax.set_title(f"female share of screen time by {r[key].get('bucket', '')} "
                         f"{r[key]['column']} (95% interval)".replace("  ", " "))
            figures.append(_svg(fig))
    return figures


def _share_points(ax, items: list[tuple[str, dict]], line: bool = False) -> None:
    names, values, lo, hi, naive = [], [], [], [], []
    for name, g in items:
        fs = g["female_share"]
        key, ci = ("estimate", "ci95") if fs.get("estimate") is not None else \
            ("naive", "naive_ci95")
        if fs.get(key) is None:
            continue
        names.append(name)
        values.append(100 * fs[key])
        lo.append(100 * (fs[key] - fs[ci][0]))
        hi.append(100 * (fs[ci][1] - fs[key]))
        naive.append(100 * fs["naive"])
    x = range(len(names))
    ax.errorbar(x, values, yerr=[lo, hi], fmt="o-" if line else "o", capsize=4,
                label="corrected")
    ax.plot(x, naive, "x", label="naive")
    ax.set_xticks(list(x), names, rotation=30 if len(names) > 6 else 0)
    ax.set_ylim(0, 100)
    ax.set_ylabel("female share, %")
    ax.legend()
