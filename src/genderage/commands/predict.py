"""``genderage predict PATH...``: gender and age for every face in image files or folders."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import replace
from pathlib import Path

from ..outputs import output_path
from ..writers import FORMATS, Layout, TableColumn, open_writer
from . import (add_face_options, add_precision_argument, face_options, positive_int,
               progress_wanted)

log = logging.getLogger(__name__)


def add_parser(sub):
    p = sub.add_parser(
        "predict", help="estimate gender and age for every face in images",
        description="Detect faces, align them and estimate gender and age. Folders are "
                    "searched recursively for files of every format the decoder reads (JPEG, "
                    "PNG, WebP, GIF, AVIF, TIFF, BMP, JPEG 2000, ICO, PPM, ...); what is left "
                    "out is counted on stderr (-v lists each entry). "
                    "Exit status: 0 all inputs read, 1 some input could not be read, "
                    "2 usage error.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="table: one aligned line per face (default); jsonl: one JSON object "
                        "per image; csv: one row per face, full precision")
    p.add_argument("--json", dest="format", action="store_const", const="jsonl",
                   help="same as --format jsonl")
    p.add_argument("--annotate", metavar="OUTDIR", type=output_path,
                   help="write annotated copies (boxes and labels) into OUTDIR")
    p.add_argument("--flip-tta", action="store_true",
                   help="average each face with its mirror image: twice the model cost, "
                        "slightly more accurate ages")
    p.add_argument("--aligned", action="store_true",
                   help="inputs are already aligned face crops (UTKFace chip geometry): "
                        "no detection, the whole image is one face")
    p.add_argument("--detector", metavar="SPEC",
                   help="detector backend name or .onnx path (default: the built-in one)")
    p.add_argument("--model", metavar="PATH", help="attribute model .onnx (default: shipped)")
    add_precision_argument(p)
    p.add_argument("--skip-low-quality", action="store_true",
                   help="leave out faces flagged low quality (small, blurred, turned away)")
    p.add_argument("--batch-size", type=positive_int, default=16, metavar="N",
                   help="images per model batch (default: 16)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (shown on stderr when it is a terminal and the "
                        "results go elsewhere)")
    add_face_options(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from ..errors import CliError
    from ..inputs import collect_inputs
    from ..pipeline import GenderAge

    knobs = face_options(args)
    if args.aligned and any(knobs[k] is not None for k in ("min_face", "det_threshold",
                                                          "max_faces")):
        raise CliError("--min-face, --det-threshold and --max-faces choose detected faces; "
                       "--aligned runs no detector")
    inputs = collect_inputs(args.paths)
    for entry in inputs.skipped:
        log.info("skipped %s: %s", display(entry.path), entry.reason)
    if inputs.skipped:
        print(f"genderage predict: {inputs.skipped_summary()} (-v lists them)", file=sys.stderr)
    files = inputs.files
    if not files:
        raise CliError(f"no image files found in {', '.join(map(display, args.paths))}")
    try:
        analyzer = GenderAge(args.model, args.detector, skip_low_quality=args.skip_low_quality,
                             flip_tta=args.flip_tta, precision=args.precision, **knobs)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if not args.aligned:
        from ..detect import DetectorError

        try:
            analyzer.detector  # noqa: B018 - create it now: a bad --detector is a usage error
        except DetectorError as exc:
            raise CliError(str(exc)) from None
    annotator = _Annotator(args.annotate) if args.annotate else None
    writer = open_writer(args.format, sys.stdout, LAYOUT)

    from tqdm import tqdm

    failed = 0
    with tqdm(total=len(files), unit="image", file=sys.stderr, dynamic_ncols=True,
              disable=not progress_wanted(args, results_on_stdout=True)) as bar:
        for start in range(0, len(files), args.batch_size):
            chunk = files[start:start + args.batch_size]
            for result in analyzer.predict_batch(chunk, aligned=args.aligned):
                if result.error is None and annotator is not None:
                    error = annotator.write(result)
                    if error:
                        result = replace(result, error=error)
                if result.error is not None:
                    failed += 1
                writer.write(result)
            bar.update(len(chunk))
    if failed:
        print(f"genderage predict: {failed} of {len(files)} input(s) failed", file=sys.stderr)
    return 1 if failed else 0


def display(path: str) -> str:
    """A file name as printable text whatever the locale: bytes that are not UTF-8 (kept by
    Python as surrogate escapes) are shown as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


COLUMNS = ("path", "face_index", "bbox", "det_score", "gender", "gender_probability",
           "female_probability", "age", "age_low", "age_high", "low_quality", "quality_reasons",
           "error")
"""``--format csv`` columns: one row per face, one per image without (named as the
``genderage batch`` Parquet columns, docs/batch.md)."""


def face_rows(result) -> list[dict]:
    """The ``csv`` / ``table`` rows of one image: one per face, or one with empty face
    columns (and ``error`` when it could not be read)."""
    empty = {**dict.fromkeys(COLUMNS), "path": display(result.path)}
    if not result.faces:
        return [{**empty, "error": result.error}]
    return [{**empty, "face_index": i, "bbox": list(face.bbox), "det_score": face.det_score,
             "gender": face.gender, "gender_probability": face.gender_probability,
             "female_probability": face.female_probability, "age": face.age,
             "age_low": face.age_interval[0], "age_high": face.age_interval[1],
             "low_quality": face.quality.low_quality,
             "quality_reasons": list(face.quality.reasons)}
            for i, face in enumerate(result.faces)]


def _cell(key: str, fmt: str):
    return lambda row: "" if row[key] is None else format(row[key], fmt)


LAYOUT = Layout(
    command="genderage predict", to_json=lambda result: result.to_dict(), columns=COLUMNS,
    rows=face_rows,
    table=(TableColumn("file", -40, lambda row: row["path"]),
           TableColumn("face", 4, lambda row: "-" if row["face_index"] is None
                       else str(row["face_index"])),
           TableColumn("gender", -9, lambda row: "(no face)" if row["face_index"] is None
                       else row["gender"] or "unknown"),
           TableColumn("p", 4, _cell("gender_probability", ".2f")),
           TableColumn("age", 5, _cell("age", ".1f")),
           TableColumn("interval", 7, lambda row: "" if row["age_low"] is None
                       else f"{row['age_low']:.0f}-{row['age_high']:.0f}"),
           TableColumn("quality", -1, lambda row: "" if row["face_index"] is None
                       else ",".join(row["quality_reasons"]) if row["low_quality"]
                       else "ok")))


class _Annotator:
    """Writes annotated copies into one folder, each as a new file (see
    :func:`~genderage.annotate.write_annotated`)."""

    def __init__(self, out_dir: Path):
        from ..errors import CliError

        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"cannot create {out_dir}: {exc.strerror or exc}") from None
        self.out_dir = out_dir

    def write(self, result) -> str | None:
        """Write the annotated copy; returns an error message instead of raising."""
        from ..annotate import draw_faces, write_annotated
        from ..imageio import ImageDecodeError, read_image

        try:
            write_annotated(result.path, self.out_dir,
                            draw_faces(read_image(result.path), result.faces))
        except (ImageDecodeError, OSError) as exc:
            return f"{result.path}: could not write annotated copy ({exc})"
        return None
