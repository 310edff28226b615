"""Render MODEL_CARD.md: the template ``model_card.md`` filled from the shipped model's
metrics bundle.

Every number in the card comes from ``src/genderage/models/genderage.metrics.json``, which
``tools/release_model.py`` writes from measured runs, and the architecture text from the
model's :class:`~genderage.training.config.ModelConfig`; ``tests/test_model_card.py`` fails
when the committed card and the bundle disagree. Needs no torch.
"""

from __future__ import annotations

import math
from pathlib import Path
from string import Template

from ..models.bundle import Confusion
from .config import ModelConfig

# The seed model card's claims, quoted so the card can set them beside measured numbers.
CARD_CLAIMS = {
    "gender_accuracy": "93-95%",
    "age_mae": "4-6 years",
    "parameters": "1,230,851",
    "age_group_mae": {"0-17": 6.5, "18-29": 3.8, "30-49": 4.2, "50-69": 5.5, "70+": 7.8},
}
TARGETS = {"gender_accuracy": 0.94, "age_mae": 4.8, "within_5": 0.65}


CARD_EXAMPLE = """```python
import numpy as np
import onnxruntime as ort
from genderage import GenderAge
from genderage.models import default_model_path

for face in GenderAge().predict("examples/astronaut.jpg").faces:
    print(face.gender, round(face.gender_probability, 3), round(face.age, 1), face.age_interval)

session = ort.InferenceSession(str(default_model_path()))
faces = np.full((2, 3, 112, 112), 0.5, np.float32)  # aligned RGB faces in [0, 1], any batch
out = session.run(["output"], {"input": faces})[0]  # [N, 3]: logit_female, logit_male, age/100
print(out.shape, out[:, 2] * 100)
```"""
"""The card's usage example, run on the shipped model by the tests."""


def _pct(x, digits: int = 1) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f}%"


def _yes(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _group_table(groups: dict, claims: dict | None = None) -> list[str]:
    head = "| group | n | gender accuracy | age MAE +- std | median error | within 5 y |"
    sep = "|---|---|---|---|---|---|"
    if claims:
        head += " seed card MAE | target met |"
        sep += "---|---|"
    lines = [head, sep]
    for name, m in groups.items():
        a = m["age"]
        if not m["n"]:
            continue
        row = (f"| {name} | {m['n']} | {_pct(m['gender_accuracy'])} | {a['mae']:.2f} +- "
               f"{a['mae_std']:.2f} | {a['median_ae']:.2f} | {_pct(a['within_5'])} |")
        if claims:
            claim = claims.get(name)
            row += f" {claim} | {_yes(a['mae'] <= claim)} |" if claim is not None else " - | - |"
        lines.append(row)
    return lines


def _schedule(cfg: dict) -> str:
    stop = (f" with early stopping (patience {cfg['early_stop_patience']}) on validation loss"
            if cfg["early_stop_patience"] else "")
    if cfg.get("schedule", "plateau") == "cosine":
        return (f"cosine learning-rate decay to 0 per step after a {cfg['warmup_epochs']:g}-epoch "
                f"linear warm-up, {cfg['epochs']} epochs{stop}")
    return (f"ReduceLROnPlateau(patience {cfg['plateau_patience']}, factor "
            f"{cfg['plateau_factor']:g}), up to {cfg['epochs']} epochs{stop}")


def _shipped_epoch(t: dict) -> str:
    if t.get("checkpoint", "best.pt") == "best.pt":
        return (f"- Shipped weights: epoch {t['best_epoch']}, the lowest validation loss "
                f"(`best.pt`).")
    return (f"- Shipped weights: epoch {t['checkpoint_epoch']} (`{t['checkpoint']}`), the end of "
            f"the planned schedule, fixed before training; the lowest validation loss came at "
            f"epoch {t['best_epoch']}.")


def _aaf_groups(label: str, groups: dict, digits: int) -> list[str]:
    """A table of an AAF report's groups: n, age MAE, gender accuracy."""
    L = [f"| {label} | n | age MAE | gender accuracy |", "|---|---|---|---|"]
    for k, gm in groups.items():
        L.append(f"| {k} | {gm['n']} | {gm['age_mae']:.2f} | "
                 f"{_pct(gm.get('gender_accuracy'), digits)} |")
    return L + [""]


def _flip_mode(b: dict) -> list[str]:
    rows = [("default", b["utkface_val"], b.get("aaf")),
            ("`flip_tta=True`", b["flip_tta_mode"]["utkface_val"], b["flip_tta_mode"]["aaf"])]
    L = ["## Accuracy mode: mirror test-time augmentation", "",
         "`GenderAge(flip_tta=True)` / `genderage predict --flip-tta` runs each face together "
         "with its mirror image and averages the outputs: the same shipped file, twice the "
         "model's cost (docs/experiments/2026-11-29-latency.md). Measured with `genderage evaluate "
         "--flip-tta` and `genderage evaluate --photos --flip-tta`:", "",
         "| mode | val gender | val MAE | within 5 y | ECE | interval coverage | AAF gender | "
         "AAF MAE |", "|---|---|---|---|---|---|---|---|"]
    for name, v, aaf in rows:
        aaf_g = _pct(aaf["gender_accuracy"], 2) if aaf else "-"
        aaf_m = f"{aaf['age_mae']:.2f}" if aaf else "-"
        L.append(f"| {name} | {_pct(v['gender']['accuracy'], 2)} | {v['age']['mae']:.2f} | "
                 f"{_pct(v['age']['within_5'], 2)} | {v['calibration']['ece']:.4f} | "
                 f"{_pct(v['age_interval']['coverage'])} | {aaf_g} | {aaf_m} |")
    return L + [""]


def _recipes(recipes: list[dict]) -> list[str]:
    L = ["## Training recipes compared", "",
         "Each row is a full training run evaluated by the same commands (UTKFace grouped "
         "validation split; AAF through the full photo pipeline: all 6,443 photos for a model "
         "that never saw AAF, the dev fold for one trained on the rest; `tools/compare_release.py` "
         "compares two models on the same faces).", "",
         "| release | recipe | train min | val gender | val MAE | within 5 y | AAF gender | "
         "AAF MAE |", "|---|---|---|---|---|---|---|---|"]
    for r in recipes:
        aaf_g = _pct(r["aaf_gender_accuracy"], 2) if r.get("aaf_gender_accuracy") else "-"
        aaf_m = f"{r['aaf_age_mae']:.2f}" if r.get("aaf_age_mae") else "-"
        if r.get("aaf_gender_accuracy"):
            aaf_g += f" ({r.get('aaf_set', 'all')})"
        L.append(f"| {r['name']} | {r['recipe']} | {r['train_seconds'] / 60:.0f} | "
                 f"{_pct(r['gender_accuracy'], 2)} | {r['age_mae']:.2f} | "
                 f"{_pct(r['within_5'])} | {aaf_g} | {aaf_m} |")
    return L + [""]


def recipe_summary(b: dict, name: str) -> dict:
    """One row of the recipe comparison from a metrics bundle."""
    cfg = b["training"]["config"]
    parts = [f"{cfg['epochs']} epochs, {cfg.get('schedule', 'plateau')} LR"]
    if cfg.get("ema_decay"):
        parts.append(f"EMA {cfg['ema_decay']:g}")
    if cfg.get("age_distribution"):
        parts.append(f"age distribution ({b['model']['age_output']})")
    parts.append(f"augment {cfg['augment']}")
    if cfg.get("label_smoothing"):
        parts.append(f"label smoothing {cfg['label_smoothing']:g}")
    if cfg.get("recrop"):
        parts.append(f"re-crops {cfg['recrop']:g}")
    if cfg.get("sources"):
        parts.append("+ " + ", ".join(cfg["sources"]))
    if cfg.get("init"):
        parts.append(f"from {Path(cfg['init']).name}")
    if cfg.get("distill_alpha"):
        parts.append(f"distillation {cfg['distill_alpha']:g}")
    if cfg.get("teachers"):
        parts.append(f"taught by {len(cfg['teachers'])} models at {cfg['teacher_weight']:g}")
    if cfg.get("balance_age"):
        parts.append(f"band-balanced sampling {cfg['balance_age']:g}")
    if cfg.get("robust"):
        parts.append(f"degradations {cfg['robust']:g}")
    v, aaf = b["utkface_val"], b.get("aaf") or {}
    return {"name": name, "recipe": ", ".join(parts),
            "aaf_set": "dev fold" if aaf.get("subset") else "all",
            "train_seconds": b["training"]["train_seconds"],
            "gender_accuracy": v["gender"]["accuracy"], "age_mae": v["age"]["mae"],
            "within_5": v["age"]["within_5"],
            "aaf_gender_accuracy": aaf.get("gender_accuracy"), "aaf_age_mae": aaf.get("age_mae")}


TEMPLATE = Path(__file__).with_name("model_card.md")
"""The card's text; :func:`render` fills its ``${...}`` fields with computed values."""


def render(b: dict) -> str:
    """The model card for metrics bundle ``b`` (see ``tools/release_model.py``)."""
    return Template(TEMPLATE.read_text()).substitute(card_fields(b)).rstrip("\n") + "\n"


def card_fields(b: dict) -> dict[str, str]:
    """Every ``${...}`` field of the template, from metrics bundle ``b``."""
    m, d, t, c, v = b["model"], b["data"], b["training"], b["calibration"], b["utkface_val"]
    g, a = v["gender"], v["age"]
    cfg = t["config"]
    cm = Confusion.from_dict(g["confusion_matrix"], "utkface_val.gender.confusion_matrix")
    groups_ok = all(v["age_by_group"][k]["age"]["mae"] <= lim
                    for k, lim in CARD_CLAIMS["age_group_mae"].items())
    arch = ModelConfig.from_dict(m["arch"])
    iv = v.get("age_interval", {})
    return {
        "file": m["file"], "bytes": f"{m['bytes']:,}", "sha256_short": m["sha256"][:16],
        "opset": str(m["opset"]), "version": b["genderage_version"],
        "arch": arch.arch, "architecture": arch.describe(),
        "parameters": f"{m['parameters']:,}", "card_parameters": CARD_CLAIMS["parameters"],
        "weights": m["weights"], "age_output": m["age_output"],
        "flip_in_graph": "yes" if m["flip_tta"] else "no",
        "extra_output": ("; extra output `age_probs`: `[N,121]`, a distribution over ages 0-120."
                         if arch.age_distribution else "."),
        "temperature": f"{c['gender_temperature']:.3f}",
        "interval_coverage": _pct(c["age_interval"]["coverage"], 0),
        "example": CARD_EXAMPLE,
        "data_paragraph": _data_paragraph(d) + _sources_paragraph(b.get("sources")),
        "seed": str(d["seed"]), "train": f"{d['train']:,}", "val": f"{d['val']:,}",
        "manifest_short": d["manifest_sha256"][:16],
        "races": ", ".join(f"{k} {n:,}" for k, n in d["race"].items()),
        "ages": ", ".join(f"{k} {n:,}" for k, n in d["age_band"].items()),
        "train_command": t["command"],
        "recipe_line": (f"The recipe is `{t['recipe']}` (`genderage train --config "
                        f"{t['recipe']}` runs it). " if t.get("recipe") else ""),
        "recipe_text": _recipe_text(cfg) + _start_and_teachers(t),
        "epochs_run": str(t["epochs_run"]), "train_minutes": _train_minutes(t),
        "hardware": t["hardware"], "precision": t["precision"],
        "images_per_s": f"{t['images_per_s']:.0f}",
        "shipped_epoch": _shipped_epoch(t),
        "n_val": f"{v['n']:,}",
        "headline_rows": "\n".join([
            f"| gender accuracy | **{_pct(g['accuracy'], 2)}** | "
            f"{CARD_CLAIMS['gender_accuracy']} | >= 94.0%: "
            f"{_yes(g['accuracy'] >= TARGETS['gender_accuracy'])} |",
            f"| age MAE (years) | **{a['mae']:.2f}** +- {a['mae_std']:.2f} | "
            f"{CARD_CLAIMS['age_mae']} | <= 4.8: {_yes(a['mae'] <= TARGETS['age_mae'])} |",
            f"| age within 5 years | {_pct(a['within_5'], 2)} | - | >= 65%: "
            f"{_yes(a['within_5'] >= TARGETS['within_5'])} |",
            f"| age within 10 years | {_pct(a['within_10'])} | - | - |",
            f"| median age error | {a['median_ae']:.2f} | - | - |",
            f"| every age group at or below the seed card's MAE | "
            f"{'yes' if groups_ok else 'no'} | - | {_yes(groups_ok)} |"]),
        "per_class_rows": "\n".join(
            f"| {label} | {_pct(pc['precision'])} | {_pct(pc['recall'])} | "
            f"{_pct(pc['f1'])} | {pc['support']} |" for label, pc in g["per_class"].items()),
        "confusion": (f"Confusion matrix (rows true, columns predicted): female->female "
                      f"{cm.tp}, female->male {cm.fn}, male->female {cm.fp}, "
                      f"male->male {cm.tn}."),
        "age_group_table": "\n".join(_group_table(v["age_by_group"],
                                                  CARD_CLAIMS["age_group_mae"])),
        "race_table": "\n".join(_group_table(v["by_race"])),
        "gender_table": "\n".join(_group_table(v["by_gender"])),
        "calibration_bullets": "\n".join([
            f"- Gender probability: expected calibration error "
            f"**{v['calibration']['ece']:.4f}** (before temperature scaling: "
            f"{c['uncalibrated_ece']:.4f}); NLL {v['calibration']['nll']:.4f}. Reliability "
            f"plot: `docs/img/reliability.png`.",
            f"- Age interval: nominal {_pct(iv.get('nominal'), 0)}, coverage on validation "
            f"{_pct(iv.get('coverage'))} (fitted on the same split; cross-fitted estimate "
            f"{_pct(c['cross_fitted_coverage'])}), mean width {iv.get('mean_width', 0):.1f} "
            f"years."]),
        "optional_sections": "".join("\n".join(lines) + "\n" for lines in (
            _v2_targets(b), _aaf_section(b), _gender_by_band(b), _flip_mode(b) if b.get("flip_tta_mode") else [],
            _ablations(b), _recipes(b["recipes"]) if b.get("recipes") else []) if lines),
        "risk_coverage": "".join("\n".join(lines) + "\n"
                                 for lines in [_risk_coverage(b.get("risk_coverage"))] if lines),
        "commands": "\n".join(b["commands"]),
    }


def _data_paragraph(d: dict) -> str:
    return (f"UTKFace, aligned and cropped (200x200 chips), as provided in "
            f"`../shared/data/UTKFace`: **{d['files']:,} files**; {d['malformed']} malformed "
            f"names skipped. `genderage data check` found **{d['exact_groups']} exact-duplicate "
            f"groups** ({d['exact_files']} files), **{d['near_groups']} near-duplicate groups** "
            f"({d['near_files']} files: re-encoded, re-cropped or watermarked copies) and "
            f"**{d['conflict_groups']} groups with conflicting labels** "
            f"({d['conflict_files']} files, {d['gender_conflicts']} of them with conflicting "
            f"gender).")


def _sources_paragraph(sources: dict | None) -> str:
    """The training sources of a multi-source release: a table with terms and counts."""
    if not sources:
        return ""
    L = ["", "", f"The model was trained on several sources, one manifest "
         f"(`{sources['manifest']}`, sha256 `{sources['manifest_sha256'][:16]}...`; "
         "`genderage data split` with each source; duplicates searched across sources, so no "
         "face is in training and a dev set):", "",
         "| source | terms of use | train | dev (held out) | cite |", "|---|---|---|---|---|"]
    for s in sources["sources"].values():
        L.append(f"| {s['name']} | {s['terms']} | {s['train']:,} | {s['dev']:,} | {s['cite']} |")
    return "\n".join(L)


def _train_minutes(t: dict) -> str:
    own = f"**{t['train_seconds'] / 60:.1f} minutes**"
    init = t.get("init") or {}
    if "train_seconds" not in init:
        return own
    total = (t["train_seconds"] + init["train_seconds"]) / 60
    return (f"{own} ({total:.1f} minutes in all with the {init['train_seconds'] / 60:.1f} that "
            f"trained the weights it started from)")


def _start_and_teachers(t: dict) -> str:
    parts = []
    init = t.get("init")
    if init:
        parts.append(f" Started from the weights of `{init['file']}` (sha256 "
                     f"`{init['sha256'][:16]}...`"
                     + (f", genderage {init['release']}'s shipped model" if init.get("release")
                        else "") + ").")
    tt = t.get("teachers")
    if tt:
        members = "; ".join(f"`{m['file']}` (sha256 `{m['sha256'][:16]}...`, {m['origin']}"
                            + (f", licence {m['licence']}" if m.get("licence") else "") + ")"
                            for m in tt["members"])
        parts.append(f" Gender distillation: the target is {1 - tt['alpha']:g} x the label + "
                     f"{tt['alpha']:g} x the soft output of a teacher ensemble (Cydral weight "
                     f"{tt['cydral_weight']:g}, chosen on the dev sets): {members}.")
    return "".join(parts)


def _teachers_text(cfg: dict) -> str:
    """The recipe text's clause on exported-model teachers (``--teacher``), or ``""``."""
    if not cfg.get("teachers"):
        return ""
    w = cfg["teacher_weight"]
    views = "the same augmented faces" if cfg.get("teacher_views") == "augmented" \
        else "the clean faces"
    models = ", ".join(f"`{m}`" for m in cfg["teachers"])
    return (f"; gender and age-distribution targets = {1 - w:g} x the label's + {w:g} x the "
            f"mean answer of the exported models {models} on {views}")


def _recipe_text(cfg: dict) -> str:
    return (f"Adam lr {cfg['lr']:g}, batch {cfg['batch_size']}, " + _schedule(cfg)
            + f"; loss = CE(gender) + {cfg['age_weight']:g} x MSE(age/100)"
            + (f" + {cfg['ldl_weight']:g} x KL(age distribution, Gaussian sigma "
               f"{cfg['ldl_sigma']:g} y)" if cfg["age_distribution"] else "")
            + f"; augmentation `{cfg['augment']}`"
            + (f"; each training face replaced by its pipeline re-crop (chip padded, detected "
               f"and aligned by the inference code) with probability {cfg['recrop']:g}"
               if cfg.get("recrop") else "")
            + (f"; one real-photo degradation (exposure, blur, JPEG, occlusion) per face with "
               f"probability {cfg['robust']:g}" if cfg.get("robust") else "")
            + (f"; each face drawn with weight count(its age band) ** -{cfg['balance_age']:g}"
               if cfg.get("balance_age") else "")
            + _teachers_text(cfg)
            + (f"; weight EMA {cfg['ema_decay']:g}" if cfg["ema_decay"] else "")
            + f"; seed {cfg['seed']}.")


V2_TARGETS = {"utk_gender": 0.95, "utk_mae": 4.5, "aaf_gender": 0.96, "aaf_mae": 5.5,
              "child_gender": 0.85}
"""Issue 13's targets: UTKFace val split, AAF dev fold (full pipeline), ages 0-17 on both."""


def _v2_targets(b: dict) -> list[str]:
    """Issue 13's targets beside the measured figures, for a release with an AAF dev fold."""
    x, v = b.get("aaf") or {}, b["utkface_val"]
    if not x.get("subset"):
        return []
    utk_child = v["age_by_group"]["0-17"]["gender_accuracy"]
    aaf_child = x["age_by_group"]["0-17"]["gender_accuracy"]
    t = V2_TARGETS
    rows = [("UTKFace val gender accuracy", _pct(v["gender"]["accuracy"], 2),
             f">= {_pct(t['utk_gender'])}", v["gender"]["accuracy"] >= t["utk_gender"]),
            ("UTKFace val age MAE", f"{v['age']['mae']:.2f}", f"<= {t['utk_mae']}",
             v["age"]["mae"] <= t["utk_mae"]),
            ("AAF dev fold gender accuracy", _pct(x["gender_accuracy"], 2),
             f">= {_pct(t['aaf_gender'])}", x["gender_accuracy"] >= t["aaf_gender"]),
            ("AAF dev fold age MAE", f"{x['age_mae']:.2f}", f"<= {t['aaf_mae']}",
             x["age_mae"] <= t["aaf_mae"]),
            ("ages 0-17 gender accuracy, UTKFace val", _pct(utk_child, 1),
             f">= {_pct(t['child_gender'])}", utk_child >= t["child_gender"]),
            ("ages 0-17 gender accuracy, AAF dev fold", _pct(aaf_child, 1),
             f">= {_pct(t['child_gender'])}", aaf_child >= t["child_gender"])]
    return (["## Targets of this release (issue 13)", "",
             "| figure | measured | target | |", "|---|---|---|---|"]
            + [f"| {name} | {got} | {want} | {_yes(ok)} |" for name, got, want, ok in rows]
            + [""])


def _gender_by_band(b: dict) -> list[str]:
    """Gender accuracy and ECE per band of true age on both dev sets, when the bundle has
    them: the cross-fitted figures when the file holds a calibration fitted on those sets
    (in-sample ones would flatter it), else the evaluations of the file."""
    fitted = b["calibration"].get("gender_by_age")
    if fitted:
        sets = {name: d["cross_fitted_by_age"]["by_age_band"]
                for name, d in fitted["dev_sets"].items()}
        how = ("with the age-conditioned calibration this file holds (fitted on these dev sets; "
               f"every figure cross-fitted over 5 folds: `{fitted['command']}`)")
    else:
        sets = {"utkface_val": b["utkface_val"].get("gender_by_age_band"),
                "aaf_dev": (b.get("aaf") or {}).get("gender_by_age_band")}
        how = "as the file is (the evaluations above)"
    if not all(sets.values()):
        return []
    names = {"utkface_val": "UTKFace val", "aaf_dev": "AAF dev fold"}
    bands = list(dict.fromkeys(k for rows in sets.values() for k in rows))
    head = " | ".join(f"{names[n]} n | accuracy | ECE" for n in sets)
    L = ["## Gender by age band", "",
         f"Gender accuracy and expected calibration error of the gender probability per band "
         f"of true age, {how}. Target: ECE <= 0.03 in every band; a 15-bin ECE on 100 faces "
         f"has a sampling floor of several hundredths.", "",
         f"| band | {head} |", "|---|" + "---|---|---|" * len(sets)]
    for band in bands:
        cells = []
        for rows in sets.values():
            r = rows.get(band)
            cells.append(f"{r['n']:,} | {_pct(r['accuracy'])} | {r['ece']:.3f}" if r
                         else "0 | - | -")
        L.append(f"| {band} | " + " | ".join(cells) + " |")
    return L + [""]


def _aaf_section(b: dict) -> list[str]:
    x = b.get("aaf")
    if not x:
        return []
    held = ("the dev fold, held out from training, which used the other AAF images"
            if x.get("subset") else "not used for training")
    L = [f"## {'All-Age-Faces dev fold' if x.get('subset') else 'Cross-dataset: All-Age-Faces'}"
         " (full photo pipeline)", "",
         f"{x['n']:,} AAF face crops (a different, mostly East Asian population; {held}) "
         f"through detection, alignment and the model (`{x['command']}`):", "",
         f"- detection rate **{_pct(x['detection_rate'], 2)}**; gender accuracy "
         f"**{_pct(x['gender_accuracy'], 2)}**; age MAE **{x['age_mae']:.2f}** years.", "",
         _aaf_detector(x, b.get("genderage_version")), ""]
    if x.get("age_by_group"):
        L += _aaf_groups("age group", x["age_by_group"], digits=1)
    if x.get("by_gender"):
        L += _aaf_groups("true gender", x["by_gender"], digits=2)
    return L


def _aaf_detector(x: dict, version: str | None) -> str:
    """Which detector found the AAF faces: the figures depend on it."""
    if x.get("detector_settings"):
        return f"Detector: `{x['detector_settings']}`."
    return (f"Detector: `{x.get('detector', 'the default')}` with the default settings of the "
            f"release that made this file (genderage {version or 'unknown'}). The default "
            "detector's settings changed after it (issue 23: docs/detection.md), so the "
            "command above run with a later default finds and scores somewhat different "
            "faces; `tools/compare_release.py` scores a model with the detector of the code "
            "it runs.")


def _ablations(b: dict) -> list[str]:
    if not b.get("ablations"):
        return []
    L = ["## What was measured to choose the shipped configuration", "",
         "Same training run, validation split, checkpoint evaluated in fp32 "
         "(`python tools/ablate.py`):", "",
         "| weights | age estimate | mirror TTA | gender acc | age MAE | within 5 y |",
         "|---|---|---|---|---|---|"]
    for r in b["ablations"]:
        L.append(f"| {r['weights']} | {r['age_output']} | {'yes' if r['flip_tta'] else 'no'}"
                 f" | {_pct(r['gender_accuracy'], 2)} | {r['age_mae']:.2f} | "
                 f"{_pct(r['within_5'])} |")
    return L + [""]


def _floor3(p: float) -> str:
    """A threshold for display, rounded down so that using it answers at least as many faces."""
    return f"{math.floor(p * 1000 + 1e-9) / 1000:.3f}"


def _risk_coverage(r: dict | None) -> list[str]:
    """The risk-coverage tables (``tools/risk_coverage.py``) and the recommended P."""
    if not r:
        return []
    rec = r["recommended"]
    p = rec["min_gender_probability"]
    L = ["## Leaving gender unknown: accuracy by coverage and age band", "",
         "`--min-gender-probability P` (`GenderAge(min_gender_probability=P)`, the service's "
         "`min_gender_probability` query parameter) leaves a face's gender unknown (`null`) "
         "when the probability of its likelier gender is below P; the probability is still "
         "reported, and `genderage report` keeps using it. The tables give the gender accuracy "
         "on the faces answered when each age band answers 100/95/90/80/70% of its faces, most "
         "confident first, and the P that does it (`accuracy (P)`), on each dev set with the "
         f"default detector (`{r['command']}`).", "",
         f"**Recommended: `--min-gender-probability {_floor3(p)}`**: it {rec['rule']}. "
         "At it:", ""]
    for name, at in rec["at_recommended"].items():
        kids, every = at.get("0-17"), at["all"]
        L.append(f"- {name}: ages 0-17 answered {_pct(kids['coverage'])} with gender accuracy "
                 f"{_pct(kids['accuracy'])} (of {kids['n']:,}); all faces answered "
                 f"{_pct(every['coverage'])}, accuracy {_pct(every['accuracy'])} "
                 f"(of {every['n']:,}).")
    L.append("")
    head = " | ".join(f"{c:.0%}" for c in r["coverages"])
    for name, dev in r["dev_sets"].items():
        L += [f"{dev['description']}, {dev['n']:,} faces (labelled age band):", "",
              f"| age band | n | {head} |", "|---|---|" + "---|" * len(r["coverages"])]
        bands = [(band, v["n"], v["rows"]) for band, v in dev["by_band"].items()]
        for band, n, rows in bands + [("all", dev["n"], dev["all"])]:
            cells = [f"{_pct(row['accuracy'])} ({_floor3(row['threshold'])})" for row in rows]
            cells += ["-"] * (len(r["coverages"]) - len(cells))
            L.append(f"| {band} | {n:,} | " + " | ".join(cells) + " |")
        L.append("")
    return L
