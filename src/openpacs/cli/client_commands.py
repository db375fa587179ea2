"""The client subcommands of ``openpacs``: one per function of the vendor guide.

``upload``, ``search``, ``retrieve``, ``share orders|link|folder|delete``, ``shares``,
``folder create|search|add-order``, ``order create|get|search|delete|assign-user|
assign-group``, ``tags``, ``institutions``, ``users``, ``groups``, ``equipment`` and
``menu``. Options are the guide's parameter names in kebab case (``--expire-date``),
some with a short alias (``--order`` for ``--patient-order-uuid``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

from openpacs.cli.client_common import (
    FAILED,
    OK,
    USAGE,
    UsageError,
    add_connection_options,
    fail,
    with_client,
)
from openpacs.cli.client_output import show_api_result, show_records, show_retrieve, show_upload
from openpacs.cli.client_progress import progress_bar
from openpacs.cli.menu import Prompter, ask_retrieve_target, run_menu
from openpacs.client import PacsClient
from openpacs.client.errors import NoDicomFilesError
from openpacs.client.requests import split_list, split_tag_ids
from openpacs.client.upload import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY, find_files

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def register(commands: SubParsers) -> None:
    _register_upload(commands)
    _register_search(commands)
    _register_retrieve(commands)
    _register_share(commands)
    _register_folder(commands)
    _register_order(commands)
    _register_tags(commands)
    _register_lists(commands)
    menu = _command(
        commands, "menu", "the guide's numbered menu of every function", _menu, json_option=False
    )
    menu.description = "Interactive numbered menu; reads answers from stdin (works in a pipe)."


def _command(
    sub: SubParsers,
    name: str,
    help_text: str,
    handler: Callable[[PacsClient, argparse.Namespace], int],
    *,
    json_option: bool = True,
) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    if json_option:
        parser.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    add_connection_options(parser)
    parser.set_defaults(handler=with_client(handler))
    return parser


def _items(values: list[str] | None) -> list[str] | None:
    """List options: repeated, space separated or comma separated."""
    if values is None:
        return None
    return split_list(",".join(values))


def _list_option(parser: argparse.ArgumentParser, *names: str, help_text: str, **kw: Any) -> None:
    parser.add_argument(*names, action="extend", nargs="+", metavar="VALUE", help=help_text, **kw)


def _bool_option(parser: argparse.ArgumentParser, name: str, help_text: str) -> None:
    parser.add_argument(name, action=argparse.BooleanOptionalAction, default=None, help=help_text)


# --------------------------------------------------------------------------- upload


def _register_upload(commands: SubParsers) -> None:
    p = _command(commands, "upload", "upload DICOM files (STOW-RS) with a progress bar", _upload)
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="folders and/or files")
    p.add_argument(
        "--no-recursive", dest="recursive", action="store_false", help="skip sub-folders"
    )
    p.add_argument(
        "--any-file",
        action="store_true",
        help="send every DICOM file (DICM magic), not only *.dcm",
    )
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="files per request")
    p.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="parallel requests")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _upload(client: PacsClient, args: argparse.Namespace) -> int:
    if args.batch_size < 1 or args.concurrency < 1:
        raise UsageError("--batch-size and --concurrency must be at least 1")
    files: list[Path] = []
    for path in args.paths:
        if path.is_dir():
            files.extend(find_files(path, recursive=args.recursive, any_file=args.any_file))
        elif path.exists():
            files.append(path)
        else:
            raise UsageError(f"no such file or folder: {path}")
    if not files:
        where = ", ".join(str(p) for p in args.paths)
        hint = "" if args.any_file else " (--any-file also sends DICOM files without .dcm)"
        raise NoDicomFilesError(f"no {'DICOM' if args.any_file else '.dcm'} files in {where}{hint}")
    with progress_bar("Uploading", len(files), not args.no_progress) as bar:
        result = client.store_instances(
            files, batch_size=args.batch_size, concurrency=args.concurrency, progress=bar
        )
    show_upload(result, args.json)
    if not result.ok:
        return fail(f"{len(result.failed)} of {len(result.files)} files failed", FAILED)
    return OK


# --------------------------------------------------------------------------- search


def _register_search(commands: SubParsers) -> None:
    p = _command(commands, "search", "search studies, series or instances (QIDO-RS)", _search)
    p.add_argument("--patient-id", help="the studies of this patient")
    p.add_argument("--study-instance-uid", "--study", help="the series of this study")
    p.add_argument("--series-instance-uid", "--series", help="the instances of this series")
    p.add_argument(
        "--level",
        choices=["studies", "series", "instances"],
        help="search this level with the standard URLs (the UIDs become filters)",
    )
    p.add_argument(
        "-f",
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any QIDO matching key, e.g. PatientName=Doe* or 00080060=CT (repeatable)",
    )
    p.add_argument("--limit", type=int)
    p.add_argument("--offset", type=int)
    p.add_argument("--fuzzy", action="store_true", help="fuzzymatching=true")
    p.add_argument("--include-field", action="append", metavar="TAG", help="includefield")


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    for item in args.filter:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--filter expects KEY=VALUE, got {item!r}")
        filters[key.strip()] = value
    if args.limit is not None:
        filters["limit"] = args.limit
    if args.offset is not None:
        filters["offset"] = args.offset
    if args.fuzzy:
        filters["fuzzymatching"] = True
    if args.include_field:
        filters["includefield"] = args.include_field
    return filters


def _search(client: PacsClient, args: argparse.Namespace) -> int:
    filters = _filters(args)
    study, series = args.study_instance_uid, args.series_instance_uid
    if args.level is None:
        records = client.search(
            patient_id=args.patient_id,
            study_instance_uid=study,
            series_instance_uid=series,
            **filters,
        )
        level = "instance" if series else "series" if study else "study"
    else:
        if args.patient_id:
            filters["PatientID"] = args.patient_id
        if args.level == "studies":
            if study:
                filters["StudyInstanceUID"] = study
            records = client.search_studies(**filters)
        elif args.level == "series":
            if series:
                filters["SeriesInstanceUID"] = series
            records = client.search_series(study, **filters)
        else:
            records = client.search_instances(study, series, **filters)
        level = {"studies": "study", "series": "series", "instances": "instance"}[args.level]
    show_records(records, level, args.json)
    return OK


# --------------------------------------------------------------------------- retrieve


def _register_retrieve(commands: SubParsers) -> None:
    p = _command(
        commands,
        "retrieve",
        "download a study, series or instance (WADO-RS) into a new folder",
        _retrieve,
    )
    p.description = (
        "Download into a new folder, one .dcm file per instance. With no UID, asks for the "
        "level (Study, Series, Instance) and the UID."
    )
    p.add_argument("--study-instance-uid", "--study", help="a whole study")
    p.add_argument("--series-instance-uid", "--series", help="one series")
    p.add_argument("--sop-instance-uid", "--instance", help="one instance")
    p.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        help="new folder to create (an existing folder gets a new sub-folder); "
        "default ./retrieved-<level>-<time>",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _retrieve(client: PacsClient, args: argparse.Namespace) -> int:
    given = {
        "study_instance_uid": args.study_instance_uid,
        "series_instance_uid": args.series_instance_uid,
        "sop_instance_uid": args.sop_instance_uid,
    }
    target = {k: v for k, v in given.items() if v}
    if len(target) > 1:
        raise UsageError("give only one of --study, --series, --instance")
    if not target:
        try:
            target = ask_retrieve_target(Prompter(stdout=sys.stderr))
        except EOFError:
            raise UsageError("no UID given (use --study, --series or --instance)") from None
    with progress_bar("Retrieving", 0, not args.no_progress) as bar:
        result = client.retrieve(**target, output_dir=args.output_dir, progress=bar)
    show_retrieve(result, args.json)
    if not result.files:
        return fail("the server sent no files", FAILED)
    return OK


# --------------------------------------------------------------------------- shares


def _register_share(commands: SubParsers) -> None:
    share = commands.add_parser("share", help="share orders or a folder with a link")
    sub = share.add_subparsers(dest="share_command", metavar="ACTION", required=True)

    p = _command(sub, "orders", "share patient orders with a URL", _share_orders)
    _list_option(
        p, "--order-uuid-list", "--orders", required=True, help_text="PatientOrderUuid values"
    )
    p.add_argument("--expire-date", required=True, help="YYYY-MM-DD: the link stops after it")
    p.add_argument("--share-password", help="password for the link (default: none)")
    _bool_option(p, "--user-can-download-studies", "allow downloading the studies")

    p = _command(sub, "link", "create a share link for patient orders", _share_link)
    _list_option(
        p,
        "--patient-order-info-list",
        "--orders",
        dest="orders",
        required=True,
        help_text="PatientOrderUuid values",
    )
    p.add_argument("--expire-date", required=True, help="YYYY-MM-DD")
    p.add_argument("--share-password", help="password for the link (default: none)")
    _bool_option(p, "--downloadable", "allow downloading the studies")

    p = _command(sub, "folder", "share a folder with a URL", _share_folder)
    p.add_argument("--folder-uuid", "--folder", required=True)
    p.add_argument("--share-password")
    p.add_argument("--share-title")
    p.add_argument("--share-description")
    p.add_argument("--expire-date", help="YYYY-MM-DD (default: no expiry)")
    _bool_option(p, "--user-can-download-studies", "allow downloading the studies")

    p = _command(sub, "delete", "delete a share link", _share_delete)
    p.add_argument("--share-uuid", "--share", required=True)

    _command(commands, "shares", "list the share links", _shares)


def _share_orders(client: PacsClient, args: argparse.Namespace) -> int:
    share = client.share_patient_orders(
        order_uuid_list=_items(args.order_uuid_list) or [],
        expire_date=args.expire_date,
        share_password=args.share_password,
        user_can_download_studies=args.user_can_download_studies,
    )
    show_api_result(share, args.json)
    return OK


def _share_link(client: PacsClient, args: argparse.Namespace) -> int:
    share = client.create_share_link(
        patient_order_uuids=_items(args.orders) or [],
        expire_date=args.expire_date,
        share_password=args.share_password,
        downloadable=args.downloadable,
    )
    show_api_result(share, args.json)
    return OK


def _share_folder(client: PacsClient, args: argparse.Namespace) -> int:
    share = client.share_folder(
        folder_uuid=args.folder_uuid,
        share_password=args.share_password,
        share_title=args.share_title,
        share_description=args.share_description,
        expire_date=args.expire_date,
        user_can_download_studies=args.user_can_download_studies,
    )
    show_api_result(share, args.json)
    return OK


def _share_delete(client: PacsClient, args: argparse.Namespace) -> int:
    show_api_result(client.delete_share(args.share_uuid), args.json)
    return OK


def _shares(client: PacsClient, args: argparse.Namespace) -> int:
    show_api_result(client.list_shares(), args.json, noun="shares")
    return OK


# --------------------------------------------------------------------------- folders


def _register_folder(commands: SubParsers) -> None:
    folder = commands.add_parser("folder", help="create, find and fill folders")
    sub = folder.add_subparsers(dest="folder_command", metavar="ACTION", required=True)

    p = _command(sub, "create", "create a folder", _folder_create)
    p.add_argument("--folder-name", "--name", required=True)
    p.add_argument("--folder-description", "--description")
    p.add_argument("--parent-folder-uuid", "--parent", help="create inside this folder")

    p = _command(sub, "search", "find folders", _folder_search)
    p.add_argument("--parent-folder-uuid", "--parent", help="only sub-folders of this one")
    p.add_argument("--folder-name", "--name", help="full or partial name")
    _bool_option(p, "--get-orders-in-folder", "list the orders of each folder")

    p = _command(sub, "add-order", "put a patient order into folders", _folder_add_order)
    p.add_argument("--patient-order-uuid", "--order", required=True)
    _list_option(p, "--folder-uuid-list", "--folders", required=True, help_text="FolderUuid values")


def _folder_create(client: PacsClient, args: argparse.Namespace) -> int:
    folder = client.create_folder(
        folder_name=args.folder_name,
        folder_description=args.folder_description,
        parent_folder_uuid=args.parent_folder_uuid,
    )
    show_api_result(folder, args.json)
    return OK


def _folder_search(client: PacsClient, args: argparse.Namespace) -> int:
    folders = client.search_folders(
        parent_folder_uuid=args.parent_folder_uuid,
        folder_name=args.folder_name,
        get_orders_in_folder=args.get_orders_in_folder,
    )
    show_api_result(folders, args.json, noun="folders")
    return OK


def _folder_add_order(client: PacsClient, args: argparse.Namespace) -> int:
    ack = client.add_order_to_folder(
        patient_order_uuid=args.patient_order_uuid,
        folder_uuid_list=_items(args.folder_uuid_list) or [],
    )
    show_api_result(ack, args.json)
    return OK


# --------------------------------------------------------------------------- orders


def _register_order(commands: SubParsers) -> None:
    order = commands.add_parser("order", help="create, find, delete and assign patient orders")
    sub = order.add_subparsers(dest="order_command", metavar="ACTION", required=True)

    p = _command(sub, "create", "create a (scheduled) patient order", _order_create)
    p.add_argument("--institution-uuid", "--institution", required=True)
    p.add_argument("--patient-name", required=True, help="e.g. Doe^John")
    p.add_argument("--patient-id", required=True)
    p.add_argument("--patient-birthdate", required=True, help="YYYY-MM-DD")
    p.add_argument("--modality", required=True, help="CT, MR, US, ...")
    p.add_argument("--other-patient-id")
    p.add_argument("--patient-sex", help="M, F or O")
    p.add_argument("--study-description")
    p.add_argument("--accession-number")
    p.add_argument("--patient-complaints")
    p.add_argument("--order-scheduled-datetime", help="YYYY-MM-DD HH:MM")
    p.add_argument("--requested-procedure-id")
    p.add_argument("--requested-procedure-description")
    p.add_argument("--requesting-physician")
    p.add_argument("--referring-physicians-name")
    p.add_argument("--scheduled-equipment-uuid", "--equipment")

    p = _command(sub, "get", "all properties of one order, with its series", _order_get)
    _order_keys(p)

    p = _command(sub, "search", "find patient orders", _order_search)
    _list_option(p, "--institution-uuid-list", "--institutions", help_text="InstitutionUuid values")
    p.add_argument("--patient-name")
    p.add_argument("--patient-id")
    p.add_argument("--other-patient-id")
    p.add_argument("--accession-number")
    _list_option(p, "--modality-list", "--modalities", help_text="e.g. CT MR")
    p.add_argument("--study-date-from", help="YYYY-MM-DD")
    p.add_argument("--study-date-to", help="YYYY-MM-DD")
    p.add_argument("--patient-birthdate-from", help="YYYY-MM-DD")
    p.add_argument("--patient-birthdate-to", help="YYYY-MM-DD")

    p = _command(sub, "delete", "delete a patient order permanently", _order_delete)
    _order_keys(p)
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    p = _command(sub, "assign-user", "assign an order to a user", _order_assign_user)
    p.add_argument("--patient-order-uuid", "--order", required=True)
    p.add_argument("--assigned-user-uuid", "--user-uuid", required=True)

    p = _command(sub, "assign-group", "assign an order to a user group", _order_assign_group)
    p.add_argument("--patient-order-uuid", "--order", required=True)
    p.add_argument("--assigned-user-group-uuid", "--group-uuid", required=True)


def _order_keys(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--patient-order-institution-uuid",
        "--institution",
        required=True,
        help="the order's InstitutionUuid",
    )
    p.add_argument("--patient-order-uuid", "--order", required=True)


def _order_create(client: PacsClient, args: argparse.Namespace) -> int:
    order = client.create_patient_order(
        institution_uuid=args.institution_uuid,
        patient_name=args.patient_name,
        patient_id=args.patient_id,
        patient_birthdate=args.patient_birthdate,
        modality=args.modality,
        other_patient_id=args.other_patient_id,
        patient_sex=args.patient_sex,
        study_description=args.study_description,
        accession_number=args.accession_number,
        patient_complaints=args.patient_complaints,
        order_scheduled_datetime=args.order_scheduled_datetime,
        requested_procedure_id=args.requested_procedure_id,
        requested_procedure_description=args.requested_procedure_description,
        requesting_physician=args.requesting_physician,
        referring_physicians_name=args.referring_physicians_name,
        scheduled_equipment_uuid=args.scheduled_equipment_uuid,
    )
    show_api_result(order, args.json)
    return OK


def _order_get(client: PacsClient, args: argparse.Namespace) -> int:
    order = client.get_patient_order(
        patient_order_institution_uuid=args.patient_order_institution_uuid,
        patient_order_uuid=args.patient_order_uuid,
    )
    show_api_result(order, args.json)
    return OK


def _order_search(client: PacsClient, args: argparse.Namespace) -> int:
    orders = client.search_patient_orders(
        institution_uuid_list=_items(args.institution_uuid_list),
        patient_name=args.patient_name,
        patient_id=args.patient_id,
        other_patient_id=args.other_patient_id,
        accession_number=args.accession_number,
        modality_list=_items(args.modality_list),
        study_date_from=args.study_date_from,
        study_date_to=args.study_date_to,
        patient_birthdate_from=args.patient_birthdate_from,
        patient_birthdate_to=args.patient_birthdate_to,
    )
    show_api_result(orders, args.json, noun="orders")
    return OK


def _order_delete(client: PacsClient, args: argparse.Namespace) -> int:
    if not args.yes and sys.stdin.isatty():
        answer = input(f"Delete patient order {args.patient_order_uuid} and its images? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Not deleted.", file=sys.stderr)
            return USAGE
    ack = client.delete_patient_order(
        patient_order_institution_uuid=args.patient_order_institution_uuid,
        patient_order_uuid=args.patient_order_uuid,
    )
    show_api_result(ack, args.json)
    return OK


def _order_assign_user(client: PacsClient, args: argparse.Namespace) -> int:
    ack = client.assign_order_to_user(
        patient_order_uuid=args.patient_order_uuid, assigned_user_uuid=args.assigned_user_uuid
    )
    show_api_result(ack, args.json)
    return OK


def _order_assign_group(client: PacsClient, args: argparse.Namespace) -> int:
    ack = client.assign_order_to_user_group(
        patient_order_uuid=args.patient_order_uuid,
        assigned_user_group_uuid=args.assigned_user_group_uuid,
    )
    show_api_result(ack, args.json)
    return OK


# --------------------------------------------------------------------------- tags, lists


def _register_tags(commands: SubParsers) -> None:
    p = _command(commands, "tags", "read DICOM tag values from an order's images", _tags)
    _order_keys(p)
    p.add_argument("--patient-series-uuid", "--series", help="only this series of the order")
    _list_option(
        p,
        "--dicom-tag-id-list",
        "--tag",
        dest="tags",
        help_text="00100010, (0010,0010), 0010,0010 or a keyword",
    )


def _tags(client: PacsClient, args: argparse.Namespace) -> int:
    content = client.get_dicom_tag_content(
        patient_order_institution_uuid=args.patient_order_institution_uuid,
        patient_order_uuid=args.patient_order_uuid,
        patient_series_uuid=args.patient_series_uuid,
        dicom_tag_id_list=split_tag_ids(" ".join(args.tags)) if args.tags else None,
    )
    show_api_result(content, args.json)
    return OK


def _register_lists(commands: SubParsers) -> None:
    def lister(method: str, noun: str) -> Callable[[PacsClient, argparse.Namespace], int]:
        def handler(client: PacsClient, args: argparse.Namespace) -> int:
            show_api_result(getattr(client, method)(), args.json, noun=noun)
            return OK

        return handler

    _command(
        commands, "institutions", "list institutions", lister("list_institutions", "institutions")
    )
    _command(commands, "users", "list users", lister("list_users", "users"))
    _command(commands, "groups", "list user groups", lister("list_user_groups", "user groups"))
    _command(commands, "equipment", "list equipment", lister("list_equipment", "equipment"))


def _menu(client: PacsClient, args: argparse.Namespace) -> int:
    return run_menu(client, args)
