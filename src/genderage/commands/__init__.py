"""Subcommands of the ``genderage`` CLI: each module has ``add_parser(subparsers)``.

Modules here stay light at import; heavy imports happen inside the command's function.
"""

import argparse
import sys


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


def add_precision_argument(parser) -> None:
    """``--precision``, the same on every command that loads the shipped model."""
    parser.add_argument("--precision", choices=("int8", "fp32"),
                        help="which shipped model (default: int8 when shipped, else fp32)")
