"""``genderage batch INPUT... --out DIR``: many photos -> Parquet, resumable, local or Ray."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading

from . import (add_engine_arguments, add_face_options, add_precision_argument,
               create_engine_from, engine_failure, face_options, nonempty, positive_int,
               progress_wanted)

log = logging.getLogger(__name__)


def add_parser(sub):
    p = sub.add_parser(
        "batch", help="analyse many photos into a Parquet dataset (resumable; local or Ray)",
        description="Detect faces and estimate gender and age for many images, writing a "
                    "Parquet dataset with one row per face (and one per image without a "
                    "face or with an error). Re-running with the same --out resumes. "
                    "Exit status: 0 all inputs read, 1 some input failed, 2 usage error.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image files, folders (recursive), or .txt/.csv/.parquet lists of "
                        "paths (a 'path' column); paths may be fsspec URIs")
    p.add_argument("--out", required=True, metavar="DIR", type=nonempty,
                   help="output dataset: a folder of Parquet part files")
    add_engine_arguments(p, "images")
    p.add_argument("--batch-size", type=positive_int, default=16, metavar="N",
                   help="images per model call (default: 16)")
    p.add_argument("--part-size", type=positive_int, default=1000, metavar="N",
                   help="images per part file; a killed run redoes at most the images not "
                        "yet in a part (default: 1000)")
    p.add_argument("--flip-tta", action="store_true",
                   help="average each face with its mirror image (twice the model cost)")
    p.add_argument("--detector", metavar="SPEC",
                   help="detector backend name or .onnx path (default: the built-in one)")
    p.add_argument("--model", metavar="PATH", help="attribute model .onnx (default: shipped)")
    add_precision_argument(p)
    p.add_argument("--age-probs", action="store_true",
                   help="add the model's age distribution (age_probs column)")
    p.add_argument("--overwrite", action="store_true",
                   help="delete the part files already in --out and start afresh")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (shown when stderr is a terminal)")
    add_face_options(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from ..errors import CliError

    knobs = face_options(args)
    # A missing optional module ends in the CLI's message naming the extra to install.
    from ..batch import BatchJob, BatchOptions
    from ..batch.inputs import InputError
    from ..batch.store import OutputError
    from ..detect import DetectorError

    engine = create_engine_from(args)
    model = args.model
    if args.precision is not None:  # the shipped file of that precision, by path
        from ..pipeline import resolve_model_path

        model = str(resolve_model_path(args.model, args.precision))
    options = BatchOptions(model=model, detector=args.detector, flip_tta=args.flip_tta,
                           age_probs=args.age_probs, **knobs)
    try:
        options.check()
        job = BatchJob(args.inputs, args.out, options, overwrite=args.overwrite)
    except (InputError, OutputError, DetectorError) as exc:
        raise CliError(str(exc)) from None
    for entry in job.found.skipped:
        log.info("skipped %s: %s", entry.path, entry.reason)
    if job.found.skipped:
        print(f"genderage batch: {job.found.skipped_summary()} (-v lists them)", file=sys.stderr)
    if not job.paths:
        job.close()
        raise CliError(f"no image files found in {', '.join(args.inputs)}")

    bar = _progress_bar(len(job.paths), len(job.done.paths),
                        not progress_wanted(args, results_on_stdout=False))
    with bar, _sigterm_unwinds():
        try:
            summary = job.run(engine, args.batch_size, args.part_size, progress=bar.update)
        except engine.failures as exc:
            raise engine_failure(args.engine, exc) from None
    _print_summary(summary, args.out)
    return 1 if summary.failed else 0


class Terminated(SystemExit):
    """SIGTERM arrived: unwinds like Ctrl-C, so the worker pool or the Ray runtime this run
    started is shut down and the output folder's lock released."""


@contextlib.contextmanager
def _sigterm_unwinds():
    """While the run lasts, SIGTERM raises :class:`Terminated` (the handler before is put
    back after)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        print("genderage batch: terminated; the part files written so far are kept",
              file=sys.stderr, flush=True)
        raise Terminated(128 + signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _progress_bar(total: int, done: int, disable: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="img", desc="genderage batch",
                file=sys.stderr, disable=disable, dynamic_ncols=True)


def _print_summary(summary, out: str) -> None:
    done_before = summary.images - summary.new_images
    lines = [f"genderage batch: {summary.images} images ({summary.new_images} analysed now, "
             f"{done_before} already in {out}), {summary.faces} faces, "
             f"{summary.failed} failed"]
    if summary.failures:
        kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(summary.failures.items()))
        lines.append(f"  failures by kind: {kinds} (messages in the 'error' column)")
    rate = summary.new_images / summary.wall_s if summary.wall_s > 0 else 0.0
    lines.append(f"  wall time {summary.wall_s:.1f} s, {rate:.1f} images/s")
    if summary.nodes:
        per_node = ", ".join(f"{node[:12]}: {n}" for node, n in sorted(summary.nodes.items()))
        lines.append(f"  images per node: {per_node}")
    print("\n".join(lines), file=sys.stderr)
