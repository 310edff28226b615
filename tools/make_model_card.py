"""Regenerate MODEL_CARD.md from src/genderage/models/genderage.metrics.json.

Usage: PYTHONPATH=src python tools/make_model_card.py [--check]
"""

import argparse
import sys
from pathlib import Path

from genderage.models.bundle import MetricsBundle
from genderage.training.modelcard import render

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if MODEL_CARD.md is stale")
    args = p.parse_args()
    bundle = MetricsBundle.read(ROOT / "src/genderage/models/genderage.metrics.json")
    text = render(bundle.sections)
    card = ROOT / "MODEL_CARD.md"
    if args.check:
        ok = card.is_file() and card.read_text() == text
        print("MODEL_CARD.md is up to date" if ok else "MODEL_CARD.md is stale")
        return 0 if ok else 1
    card.write_text(text)
    print(f"wrote {card}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
