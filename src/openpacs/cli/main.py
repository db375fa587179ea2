"""The ``openpacs`` command: server, administration, and (with a URL) the client functions."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from openpacs.cli import admin, serve
from openpacs.settings import SettingsError

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openpacs",
        description="openpacs: a self-hostable PACS with DICOMweb, an order API, SDK and CLI.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve.register(commands)
    admin.register(commands)
    _register_client_commands(commands)
    return parser


def _register_client_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    try:
        from openpacs.cli import client_commands
    except ImportError:  # the client side is optional for a server-only install
        return
    client_commands.register(commands)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except SettingsError as exc:
        print(f"openpacs: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
