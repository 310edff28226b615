"""Subcommands of the ``genderage`` CLI: each module has ``add_parser(subparsers)``.

Modules here stay light at import; heavy imports happen inside the command's function.
"""

import argparse


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1, with a one-line error otherwise."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value
