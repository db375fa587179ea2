"""The ``openpacs`` command: server, administration, and (with a URL) the client functions.

Only the argument parsers load at start; a command's module (and with it the server,
SQLAlchemy, httpx or rich) is imported when that command runs, so ``--help`` and the
client commands start at once.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from openpacs.cli import client_parsers, server_parsers
from openpacs.settings import SettingsError

Handler = Callable[[argparse.Namespace], int]


class _Version(argparse.Action):
    """``--version``: the installed version, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("openpacs")
        except PackageNotFoundError:
            number = "unknown (not installed)"
        print(f"openpacs {number}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openpacs",
        description="openpacs: a self-hostable PACS with DICOMweb, an order API, SDK and CLI.",
        epilog="Run `openpacs COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--version", action=_Version)
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    server_parsers.register(commands)
    client_parsers.register(commands)
    return parser


def resolve(handler: str | Handler) -> Handler:
    """A handler given as ``"module:function"`` is imported now, when its command runs."""
    if callable(handler):
        return handler
    module, _, name = handler.partition(":")
    # The server's modules allocate a few hundred thousand objects; while they load, the
    # cyclic collector would walk them again and again (about 120 ms of a server's start).
    # A module that says so (``TAKES_OVER_COLLECTOR``: the server) gets the collector off
    # and turns it on itself, once it has frozen what will live as long as the process.
    gc.disable()
    try:
        found: Handler = getattr(importlib.import_module(module), name)
    finally:
        if not getattr(sys.modules.get(module), "TAKES_OVER_COLLECTOR", False):
            gc.enable()
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: str | Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    # A command's environment goes in before its modules (and their native libraries) load.
    for name, value in getattr(args, "environment", {}).items():
        os.environ.setdefault(name, value)
    try:
        return resolve(handler)(args)
    except SettingsError as exc:
        if args.debug:
            raise
        print(f"openpacs: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
