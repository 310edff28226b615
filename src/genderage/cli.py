"""The ``genderage`` command: ``main(argv) -> int``; each subcommand lives in ``commands/``."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys

from . import __version__
from .errors import CliError  # also importable from here, as code written before errors.py does

log = logging.getLogger(__name__)

COMMANDS = ("info", "data", "train", "evaluate", "export", "predict", "batch", "video", "serve",
            "report", "label")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genderage", description="Gender and age estimation from face photos.")
    parser.add_argument("--version", action="version", version=f"genderage {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log debug messages, and the traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f".commands.{name}", __package__)
        module.add_parser(sub)
    return parser


EXTRA_MODULES = {
    "train": {"torch", "onnx", "onnxscript", "matplotlib", "imagehash"},
    "data": {"imagehash"},
    "serve": {"fastapi", "uvicorn", "multipart", "python_multipart", "fastapi_offline"},
    "report": {"pyarrow", "matplotlib"},
    "label": {"fastapi", "uvicorn", "pyarrow"},
    "batch": {"pyarrow", "fsspec", "tqdm"},
    "ray": {"ray"},
}
"""Optional extras (pyproject.toml) -> the top-level modules they install."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded by evaluate and train
    # Debug output is genderage's own: third-party loggers (Pillow logs every TIFF tag of
    # every JPEG at DEBUG) stay at WARNING under -v.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.verbose:
        logging.getLogger("genderage").setLevel(logging.DEBUG)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as Unix tools do on SIGPIPE.
        # Point stdout at /dev/null so that the interpreter's final flush cannot fail again.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # stdout is not a real file (captured, replaced)
            pass
        return 128 + signal.SIGPIPE
    except ModuleNotFoundError as exc:
        log.debug("traceback of the error below", exc_info=True)
        print(f"genderage {args.command}: error: {missing_extra_message(exc, args.command)}", file=sys.stderr)
        return 2
    except (CliError, FileNotFoundError, ValueError, ImportError, OSError) as exc:
        # One line for the user; -v (genderage's DEBUG level) adds where it came from.
        log.debug("traceback of the error below", exc_info=True)
        print(f"genderage {args.command}: error: {exc}", file=sys.stderr)
        return 2


def missing_extra_message(exc: ModuleNotFoundError, command: str) -> str:
    """Which extra to install for a missing optional module (or the plain error): the
    command's own extra when it has one holding the module, else the first that does."""
    top = (exc.name or "").partition(".")[0]
    holders = [extra for extra, modules in EXTRA_MODULES.items() if top in modules]
    if not holders:
        return str(exc)
    extra = command if command in holders else holders[0]
    return (f"this command needs the '{extra}' extra: pip install 'genderage[{extra}]' "
            f"(missing module '{top}')")
