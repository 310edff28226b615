"""Render MODEL_CARD.md from the shipped model's metrics bundle.

Every number in the card comes from ``src/genderage/models/genderage.metrics.json``, which
``scripts/release_model.py`` writes from measured runs; ``tests/test_model_card.py`` fails
when the committed card and the bundle disagree.
"""

from __future__ import annotations

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
         "model's cost (docs/pipeline.md, latency). Measured with `genderage evaluate "
         "--flip-tta` and `scripts/eval_aaf.py --flip-tta`:", "",
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
         "validation split; AAF through the full photo pipeline).", "",
         "| release | recipe | train min | val gender | val MAE | within 5 y | AAF gender | "
         "AAF MAE |", "|---|---|---|---|---|---|---|---|"]
    for r in recipes:
        aaf_g = _pct(r["aaf_gender_accuracy"], 2) if r.get("aaf_gender_accuracy") else "-"
        aaf_m = f"{r['aaf_age_mae']:.2f}" if r.get("aaf_age_mae") else "-"
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
    v, aaf = b["utkface_val"], b.get("aaf") or {}
    return {"name": name, "recipe": ", ".join(parts),
            "train_seconds": b["training"]["train_seconds"],
            "gender_accuracy": v["gender"]["accuracy"], "age_mae": v["age"]["mae"],
            "within_5": v["age"]["within_5"],
            "aaf_gender_accuracy": aaf.get("gender_accuracy"), "aaf_age_mae": aaf.get("age_mae")}


def render(b: dict) -> str:
    """The model card for metrics bundle ``b`` (see ``scripts/release_model.py``)."""
    m, d, t, c, v = b["model"], b["data"], b["training"], b["calibration"], b["utkface_val"]
    g, a = v["gender"], v["age"]
    cm = g["confusion_matrix"]["rows_true"]
    groups_ok = all(v["age_by_group"][k]["age"]["mae"] <= lim
                    for k, lim in CARD_CLAIMS["age_group_mae"].items())
    L = [
        "# Model card: GenderAgeModel (genderage default model)",
        "",
        "<!-- Generated by `python scripts/make_model_card.py` from "
        "src/genderage/models/genderage.metrics.json. Do not edit by hand. -->",
        "",
        "Every number below was measured in this repository by the commands under "
        "[Reproduce](#reproduce). Predictions are **estimates**: a binary gender label learned "
        "from a dataset's annotations (not a person's gender identity) with a probability, and an "
        "apparent age with an interval.",
        "",
        "## Model details",
        "",
        f"- File: `src/genderage/models/{m['file']}` ({m['bytes']:,} bytes, sha256 "
        f"`{m['sha256'][:16]}...`), ONNX opset {m['opset']}, genderage {b['genderage_version']}.",
        f"- Architecture: `{m['arch']['arch']}`, the seed card's five-block CNN with plain 3x3 "
        f"convolutions, BatchNorm and ReLU, shared classifier Dropout(0.5)-Linear(512,128)-ReLU-"
        f"Dropout(0.3), gender head Linear(128,2), age head Linear(128,1)"
        + (", plus an age-distribution head Linear(128,121)" if m["arch"]["age_distribution"]
           else "") + f": **{m['parameters']:,} parameters** (the seed card claims "
        f"{CARD_CLAIMS['parameters']}, which its own layout cannot give; see docs/training.md).",
        f"- Weights: {m['weights']}; age in the contract output: `{m['age_output']}`; mirror "
        f"test-time augmentation inside the graph: {'yes' if m['flip_tta'] else 'no'}.",
        "- Input `input`: float32 `[N,3,112,112]`, RGB, values in [0,1], an aligned face in "
        "UTKFace chip geometry. Output `output`: `[N,3]` = `[logit_female, logit_male, age/100]`"
        + ("; extra output `age_probs`: `[N,121]`, a distribution over ages 0-120." if
           m["arch"]["age_distribution"] else "."),
        f"- Calibration (stored in the ONNX metadata): gender temperature "
        f"{c['gender_temperature']:.3f}; {_pct(c['age_interval']['coverage'], 0)} age interval "
        f"from residual quantiles in log(1+age) space.",
        "",
        "## How to use",
        "",
        "The photo pipeline (detection, alignment, calibrated outputs), then the raw ONNX "
        "contract on aligned faces; both run on the shipped file (`tests/test_model_card.py` "
        "runs this code):",
        "",
        *CARD_EXAMPLE.splitlines(),
        "",
        "## Intended use",
        "",
        "- Aggregate, consented analytics, research and demos where an estimate with its "
        "uncertainty is useful; faces roughly frontal and at least ~40 px between the eyes.",
        "- **Not for** decisions about individuals (access, hiring, policing, age verification, "
        "medical use), for inferring gender identity, or for any use on people who have not "
        "agreed to it.",
        "",
        "## Training data and split protocol",
        "",
        f"UTKFace, aligned and cropped (200x200 chips), as provided in `../shared/data/UTKFace`: "
        f"**{d['files']:,} files**; {d['malformed']} malformed names skipped. "
        f"`genderage data check` found **{d['exact_groups']} exact-duplicate groups** "
        f"({d['exact_files']} files), **{d['near_groups']} near-duplicate groups** "
        f"({d['near_files']} files: re-encoded, re-cropped or watermarked copies) and "
        f"**{d['conflict_groups']} groups with conflicting labels** ({d['conflict_files']} files,"
        f" {d['gender_conflicts']} of them with conflicting gender).",
        "",
        f"Split: `genderage data split` (seed {d['seed']}): duplicate groups never straddle "
        f"train and val; conflicting groups dropped; one image per group; stratified by gender x "
        f"age band, 80/20. **{d['train']:,} train / {d['val']:,} val** images "
        f"(manifest sha256 `{d['manifest_sha256'][:16]}...`). The seed card's 93-95% / 4-6 "
        f"years came from a random split that leaks duplicates across train and validation.",
        "",
        "Population caveats (UTKFace): mostly web photos of celebrities and the public; "
        f"race labels {', '.join(f'{k} {n:,}' for k, n in d['race'].items())}; "
        f"ages {', '.join(f'{k} {n:,}' for k, n in d['age_band'].items())}. "
        "Labels were estimated by annotators and an algorithm, not self-reported.",
        "",
        "## Training procedure",
        "",
        "```bash",
        t["command"],
        "```",
        "",
        f"- Adam lr {t['config']['lr']:g}, batch {t['config']['batch_size']}, "
        + _schedule(t["config"]) + "; loss = "
        f"CE(gender) + {t['config']['age_weight']:g} x MSE(age/100)"
        + (f" + {t['config']['ldl_weight']:g} x KL(age distribution, Gaussian sigma "
           f"{t['config']['ldl_sigma']:g} y)" if t["config"]["age_distribution"] else "")
        + f"; augmentation `{t['config']['augment']}`"
        + (f"; each training face replaced by its pipeline re-crop (chip padded, detected and "
           f"aligned by the inference code) with probability {t['config']['recrop']:g}"
           if t["config"].get("recrop") else "")
        + (f"; weight EMA {t['config']['ema_decay']:g}" if t["config"]["ema_decay"] else "")
        + f"; seed {t['config']['seed']}.",
        f"- Ran {t['epochs_run']} epochs in "
        f"**{t['train_seconds'] / 60:.1f} minutes** on {t['hardware']} "
        f"({t['precision']}, median {t['images_per_s']:.0f} training images/s).",
        _shipped_epoch(t),
        "",
        "## Results on the grouped UTKFace validation split",
        "",
        f"{v['n']:,} faces, `genderage evaluate` on the shipped ONNX file.",
        "",
        "| metric | measured | seed card claim | target (issue 4) |",
        "|---|---|---|---|",
        f"| gender accuracy | **{_pct(g['accuracy'], 2)}** | {CARD_CLAIMS['gender_accuracy']} "
        f"| >= 94.0%: {_yes(g['accuracy'] >= TARGETS['gender_accuracy'])} |",
        f"| age MAE (years) | **{a['mae']:.2f}** +- {a['mae_std']:.2f} | "
        f"{CARD_CLAIMS['age_mae']} | <= 4.8: {_yes(a['mae'] <= TARGETS['age_mae'])} |",
        f"| age within 5 years | {_pct(a['within_5'], 2)} | - | >= 65%: "
        f"{_yes(a['within_5'] >= TARGETS['within_5'])} |",
        f"| age within 10 years | {_pct(a['within_10'])} | - | - |",
        f"| median age error | {a['median_ae']:.2f} | - | - |",
        f"| every age group at or below the seed card's MAE | "
        f"{'yes' if groups_ok else 'no'} | - | {_yes(groups_ok)} |",
        "",
        "Gender, per class:",
        "",
        "| class | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for label, pc in g["per_class"].items():
        L.append(f"| {label} | {_pct(pc['precision'])} | {_pct(pc['recall'])} | "
                 f"{_pct(pc['f1'])} | {pc['support']} |")
    L += ["", "Confusion matrix (rows true, columns predicted): "
          f"female->female {cm[0][0]}, female->male {cm[0][1]}, male->female {cm[1][0]}, "
          f"male->male {cm[1][1]}.", "", "### By age group (seed card's table beside)", ""]
    L += _group_table(v["age_by_group"], CARD_CLAIMS["age_group_mae"])
    L += ["", "### By race (UTKFace labels)", ""] + _group_table(v["by_race"])
    L += ["", "### By gender", ""] + _group_table(v["by_gender"])
    iv = v.get("age_interval", {})
    L += ["", "### Calibration", "",
          f"- Gender probability: expected calibration error **{v['calibration']['ece']:.4f}** "
          f"(before temperature scaling: {c['uncalibrated_ece']:.4f}); NLL "
          f"{v['calibration']['nll']:.4f}. Reliability plot: `docs/img/reliability.png`.",
          f"- Age interval: nominal {_pct(iv.get('nominal'), 0)}, coverage on validation "
          f"{_pct(iv.get('coverage'))} (fitted on the same split; cross-fitted estimate "
          f"{_pct(c['cross_fitted_coverage'])}), mean width {iv.get('mean_width', 0):.1f} years.",
          ""]
    if b.get("aaf"):
        x = b["aaf"]
        L += ["## Cross-dataset: All-Age-Faces (full photo pipeline)", "",
              f"{x['n']:,} AAF face crops (a different, mostly East Asian population; not used "
              f"for training) through detection, alignment and the model "
              f"(`{x['command']}`):", "",
              f"- detection rate **{_pct(x['detection_rate'], 2)}**; gender accuracy "
              f"**{_pct(x['gender_accuracy'], 2)}**; age MAE **{x['age_mae']:.2f}** years.",
              ""]
        if x.get("age_by_group"):
            L += _aaf_groups("age group", x["age_by_group"], digits=1)
        if x.get("by_gender"):
            L += _aaf_groups("true gender", x["by_gender"], digits=2)
    if b.get("flip_tta_mode"):
        L += _flip_mode(b)
    if b.get("ablations"):
        L += ["## What was measured to choose the shipped configuration", "",
              "Same training run, validation split, checkpoint evaluated in fp32 "
              "(`python scripts/ablate.py`):", "",
              "| weights | age estimate | mirror TTA | gender acc | age MAE | within 5 y |",
              "|---|---|---|---|---|---|"]
        for r in b["ablations"]:
            L.append(f"| {r['weights']} | {r['age_output']} | {'yes' if r['flip_tta'] else 'no'}"
                     f" | {_pct(r['gender_accuracy'], 2)} | {r['age_mae']:.2f} | "
                     f"{_pct(r['within_5'])} |")
        L.append("")
    if b.get("recipes"):
        L += _recipes(b["recipes"])
    L += ["## Ethics and caveats", "",
          "- Gender is predicted as one of two labels because UTKFace annotates two; it says "
          "nothing about how a person identifies. Age is apparent age.",
          "- Accuracy differs by group (tables above): check the groups that matter for your "
          "use before relying on it. Children and people over 70 have the largest age errors.",
          "- UTKFace photos are mostly well-lit web images; low light, strong pose, occlusion, "
          "make-up and image filters degrade results. Faces flagged as low quality by the "
          "pipeline deserve less trust.",
          "- The library, CLI and service never store or log images or faces.",
          "", "## Reproduce", "", "```"]
    L += b["commands"] + ["```", ""]
    return "\n".join(L)
