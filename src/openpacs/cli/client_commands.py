"""What the client commands do; their arguments are in :mod:`.client_parsers`.

Each function takes the connected client and the parsed arguments and returns the exit
code (0 done, 1 failed, 2 usage error); :func:`~.client_common.with_client` opens the
client and turns errors into one line.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any

from openpacs.cli.client_common import (
    FAILED,
    OK,
    fail,
    read_secret,
    with_client,
)
from openpacs.cli.client_output import (
    show_api_result,
    show_order,
    show_records,
    show_retrieve,
    show_upload,
)
from openpacs.cli.client_progress import progress_bar
from openpacs.cli.confirm import confirmed
from openpacs.cli.menu import Prompter, ask_retrieve_target, run_menu
from openpacs.cli.usage import UsageError
from openpacs.client.requests import split_list, split_tag_ids
from openpacs.client.sync import PacsClient


def _items(values: list[str] | None) -> list[str] | None:
    """List options: repeated, space separated or comma separated."""
    if values is None:
        return None
    return split_list(",".join(values))


def _share_password(args: argparse.Namespace) -> str | None:
    """``--share-password`` without a value: ask for it (never on the command line)."""
    if args.share_password != "":
        return args.share_password  # type: ignore[no-any-return]
    password = read_secret("Share password: ", repeat=True)
    if not password:
        raise UsageError("no share password given")
    return password


# --------------------------------------------------------------------------- DICOMweb


@with_client
def upload(client: PacsClient, args: argparse.Namespace) -> int:
    with progress_bar("Uploading", 0, not args.no_progress) as bar:
        result = client.upload_paths(
            args.paths,
            recursive=args.recursive,
            batch_size=args.batch_size,
            concurrency=args.concurrency,
            progress=bar,
        )
    show_upload(result, args.json)
    if not result.ok:
        return fail(f"{len(result.failed)} of {len(result.files)} files failed", FAILED)
    return OK


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


@with_client
def search(client: PacsClient, args: argparse.Namespace) -> int:
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
    show_records(records, level, args.json, offset=args.offset or 0)
    return OK


@with_client
def retrieve(client: PacsClient, args: argparse.Namespace) -> int:
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
        result = client.retrieve(
            **target, output_dir=args.output_dir, layout=args.layout, progress=bar
        )
    show_retrieve(result, args.json)
    if not result.files:
        return fail("the server sent no files", FAILED)
    return OK


# --------------------------------------------------------------------------- shares


@with_client
def share_orders(client: PacsClient, args: argparse.Namespace) -> int:
    share = client.share_patient_orders(
        order_uuid_list=_items(args.order_uuid_list) or [],
        expire_date=args.expire_date,
        share_password=_share_password(args),
        user_can_download_studies=args.user_can_download_studies,
    )
    show_api_result(share, args.json)
    return OK


@with_client
def share_link(client: PacsClient, args: argparse.Namespace) -> int:
    share = client.create_share_link(
        patient_order_info_list=_items(args.orders) or [],
        expire_date=args.expire_date,
        share_password=_share_password(args),
        downloadable=args.downloadable,
    )
    show_api_result(share, args.json)
    return OK


@with_client
def share_folder(client: PacsClient, args: argparse.Namespace) -> int:
    share = client.share_folder(
        folder_uuid=args.folder_uuid,
        share_password=_share_password(args),
        share_title=args.share_title,
        share_description=args.share_description,
        expire_date=args.expire_date,
        user_can_download_studies=args.user_can_download_studies,
    )
    show_api_result(share, args.json)
    return OK


@with_client
def share_delete(client: PacsClient, args: argparse.Namespace) -> int:
    question = f"Delete share link {args.share_uuid}?"
    if not confirmed(question, yes=args.yes):
        return fail("not deleted", FAILED)
    show_api_result(client.delete_share(args.share_uuid), args.json)
    return OK


@with_client
def shares(client: PacsClient, args: argparse.Namespace) -> int:
    show_api_result(client.list_shares(), args.json, noun="shares")
    return OK


# --------------------------------------------------------------------------- folders


@with_client
def folder_create(client: PacsClient, args: argparse.Namespace) -> int:
    # A name clash is the server's 409, whose reason names the existing folder, its place
    # and its FolderUuid: printed as every error is (run_guarded).
    folder = client.create_folder(
        folder_name=args.folder_name,
        folder_description=args.folder_description,
        parent_folder_uuid=args.parent_folder_uuid,
    )
    show_api_result(folder, args.json)
    return OK


@with_client
def folder_search(client: PacsClient, args: argparse.Namespace) -> int:
    folders = client.search_folders(
        parent_folder_uuid=args.parent_folder_uuid,
        folder_name=args.folder_name,
        get_orders_in_folder=args.get_orders_in_folder,
    )
    show_api_result(folders, args.json, noun="folders")
    return OK


@with_client
def folder_add_order(client: PacsClient, args: argparse.Namespace) -> int:
    ack = client.add_order_to_folder(
        patient_order_uuid=args.patient_order_uuid,
        folder_uuid_list=_items(args.folder_uuid_list) or [],
    )
    show_api_result(ack, args.json)
    return OK


# --------------------------------------------------------------------------- orders


@with_client
def order_create(client: PacsClient, args: argparse.Namespace) -> int:
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


@with_client
def order_get(client: PacsClient, args: argparse.Namespace) -> int:
    order = client.get_patient_order(
        patient_order_institution_uuid=args.patient_order_institution_uuid,
        patient_order_uuid=args.patient_order_uuid,
    )
    if args.json:
        show_order(order, True)
        return OK
    users = {u.user_uuid: _user_name(u.name, u.email) for u in client.list_users()}
    groups = (
        {g.user_group_uuid: g.name for g in client.list_user_groups()}
        if order.assigned_user_group_uuid
        else {}
    )
    show_order(order, False, user_names=users, group_names=groups)
    return OK


def _user_name(name: str, email: str) -> str:
    return f"{name} <{email}>" if name and name != email else email


def _assignee(client: PacsClient, who: str) -> dict[str, str]:
    """``--assigned-to``: a user (e-mail or UserUuid) or a group (name or UserGroupUuid)."""
    wanted = who.strip().casefold()
    if _is_uuid(wanted):
        if any(u.user_uuid == wanted for u in client.list_users()):
            return {"assigned_user_uuid": wanted}
        if any(g.user_group_uuid == wanted for g in client.list_user_groups()):
            return {"assigned_user_group_uuid": wanted}
        raise UsageError(f"--assigned-to: no user or group {who}")
    users = [u for u in client.list_users() if u.email.casefold() == wanted]
    if users:
        return {"assigned_user_uuid": users[0].user_uuid}
    groups = [g for g in client.list_user_groups() if g.name.casefold() == wanted]
    if len(groups) == 1:
        return {"assigned_user_group_uuid": groups[0].user_group_uuid}
    raise UsageError(f"--assigned-to: no user with the e-mail or group named {who!r}")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


@with_client
def order_search(client: PacsClient, args: argparse.Namespace) -> int:
    assignee = _assignee(client, args.assigned_to) if args.assigned_to else {}
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
        limit=args.limit,
        offset=args.offset,
        **assignee,
    )
    show_api_result(orders, args.json, noun="orders", offset=args.offset or 0)
    return OK


@with_client
def order_delete(client: PacsClient, args: argparse.Namespace) -> int:
    question = f"Delete order {args.patient_order_uuid} and its images?"
    if not confirmed(question, yes=args.yes):
        return fail("not deleted", FAILED)
    ack = client.delete_patient_order(
        patient_order_institution_uuid=args.patient_order_institution_uuid,
        patient_order_uuid=args.patient_order_uuid,
    )
    show_api_result(ack, args.json)
    return OK


@with_client
def order_assign_user(client: PacsClient, args: argparse.Namespace) -> int:
    ack = client.assign_order_to_user(
        patient_order_uuid=args.patient_order_uuid, assigned_user_uuid=args.assigned_user_uuid
    )
    show_api_result(ack, args.json)
    return OK


@with_client
def order_assign_group(client: PacsClient, args: argparse.Namespace) -> int:
    ack = client.assign_order_to_user_group(
        patient_order_uuid=args.patient_order_uuid,
        assigned_user_group_uuid=args.assigned_user_group_uuid,
    )
    show_api_result(ack, args.json)
    return OK


# --------------------------------------------------------------------------- tags, lists


@with_client
def tags(client: PacsClient, args: argparse.Namespace) -> int:
    content = client.get_dicom_tag_content(
        patient_order_institution_uuid=args.patient_order_institution_uuid,
        patient_order_uuid=args.patient_order_uuid,
        patient_series_uuid=args.patient_series_uuid,
        dicom_tag_id_list=split_tag_ids(" ".join(args.tags)) if args.tags else None,
    )
    show_api_result(content, args.json)
    return OK


@with_client
def listing(client: PacsClient, args: argparse.Namespace) -> int:
    """``institutions``, ``users``, ``groups``, ``equipment``: the parser names the SDK
    method (``args.method``) and the noun of the count (``args.noun``)."""
    show_api_result(getattr(client, args.method)(), args.json, noun=args.noun)
    return OK


@with_client
def menu(client: PacsClient, args: argparse.Namespace) -> int:
    return run_menu(client, args)
