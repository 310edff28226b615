"""Subcommands of the ``genderage`` CLI: each module has ``add_parser(subparsers)``.

Modules here stay light at import; heavy imports happen inside the command's function.
"""

import argparse
import sys


def add_renamed_argument(parser, name: str, old_names: tuple[str, ...], **kwargs):
    """``parser.add_argument(name, **kwargs)``, also accepting each of ``old_names`` (an
    earlier spelling, kept for one release) without listing it in ``--help``.

    Returns:
        The new name's action.
    """
    action = parser.add_argument(name, **kwargs)
    hidden = {k: v for k, v in kwargs.items() if k not in ("help", "default", "metavar", "dest")}
    for old in old_names:
        parser.add_argument(old, dest=action.dest, default=argparse.SUPPRESS,
                            help=argparse.SUPPRESS, **hidden)
    return action


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1, with a one-line error otherwise."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def nonempty(text: str) -> str:
    """argparse type: a non-blank string (an empty output path would name the current
    folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a name, got an empty string")
    return text


def progress_wanted(args, results_on_stdout: bool) -> bool:
    """Whether to show a progress bar on stderr: not turned off with ``--no-progress``,
    stderr is a terminal, and, for a command whose results stream to stdout as they come
    (``results_on_stdout``), stdout is not the terminal (the results show progress there)."""
    if getattr(args, "no_progress", False) or not sys.stderr.isatty():
        return False
    return not (results_on_stdout and sys.stdout.isatty())


FACE_FLAGS = {"min_face": ("--min-face", float), "det_threshold": ("--det-threshold", float),
              "max_faces": ("--max-faces", int),
              "min_gender_probability": ("--min-gender-probability", float)}
""":class:`~genderage.options.FaceOptions` keyword -> its flag and number type."""


def add_face_options(p) -> None:
    """The detector knobs and ``--min-gender-probability``, as one group of options.

    Values are read as text and checked by :func:`face_options`, so that every bad value is
    a one-line usage error naming its flag."""
    g = p.add_argument_group("faces", "which faces are returned, and when gender is left "
                                      "unknown (docs/pipeline.md, 'Options')")
    g.add_argument("--min-face", metavar="PX",
                   help="smallest face to find: the shorter side of its box in pixels of the "
                        "original image, at least 8 (default: the detector's own search)")
    g.add_argument("--det-threshold", metavar="T",
                   help="detector score a face must reach, between 0 and 1 (default: the "
                        "detector's own, 0.7 for the built-in one)")
    g.add_argument("--max-faces", metavar="N",
                   help="keep the N largest faces of each image, before the model runs "
                        "(default: all)")
    g.add_argument("--min-gender-probability", metavar="P",
                   help="below this probability (0.5 to under 1) a face's gender is unknown "
                        "(null in JSON and Parquet); its probability is still reported "
                        "(default: off; MODEL_CARD.md recommends a value)")


def face_options(args) -> dict:
    """The ``GenderAge`` keywords of :func:`add_face_options`'s flags, checked.

    Raises:
        CliError: a value that is not a number or out of range, naming the flag.
    """
    from ..errors import CliError
    from ..options import FaceOptions, OptionError, parse_option

    values = {}
    try:
        for name, (_, kind) in FACE_FLAGS.items():
            text = getattr(args, name)
            values[name] = None if text is None else parse_option(name, text, kind)
        FaceOptions(**values)
    except OptionError as exc:
        raise CliError(f"{FACE_FLAGS[exc.option][0]} {exc.message}") from None
    return values


def add_precision_argument(parser) -> None:
    """``--precision``, the same on every command that loads the shipped model."""
    parser.add_argument("--precision", choices=("int8", "fp32"),
                        help="which shipped model (default: int8 when shipped, else fp32)")


def add_engine_arguments(parser, what: str) -> None:
    """``--engine``, ``--workers`` and ``--cluster``: where ``batch`` and ``video`` run
    their work (:mod:`genderage.batch.engines`); ``what`` names the inputs ("images")."""
    from ..batch.engines import engine_names, engine_summary

    names = engine_names()
    each = "; ".join(f"{name}: {engine_summary(name)}" for name in names)
    parser.add_argument("--engine", choices=names, default=names[0],
                        help=f"where the work runs (default: {names[0]}). {each}")
    parser.add_argument("--workers", type=positive_int, metavar="N",
                        help=f"{what} analysed at the same time, each by a worker process or "
                             f"actor (default: one per core, or per CPU of the cluster)")
    add_renamed_argument(parser, "--cluster", ("--ray-address",), metavar="ADDR",
                         help="join this cluster (e.g. a Ray head, HOST:6379) instead of "
                              "starting one here; for engines that run on a cluster (ray)")


def create_engine_from(args):
    """The engine that ``--engine``, ``--workers`` and ``--cluster`` ask for.

    Raises:
        CliError: settings the engine refuses (e.g. ``--cluster`` with ``local``).
    """
    from ..batch.engines import EngineError, EngineSettings, create_engine
    from ..errors import CliError

    try:
        return create_engine(args.engine, EngineSettings(args.workers, args.cluster))
    except EngineError as exc:
        raise CliError(str(exc)) from None


def engine_failure(name: str, exc: BaseException):
    """The usage-level error for an engine whose machinery broke (one of its ``failures``)."""
    from ..errors import CliError

    return CliError(f"the {name} engine failed ({type(exc).__name__}: {exc}); the part files "
                    f"written so far are kept: run the same command again to resume")
