"""Server settings: built once (from flags and environment) and passed in, never global.

Every environment variable is one row of :data:`ENVIRONMENT` (variable, field, parser,
flag, meaning); :func:`settings_from_env` reads them all through it, and a unit test
keeps the README's configuration table equal to it. A value that cannot be used raises
:class:`SettingsError` naming the variable (``openpacs`` then exits with code 2).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from openpacs.dicom.ae_title import check_ae_title


class SettingsError(ValueError):
    """An environment variable whose value cannot be used (the message names it)."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("openpacs-data")
    # Empty means SQLite in the data directory.
    database_url: str = ""
    # Empty means the filesystem store in the data directory (file://DATA_DIR/blobs).
    storage_url: str = ""
    # Base URL that clients use to reach this server (RetrieveURL, share links).
    # Empty means http://HOST:PORT.
    public_url: str = ""
    # S3-compatible object store (OPENPACS_STORAGE_URL=s3://bucket/prefix); credentials
    # come from the standard AWS environment variables.
    s3_endpoint_url: str = ""
    s3_region: str = ""
    cors_origins: tuple[str, ...] = ()
    qido_default_limit: int = 100
    qido_max_limit: int = 1000
    # Parts of a STOW body up to this size are kept in memory, bigger ones spooled to disk.
    spool_threshold: int = 4 * 1024 * 1024
    # One request may not send more than this many bytes (a STOW body, a chunk) or STOW
    # parts: what a client can make the server write or hold in one go is bounded.
    max_request_bytes: int = 8 * 1024**3
    max_parts: int = 10_000
    auth_cache_seconds: float = 60.0
    timezone: str = "UTC"
    workers: int = 1
    log_level: str = "info"
    access_log: bool = True
    # Store instances that lack a Study or Series Instance UID under UIDs derived from
    # the instance (see dicom/coerce.py) instead of refusing them.
    coerce_missing_uids: bool = False
    # Sync each audited request's journal entry to disk before answering, so that a power
    # cut loses no audit event either (a killed process never does; see services/audit.py).
    audit_sync: bool = False
    # The DICOM network node (dimse/): its port (0: no DICOM listener), its own AE title
    # (associations to another called AE title are rejected), and whether a calling AE
    # title must also come from its equipment's host.
    dicom_port: int = 11112
    ae_title: str = "OPENPACS"
    dicom_check_host: bool = False
    # The OHIF viewer at /viewer/ (ohif/): served when installed and not turned off; the
    # release (another version needs its integrity) and where installations live
    # (empty: inside the Python environment, see ohif/release.py).
    ohif: bool = True
    ohif_version: str = ""
    ohif_integrity: str = ""
    ohif_root: str = ""
    # The web application's session cookie: signed out after this many idle minutes, and
    # at the latest this many hours after signing in; with trust_proxy, X-Forwarded-Proto
    # from the reverse proxy in front is believed (the cookie is then Secure on https).
    session_idle_minutes: int = 60
    session_max_hours: int = 12
    trust_proxy: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'openpacs.db').resolve()}"

    @property
    def effective_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return (self.data_dir / "blobs").resolve().as_uri()

    @property
    def staging_dir(self) -> Path:
        return self.data_dir / "staging"

    @property
    def effective_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::", ""} else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def dicomweb_root(self) -> str:
        return f"{self.effective_public_url}/dicomweb"

    def with_overrides(self, **overrides: object) -> Settings:
        """Flag values win over the environment; None means 'flag not given'."""
        given = {name: value for name, value in overrides.items() if value is not None}
        return replace(self, **given)  # type: ignore[arg-type]

    def resolved(self) -> Settings:
        """The same settings with every default that depends on the working directory or
        on other fields made explicit, for another process to use as they are."""
        return replace(
            self,
            data_dir=self.data_dir.resolve(),
            database_url=self.effective_database_url,
            storage_url=self.effective_storage_url,
            public_url=self.effective_public_url,
        )


# --------------------------------------------------------------------------- parsers

#: A parser gets the variable's name (for the error message) and its raw value.
Parser = Callable[[str, str], object]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def _text(_name: str, value: str) -> str:
    return value


def _path(_name: str, value: str) -> Path:
    return Path(value)


def _boolean(name: str, value: str) -> bool:
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, not {value!r}")


def _items(_name: str, value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _ae_title(name: str, value: str) -> str:
    try:
        return check_ae_title(value)
    except ValueError as exc:
        raise SettingsError(f"{name}: {exc}") from None


#: The levels the HTTP server (uvicorn) knows, quietest first.
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def _log_level(name: str, value: str) -> str:
    level = value.strip().lower()
    if level not in LOG_LEVELS:
        raise SettingsError(f"{name} must be one of {', '.join(LOG_LEVELS)}, not {value!r}")
    return level


def _whole(minimum: int, maximum: int | None = None) -> Parser:
    """A whole number in ``minimum..maximum``."""

    def parse(name: str, value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, not {value!r}") from None
        if number < minimum:
            raise SettingsError(f"{name} must be at least {minimum}, not {number}")
        if maximum is not None and number > maximum:
            raise SettingsError(f"{name} must be at most {maximum}, not {number}")
        return number

    return parse


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class EnvSetting:
    """One environment variable: which field it sets, how its text is read, the flag of
    ``openpacs serve`` that wins over it (if any), and what it means."""

    env: str
    field: str
    parse: Parser
    flag: str | None
    help: str


ENVIRONMENT: tuple[EnvSetting, ...] = (
    EnvSetting("OPENPACS_HOST", "host", _text, "--host", "listen address"),
    EnvSetting("OPENPACS_PORT", "port", _whole(1, 65535), "--port", "listen port"),
    EnvSetting("OPENPACS_DATA_DIR", "data_dir", _path, "--data-dir", "data directory"),
    EnvSetting(
        "OPENPACS_DATABASE_URL", "database_url", _text, "--database-url", "index database URL"
    ),
    EnvSetting("OPENPACS_STORAGE_URL", "storage_url", _text, "--storage-url", "blob store URL"),
    EnvSetting(
        "OPENPACS_S3_ENDPOINT_URL", "s3_endpoint_url", _text, None, "S3-compatible endpoint"
    ),
    EnvSetting("OPENPACS_S3_REGION", "s3_region", _text, None, "region of the bucket"),
    EnvSetting("OPENPACS_PUBLIC_URL", "public_url", _text, "--public-url", "base URL clients use"),
    EnvSetting("OPENPACS_WORKERS", "workers", _whole(1), "--workers", "server processes"),
    EnvSetting(
        "OPENPACS_SPOOL_THRESHOLD",
        "spool_threshold",
        _whole(0),
        None,
        "bytes of a STOW part kept in memory",
    ),
    EnvSetting(
        "OPENPACS_MAX_REQUEST_BYTES",
        "max_request_bytes",
        _whole(1),
        None,
        "largest request body in bytes (413 beyond it)",
    ),
    EnvSetting(
        "OPENPACS_MAX_PARTS", "max_parts", _whole(1), None, "most parts in one STOW request"
    ),
    EnvSetting("OPENPACS_CORS_ORIGINS", "cors_origins", _items, None, "allowed CORS origins"),
    EnvSetting(
        "OPENPACS_QIDO_DEFAULT_LIMIT", "qido_default_limit", _whole(1), None, "default QIDO page"
    ),
    EnvSetting("OPENPACS_QIDO_MAX_LIMIT", "qido_max_limit", _whole(1), None, "largest QIDO page"),
    EnvSetting("OPENPACS_TIMEZONE", "timezone", _text, None, "zone of share expiry dates"),
    EnvSetting(
        "OPENPACS_LOG_LEVEL",
        "log_level",
        _log_level,
        None,
        "log level: critical, error, warning, info, debug or trace",
    ),
    EnvSetting("OPENPACS_ACCESS_LOG", "access_log", _boolean, None, "one JSON line per request"),
    EnvSetting(
        "OPENPACS_COERCE_MISSING_UIDS",
        "coerce_missing_uids",
        _boolean,
        None,
        "derive missing Study/Series Instance UIDs instead of refusing the instance",
    ),
    EnvSetting(
        "OPENPACS_AUDIT_SYNC",
        "audit_sync",
        _boolean,
        None,
        "sync audit events to disk before answering",
    ),
    EnvSetting(
        "OPENPACS_DICOM_PORT",
        "dicom_port",
        _whole(0, 65535),
        "--dicom-port",
        "DICOM (DIMSE) listen port; 0 turns the DICOM listener off",
    ),
    EnvSetting("OPENPACS_AE_TITLE", "ae_title", _ae_title, None, "the server's own AE title"),
    EnvSetting(
        "OPENPACS_DICOM_CHECK_HOST",
        "dicom_check_host",
        _boolean,
        None,
        "a calling AE title must also come from its equipment's host",
    ),
    EnvSetting("OPENPACS_OHIF", "ohif", _boolean, None, "serve the OHIF viewer at /viewer/"),
    EnvSetting("OPENPACS_OHIF_VERSION", "ohif_version", _text, None, "OHIF release to use"),
    EnvSetting(
        "OPENPACS_OHIF_INTEGRITY",
        "ohif_integrity",
        _text,
        None,
        "sha512 integrity of that release's tarball",
    ),
    EnvSetting("OPENPACS_OHIF_ROOT", "ohif_root", _text, None, "where OHIF is installed"),
    EnvSetting(
        "OPENPACS_SESSION_IDLE_MINUTES",
        "session_idle_minutes",
        _whole(1, 7 * 24 * 60),
        None,
        "web sessions end after this many minutes without a request",
    ),
    EnvSetting(
        "OPENPACS_SESSION_MAX_HOURS",
        "session_max_hours",
        _whole(1, 30 * 24),
        None,
        "web sessions end this many hours after signing in",
    ),
    EnvSetting(
        "OPENPACS_TRUST_PROXY",
        "trust_proxy",
        _boolean,
        None,
        "believe X-Forwarded-Proto from the reverse proxy in front",
    ),
)


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``OPENPACS_*`` variables (the defaults for the others)."""
    env = os.environ if env is None else env
    values = {
        row.field: row.parse(row.env, raw)
        for row in ENVIRONMENT
        if (raw := env.get(row.env)) is not None
    }
    return replace(Settings(), **values)  # type: ignore[arg-type]
