"""Prediction-powered estimates against the dev-set correction on a child-heavy AAF collection.

The collection: every child (true age < 18) of the All-Age-Faces train half
(../shared/data/AAF) and as many adults drawn with seed 0 -- a population unlike the dev sets
(half children, where the model's gender errors are largest and differ most between
populations). Its true female share and mean age come from AAF's labels.

Steps:

    # 1. the path list and the truth of the collection
    PYTHONPATH=src python research/ppi_aaf_children.py subset --out runs/ppi_aaf
    # 2. the model's outputs on it (one run of `genderage batch`)
    genderage batch runs/ppi_aaf/paths.txt --out runs/ppi_aaf/results --age-probs --workers 1
    # 3. one sample of 300 labels, as a labeller answering as AAF's labels say would give
    #    it with `genderage label` (labels.csv), and the report on it
    PYTHONPATH=src python research/ppi_aaf_children.py oracle-labels --out runs/ppi_aaf
    genderage report runs/ppi_aaf/results --labels runs/ppi_aaf/labels.csv --out runs/ppi_aaf/report
    # 4. repeated random samples of 300 labels: coverage of each method's 95% interval
    PYTHONPATH=src python research/ppi_aaf_children.py evaluate --out runs/ppi_aaf

The same with ``subset --all --out runs/ppi_aaf_all`` for all of AAF's train half (an
AAF-like collection: how much narrower PPI is than labels alone).

Steps 3 and 4 take the AAF label of each sampled photo as the labeller's answer (honest labels), so
it measures the estimators, not a person. Photos with several faces: the largest face
(``face_index`` 0) carries the photo's label; the other faces are labelled "not a face" for
gender and age (AAF labels one person per photo), which is what a labeller who cannot see
whom a second face belongs to would do least wrongly -- there are few of them (printed).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

AAF = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "AAF"


def subset(out: Path, everyone: bool = False, aaf: Path = AAF) -> None:
    """Write ``paths.txt`` (absolute image paths) and ``truth.csv`` (path, gender, age): the
    child-heavy collection, or with ``everyone`` all of AAF's train half."""
    from genderage.contract import gender_label
    from genderage.data.aaf import read_labels

    rows = read_labels(aaf)
    kids = [r for r in rows if r.age < 18]
    adults = [r for r in rows if r.age >= 18]
    rng = np.random.default_rng(0)
    picked = adults if everyone else \
        [adults[i] for i in sorted(rng.choice(len(adults), len(kids), replace=False))]
    chosen = sorted(kids + picked, key=lambda r: r.file)
    out.mkdir(parents=True, exist_ok=True)
    paths = [str((aaf / r.file).resolve()) for r in chosen]
    (out / "paths.txt").write_text("\n".join(paths) + "\n")
    with open(out / "truth.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "gender", "age"])
        for p, r in zip(paths, chosen):
            writer.writerow([p, gender_label(r.gender), r.age])
    female = np.mean([gender_label(r.gender) == "female" for r in chosen])
    age = np.mean([r.age for r in chosen])
    print(f"{len(chosen)} photos ({len(kids)} children, {len(picked)} adults of "
          f"{len(adults)}): true female share {100 * female:.2f}%, mean age {age:.2f}")


def oracle_labels(out: Path, n: int = 300, seed: int = 0) -> None:
    """Write ``labels.csv`` as `genderage label --n n --seed seed` would if the labeller
    answered as AAF's labels say (a second face in a photo: "not a face")."""
    from genderage.label.sample import face_keys, results_fingerprint, sampling_order
    from genderage.label.store import LabelsWriter, Sampling
    from genderage.report.table import read_results

    results = read_results(out / "results")
    truth = {r["path"]: r for r in csv.DictReader(open(out / "truth.csv", newline=""))}
    keys = face_keys(results.face_paths, results.face_indices)
    path = out / "labels.csv"
    path.unlink(missing_ok=True)
    writer = LabelsWriter(path, Sampling(seed, None, n, results_fingerprint(keys)))
    for rank, i in enumerate(sampling_order(keys, seed)[:n]):
        p, k = str(results.face_paths[i]), int(results.face_indices[i])
        if k == 0:
            writer.append(p, k, truth[p]["gender"], float(truth[p]["age"]), rank, None)
        else:
            writer.append(p, k, "not_a_face", None, rank, None)
    print(f"wrote {path} ({n} labels, seed {seed})")


def evaluate(out: Path, n_labels: int = 300, reps: int = 1000, seed: int = 0,
             dev_fold: Path | None = None) -> None:
    """Coverage and width of each method's 95% interval over ``reps`` random samples;
    with ``dev_fold`` (the split manifest), only the photos of AAF's dev fold (``val``), which
    the shipped model did not train on."""
    from genderage.report import build_report
    from genderage.report.labelled import Sample, labelled_estimates
    from genderage.report.table import read_results

    results = read_results(out / "results")
    truth = {r["path"]: r for r in csv.DictReader(open(out / "truth.csv", newline=""))}
    dev_input = out / "results"
    if dev_fold is not None:
        import pyarrow.parquet as pq

        held_out = {Path(r["file"]).name for r in csv.DictReader(open(dev_fold, newline=""))
                    if r["source"] == "aaf" and r["split"] == "val"}
        keep = np.array([Path(p).name in held_out for p in results.face_paths])
        results = type(results)(**{**results.__dict__, "faces": results.faces.subset(keep),
                                   "face_paths": results.face_paths[keep],
                                   "face_indices": results.face_indices[keep],
                                   "low_quality": results.low_quality[keep]})
        table = pq.read_table(out / "results")
        rows = np.array([Path(p).name in held_out for p in table.column("path").to_pylist()])
        dev_input = out / "results_dev_fold.parquet"
        pq.write_table(table.filter(rows), dev_input)
    n = len(results.faces)
    first = results.face_indices == 0
    gender = np.array([truth[p]["gender"] if f else "not_a_face"
                       for p, f in zip(results.face_paths, first)], object)
    age = np.array([float(truth[p]["age"]) if f else np.nan
                    for p, f in zip(results.face_paths, first)])
    face = gender != "not_a_face"
    truths = {"female share": float(np.mean(gender[face] == "female")),
              "mean age": float(np.nanmean(age))}
    print(f"{n} faces ({int(face.sum())} labelled photos, {int((~face).sum())} second faces "
          f"labelled 'not a face'); truth over the labelled photos: female share "
          f"{100 * truths['female share']:.2f}%, mean age {truths['mean age']:.2f}")
    start = time.perf_counter()
    dev = build_report(dev_input, n_boot=1000, seed=seed)
    keys = {"female share": "female_share", "mean age": "mean_age"}
    rng = np.random.default_rng(seed)
    hits = {k: [] for k in truths}
    alone_hits = {k: [] for k in truths}
    width = {k: [] for k in truths}
    alone_width = {k: [] for k in truths}
    for _ in range(reps):
        idx = rng.choice(n, n_labels, replace=False)
        sample = Sample(pos=idx, gender=gender[idx], age=age[idx],
                        stratum=np.zeros(n_labels, np.int64), share=np.array([1.0]),
                        strata_all=np.zeros(n, np.int64), counts={}, warnings=[])
        est = labelled_estimates(results.faces, sample)
        for name, key in keys.items():
            e = est[key]
            lo, hi = e["ci95"]
            a_lo, a_hi = e["labels_only"]["ci95"]
            hits[name].append(lo <= truths[name] <= hi)
            alone_hits[name].append(a_lo <= truths[name] <= a_hi)
            width[name].append(hi - lo)
            alone_width[name].append(a_hi - a_lo)
    print(f"{reps} samples of {n_labels} labels in {time.perf_counter() - start:.1f} s\n")
    print("| quantity | truth | dev-set correction (95%) | holds the truth | PPI: intervals "
          "holding the truth | labels alone: holding | mean PPI width | mean labels-alone "
          "width | PPI narrower by |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, key in keys.items():
        d = dev[key]
        scale, unit = (100, "%") if name == "female share" else (1, "")
        inside = d["ci95"][0] <= truths[name] <= d["ci95"][1]
        w, aw = np.mean(width[name]), np.mean(alone_width[name])
        print(f"| {name} | {scale * truths[name]:.1f}{unit} | {scale * d['estimate']:.1f}{unit} "
              f"({scale * d['ci95'][0]:.1f}-{scale * d['ci95'][1]:.1f}{unit}) | "
              f"{'yes' if inside else 'no'} | {100 * np.mean(hits[name]):.1f}% | "
              f"{100 * np.mean(alone_hits[name]):.1f}% | {scale * w:.2f}{unit} | "
              f"{scale * aw:.2f}{unit} | {100 * (1 - w / aw):.0f}% |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("subset")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--all", action="store_true", help="all of AAF's train half instead")
    p = sub.add_parser("oracle-labels")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("evaluate")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--labels", type=int, default=300)
    p.add_argument("--reps", type=int, default=1000)
    p.add_argument("--dev-fold", type=Path, metavar="MANIFEST",
                   help="only AAF's dev fold of this split manifest (photos the model did not "
                        "train on), e.g. splits/utkface_aaf_seed0.csv")
    args = parser.parse_args(argv)
    if args.step == "subset":
        subset(args.out, args.all)
    elif args.step == "oracle-labels":
        oracle_labels(args.out, args.n, args.seed)
    else:
        evaluate(args.out, args.labels, args.reps, dev_fold=args.dev_fold)
    return 0


if __name__ == "__main__":
    sys.exit(main())
