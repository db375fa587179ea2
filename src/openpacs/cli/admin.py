"""``openpacs admin ...``: accounts, users, groups, institutions, equipment (direct DB access).

The arguments are in :mod:`openpacs.cli.server_parsers`; ``run`` checks the settings
(the data directory and the SQLite database must exist: admin never creates an empty
one), opens the database and calls the action named by ``args.action``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from openpacs.cli.admin_consent import refusal
from openpacs.cli.common import checked_settings, fail, open_database, print_json
from openpacs.cli.usage import UsageError
from openpacs.index.db import Database
from openpacs.index.models import Equipment, User
from openpacs.services import accounts
from openpacs.services.errors import ServiceError
from openpacs.services.gc import collect_garbage
from openpacs.services.migrate_storage import migrate_storage
from openpacs.services.passwords import check_password_strength
from openpacs.settings import Settings, settings_from_env
from openpacs.storage.factory import blob_store_for, open_blob_store

Result = dict[str, Any] | list[dict[str, Any]]
# Columns of identifiers (never cut in a table).
IDENTIFIERS = ("Uuid", "Email", "Institutions")
Action = Callable[[Session, argparse.Namespace], Result]


def run(args: argparse.Namespace) -> int:
    if args.action == "migrate_storage" and _same_store(args.source, args.destination):
        return fail("--from and --to name the same store", 2)
    settings = checked_settings(args, server=False)
    try:
        refused = refusal(args)
    except UsageError as exc:
        return fail(str(exc), 2)
    if refused is not None:
        return fail(refused, 1)
    if args.action == "migrate_storage":
        return _migrate_storage(args, settings)
    db = open_database(settings.effective_database_url)
    result: Result
    try:
        if args.action == "gc":
            result = _gc(db, settings, args)
        else:
            with db.session() as session:
                result = ACTIONS[args.action](session, args)
    except (ServiceError, ValueError) as exc:
        return fail(str(getattr(exc, "reason", exc)), 1)
    finally:
        db.dispose()
    _show(result, args.json)
    return 0


def _show(result: Result, as_json: bool) -> None:
    if as_json:
        print_json(result)
        return
    if isinstance(result, list):
        _table(result)
        return
    for key, value in result.items():
        print(f"{key}: {_cell(value) if isinstance(value, list) or value is None else value}")


def _table(rows: list[dict[str, Any]]) -> None:
    """A list result as a table that fits the terminal (identifiers never cut)."""
    from openpacs.cli.tables import Column, render, stdout_console

    if not rows:
        print("(none)")
        return
    names = list(rows[0])
    columns = [Column(name, identifier=name.endswith(IDENTIFIERS)) for name in names]
    cells = [[_cell(row[name]) for name in names] for row in rows]
    render(stdout_console(), columns, cells)


def _cell(value: Any) -> str:
    if value is None:  # a setting left out, such as an equipment's port: shown blank
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):  # institutions a user is limited to; none: no limit
        return " ".join(str(item) for item in value) or "all"
    return str(value)


def _password(args: argparse.Namespace) -> str:
    """The new password (flag, pipe or prompt), refused when weak (WeakPassword)."""
    password = _given_password(args)
    check_password_strength(password)
    return password


def _given_password(args: argparse.Namespace) -> str:
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
    account = accounts.find_account(session, args.account)
    user = accounts.add_user(
        session,
        account,
        email=args.email,
        password=_password(args),
        display_name=args.name,
        role=args.role,
    )
    if args.institution:
        accounts.set_institutions(session, user.email, args.institution)
    return {
        "UserUuid": user.uuid,
        "Email": user.email,
        "Role": user.role,
        "Institutions": accounts.user_institution_uuids(session, user),
    }


def _add_group(session: Session, args: argparse.Namespace) -> dict[str, Any]:
    group = accounts.add_group(session, accounts.find_account(session, args.account), args.name)
    return {"UserGroupUuid": group.uuid, "Name": group.name}


def _add_to_group(session: Session, args: argparse.Namespace) -> dict[str, Any]:
    group, user = accounts.add_to_group(session, args.group, args.email)
    return {"UserGroupUuid": group.uuid, "UserUuid": user.uuid}


def _add_institution(session: Session, args: argparse.Namespace) -> dict[str, Any]:
    account = accounts.find_account(session, args.account)
    institution = accounts.add_institution(session, account, args.name)
    return {"InstitutionUuid": institution.uuid, "Name": institution.name}


def _add_equipment(session: Session, args: argparse.Namespace) -> dict[str, Any]:
    equipment = accounts.add_equipment(
        session,
        args.institution,
        name=args.name,
        modality=args.modality or "",
        ae_title=args.ae_title or "",
        host=args.host or "",
        port=args.port,
        check_host=settings_from_env().dicom_check_host,
    )
    return _equipment(equipment)


def _update_equipment(session: Session, args: argparse.Namespace) -> dict[str, Any]:
    change = accounts.EquipmentChange(
        name=args.name,
        modality=args.modality,
        ae_title=args.ae_title,
        host=args.host,
        port=args.port,
        no_port=args.no_port,
    )
    equipment = accounts.update_equipment(
        session, args.equipment, change, check_host=settings_from_env().dicom_check_host
    )
    return _equipment(equipment)


def _remove_equipment(session: Session, args: argparse.Namespace) -> dict[str, Any]:
    equipment = accounts.remove_equipment(session, args.equipment)
    return {"EquipmentUuid": equipment.uuid, "Removed": True}


def _equipment(equipment: Equipment) -> dict[str, Any]:
    return {
        "EquipmentUuid": equipment.uuid,
        "Name": equipment.name,
        "Modality": equipment.modality,
        "AETitle": equipment.ae_title,
        "Host": equipment.host,
        "Port": equipment.port,
    }


def _set_password(session: Session, args: argparse.Namespace) -> dict[str, Any]:
    user = accounts.set_password(session, args.email, _password(args))
    return {"UserUuid": user.uuid, "Email": user.email}


def _set_dicomweb(session: Session, args: argparse.Namespace) -> dict[str, Any]:
    account = accounts.find_account(session, args.account)
    accounts.set_dicomweb(session, account, bool(args.enabled))
    return {"AccountUuid": account.uuid, "DicomwebEnabled": account.dicomweb_enabled}


def _user_state(session: Session, user: User) -> dict[str, Any]:
    return {
        "UserUuid": user.uuid,
        "Email": user.email,
        "Role": user.role,
        "Disabled": user.disabled,
        "Institutions": accounts.user_institution_uuids(session, user),
    }


def _set_role(session: Session, args: argparse.Namespace) -> Result:
    return _user_state(session, accounts.set_role(session, args.email, args.role))


def _disable_user(session: Session, args: argparse.Namespace) -> Result:
    return _user_state(session, accounts.set_disabled(session, args.email, True))


def _enable_user(session: Session, args: argparse.Namespace) -> Result:
    return _user_state(session, accounts.set_disabled(session, args.email, False))


def _set_institutions(session: Session, args: argparse.Namespace) -> Result:
    uuids = [] if args.all else list(args.institution or [])
    if not uuids and not args.all:
        raise ValueError("give --institution UUID... or --all")
    return _user_state(session, accounts.set_institutions(session, args.email, uuids))


def _list_accounts(session: Session, _args: argparse.Namespace) -> Result:
    return accounts.list_accounts(session)


def _list_users(session: Session, args: argparse.Namespace) -> Result:
    return accounts.list_users(session, accounts.find_account(session, args.account))


# The actions that run in one session; ``gc`` and ``migrate_storage`` manage their own.
ACTIONS: dict[str, Action] = {
    "create_account": _create_account,
    "add_user": _add_user,
    "add_group": _add_group,
    "add_to_group": _add_to_group,
    "add_institution": _add_institution,
    "add_equipment": _add_equipment,
    "update_equipment": _update_equipment,
    "remove_equipment": _remove_equipment,
    "set_password": _set_password,
    "set_dicomweb": _set_dicomweb,
    "set_role": _set_role,
    "disable_user": _disable_user,
    "enable_user": _enable_user,
    "set_institutions": _set_institutions,
    "list_accounts": _list_accounts,
    "list_users": _list_users,
}


def _gc(db: Database, settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    report = collect_garbage(
        db,
        blob_store_for(settings),
        grace_seconds=args.grace_seconds,
        scan_store=args.scan_store,
    )
    return {
        "ReservationsRemoved": report.reservations_removed,
        "StagingFilesRemoved": report.staging_files_removed,
        "OrphanBlobsRemoved": report.orphan_blobs_removed,
    }


def _same_store(source: str, destination: str) -> bool:
    return bool(source.rstrip("/") == destination.rstrip("/"))


def _migrate_storage(args: argparse.Namespace, settings: Settings) -> int:
    from openpacs.cli.client_progress import progress_bar

    staging = settings.data_dir / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    db = open_database(settings.effective_database_url)
    try:
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
