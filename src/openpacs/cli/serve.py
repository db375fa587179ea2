"""``openpacs serve``: the server with embedded defaults (SQLite and files in one folder)."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import uvicorn

from openpacs.cli.common import add_database_options, fail, settings_from_args
from openpacs.index.db import Database
from openpacs.services.bootstrap import ensure_initial_admin, prepare_database
from openpacs.web.app import create_app
from openpacs.web.workers import serve_workers


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("serve", help="run the server")
    parser.add_argument("--host", default=None, help="listen address (env OPENPACS_HOST)")
    parser.add_argument("--port", type=int, default=None, help="port (env OPENPACS_PORT)")
    parser.add_argument(
        "--public-url", default=None, help="base URL clients use (env OPENPACS_PUBLIC_URL)"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="server processes (env OPENPACS_WORKERS)"
    )
    add_database_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        return fail(f"--workers must be at least 1, not {args.workers}", 2)
    settings = settings_from_args(args)
    if args.workers is not None:
        settings = settings.with_overrides(workers=args.workers)
    logging.basicConfig(
        level=getattr(logging, settings.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return fail(f"unknown time zone {settings.timezone!r} (OPENPACS_TIMEZONE)", 2)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.effective_database_url)
    prepare_database(db)
    admin = ensure_initial_admin(db, settings.data_dir)
    if admin is not None:
        print(
            f"Created the first account. Log in as {admin.email} with password "
            f"{admin.password}\n(also written to {admin.file}, readable only by you)",
            file=sys.stderr,
            flush=True,
        )
    print(
        f"openpacs DICOMweb root: {settings.dicomweb_root}  (data in {settings.data_dir})",
        file=sys.stderr,
        flush=True,
    )
    if settings.workers > 1:
        db.dispose()
        return serve_workers(settings)  # each worker builds its app from these settings
    app = create_app(settings, db=db)
    # Everything loaded so far lives as long as the process: keep it out of the cyclic
    # garbage collector's way (fewer, shorter collections while serving).
    gc.freeze()
    uvicorn.run(
        app, host=settings.host, port=settings.port, access_log=False, log_level=settings.log_level
    )
    return 0
