"""Shared by the client commands: credentials, the client, errors -> exit codes.

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

from openpacs.cli.usage import UsageError
from openpacs.client.defaults import DEFAULT_TIMEOUT
from openpacs.client.errors import (
    AuthenticationError,
    ConnectionFailed,
    IncompleteResponse,
    NoDicomFilesError,
    NotFoundError,
    PacsError,
    PermissionDenied,
)
from openpacs.client.sync import PacsClient

OK, FAILED, USAGE = 0, 1, 2

ClientHandler = Callable[[PacsClient, argparse.Namespace], int]


def credentials(args: argparse.Namespace) -> tuple[str, str, str]:
    url = server_url(args)
    user = args.user or os.environ.get("OPENPACS_USER") or ""
    if not user:
        if not sys.stdin.isatty():
            raise UsageError("no user name: use --user or set OPENPACS_USER")
        user = input("User (e-mail): ").strip()
        if not user:
            raise UsageError("no user name given")
    password = args.password or os.environ.get("OPENPACS_PASSWORD")
    if password is None:
        password = read_secret(f"Password for {user}: ")
        if not password:
            raise UsageError("no password: use OPENPACS_PASSWORD, --password or the prompt")
    return url, user, password


def read_secret(label: str, *, repeat: bool = False) -> str:
    """A secret from the terminal (never echoed; asked twice with ``repeat``), or the
    next line of standard input when it is a pipe."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(label)
    if repeat and first and getpass.getpass("Repeat it: ") != first:
        raise UsageError("the two passwords differ")
    return first


def api_token(args: argparse.Namespace) -> str:
    """An API token from ``--token`` or ``OPENPACS_TOKEN`` ("" when none): used alone, as
    ``Authorization: Bearer``, in place of the user name and password."""
    return (getattr(args, "token", None) or os.environ.get("OPENPACS_TOKEN") or "").strip()


def server_url(args: argparse.Namespace) -> str:
    url = (args.url or os.environ.get("OPENPACS_URL") or "").strip()
    if not url:
        raise UsageError("no server address: use --url or set OPENPACS_URL")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"the server address must start with http:// or https://: {url}")
    return url


def open_client(args: argparse.Namespace) -> PacsClient:
    token = api_token(args)
    if token:
        url, user, password = server_url(args), "", ""
    else:
        url, user, password = credentials(args)
    # A plain http:// root never uses TLS (redirects are not followed): skip loading the
    # certificate store, a noticeable part of the start-up.
    tls = url.startswith("https://")
    return PacsClient(
        url,
        user,
        password,
        token=token or None,
        timeout=float(getattr(args, "timeout", DEFAULT_TIMEOUT)),
        verify=tls and not getattr(args, "insecure", False),
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
        return f"login refused (401): {_login_reason(exc.reason)}", FAILED
    if isinstance(exc, PermissionDenied):
        return f"permission denied (403): {exc.reason}", FAILED
    if isinstance(exc, NotFoundError):
        hint = ""
        if url and urlsplit(url).path.strip("/") == "":
            hint = " (is the URL the DICOMweb root, e.g. http://host:8080/dicomweb?)"
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


def _login_reason(reason: str) -> str:
    """The server's reason when it says more than the usual words (said once, not twice)."""
    usual = "wrong user name or password"
    text = reason.strip().rstrip(".")
    if not text or text == "Unauthorized" or usual in text.lower():
        return usual
    return text


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
