"""``openpacs serve``: the server with embedded defaults (SQLite and files in one folder).

Before anything is printed or started, every setting that can be checked is: the port,
the database and storage URLs, the data directory, the time zone; then the listening
sockets (HTTP, and DICOM unless ``OPENPACS_DICOM_PORT`` is 0) are bound, so a busy port is
reported before "startup complete". Each problem is one line naming the setting, exit
code 2.

The DICOM node (``dimse/node.py``) runs beside the app on the same services: in this
process when there is one, else in the workers, the parent accepting its connections as
it accepts HTTP ones (see the node's docstring for why). It starts with the app and
stops, on SIGTERM or Ctrl-C, before the app's services close.
"""

from __future__ import annotations

import argparse
import gc
import logging
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import uvicorn

from openpacs.cli import preflight
from openpacs.cli.common import checked_settings, fail, open_database
from openpacs.cli.first_start import first_start_message
from openpacs.index.db import Database
from openpacs.services.bootstrap import ensure_initial_admin
from openpacs.settings import Settings, SettingsError
from openpacs.web.app import create_app, settle_memory
from openpacs.web.http_protocol import server_config
from openpacs.web.workers import serve_workers

if TYPE_CHECKING:
    from openpacs.dimse.node import DicomNode, Services


#: ``resolve`` (cli/main.py) leaves the cyclic collector off after importing this module;
#: ``run`` turns it on again, and once the checks have passed (this process will serve)
#: first freezes what the imports allocated: left in the young generations, it was all
#: walked again at the collector's next passes, about 100 ms of every start.
TAKES_OVER_COLLECTOR = True


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    finally:
        gc.enable()


def _run(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        return fail(f"--workers must be at least 1, not {args.workers}", 2)
    if args.port is not None:
        preflight.check_port(args.port)
    if args.dicom_port is not None and not 0 <= args.dicom_port <= 65535:
        return fail(f"--dicom-port must be 0 (none) or 1-65535, not {args.dicom_port}", 2)
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
    try:
        dicom = _dicom_listener(settings)
    except SettingsError:
        listener.close()
        raise
    if dicom is not None and settings.workers > 1:
        _load_for_the_dicom_node()
    gc.freeze()  # the settings are good and the ports are ours: this process will serve
    gc.enable()
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Schema upgrades say what they do at debug level only: the first start stays readable.
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
    try:
        db = open_database(settings.effective_database_url)
    except SettingsError:
        listener.close()
        if dicom is not None:
            dicom.close()
        raise
    admin = ensure_initial_admin(db, settings.data_dir)
    print(first_start_message(admin, settings), file=sys.stderr, flush=True)
    if settings.workers > 1:
        listener.close()  # the parent of the workers binds the port again at once
        return _serve_workers(settings, db, dicom)
    return _serve_one(settings, db, listener, dicom)


def _load_for_the_dicom_node() -> None:
    """pydicom (with NumPy), which the DICOM node needs, loaded before the workers are
    forked, so that they start with it.

    HTTP answers without it (web/warm_up.py). In one process the node loads it on its
    own thread beside the app, where it overlaps with the first answers' password checks
    and network waits: /healthz came about 100 ms sooner than with pydicom loaded first
    and the first C-ECHO no later. With workers, each loaded it again instead and the
    first C-ECHO came about 125 ms later, so the parent loads it once, with the collector
    still off (bench/restart_bench.py --baseline, 8 rounds in turns).
    """
    import pydicom  # noqa: F401


def _dicom_listener(settings: Settings) -> socket.socket | None:
    """The DICOM port, bound now (None when it is 0: no DICOM node)."""
    if not settings.dicom_port:
        return None
    return preflight.listen_socket(settings.host, settings.dicom_port, preflight.DICOM_PORT)


def _serve_one(
    settings: Settings, db: Database, listener: socket.socket, dicom: socket.socket | None
) -> int:
    attach = _listening_node(dicom) if dicom is not None else None
    app = create_app(settings, db=db, attach=attach)
    settle_memory()
    config = server_config(
        app, settings.max_request_bytes, settings.log_level, host=settings.host, port=settings.port
    )
    uvicorn.Server(config).run(sockets=[listener])
    return 0


def _serve_workers(settings: Settings, db: Database, dicom: socket.socket | None) -> int:
    db.dispose()
    # Each worker builds its app (and its DICOM node) from these settings.
    return serve_workers(settings, dicom, _handed_node if dicom is not None else None)


# The DICOM node's module (and pynetdicom) is imported where the node starts, beside the
# serving app (``web/attachment.py``), not before the app answers.


def _listening_node(listener: socket.socket) -> Callable[[Services], DicomNode]:
    def node(services: Services) -> DicomNode:
        from openpacs.dimse.node import listening_node

        return listening_node(listener)(services)

    return node


def _handed_node(services: Services) -> DicomNode:
    from openpacs.dimse.node import handed_node

    return handed_node(services)
