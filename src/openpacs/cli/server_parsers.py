"""Arguments of ``openpacs serve`` and ``openpacs admin ...`` (the server side).

Parsers only: the commands themselves live in :mod:`openpacs.cli.serve` and
:mod:`openpacs.cli.admin`, imported when they run (they load the server and SQLAlchemy).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from openpacs.cli.admin_consent import ASKING_ACTIONS
from openpacs.cli.confirm import add_yes_option

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

ACCOUNT_HELP = "the account's name or AccountUuid"
ROLES = ("admin", "member", "reader")
ROLE_HELP = (
    "admin: everything; member: reads all, uploads and changes, deletes nothing; "
    "reader: reads only the orders assigned to them or their groups"
)


def register(commands: SubParsers) -> None:
    _register_serve(commands)
    _register_admin(commands)
    _register_viewer(commands)


def _register_viewer(commands: SubParsers) -> None:
    viewer = commands.add_parser(
        "viewer",
        help="install the OHIF viewer that the server serves at /viewer/",
        description="The OHIF viewer (@ohif/app's prebuilt bundle), served at /viewer/.",
    )
    sub = viewer.add_subparsers(dest="viewer_command", metavar="ACTION", required=True)
    install = sub.add_parser(
        "install",
        help="download (or take --from), check and unpack the pinned release; idempotent",
        description="Install the pinned @ohif/app release (OPENPACS_OHIF_VERSION and "
        "OPENPACS_OHIF_INTEGRITY choose another) into OPENPACS_OHIF_ROOT (default: inside "
        "this Python environment). The tarball's sha512 must match the pinned integrity.",
    )
    install.add_argument(
        "--from",
        dest="source",
        type=Path,
        default=None,
        metavar="TGZ",
        help="a local copy of the tarball (no download; checked all the same)",
    )
    install.set_defaults(handler="openpacs.cli.viewer:install")


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


#: Set for ``serve`` before its modules load (a native library reads it once, when it
#: loads), unless the environment says otherwise. NumPy's OpenBLAS starts a thread per
#: core at import: 20-100 ms of every start on two busy cores, for matrix products the
#: server makes only in colour conversion, small and one per request (its parallelism
#: is its requests); one thread is also what a forked worker can inherit safely.
SERVE_ENVIRONMENT = {"OPENBLAS_NUM_THREADS": "1"}


def _register_serve(commands: SubParsers) -> None:
    parser = commands.add_parser("serve", help="run the server", description="Run the server.")
    parser.add_argument("--host", default=None, help="listen address (env OPENPACS_HOST)")
    parser.add_argument(
        "--port", type=int, default=None, help="port, 1-65535 (env OPENPACS_PORT; default 8080)"
    )
    parser.add_argument(
        "--public-url", default=None, help="base URL clients use (env OPENPACS_PUBLIC_URL)"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="server processes (env OPENPACS_WORKERS)"
    )
    parser.add_argument(
        "--dicom-port",
        type=int,
        default=None,
        help="DICOM (DIMSE) port, 0 for none (env OPENPACS_DICOM_PORT; default 11112)",
    )
    add_database_options(parser)
    parser.set_defaults(handler="openpacs.cli.serve:run", environment=SERVE_ENVIRONMENT)


def _register_admin(commands: SubParsers) -> None:
    admin = commands.add_parser(
        "admin",
        help="administer accounts and users (server side)",
        description="Accounts, users, groups, institutions and equipment, written straight "
        "into the server's database (run it where the server runs).",
    )
    sub = admin.add_subparsers(dest="admin_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text, description=help_text)
        add_database_options(parser)
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        if name in ASKING_ACTIONS:
            add_yes_option(parser)
        parser.set_defaults(handler="openpacs.cli.admin:run", action=name.replace("-", "_"))
        return parser

    p = action("create-account", "create an account with its admin user")
    p.add_argument("--name", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--password", help="prompted for when not given")
    p.add_argument("--institution", default="", help="name of the default institution")

    p = action("add-user", "add a user to an account")
    p.add_argument("--account", required=True, help=ACCOUNT_HELP)
    p.add_argument("--email", required=True)
    p.add_argument("--password", help="prompted for when not given")
    p.add_argument("--name", default="", help="display name")
    p.add_argument("--role", choices=ROLES, default="member", help=ROLE_HELP)
    p.add_argument(
        "--institution",
        nargs="+",
        metavar="UUID",
        help="limit the user to these institutions (InstitutionUuid; default: all)",
    )

    p = action("add-group", "add a user group to an account")
    p.add_argument("--account", required=True, help=ACCOUNT_HELP)
    p.add_argument("--name", required=True)

    p = action("add-to-group", "put a user into a group")
    p.add_argument("--group", required=True, help="UserGroupUuid")
    p.add_argument("--email", required=True)

    p = action("add-institution", "add an institution to an account")
    p.add_argument("--account", required=True, help=ACCOUNT_HELP)
    p.add_argument("--name", required=True)

    _register_equipment(action)

    p = action("set-password", "change a user's password")
    p.add_argument("--email", required=True)
    p.add_argument("--password", help="prompted for when not given")

    p = action("gc", "remove leftovers of interrupted uploads and deletes")
    p.add_argument("--grace-seconds", type=float, default=3600, help="only what is older than this")
    p.add_argument("--scan-store", action="store_true", help="also look for orphan blobs")

    p = action(
        "migrate-storage",
        "copy every stored file to another blob store (resumable; the server may run)",
    )
    p.add_argument("--from", dest="source", required=True, metavar="URL", help="source store")
    p.add_argument(
        "--to",
        dest="destination",
        required=True,
        metavar="URL",
        help="destination store, e.g. s3://bucket/prefix or file:///srv/blobs",
    )
    p.add_argument(
        "--delete-source",
        action="store_true",
        help="remove each source blob once copied (only when no server reads the source; "
        "asks first)",
    )
    p.add_argument("--workers", type=int, default=4, help="parallel copies (default 4)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    _register_access(action)

    p = action("set-dicomweb", "switch DICOMweb access on or off for an account")
    p.add_argument("--account", required=True, help=ACCOUNT_HELP)
    state = p.add_mutually_exclusive_group(required=True)
    state.add_argument("--enable", dest="enabled", action="store_true")
    state.add_argument("--disable", dest="enabled", action="store_false")


def _register_access(action: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """Roles, disabled users, institution limits and the lists of accounts and users."""
    p = action("set-role", "give a user another role (ends their current logins)")
    p.add_argument("--email", required=True)
    p.add_argument("--role", required=True, choices=ROLES, help=ROLE_HELP)

    p = action(
        "disable-user", "stop a user from signing in, with the password or any token (asks first)"
    )
    p.add_argument("--email", required=True)

    p = action("enable-user", "let a disabled user sign in again")
    p.add_argument("--email", required=True)

    p = action("set-institutions", "limit a user to some institutions of their account")
    p.add_argument("--email", required=True)
    limit = p.add_mutually_exclusive_group(required=True)
    limit.add_argument("--institution", nargs="+", metavar="UUID", help="InstitutionUuid(s)")
    limit.add_argument("--all", action="store_true", help="remove the limit")

    action("list-accounts", "the accounts of this server (AccountUuid, name, users)")

    p = action("list-users", "the users of an account (UserUuid, e-mail, role, state)")
    p.add_argument("--account", required=True, help=ACCOUNT_HELP)


def _register_equipment(action: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """Equipment: devices of an institution; their AE titles are the DICOM node's peers."""

    def network(p: argparse.ArgumentParser, what: str) -> None:
        p.add_argument("--modality", default=None, help="DICOM modality code (CT, MR, ...)")
        p.add_argument(
            "--ae-title",
            default=None,
            help=f"{what}AE title: associations calling with it act for the account",
        )
        p.add_argument(
            "--host", default=None, help=f"{what}host name or address the device listens on"
        )
        p.add_argument(
            "--port",
            type=int,
            default=None,
            help=f"{what}its DICOM port (with --host: a C-MOVE destination)",
        )

    p = action("add-equipment", "add a modality device to an institution")
    p.add_argument("--institution", required=True, help="InstitutionUuid")
    p.add_argument("--name", required=True)
    network(p, "")

    p = action("update-equipment", "change an equipment (name, AE title, host, port)")
    p.add_argument("--equipment", required=True, help="EquipmentUuid")
    p.add_argument("--name", default=None)
    network(p, "new ")
    p.add_argument("--no-port", action="store_true", help="remove the port")

    p = action(
        "remove-equipment", "delete an equipment (its AE title can no longer associate; asks first)"
    )
    p.add_argument("--equipment", required=True, help="EquipmentUuid")
