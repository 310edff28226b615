"""The ``genderage`` command: ``main(argv) -> int``; each subcommand lives in ``commands/``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from . import __version__

COMMANDS = ("info", "data", "train", "evaluate", "export", "predict", "batch", "serve")


class CliError(Exception):
    """An error to report on one line at the command line (exit status 2)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genderage", description="Gender and age estimation from face photos.")
    parser.add_argument("--version", action="version", version=f"genderage {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f".commands.{name}", __package__)
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded by evaluate and train
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (CliError, FileNotFoundError, ValueError, ImportError, OSError) as exc:
        print(f"genderage {args.command}: error: {exc}", file=sys.stderr)
        return 2
