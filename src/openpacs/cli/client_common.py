"""Shared by the client commands: connection options, credentials, errors -> exit codes.

Exit codes: 0 everything succeeded; 1 a failure (server error, some files failed);
2 a usage error (bad or missing argument, bad date format).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import traceback
from collections.abc import Callable
from urllib.parse import urlsplit

from openpacs.client import PacsClient
from openpacs.client.errors import (
    AuthenticationError,
    ConnectionFailed,
    IncompleteResponse,
    NoDicomFilesError,
    NotFoundError,
    PacsError,
    PermissionDenied,
)

OK, FAILED, USAGE = 0, 1, 2

ClientHandler = Callable[[PacsClient, argparse.Namespace], int]


class UsageError(Exception):
    """A problem with the command line itself (exit code 2)."""


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--url",
        default=None,
        help="DICOMweb root, e.g. http://localhost:8042/dicomweb (env OPENPACS_URL)",
    )
    group.add_argument("--user", default=None, help="user name / e-mail (env OPENPACS_USER)")
    group.add_argument(
        "--password",
        default=None,
        help="password (env OPENPACS_PASSWORD; prefer the environment or the prompt: "
        "a flag is visible in the process list)",
    )
    group.add_argument(
        "--timeout", type=float, default=120.0, help="seconds per network operation (120)"
    )
    group.add_argument(
        "--insecure", action="store_true", help="do not verify the server's TLS certificate"
    )
    parser.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )


def _prompt_line(label: str) -> str:
    if sys.stdin.isatty():
        return input(label)
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def credentials(args: argparse.Namespace) -> tuple[str, str, str]:
    url = (args.url or os.environ.get("OPENPACS_URL") or "").strip()
    if not url:
        raise UsageError("no server address: use --url or set OPENPACS_URL")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"the server address must start with http:// or https://: {url}")
    user = args.user or os.environ.get("OPENPACS_USER") or ""
    if not user:
        if not sys.stdin.isatty():
            raise UsageError("no user name: use --user or set OPENPACS_USER")
        user = input("User (e-mail): ").strip()
        if not user:
            raise UsageError("no user name given")
    password = args.password or os.environ.get("OPENPACS_PASSWORD")
    if password is None:
        if sys.stdin.isatty():
            password = getpass.getpass(f"Password for {user}: ")
        else:  # a pipe: the first line is the password (never echoed anywhere)
            password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("no password: use OPENPACS_PASSWORD, --password or the prompt")
    return url, user, password


def open_client(args: argparse.Namespace) -> PacsClient:
    url, user, password = credentials(args)
    return PacsClient(
        url,
        user,
        password,
        timeout=float(getattr(args, "timeout", 120.0)),
        verify=not getattr(args, "insecure", False),
    )


def fail(message: str, code: int = FAILED) -> int:
    print(f"openpacs: {message}", file=sys.stderr)
    return code


def describe(exc: BaseException, url: str = "") -> tuple[str, int]:
    """One readable line for an error, and the exit code."""
    if isinstance(exc, UsageError):
        return str(exc), USAGE
    if isinstance(exc, ConnectionFailed):
        return f"server unreachable: {exc}", FAILED
    if isinstance(exc, AuthenticationError):
        return (
            "login refused (401): wrong user name or password"
            + (f" ({exc.reason})" if exc.reason and "Unauthorized" not in exc.reason else ""),
            FAILED,
        )
    if isinstance(exc, PermissionDenied):
        return f"permission denied (403): {exc.reason}", FAILED
    if isinstance(exc, NotFoundError):
        hint = ""
        if url and urlsplit(url).path.strip("/") == "":
            hint = " (is the URL the DICOMweb root, e.g. http://host:8042/dicomweb?)"
        return f"not found (404): {exc.reason}{hint}", FAILED
    if isinstance(exc, IncompleteResponse):
        kept = f"; {len(exc.files)} complete files kept" if exc.files else ""
        return f"{exc}{kept}", FAILED
    if isinstance(exc, PacsError):
        return str(exc), FAILED
    if isinstance(exc, NoDicomFilesError):
        return str(exc), FAILED
    if isinstance(exc, FileNotFoundError | NotADirectoryError | FileExistsError):
        return str(exc), USAGE
    if isinstance(exc, ValueError):
        return str(exc), USAGE
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc), FAILED
    return f"unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)", FAILED


def run_guarded(args: argparse.Namespace, body: Callable[[], int]) -> int:
    """Run a command body: errors become one line on stderr (a traceback with --debug)."""
    try:
        return body()
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if getattr(args, "debug", False):
            traceback.print_exc()
        url = getattr(args, "url", None) or os.environ.get("OPENPACS_URL", "")
        message, code = describe(exc, url)
        return fail(message, code)


def with_client(handler: ClientHandler) -> Callable[[argparse.Namespace], int]:
    """A command handler that gets a connected client (closed afterwards)."""

    def run(args: argparse.Namespace) -> int:
        def body() -> int:
            with open_client(args) as client:
                return handler(client, args)

        return run_guarded(args, body)

    return run
