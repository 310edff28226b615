"""The labelled-sample section of ``report.md`` and ``report.html`` (reports made with
``--labels``): each estimate by each method, the model on this collection, the checks."""

from __future__ import annotations

import html

from .stats import AGE_BANDS


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _ci(ci, share: bool) -> str:
    if ci is None:
        return "-"
    return f"{100 * ci[0]:.1f}-{100 * ci[1]:.1f}%" if share else f"{ci[0]:.1f}-{ci[1]:.1f}"


def _value(x, share: bool) -> str:
    return _pct(x) if share else ("-" if x is None else f"{x:.1f}")


def comparison_rows(r: dict) -> list[tuple[str, ...]]:
    """(quantity, prediction-powered (95%), labels alone, narrower by, dev-set correction,
    naive) for each estimate."""
    dev = r["dev_set"]
    items = [("female share", r["female_share"], dev["female_share"], True, "estimate"),
             ("mean age (years)", r["mean_age"], dev["mean_age"], False, "estimate")]
    items += [(f"share with age {b}", r["age_bands"][b], dev["age_bands"][b], True, "share")
              for b in AGE_BANDS]
    items += [(f"female share, estimated age {b}", r["female_share_by_age_band"][b],
               dev["female_share_by_age_band"][b], True, "estimate") for b in AGE_BANDS]
    rows = []
    for name, entry, d, share, key in items:
        p = entry["ppi"]
        if p["available"]:
            ppi = f"{_value(p['estimate'], share)} ({_ci(p['ci95'], share)})"
            alone = (f"{_value(p['labels_only']['estimate'], share)} "
                     f"({_ci(p['labels_only']['ci95'], share)})")
            narrower = f"{100 * p.get('narrower_than_labels_only', 0):.0f}%"
        else:
            ppi, alone, narrower = f"not available: {p['reason']}", "-", "-"
        rows.append((name, ppi, alone, narrower,
                     f"{_value(d.get(key), share)} ({_ci(d.get('ci95'), share)})",
                     _value(d.get("naive"), share) if "naive" in d else "-"))
    return rows


GROUP_HEADER = ("group", "faces", "female share: prediction-powered (95%)", "labels",
                "dev-set correction", "mean age: prediction-powered (95%)", "dev-set correction")


def group_rows(r: dict) -> list[tuple[str, ...]]:
    """One row per ``--by`` group: its prediction-powered female share and mean age (or why
    not) beside its dev-set ones."""
    rows = []
    for name, g in r["by"]["groups"].items():
        cells = [name, str(g["n_faces_used"])]
        for key, share in (("female_share", True), ("mean_age", False)):
            p, d = g[key]["ppi"], g["dev_set"][key]
            cells.append(f"{_value(p['estimate'], share)} ({_ci(p['ci95'], share)})"
                         if p["available"] else f"not available: {p['reason']}")
            if key == "female_share":
                cells.append(f"{p['n_labels']:.0f}")
            cells.append(f"{_value(d['estimate'], share)} ({_ci(d['ci95'], share)})")
        rows.append(tuple(cells))
    return rows


def model_lines(r: dict) -> list[str]:
    """The sample's counts, the model's accuracy on it, the checks and the advice."""
    lab = r["labels"]
    c = lab["counts"]
    s = lab["sampling"]
    m = lab["model_on_collection"]
    how = ("not recorded: the intervals assume a uniformly random sample" if s is None else
           f"seed {s['seed']}, {'stratified by ' + s['by'] if s['by'] else 'uniformly random'}"
           f", {s['n']} asked for, results fingerprint {s['results_fingerprint']}")
    lines = [f"Labels: {lab['file']}, {c['rows']} rows ({how}): {c['female']} female, "
             f"{c['male']} male, {c['cant_tell']} can't tell, {c['not_a_face']} not a face; "
             f"{c['age_given']} with an age"
             + (f"; {c['outside_faces_used']} of the faces labelled are not among the faces "
                "used (e.g. low quality, excluded) and are left out" if c["outside_faces_used"]
                else "") + ". \"Can't tell\" faces are left out of the gender "
             "estimates and \"not a face\" rows out of all of them (the estimates are of the "
             "faces whose gender, or age, a person could tell)."]

    def said(name, e, share):
        if not e["available"]:
            return f"{name}: not available ({e['reason']})"
        return (f"{name} {_value(e['estimate'], share)} (95% {_ci(e['ci95'], share)}, "
                f"{e['n_labels']:.0f} labels)")

    lines.append("The model on this collection: " + "; ".join([
        said("gender accuracy", m["gender_accuracy"], True),
        said("age MAE (years)", m["age_mae"], False),
        said("mean age error (years)", m["age_bias"], False),
        said("detections that are not faces", m["not_a_face_share"], True)]) + ".")
    lines += [f"Warning: {w}" for w in lab["warnings"]]
    lines.append(lab["trust"])
    return lines


AGE_NOTE = ("The prediction-powered age-band shares are of TRUE (labelled) age; the dev-set "
            "column's are of estimated age (uncorrected). Female shares per band are over bands "
            "of ESTIMATED age in every column.")
HEADER = ("quantity", "prediction-powered (95%)", "labels alone", "narrower by",
          "dev-set correction", "naive")


def markdown_section(r: dict) -> list[str]:
    out = ["", "## Checked against labels (prediction-powered inference)", ""]
    out += model_lines(r)[:1] + [""]
    out += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(row) + " |" for row in comparison_rows(r)]
    out += ["", AGE_NOTE]
    if "by" in r:
        out += ["", f"By `{r['by']['column']}`:", "", "| " + " | ".join(GROUP_HEADER) + " |",
                "|" + "---|" * len(GROUP_HEADER)]
        out += ["| " + " | ".join(row) + " |" for row in group_rows(r)]
    out += [""] + [f"- {line}" for line in model_lines(r)[1:]]
    return out


def html_section(r: dict) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in HEADER)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
                   for row in comparison_rows(r))
    lines = model_lines(r)
    groups = ""
    if "by" in r:
        cells = "".join(f"<th>{esc(h)}</th>" for h in GROUP_HEADER)
        rows = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
                       for row in group_rows(r))
        groups = (f"<p>By <code>{esc(r['by']['column'])}</code>:</p>"
                  f"<table><tr>{cells}</tr>{rows}</table>")
    return (f"<h2>Checked against labels (prediction-powered inference)</h2>"
            f"<p>{esc(lines[0])}</p><table><tr>{head}</tr>{body}</table><p>{esc(AGE_NOTE)}</p>"
            f"{groups}<ul>" + "".join(f"<li>{esc(x)}</li>" for x in lines[1:]) + "</ul>")
