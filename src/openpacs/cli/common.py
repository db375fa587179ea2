"""Shared by ``serve`` and ``admin``: settings from flags, checked; the database, opened."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError

from openpacs.cli import preflight
from openpacs.index.db import Database, normalise_url
from openpacs.services.bootstrap import prepare_database
from openpacs.settings import Settings, SettingsError, settings_from_env

CONNECT_TIMEOUT_SECONDS = 10


def settings_from_args(args: argparse.Namespace) -> Settings:
    return settings_from_env().with_overrides(
        data_dir=getattr(args, "data_dir", None),
        database_url=getattr(args, "database_url", None),
        storage_url=getattr(args, "storage_url", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        public_url=getattr(args, "public_url", None),
        dicom_port=getattr(args, "dicom_port", None),
    )


def checked_settings(args: argparse.Namespace, *, server: bool) -> Settings:
    """The settings, with every value that can be checked before starting checked.

    ``server``: the data directory is created if missing (``serve``); otherwise it and
    the SQLite database must already exist (``admin`` never creates an empty one).
    """
    settings = settings_from_args(args)
    preflight.check_database_scheme(settings.effective_database_url)
    preflight.check_storage_scheme(settings.effective_storage_url)
    preflight.check_public_url(settings.public_url)
    if server:
        preflight.writable_directory(settings.data_dir)
        blobs = _file_store_path(settings.effective_storage_url)
        if blobs is not None:
            preflight.writable_directory(blobs, preflight.STORAGE_URL)
    else:
        if not settings.database_url or preflight.sqlite_file(settings.database_url):
            if not settings.database_url:
                preflight.existing_directory(settings.data_dir)
            preflight.existing_database(settings.effective_database_url)
    return settings


def _file_store_path(url: str) -> Path | None:
    parts = urlsplit(url)
    return Path(unquote(parts.path)) if parts.scheme in ("", "file") else None


def open_database(url: str) -> Database:
    """The index, reachable and with its schema up to date; SettingsError otherwise."""
    _probe(url)
    try:
        db = Database(url)
    except (SQLAlchemyError, OSError, ValueError) as exc:  # e.g. a SQLite folder not creatable
        raise preflight.database_error(url, exc) from None
    try:
        prepare_database(db)
    except (SQLAlchemyError, OSError) as exc:
        db.dispose()
        raise preflight.database_error(url, exc) from None
    return db


def _probe(url: str) -> None:
    """Connect once with a time limit, so an unreachable server is one line, not a hang."""
    normalised = normalise_url(url)
    if not normalised.startswith("postgresql"):
        return
    try:
        engine = create_engine(
            normalised, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        )
    except (SQLAlchemyError, ValueError) as exc:
        raise preflight.database_error(url, exc) from None
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        raise preflight.database_error(url, exc) from None
    finally:
        engine.dispose()


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def fail(message: str, code: int = 1) -> int:
    print(f"openpacs: {message}", file=sys.stderr)
    return code


__all__ = [
    "SettingsError",
    "checked_settings",
    "fail",
    "open_database",
    "print_json",
    "settings_from_args",
]
