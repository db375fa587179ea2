"""``openpacs admin ...``: accounts, users, groups, institutions, equipment (direct DB access)."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from openpacs.cli.common import add_database_options, fail, print_json, settings_from_args
from openpacs.index.db import Database
from openpacs.services import accounts
from openpacs.services.bootstrap import prepare_database
from openpacs.services.errors import ServiceError
from openpacs.services.gc import collect_garbage
from openpacs.services.migrate_storage import migrate_storage
from openpacs.storage.factory import blob_store_for, open_blob_store

Action = Callable[[Session, argparse.Namespace], dict[str, Any]]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = commands.add_parser("admin", help="administer accounts and users (server side)")
    sub = admin.add_subparsers(dest="admin_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str, func: Action) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text)
        add_database_options(parser)
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.set_defaults(handler=lambda args: _run(args, func))
        return parser

    p = action("create-account", "create an account with its admin user", _create_account)
    p.add_argument("--name", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--password", help="prompted for when not given")
    p.add_argument("--institution", default="", help="name of the default institution")

    p = action("add-user", "add a user to an account", _add_user)
    p.add_argument("--account", required=True, help="AccountUuid")
    p.add_argument("--email", required=True)
    p.add_argument("--password", help="prompted for when not given")
    p.add_argument("--name", default="", help="display name")
    p.add_argument("--role", choices=["admin", "member"], default="member")

    p = action("add-group", "add a user group to an account", _add_group)
    p.add_argument("--account", required=True, help="AccountUuid")
    p.add_argument("--name", required=True)

    p = action("add-to-group", "put a user into a group", _add_to_group)
    p.add_argument("--group", required=True, help="UserGroupUuid")
    p.add_argument("--email", required=True)

    p = action("add-institution", "add an institution to an account", _add_institution)
    p.add_argument("--account", required=True, help="AccountUuid")
    p.add_argument("--name", required=True)

    p = action("add-equipment", "add a modality device to an institution", _add_equipment)
    p.add_argument("--institution", required=True, help="InstitutionUuid")
    p.add_argument("--name", required=True)
    p.add_argument("--modality", default="")
    p.add_argument("--ae-title", default="")

    p = action("set-password", "change a user's password", _set_password)
    p.add_argument("--email", required=True)
    p.add_argument("--password", help="prompted for when not given")

    p = action("gc", "remove leftovers of interrupted uploads and deletes", _gc)
    p.add_argument("--grace-seconds", type=float, default=3600, help="only what is older than this")
    p.add_argument("--scan-store", action="store_true", help="also look for orphan blobs")

    p = sub.add_parser(
        "migrate-storage",
        help="copy every stored file to another blob store (resumable; the server may run)",
    )
    add_database_options(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
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
        help="remove each source blob once copied (only when no server reads the source)",
    )
    p.add_argument("--workers", type=int, default=4, help="parallel copies (default 4)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=_migrate_storage)

    p = action("set-dicomweb", "switch DICOMweb access on or off for an account", _set_dicomweb)
    p.add_argument("--account", required=True, help="AccountUuid")
    state = p.add_mutually_exclusive_group(required=True)
    state.add_argument("--enable", dest="enabled", action="store_true")
    state.add_argument("--disable", dest="enabled", action="store_false")


def _password(args: argparse.Namespace) -> str:
    if args.password:
        return str(args.password)
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            raise ValueError("no password given (use --password or type it on stdin)")
        return line
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise ValueError("the passwords do not match")
    if not first:
        raise ValueError("an empty password is not allowed")
    return first


def _run(args: argparse.Namespace, func: Action) -> int:
    settings = settings_from_args(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.effective_database_url)
    try:
        prepare_database(db)
        with db.session() as session:
            result = func(session, args)
    except (ServiceError, ValueError) as exc:
        return fail(str(getattr(exc, "reason", exc)), 1)
    finally:
        db.dispose()
    if args.json:
        print_json(result)
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


def _create_account(session: Session, args: argparse.Namespace) -> dict[str, Any]:
    created = accounts.create_account(
        session,
        name=args.name,
        email=args.email,
        password=_password(args),
        institution_name=args.institution,
    )
    return {
        "AccountUuid": created.account_uuid,
        "UserUuid": created.user_uuid,
        "InstitutionUuid": created.institution_uuid,
        "Email": created.email,
    }


def _add_user(session: Session, args: argparse.Namespace) -> dict[str, Any]:
    account = accounts.account_by_uuid(session, args.account)
    user = accounts.add_user(
        session,
        account,
        email=args.email,
        password=_password(args),
        display_name=args.name,
        role=args.role,
    )
    return {"UserUuid": user.uuid, "Email": user.email, "Role": user.role}


def _add_group(session: Session, args: argparse.Namespace) -> dict[str, Any]:
    group = accounts.add_group(session, accounts.account_by_uuid(session, args.account), args.name)
    return {"UserGroupUuid": group.uuid, "Name": group.name}


def _add_to_group(session: Session, args: argparse.Namespace) -> dict[str, Any]:
    group, user = accounts.add_to_group(session, args.group, args.email)
    return {"UserGroupUuid": group.uuid, "UserUuid": user.uuid}


def _add_institution(session: Session, args: argparse.Namespace) -> dict[str, Any]:
    account = accounts.account_by_uuid(session, args.account)
    institution = accounts.add_institution(session, account, args.name)
    return {"InstitutionUuid": institution.uuid, "Name": institution.name}


def _add_equipment(session: Session, args: argparse.Namespace) -> dict[str, Any]:
    equipment = accounts.add_equipment(
        session,
        args.institution,
        name=args.name,
        modality=args.modality,
        ae_title=args.ae_title,
    )
    return {
        "EquipmentUuid": equipment.uuid,
        "Name": equipment.name,
        "Modality": equipment.modality,
        "AETitle": equipment.ae_title,
    }


def _set_password(session: Session, args: argparse.Namespace) -> dict[str, Any]:
    user = accounts.set_password(session, args.email, _password(args))
    return {"UserUuid": user.uuid, "Email": user.email}


def _gc(session: Session, args: argparse.Namespace) -> dict[str, Any]:
    settings = settings_from_args(args)
    db = Database(settings.effective_database_url)
    try:
        report = collect_garbage(
            db,
            blob_store_for(settings),
            grace_seconds=args.grace_seconds,
            scan_store=args.scan_store,
        )
    finally:
        db.dispose()
    return {
        "ReservationsRemoved": report.reservations_removed,
        "StagingFilesRemoved": report.staging_files_removed,
        "OrphanBlobsRemoved": report.orphan_blobs_removed,
    }


def _migrate_storage(args: argparse.Namespace) -> int:
    from openpacs.cli.client_progress import progress_bar

    settings = settings_from_args(args)
    if args.source.rstrip("/") == args.destination.rstrip("/"):
        return fail("--from and --to name the same store", 2)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    staging = settings.data_dir / "staging"
    db = Database(settings.effective_database_url)
    try:
        prepare_database(db)
        source = open_blob_store(args.source, staging_dir=staging)
        destination = open_blob_store(args.destination, staging_dir=staging)
        with progress_bar("Migrating", 0, enabled=not args.no_progress) as bar:
            report = migrate_storage(
                db,
                source,
                destination,
                delete_source=args.delete_source,
                workers=args.workers,
                progress=bar,
            )
    except (ServiceError, ValueError) as exc:
        return fail(str(getattr(exc, "reason", exc)), 1)
    finally:
        db.dispose()
    if args.json:
        print_json(report.as_dict())
    else:
        for error in report.errors:
            print(f"openpacs: {error}", file=sys.stderr)
        print(f"migrate-storage: {report.summary()}")
    return 0 if report.ok else 1


def _set_dicomweb(session: Session, args: argparse.Namespace) -> dict[str, Any]:
    account = accounts.account_by_uuid(session, args.account)
    accounts.set_dicomweb(session, account, bool(args.enabled))
    return {"AccountUuid": account.uuid, "DicomwebEnabled": account.dicomweb_enabled}
