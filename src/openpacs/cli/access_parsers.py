"""Arguments of ``openpacs token create|list|revoke`` and ``openpacs audit``.

Parsers only; the commands are in :mod:`openpacs.cli.access_commands`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeAlias

from openpacs.cli.arg_types import non_negative_int, positive_int, uuid_text
from openpacs.cli.confirm import add_yes_option

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
CommandFactory = Callable[[SubParsers, str, str, str], argparse.ArgumentParser]

DEFAULT_TOKEN_DAYS = 90
_HANDLERS = "openpacs.cli.access_commands:"


def register(commands: SubParsers, command: CommandFactory) -> None:
    """``command(sub, name, help, handler)`` adds a client command with ``--json`` and
    the connection options (:func:`openpacs.cli.client_parsers._json_command`)."""
    _register_token(commands, command)
    _register_audit(commands, command)


def _handled(parser: argparse.ArgumentParser, handler: str) -> argparse.ArgumentParser:
    parser.set_defaults(handler=_HANDLERS + handler)
    return parser


def _register_token(commands: SubParsers, command: CommandFactory) -> None:
    token = commands.add_parser(
        "token",
        help="your personal API tokens (made with your password)",
        description="Personal API tokens: use one as OPENPACS_TOKEN (Bearer), or as the "
        "password of HTTP Basic, instead of your password.",
    )
    sub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)

    p = _handled(command(sub, "create", "create a token (shown once)", ""), "token_create")
    p.add_argument("--name", required=True, help="what the token is for")
    p.add_argument(
        "--expire-date",
        help=f"YYYY-MM-DD, the last day it works (default: in {DEFAULT_TOKEN_DAYS} days; "
        "at most a year ahead)",
    )
    p.add_argument(
        "--scope",
        choices=("read", "read-write"),
        default="read",
        help="read (default): only reads; read-write: what your role allows",
    )

    _handled(command(sub, "list", "list your tokens", ""), "token_list")

    p = _handled(
        command(sub, "revoke", "revoke a token (refused within seconds; asks first)", ""),
        "token_revoke",
    )
    p.add_argument("api_token_uuid", type=uuid_text, metavar="API_TOKEN_UUID")
    add_yes_option(p)


def _register_audit(commands: SubParsers, command: CommandFactory) -> None:
    p = _handled(command(commands, "audit", "read the audit trail (admins)", ""), "audit")
    p.description = (
        "Who did what, when, from where, to which patient and study: the account's audit "
        "trail, newest first. Example: openpacs audit --patient-id 123456 --days 7"
    )
    p.add_argument(
        "--by", dest="audit_user", metavar="EMAIL_OR_UUID", help="the events of one user"
    )
    p.add_argument("--patient-id", help="one patient (exact)")
    p.add_argument("--study", metavar="STUDY_UID", help="one study (StudyInstanceUID)")
    p.add_argument("--action", help='e.g. study.retrieve, or a prefix such as "study.*"')
    p.add_argument("--outcome", choices=("success", "failure"))
    p.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="first day")
    p.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="last day")
    p.add_argument("--days", type=positive_int, help="the last N days, today included")
    p.add_argument("--limit", type=positive_int, default=1000, help="events to show (default 1000)")
    p.add_argument("--offset", type=non_negative_int, default=0, help="events to skip")
    p.add_argument("--all", action="store_true", help="every matching event (all pages)")
    p.add_argument("--csv", action="store_true", help="CSV on standard output")
