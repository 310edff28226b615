"""``genderage data check``: a report on a dataset's contents and defects."""

from __future__ import annotations

from collections import Counter

from ..contract import GENDER_LABELS, RACES, age_band, band_name
from .dedup import Groups, find_groups
from .scan import Scan, scan


def _group_detail(s: Scan, members: list[int]) -> list[dict]:
    return [{"file": s.records[i].file, "age": s.records[i].age,
             "gender": GENDER_LABELS[s.records[i].gender], "race": RACES[s.records[i].race]}
            for i in members]


def build_report(s: Scan, g: Groups) -> dict:
    """A JSON-ready report: counts, label distributions, defects and duplicate findings."""
    recs = s.records
    defect_kinds = Counter(d.kind for d in s.defects)
    return {
        "source": s.source,
        "files": s.total_files,
        "usable": len(recs),
        "skipped": {kind: n for kind, n in sorted(defect_kinds.items())},
        "defects": [{"file": d.file, "kind": d.kind, "message": d.message} for d in s.defects],
        "gender": {GENDER_LABELS[k]: v for k, v in sorted(Counter(r.gender for r in recs).items())},
        "race": {RACES[k]: v for k, v in sorted(Counter(r.race for r in recs).items())},
        "age_band": {band_name(k): v
                     for k, v in sorted(Counter(age_band(r.age) for r in recs).items())},
        "age": {"min": min((r.age for r in recs), default=None),
                "max": max((r.age for r in recs), default=None)},
        "exact_duplicates": {"groups": len(g.exact_groups),
                             "files": sum(map(len, g.exact_groups))},
        "near_duplicates": {"groups": len(g.near_groups), "files": sum(map(len, g.near_groups))},
        "label_conflicts": {
            "groups": len(g.conflicts),
            "files": sum(map(len, g.conflicts)),
            "gender_conflicts": sum(len({recs[i].gender for i in c}) > 1 for c in g.conflicts),
            "list": [_group_detail(s, c) for c in g.conflicts],
        },
    }


def check(source, progress: bool = False) -> tuple[dict, Scan, Groups]:
    s = scan(source, progress=progress)
    g = find_groups(s)
    return build_report(s, g), s, g


def format_report(r: dict) -> str:
    lines = [f"source: {r['source']}",
             f"files: {r['files']}   usable: {r['usable']}   skipped: "
             + (", ".join(f"{v} {k}" for k, v in r["skipped"].items()) or "none")]
    for d in r["defects"]:
        lines.append(f"  skipped {d['kind']}: {d['message']}")
    lines.append("gender: " + ", ".join(f"{k} {v}" for k, v in r["gender"].items()))
    lines.append("race: " + ", ".join(f"{k} {v}" for k, v in r["race"].items()))
    lines.append("age: " + ", ".join(f"{k} {v}" for k, v in r["age_band"].items())
                 + f"  (min {r['age']['min']}, max {r['age']['max']})")
    e, n, c = r["exact_duplicates"], r["near_duplicates"], r["label_conflicts"]
    lines.append(f"exact duplicates: {e['groups']} groups, {e['files']} files")
    lines.append(f"near duplicates: {n['groups']} groups, {n['files']} files")
    lines.append(f"label conflicts: {c['groups']} groups ({c['files']} files), "
                 f"{c['gender_conflicts']} with conflicting gender")
    for group in c["list"][:10]:
        lines.append("  " + " | ".join(f"{m['file']} ({m['age']}, {m['gender']})" for m in group))
    if len(c["list"]) > 10:
        lines.append(f"  ... {len(c['list']) - 10} more (see --report)")
    return "\n".join(lines)
