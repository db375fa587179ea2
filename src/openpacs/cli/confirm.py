"""Consent before anything is destroyed.

On a terminal the question is asked (default no); when standard input is not a terminal
(a pipe, ``< /dev/null``, cron) nobody can answer it, so the command refuses unless
``--yes`` was given: ``echo n | openpacs order delete ...`` never deletes. Every
command that deletes, removes, revokes or disables something takes ``--yes`` through
:func:`add_yes_option` (this module loads nothing heavy: the parsers import it).
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from openpacs.cli.usage import UsageError

YES = ("y", "yes")


def confirmed(question: str, *, yes: bool, stdin: TextIO | None = None) -> bool:
    """True to go ahead. UsageError when nobody can be asked and ``--yes`` is missing."""
    if yes:
        return True
    stream = stdin or sys.stdin
    if not stream.isatty():
        raise UsageError("standard input is not a terminal: add --yes to go ahead")
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = stream.readline()
    if not answer:  # Ctrl-D
        sys.stderr.write("\n")
    return answer.strip().lower() in YES


def add_yes_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="do not ask for confirmation (needed when standard input is not a terminal)",
    )
