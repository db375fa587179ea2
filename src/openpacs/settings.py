"""Server settings: built once (from flags and environment) and passed in, never global."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


class SettingsError(ValueError):
    """An environment variable whose value cannot be used (the message names it)."""


def _int(name: str, value: str, minimum: int) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise SettingsError(f"{ENV_PREFIX}{name} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise SettingsError(f"{ENV_PREFIX}{name} must be at least {minimum}, not {number}")
    return number


def _list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


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
    auth_cache_seconds: float = 60.0
    timezone: str = "UTC"
    workers: int = 1
    log_level: str = "info"
    access_log: bool = True
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


ENV_PREFIX = "OPENPACS_"


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    base = Settings()

    def get(name: str) -> str | None:
        return env.get(ENV_PREFIX + name)

    values: dict[str, object] = {}
    if (v := get("HOST")) is not None:
        values["host"] = v
    if (v := get("PORT")) is not None:
        values["port"] = _int("PORT", v, 0)
    if (v := get("DATA_DIR")) is not None:
        values["data_dir"] = Path(v)
    if (v := get("DATABASE_URL")) is not None:
        values["database_url"] = v
    if (v := get("STORAGE_URL")) is not None:
        values["storage_url"] = v
    if (v := get("S3_ENDPOINT_URL")) is not None:
        values["s3_endpoint_url"] = v
    if (v := get("S3_REGION")) is not None:
        values["s3_region"] = v
    if (v := get("PUBLIC_URL")) is not None:
        values["public_url"] = v
    if (v := get("CORS_ORIGINS")) is not None:
        values["cors_origins"] = _list(v)
    if (v := get("QIDO_DEFAULT_LIMIT")) is not None:
        values["qido_default_limit"] = _int("QIDO_DEFAULT_LIMIT", v, 1)
    if (v := get("QIDO_MAX_LIMIT")) is not None:
        values["qido_max_limit"] = _int("QIDO_MAX_LIMIT", v, 1)
    if (v := get("TIMEZONE")) is not None:
        values["timezone"] = v
    if (v := get("WORKERS")) is not None:
        values["workers"] = _int("WORKERS", v, 1)
    if (v := get("SPOOL_THRESHOLD")) is not None:
        values["spool_threshold"] = _int("SPOOL_THRESHOLD", v, 0)
    if (v := get("LOG_LEVEL")) is not None:
        values["log_level"] = v
    if (v := get("ACCESS_LOG")) is not None:
        values["access_log"] = _bool(v)
    return base.with_overrides(**values)
