"""Helpers shared by the server-side commands (database options, output)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from openpacs.settings import Settings, settings_from_env


def add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="data directory (env OPENPACS_DATA_DIR)"
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="index database URL, e.g. postgresql://host/db (env OPENPACS_DATABASE_URL; "
        "default SQLite in the data directory)",
    )
    parser.add_argument(
        "--storage-url",
        default=None,
        help="blob store URL (env OPENPACS_STORAGE_URL; default file://DATA_DIR/blobs)",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    return settings_from_env().with_overrides(
        data_dir=getattr(args, "data_dir", None),
        database_url=getattr(args, "database_url", None),
        storage_url=getattr(args, "storage_url", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        public_url=getattr(args, "public_url", None),
    )


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def fail(message: str, code: int = 1) -> int:
    print(f"openpacs: {message}", file=sys.stderr)
    return code
