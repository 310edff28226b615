"""Subcommands of the ``genderage`` CLI: each module has ``add_parser(subparsers)``.

Modules here stay light at import; heavy imports happen inside the command's function.
"""
