"""``openpacs serve``: the server with embedded defaults (SQLite and files in one folder).

Before anything is printed or started, every setting that can be checked is: the port,
the database and storage URLs, the data directory, the time zone; then the listening
socket is bound, so a busy port is reported before "startup complete". Each problem is
one line naming the setting, exit code 2.
"""

from __future__ import annotations

import argparse
import gc
import logging
import socket
import sys
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import uvicorn

from openpacs.cli import preflight
from openpacs.cli.common import checked_settings, fail, open_database
from openpacs.cli.first_start import first_start_message
from openpacs.index.db import Database
from openpacs.services.bootstrap import ensure_initial_admin
from openpacs.settings import Settings, SettingsError
from openpacs.web.app import create_app
from openpacs.web.http_protocol import http_protocol
from openpacs.web.workers import serve_workers


def run(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        return fail(f"--workers must be at least 1, not {args.workers}", 2)
    if args.port is not None:
        preflight.check_port(args.port)
    settings = checked_settings(args, server=True)
    if args.workers is not None:
        settings = settings.with_overrides(workers=args.workers)
    preflight.check_port(settings.port)
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"unknown time zone {settings.timezone!r} (OPENPACS_TIMEZONE)"
        ) from None
    listener = preflight.listen_socket(settings.host, settings.port)
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Schema upgrades say what they do at debug level only: the first start stays readable.
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
    try:
        db = open_database(settings.effective_database_url)
    except SettingsError:
        listener.close()
        raise
    admin = ensure_initial_admin(db, settings.data_dir)
    print(first_start_message(admin, settings), file=sys.stderr, flush=True)
    if settings.workers > 1:
        listener.close()  # the parent of the workers binds the port again at once
        return _serve_workers(settings, db)
    return _serve_one(settings, db, listener)


def _serve_one(settings: Settings, db: Database, listener: socket.socket) -> int:
    app = create_app(settings, db=db)
    # Everything loaded so far lives as long as the process: keep it out of the cyclic
    # garbage collector's way (fewer, shorter collections while serving).
    gc.freeze()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level=settings.log_level,
        http=http_protocol(settings.max_request_bytes),
    )
    uvicorn.Server(config).run(sockets=[listener])
    return 0


def _serve_workers(settings: Settings, db: Database) -> int:
    db.dispose()
    return serve_workers(settings)  # each worker builds its app from these settings
