"""``genderage predict PATH...``: gender and age for every face in image files or folders."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from . import positive_int

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
"""Extensions picked up inside folders (case-insensitive). Files named explicitly are tried
whatever their extension."""


def add_parser(sub):
    p = sub.add_parser(
        "predict", help="estimate gender and age for every face in images",
        description="Detect faces, align them and estimate gender and age. Folders are "
                    "searched recursively for " + ", ".join(sorted(IMAGE_EXTENSIONS)) + " files. "
                    "Exit status: 0 all inputs read, 1 some input could not be read, "
                    "2 usage error.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per image (JSON Lines) instead of a table")
    p.add_argument("--annotate", metavar="OUTDIR", type=Path,
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
    p.add_argument("--precision", choices=("int8", "fp32"),
                   help="which shipped model (default: int8 when shipped, else fp32)")
    p.add_argument("--skip-low-quality", action="store_true",
                   help="leave out faces flagged low quality (small, blurred, turned away)")
    p.add_argument("--batch-size", type=positive_int, default=16, metavar="N",
                   help="images per model batch (default: 16)")
    p.set_defaults(run=run)


def expand_paths(paths: list[str]) -> list[str]:
    """Files as given, folders replaced by their image files (recursive, sorted)."""
    files = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(str(f) for f in sorted(path.rglob("*"))
                         if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
        else:
            files.append(raw)
    return files


def run(args) -> int:
    from ..cli import CliError
    from ..pipeline import GenderAge

    files = expand_paths(args.paths)
    if not files:
        raise CliError(f"no image files found in {', '.join(args.paths)}")
    try:
        analyzer = GenderAge(args.model, args.detector, skip_low_quality=args.skip_low_quality,
                             flip_tta=args.flip_tta, precision=args.precision)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if not args.aligned:
        from ..detect import DetectorError

        try:
            analyzer.detector  # noqa: B018 - create it now: a bad --detector is a usage error
        except DetectorError as exc:
            raise CliError(str(exc)) from None
    annotator = _Annotator(args.annotate, files) if args.annotate else None
    if not args.json:
        print(_row("file", "face", "gender", "p", "age", "interval", "quality"))

    failed = 0
    for start in range(0, len(files), args.batch_size):
        chunk = files[start:start + args.batch_size]
        for result in analyzer.predict_batch(chunk, aligned=args.aligned):
            if result.error is None and annotator is not None:
                error = annotator.write(result)
                if error:
                    result = replace(result, error=error)
            if result.error is not None:
                failed += 1
            _report(result, args.json)
    if failed:
        print(f"genderage predict: {failed} of {len(files)} input(s) failed", file=sys.stderr)
    return 1 if failed else 0


def _report(result, as_json: bool) -> None:
    import json

    if as_json:
        print(json.dumps(result.to_dict()), flush=True)
        return
    if result.error is not None:
        print(f"genderage predict: error: {result.error}", file=sys.stderr, flush=True)
        return
    if not result.faces:
        print(_row(result.path, "-", "(no face)", "", "", "", ""), flush=True)
    for i, face in enumerate(result.faces):
        lo, hi = face.age_interval
        flag = ",".join(face.quality.reasons) if face.quality.low_quality else "ok"
        print(_row(result.path, str(i), face.gender, f"{face.gender_probability:.2f}",
                   f"{face.age:.1f}", f"{lo:.0f}-{hi:.0f}", flag), flush=True)


def _row(file, face, gender, p, age, interval, quality) -> str:
    return f"{file:<40} {face:>4}  {gender:<9} {p:>4}  {age:>5}  {interval:>7}  {quality}"


class _Annotator:
    """Writes annotated copies into one folder, never over an input or an earlier output."""

    def __init__(self, out_dir: Path, inputs: list[str]):
        from ..cli import CliError

        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"cannot create {out_dir}: {exc.strerror or exc}") from None
        self.out_dir = out_dir
        self.taken = {Path(p).resolve() for p in inputs}

    def write(self, result) -> str | None:
        """Write the annotated copy; returns an error message instead of raising."""
        from ..annotate import annotated_path, draw_faces, write_image
        from ..imageio import ImageDecodeError, read_image

        try:
            image = read_image(result.path)
            target = annotated_path(result.path, self.out_dir, self.taken)
            self.taken.add(target.resolve())
            write_image(target, draw_faces(image, result.faces))
        except (ImageDecodeError, OSError) as exc:
            return f"{result.path}: could not write annotated copy ({exc})"
        return None
