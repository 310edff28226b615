"""The command line's error: what a command module raises to end on one line."""


class CliError(Exception):
    """An error to report on one line at the command line (exit status 2)."""
