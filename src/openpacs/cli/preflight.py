"""Checks of the server settings before ``serve`` or ``admin`` touch anything.

Each check raises :class:`~openpacs.settings.SettingsError` with one line that names the
setting (flag and environment variable) and what is wrong with it; ``openpacs`` prints
that line and exits with code 2. Nothing here starts the server or changes the data.
"""

from __future__ import annotations

import errno
import socket
import tempfile
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from openpacs.settings import SettingsError

DATA_DIR = "--data-dir or OPENPACS_DATA_DIR"
DATABASE_URL = "--database-url or OPENPACS_DATABASE_URL"
STORAGE_URL = "--storage-url or OPENPACS_STORAGE_URL"
PORT = "--port or OPENPACS_PORT"
DICOM_PORT = "--dicom-port or OPENPACS_DICOM_PORT"
HOST = "--host or OPENPACS_HOST"
PUBLIC_URL = "--public-url or OPENPACS_PUBLIC_URL"

DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+psycopg")
STORAGE_SCHEMES = ("", "file", "s3")


def check_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise SettingsError(f"port {port} is outside 1-65535 ({PORT})")


def _split(url: str, kind: str, setting: str) -> SplitResult:
    """The parts of ``url``; a URL that cannot be read at all (an unclosed ``[``) is
    one line naming the setting."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (reading it checks the port number)
    except ValueError as exc:
        raise SettingsError(f"invalid {kind} URL {url!r}: {exc} ({setting})") from None
    return parts


def _check_scheme(url: str, kind: str, known: tuple[str, ...], forms: str, setting: str) -> None:
    scheme = _split(url, kind, setting).scheme.lower()
    if scheme not in known:
        raise SettingsError(f"unsupported {kind} {scheme or url!r}: use {forms} ({setting})")


def check_database_scheme(url: str) -> None:
    forms = "sqlite:///PATH or postgresql://USER@HOST/DB"
    _check_scheme(url, "database", DATABASE_SCHEMES, forms, DATABASE_URL)


def check_storage_scheme(url: str) -> None:
    forms = "file:///PATH or s3://BUCKET/PREFIX"
    _check_scheme(url, "storage", STORAGE_SCHEMES, forms, STORAGE_URL)
    parts = urlsplit(url)
    if parts.scheme.lower() == "s3" and not parts.netloc:
        raise SettingsError(
            f"an s3:// storage URL needs a bucket: s3://BUCKET/PREFIX ({STORAGE_URL})"
        )


def check_public_url(url: str) -> None:
    """An empty public URL means http://HOST:PORT; any other is an http(s) URL with a host."""
    if not url:
        return
    parts = _split(url, "public", PUBLIC_URL)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise SettingsError(
            f"the public URL {url!r} is not an http:// or https:// URL with a host, "
            f"e.g. https://pacs.example.org ({PUBLIC_URL})"
        )


def writable_directory(path: Path, setting: str = DATA_DIR) -> Path:
    """Create ``path`` if needed and prove that files can be written in it."""
    if path.exists() and not path.is_dir():
        raise SettingsError(f"the data directory {path} is not a directory ({setting})")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise SettingsError(
            f"cannot write to the data directory {path}: {exc.strerror or exc} ({setting})"
        ) from None
    return path


def existing_directory(path: Path, setting: str = DATA_DIR) -> Path:
    """``admin`` works on a server's data: a missing directory is a mistake, not a new one."""
    if not path.is_dir():
        what = "is not a directory" if path.exists() else "does not exist"
        raise SettingsError(
            f"the data directory {path} {what} ({setting}); give the server's data "
            "directory, or start `openpacs serve` once to create it"
        )
    return path


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and ``:memory:``)."""
    if not url.lower().startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1] if "///" in url else ""
    return Path(path) if path and path != ":memory:" else None


def existing_database(url: str) -> None:
    """A SQLite index must already exist for ``admin`` (it never creates an empty one)."""
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise SettingsError(
            f"no openpacs database at {path} ({DATABASE_URL} or {DATA_DIR}); "
            "start `openpacs serve` once to create it"
        )


#: Connections the kernel queues on a port until the server accepts them (uvicorn's
#: default, and what the workers' parent uses).
BACKLOG = 2048


def listen_socket(host: str, port: int, setting: str = PORT) -> socket.socket:
    """The listening socket of the server, bound now so that a busy port is told at once
    (``setting`` names the port's flag and variable in the message), and listening, so
    that a client that connects while the server starts (a browser, a modality coming
    back after a restart) waits in the backlog and is served, instead of being refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SettingsError(_bind_error(host, port, exc, setting)) from None
    except (UnicodeError, ValueError) as exc:
        sock.close()
        raise SettingsError(f"cannot listen on {host}:{port}: {exc} ({HOST})") from None
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def _bind_error(host: str, port: int, exc: OSError, setting: str = PORT) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is already in use by another program ({setting})"
    if exc.errno == errno.EACCES:
        return (
            f"no permission to listen on port {port} ({setting}); ports below 1024 need privileges"
        )
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host}: {exc.strerror or exc} ({HOST})"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc} ({HOST}, {setting})"


def database_error(url: str, exc: BaseException) -> SettingsError:
    """One line for a database that cannot be opened or reached (password hidden)."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        detail = [f"{exc.strerror}{where}"]
    else:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = detail[0] if detail else type(exc).__name__
    return SettingsError(f"cannot open the database {hide_password(url)}: {first} ({DATABASE_URL})")


def hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
