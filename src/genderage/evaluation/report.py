"""Human-readable renderings of an evaluation report: Markdown tables and PNG plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..contract import GENDER_LABELS
from ..models.bundle import Confusion


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def markdown_report(r: dict) -> str:
    g, a = r["gender"], r["age"]
    lines = [f"# Evaluation: {r['model']['path']}", "",
             f"Data: `{r['data']['dir']}` (manifest `{r['data']['manifest']}`, split "
             f"`{r['data']['split']}`), {r['n']} faces.", "",
             "## Gender", "", f"Accuracy: **{_pct(g['accuracy'])}**", "",
             "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for label, m in g["per_class"].items():
        lines.append(f"| {label} | {_pct(m['precision'])} | {_pct(m['recall'])} | "
                     f"{_pct(m['f1'])} | {m['support']} |")
    cm = Confusion.from_dict(g["confusion_matrix"], "gender.confusion_matrix").rows_true
    lines += ["", "Confusion matrix (rows: true, columns: predicted):", "",
              f"| | {GENDER_LABELS[0]} | {GENDER_LABELS[1]} |", "|---|---|---|",
              f"| {GENDER_LABELS[0]} | {cm[0][0]} | {cm[0][1]} |",
              f"| {GENDER_LABELS[1]} | {cm[1][0]} | {cm[1][1]} |", "",
              f"Calibration: ECE {r['calibration']['ece']:.4f}, NLL {r['calibration']['nll']:.4f}.",
              ""]
    if r.get("gender_by_age_band"):
        lines += ["By true age band:", "", "| band | n | gender acc | ECE |", "|---|---|---|---|"]
        lines += [f"| {band} | {m['n']} | {_pct(m['accuracy'])} | {m['ece']:.4f} |"
                  for band, m in r["gender_by_age_band"].items()]
        lines.append("")
    lines += ["## Age", "",
              f"MAE **{a['mae']:.2f}** +- {a['mae_std']:.2f} years, median error "
              f"{a['median_ae']:.2f}, within 5 years {_pct(a['within_5'])}, within 10 years "
              f"{_pct(a['within_10'])}, mean signed error {a['bias']:+.2f}.", ""]
    if "age_interval" in r:
        iv = r["age_interval"]
        lines += [f"Age interval (nominal {_pct(iv['nominal'])}): coverage "
                  f"{_pct(iv['coverage'])}, mean width {iv['mean_width']:.1f} years.", ""]
    for title, key in (("By age group", "age_by_group"), ("By race", "by_race"),
                       ("By gender", "by_gender")):
        lines += [f"### {title}", "", "| group | n | gender acc | age MAE +- std | median | <=5y |",
                  "|---|---|---|---|---|---|"]
        for name, m in r[key].items():
            am = m["age"]
            if not m["n"]:
                lines.append(f"| {name} | 0 | - | - | - | - |")
                continue
            lines.append(f"| {name} | {m['n']} | {_pct(m['gender_accuracy'])} | "
                         f"{am['mae']:.2f} +- {am['mae_std']:.2f} | {am['median_ae']:.2f} | "
                         f"{_pct(am['within_5'])} |")
        lines.append("")
    return "\n".join(lines)


def write_plots(out_dir: Path, age_true, gender_true, age_pred, probs, report) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.array(Confusion.from_dict(report["gender"]["confusion_matrix"],
                                      "gender.confusion_matrix").rows_true)
    fig, ax = plt.subplots(figsize=(4, 3.5))
    ax.imshow(cm, cmap="Blues")
    for i in range(2):
        for j in range(2):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xticks([0, 1], GENDER_LABELS)
    ax.set_yticks([0, 1], GENDER_LABELS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("gender confusion matrix")
    fig.tight_layout()
    fig.savefig(out_dir / "confusion_matrix.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(age_true, age_pred, s=3, alpha=0.3)
    ax.plot([0, 116], [0, 116], "k--", lw=1)
    ax.set_xlabel("true age")
    ax.set_ylabel("predicted age")
    ax.set_title(f"age: MAE {report['age']['mae']:.2f} years")
    fig.tight_layout()
    fig.savefig(out_dir / "age_pred_vs_true.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    edges = np.arange(0, 121, 5)
    which = np.digitize(age_true, edges) - 1
    err = np.abs(age_pred - age_true)
    centers = [edges[k] + 2.5 for k in range(len(edges)) if (which == k).any()]
    maes = [err[which == k].mean() for k in range(len(edges)) if (which == k).any()]
    ax.bar(centers, maes, width=4.5)
    ax.set_xlabel("true age (5-year bins)")
    ax.set_ylabel("MAE (years)")
    ax.set_title("age error by true age")
    fig.tight_layout()
    fig.savefig(out_dir / "age_error_by_age.png", dpi=100)
    plt.close(fig)

    bins = report["calibration"]["bins"]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0.5, 1], [0.5, 1], "k--", lw=1)
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-")
    ax.set_xlabel("predicted probability of the predicted label")
    ax.set_ylabel("observed accuracy")
    ax.set_title(f"gender reliability (ECE {report['calibration']['ece']:.3f})")
    fig.tight_layout()
    fig.savefig(out_dir / "reliability.png", dpi=100)
    plt.close(fig)
