"""Writing a report's data as ``report.json``, ``report.md`` and a self-contained
``report.html`` (plots inline as SVG: it opens offline, with nothing beside it)."""

from __future__ import annotations

import html
import io
import json
from pathlib import Path

from .render_labels import html_section, markdown_section
from .stats import AGE_BANDS


REPORT_FILES = ("report.json", "report.md", "report.html")


def write_report(report: dict, out_dir: str | Path) -> list[Path]:
    """Write the three files (:data:`REPORT_FILES`) into ``out_dir`` (created if needed) as
    new files (:func:`~genderage.outputs.write_new`: none is written over, no link is
    followed); return their paths.

    Raises:
        OutputExistsError: a report file already exists in ``out_dir``; nothing is written.
    """
    from ..outputs import check_outputs, write_new

    out = Path(out_dir)
    paths = [out / name for name in REPORT_FILES]
    check_outputs(paths)
    out.mkdir(parents=True, exist_ok=True)
    # allow_nan=False: NaN or Infinity would make report.json invalid JSON; fail instead.
    texts = (json.dumps(report, indent=2, allow_nan=False) + "\n", markdown(report),
             html_page(report))
    for path, text in zip(paths, texts):
        write_new(path, text)
    return paths


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def pct_ci(ci: list[float] | None) -> str:
    return "-" if ci is None else f"{100 * ci[0]:.1f}-{100 * ci[1]:.1f}%"


def years_ci(ci: list[float] | None) -> str:
    return "-" if ci is None else f"{ci[0]:.1f}-{ci[1]:.1f}"


def faces_n(n: float) -> str:
    """A face count: whole, or to one decimal when soft (a sum of age probabilities)."""
    return f"{n:.0f}" if abs(n - round(n)) < 0.05 else f"{n:.1f}"


def _summary_rows(r: dict) -> list[tuple[str, str, str, str, str]]:
    """(quantity, faces it rests on, estimate, 95% interval, naive) rows of the main table."""
    fs, age, n = r["female_share"], r["mean_age"], faces_n(r["n_faces_used"])
    rows = [("female share", n, pct(fs["estimate"]), pct_ci(fs["ci95"]),
             f"{pct(fs['naive'])} ({pct_ci(fs['naive_ci95'])})"),
            ("mean age (years)", n, f"{age['estimate']:.1f}", years_ci(age["ci95"]),
             f"{age['naive']:.1f}")]
    if age["uncorrected"] != age["estimate"]:
        rows.append(("mean age, uncorrected for the model's age bias", n,
                     f"{age['uncorrected']:.1f}",
                     f"{years_ci(age['uncorrected_ci95'])} (sampling only)", ""))
    for band in AGE_BANDS:
        b = r["age_bands"][band]
        kind = "true age (labelled)" if b.get("method") == "ppi" else "estimated age"
        rows.append((f"share with {kind} {band}", n, pct(b["share"]), pct_ci(b["ci95"]), ""))
    for band in AGE_BANDS:
        b = r["female_share_by_age_band"][band]
        rows.append((f"female share, estimated age {band}", faces_n(b["n_faces"]),
                     pct(b["estimate"]), pct_ci(b["ci95"]), pct(b["naive"])))
    return rows


def _counts_line(r: dict) -> str:
    used = "low-quality faces excluded" if r["exclude_low_quality"] else "all faces used"
    doubled = r.get("n_rows_doubled", 0)
    return (f"{r['n_images']} images ({r['n_images_failed']} unreadable), {r['n_faces']} faces "
            f"({r['n_faces_low_quality']} low quality; {used}): **{r['n_faces_used']} faces "
            "used**." + (f" {doubled} doubled row(s) dropped: the same image and face was "
                         "written more than once (two batch runs on one folder); each is "
                         "counted once." if doubled else ""))


def _method_lines(r: dict) -> list[str]:
    m = r["method"]
    lines = [f"Female share: {m['female_share']}; intervals: {m['intervals']} "
             f"({m['n_boot']} replicates, seed {m['seed']}).",
             f"Error rates: {m['rates_note']}."]
    rates = m["confusion_rates"]
    if rates:
        lines.append(f"P(predicted female | female) = {rates['tpr']:.4f}, "
                     f"P(predicted female | male) = {rates['fpr']:.4f}.")
    lines.append(f"Ages from {m['age_source']}.")
    errors = m["error_model"]
    if errors["used"]:
        bias = errors["age_bias"]
        sets = ", ".join(f"{name} {v['bias']:+.2f} (SE {v['se']:.2f})"
                         for name, v in bias["dev_sets"].items())
        lines += [f"Error model: {errors['note']}.",
                  f"Mean age: {errors['mean_age']} The model's mean age error on its dev sets "
                  f"(years): {sets}; b = {bias['b']:+.2f}, se_b = {bias['se_b']:.2f}, "
                  f"tau = {bias['tau']:.2f}.",
                  f"Female share per age band: {errors['female_share_by_age_band']}."]
    else:
        lines.append(f"No error model: {errors['note']}.")
    bias = m["model_age_bias"]
    if bias and not errors["used"]:  # with an error model its dev-set biases are the figures
        lines.append("The model's mean age error (predicted - true) on held-out faces: "
                     + ", ".join(f"{k} {v:+.2f} years" for k, v in bias.items()) + ".")
    lines.append(f"Model sha256 {r['model_sha256'] or 'not recorded'}; genderage "
                 f"{r['genderage_version']}. Method: docs/report.md.")
    return lines


def plain_summary(r: dict) -> list[str]:
    """The main figures in sentences, before any table or method."""
    fs, age, n = r["female_share"], r["mean_age"], r["n_faces_used"]
    corrected = fs["estimate"] is not None
    share, ci = (fs["estimate"], fs["ci95"]) if corrected else (fs["naive"], fs["naive_ci95"])
    lines = [f"Of the {n} faces used, about {pct(share)} look female to the model "
             f"(95% interval {pct_ci(ci)}"
             + ("; corrected for the model's known mistakes" if corrected else
                "; not corrected: this model's error rates are unknown") + ")."]
    if age["ci95"] is None:
        lines.append(f"Their estimated age is {age['estimate']:.1f} years (one face: no interval).")
    else:
        lines.append(f"Their average age is about {age['estimate']:.1f} years (95% interval "
                     f"{years_ci(age['ci95'])}"
                     + (", corrected for the model's average age error" if age["uncorrected"]
                        != age["estimate"] else "") + ").")
    biggest = max(AGE_BANDS, key=lambda b: r["age_bands"][b]["share"])
    lines.append(f"The largest age group is {biggest} ({pct(r['age_bands'][biggest]['share'])} "
                 "of the faces). These are estimates from appearance, with the limits listed "
                 "under \"What these numbers are\"; how they were made is under \"Method\".")
    return lines


def markdown(r: dict) -> str:
    """``report.md``: the numbers in plain sentences, the table, how they were made, what
    they mean."""
    out = ["# genderage report", "", " ".join(plain_summary(r)), "",
           f"Input: `{r['input']}`. {_counts_line(r)}", "",
           "| quantity | faces (n) | estimate | 95% interval | naive |", "|---|---|---|---|---|"]
    out += ["| " + " | ".join(row) + " |" for row in _summary_rows(r)]
    if "by" in r:
        out += ["", f"## By `{r['by']['column']}`", "",
                "| group | faces | female share | 95% interval | naive | mean age | 95% interval |",
                "|---|---|---|---|---|---|---|"]
        for name, g in r["by"]["groups"].items():
            fs, age = g["female_share"], g["mean_age"]
            out.append(f"| {name} | {g['n_faces_used']} | {pct(fs['estimate'])} | "
                       f"{pct_ci(fs['ci95'])} | {pct(fs['naive'])} | {age['estimate']:.1f} | "
                       f"{years_ci(age['ci95'])} |")
    if "labels" in r:
        out += markdown_section(r)
    out += ["", "## Method", ""] + [f"- {line}" for line in _method_lines(r)]
    out += ["", "## What these numbers are", ""] + [f"- {c}" for c in r["caveats"]]
    return "\n".join(out) + "\n"


def html_page(r: dict) -> str:
    """``report.html``: the same content as ``report.md`` with plots, in one file."""
    esc = html.escape
    rows = "".join("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>"
                   for row in _summary_rows(r))
    groups = ""
    if "by" in r:
        body = "".join(
            f"<tr><td>{esc(name)}</td><td>{g['n_faces_used']}</td>"
            f"<td>{pct(g['female_share']['estimate'])}</td>"
            f"<td>{pct_ci(g['female_share']['ci95'])}</td>"
            f"<td>{g['mean_age']['estimate']:.1f}</td></tr>"
            for name, g in r["by"]["groups"].items())
        groups = (f"<h2>By <code>{esc(r['by']['column'])}</code></h2><table><tr><th>group</th>"
                  "<th>faces</th><th>female share</th><th>95% interval</th><th>mean age</th>"
                  f"</tr>{body}</table>")
    counts = esc(_counts_line(r)).replace("**", "")
    method = "".join(f"<li>{esc(line)}</li>" for line in _method_lines(r))
    caveats = "".join(f"<li>{esc(c)}</li>" for c in r["caveats"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>genderage report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2rem .6rem;text-align:left}}
figure{{margin:1rem 0}}svg{{max-width:100%;height:auto}}</style></head><body>
<h1>genderage report</h1>
<p>{esc(" ".join(plain_summary(r)))}</p>
<p>Input: <code>{esc(r['input'])}</code>. {counts}</p>
<table><tr><th>quantity</th><th>faces (n)</th><th>estimate</th><th>95% interval</th><th>naive</th></tr>{rows}</table>
{html_section(r) if "labels" in r else ""}
{groups}
<h2>Plots</h2>
{"".join(f"<figure>{svg}</figure>" for svg in plots(r))}
<h2>Method</h2><ul>{method}</ul>
<h2>What these numbers are</h2><ul>{caveats}</ul>
</body></html>
"""


def plots(r: dict) -> list[str]:
    """Inline SVG figures: female share (corrected and naive), age distribution with band
    shares, female share per age band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = []
    fig, ax = plt.subplots(figsize=(6, 1.8))
    fs = r["female_share"]
    bars = [("naive", fs["naive"], fs["naive_ci95"])]
    if fs["estimate"] is not None:
        name = {"ppi": "prediction-powered", "dev_set_correction": "corrected"}.get(
            fs.get("method"), "corrected")
        bars.insert(0, (name, fs["estimate"], fs["ci95"]))
    dev = r.get("dev_set", {}).get("female_share", {})
    if fs.get("method") == "ppi" and dev.get("estimate") is not None:
        bars.insert(1, ("dev-set correction", dev["estimate"], dev["ci95"]))
    for y, (name, value, ci) in enumerate(bars):
        ax.errorbar([100 * value], [y], fmt="o", capsize=4,
                    xerr=[[max(0.0, 100 * (value - ci[0]))], [max(0.0, 100 * (ci[1] - value))]])
    ax.set_yticks(range(len(bars)), [b[0] for b in bars])
    ax.set_xlim(-3, 103)  # a share of 0% or 100% stays inside the plot
    ax.set_xlabel("female share, % (95% interval)")
    ax.set_ylim(-0.7, len(bars) - 0.3)
    figures.append(_svg(fig))

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3))
    dist = r["age_distribution"]
    if r["method"]["age_source"].startswith("age_probs"):
        left.plot(range(len(dist)), dist)
        left.set_ylabel("share of faces")
    else:  # point ages: a histogram of whole years is jagged, so 5-year bins
        bins = [sum(dist[i:i + 5]) for i in range(0, len(dist), 5)]
        left.bar([i * 5 + 2.5 for i in range(len(bins))], bins, width=4.6)
        left.set_ylabel("share of faces per 5 years")
    left.set_xlabel("age, years")
    left.set_title("age distribution")
    shares = [r["age_bands"][b] for b in AGE_BANDS]
    right.bar(AGE_BANDS, [100 * s["share"] for s in shares],
              yerr=[[max(0.0, 100 * (s["share"] - s["ci95"][0])) for s in shares],
                    [max(0.0, 100 * (s["ci95"][1] - s["share"])) for s in shares]], capsize=4)
    right.set_ylabel("% of faces (95% interval)")
    right.set_title("bands of true age (prediction-powered)" if shares[0].get("method") == "ppi"
                    else "bands of estimated age")
    figures.append(_svg(fig))

    by_band = r["female_share_by_age_band"]
    known = [b for b in AGE_BANDS if by_band[b]["naive"] is not None]
    if known:
        fig, ax = plt.subplots(figsize=(6, 3))
        key = "estimate" if by_band[known[0]]["estimate"] is not None else "naive"
        ci_key = "ci95" if key == "estimate" else "naive_ci95"
        values = [100 * by_band[b][key] for b in known]
        ax.errorbar(known, values, fmt="o", capsize=4,
                    yerr=[[max(0.0, v - 100 * by_band[b][ci_key][0]) for v, b in zip(values, known)],
                          [max(0.0, 100 * by_band[b][ci_key][1] - v) for v, b in zip(values, known)]])
        ax.set_ylabel(f"female share, % ({'corrected' if key == 'estimate' else 'naive'})")
        ax.set_ylim(-3, 103)  # 0% and 100% stay inside the plot
        ax.set_title("female share per band of estimated age (95% interval)")
        figures.append(_svg(fig))
    return figures


def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.tight_layout()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]
