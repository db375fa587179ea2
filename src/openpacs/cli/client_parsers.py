"""Arguments of the client commands: one per function of the vendor guide.

``upload``, ``search``, ``retrieve``, ``share orders|link|folder|delete``, ``shares``,
``folder create|search|add-order``, ``order create|get|search|delete|assign-user|
assign-group``, ``tags``, ``institutions``, ``users``, ``groups``, ``equipment`` and
``menu``; ``token create|list|revoke`` and ``audit`` (:mod:`.access_parsers`). Options
are the guide's parameter names in kebab case (``--expire-date``), some with a short
alias (``--order`` for ``--patient-order-uuid``). Identifiers are checked here, before
any network call.

Parsers only (nothing heavy is imported): each command runs a function of
:mod:`openpacs.cli.client_commands`, named in ``handler``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TypeAlias

from openpacs.cli import access_parsers
from openpacs.cli.arg_types import (
    non_negative_int,
    positive_float,
    positive_int,
    uuid_list_text,
    uuid_text,
)
from openpacs.cli.confirm import add_yes_option
from openpacs.client.defaults import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONCURRENCY,
    DEFAULT_TIMEOUT,
    EXAMPLE_URL,
)

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

LAYOUTS = ("human", "uid", "flat", "cd")


def register(commands: SubParsers) -> None:
    _register_upload(commands)
    _register_search(commands)
    _register_retrieve(commands)
    _register_share(commands)
    _register_folder(commands)
    _register_order(commands)
    _register_tags(commands)
    _register_lists(commands)
    access_parsers.register(commands, _json_command)
    menu = _command(commands, "menu", "the guide's numbered menu of every function", "menu")
    menu.description = "Interactive numbered menu; reads answers from stdin (works in a pipe)."


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--url", default=None, help=f"DICOMweb root, e.g. {EXAMPLE_URL} (env OPENPACS_URL)"
    )
    group.add_argument("--user", default=None, help="user name / e-mail (env OPENPACS_USER)")
    group.add_argument(
        "--password",
        default=None,
        help="password (env OPENPACS_PASSWORD; prefer the environment or the prompt: "
        "a flag is visible in the process list)",
    )
    group.add_argument(
        "--token",
        default=None,
        help="an API token instead of user and password (env OPENPACS_TOKEN; prefer the "
        "environment)",
    )
    group.add_argument(
        "--timeout",
        type=positive_float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds per network operation ({DEFAULT_TIMEOUT:g})",
    )
    group.add_argument(
        "--insecure", action="store_true", help="do not verify the server's TLS certificate"
    )
    parser.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )


def _command(
    sub: SubParsers, name: str, help_text: str, handler: str, *, json_option: bool = False
) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    if json_option:
        parser.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    add_connection_options(parser)
    parser.set_defaults(handler=f"openpacs.cli.client_commands:{handler}")
    return parser


def _json_command(
    sub: SubParsers, name: str, help_text: str, handler: str
) -> argparse.ArgumentParser:
    return _command(sub, name, help_text, handler, json_option=True)


def _list_option(parser: argparse.ArgumentParser, *names: str, help_text: str, **kw: Any) -> None:
    parser.add_argument(*names, action="extend", nargs="+", metavar="VALUE", help=help_text, **kw)


def _uuid_list_option(
    parser: argparse.ArgumentParser, *names: str, help_text: str, **kw: Any
) -> None:
    parser.add_argument(
        *names,
        action="extend",
        nargs="+",
        type=uuid_list_text,
        metavar="UUID",
        help=help_text + " (space or comma separated)",
        **kw,
    )


def _bool_option(parser: argparse.ArgumentParser, name: str, help_text: str) -> None:
    parser.add_argument(name, action=argparse.BooleanOptionalAction, default=None, help=help_text)


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--share-password",
        nargs="?",
        const="",
        default=None,
        metavar="PASSWORD",
        help="protect the link with a password; without a value it is asked for "
        "(never shown; a value on the command line is visible in the process list)",
    )


# --------------------------------------------------------------------------- DICOMweb


def _register_upload(commands: SubParsers) -> None:
    p = _json_command(
        commands, "upload", "upload DICOM files (STOW-RS) with a progress bar", "upload"
    )
    p.description = (
        "Upload DICOM files: *.dcm and every file that starts like DICOM (a CD's "
        "IMAGES/IM00001, ...); other files are skipped and counted."
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="folders and/or files")
    p.add_argument(
        "--no-recursive", dest="recursive", action="store_false", help="skip sub-folders"
    )
    p.add_argument("--any-file", action="store_true", help=argparse.SUPPRESS)  # now the default
    p.add_argument(
        "--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE, help="files per request"
    )
    p.add_argument(
        "--concurrency", type=positive_int, default=DEFAULT_CONCURRENCY, help="parallel requests"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _register_search(commands: SubParsers) -> None:
    p = _json_command(commands, "search", "search studies, series or instances (QIDO-RS)", "search")
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
    p.add_argument("--limit", type=positive_int, help="at most this many results")
    p.add_argument("--offset", type=non_negative_int, help="skip this many results first")
    p.add_argument("--fuzzy", action="store_true", help="fuzzymatching=true")
    p.add_argument("--include-field", action="append", metavar="TAG", help="includefield")


def _register_retrieve(commands: SubParsers) -> None:
    p = _json_command(
        commands, "retrieve", "download a study, series or instance (WADO-RS)", "retrieve"
    )
    p.description = (
        "Download DICOM files. With no UID, asks for the level (Study, Series, Instance) "
        "and the UID. Layouts: human (default) PatientID_StudyDate/SeriesNumber_"
        "Description/InstanceNumber.dcm; uid StudyUID/SeriesUID/SOPInstanceUID.dcm; "
        "flat: one new folder, files numbered as they arrive; cd: a patient-CD folder "
        "with a DICOMDIR. An existing file is never overwritten."
    )
    p.add_argument("--study-instance-uid", "--study", help="a whole study")
    p.add_argument("--series-instance-uid", "--series", help="one series")
    p.add_argument("--sop-instance-uid", "--instance", help="one instance")
    p.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        help="where to write (default: the current folder; for --layout flat a new "
        "folder retrieved-<level>-<time>; for --layout cd a new folder)",
    )
    p.add_argument("--layout", choices=LAYOUTS, default="human", help="file names (default human)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


# --------------------------------------------------------------------------- shares, folders


def _register_share(commands: SubParsers) -> None:
    share = commands.add_parser("share", help="share orders or a folder with a link")
    sub = share.add_subparsers(dest="share_command", metavar="ACTION", required=True)

    p = _json_command(sub, "orders", "share patient orders with a URL", "share_orders")
    _uuid_list_option(
        p, "--order-uuid-list", "--orders", required=True, help_text="PatientOrderUuid values"
    )
    p.add_argument("--expire-date", required=True, help="YYYY-MM-DD: the link stops after it")
    _password_option(p)
    _bool_option(p, "--user-can-download-studies", "allow downloading the studies")

    p = _json_command(sub, "link", "create a share link for patient orders", "share_link")
    _uuid_list_option(
        p,
        "--patient-order-info-list",
        "--orders",
        dest="orders",
        required=True,
        help_text="PatientOrderUuid values",
    )
    p.add_argument("--expire-date", required=True, help="YYYY-MM-DD")
    _password_option(p)
    _bool_option(p, "--downloadable", "allow downloading the studies")

    p = _json_command(sub, "folder", "share a folder with a URL", "share_folder")
    p.add_argument("--folder-uuid", "--folder", type=uuid_text, required=True)
    _password_option(p)
    p.add_argument("--share-title")
    p.add_argument("--share-description")
    p.add_argument("--expire-date", help="YYYY-MM-DD (default: no expiry)")
    _bool_option(p, "--user-can-download-studies", "allow downloading the studies")

    p = _json_command(sub, "delete", "delete a share link (asks first)", "share_delete")
    p.add_argument("--share-uuid", "--share", type=uuid_text, required=True)
    add_yes_option(p)

    _json_command(commands, "shares", "list the share links", "shares")


def _register_folder(commands: SubParsers) -> None:
    folder = commands.add_parser("folder", help="create, find and fill folders")
    sub = folder.add_subparsers(dest="folder_command", metavar="ACTION", required=True)

    p = _json_command(sub, "create", "create a folder", "folder_create")
    p.add_argument("--folder-name", "--name", required=True)
    p.add_argument("--folder-description", "--description")
    p.add_argument(
        "--parent-folder-uuid", "--parent", type=uuid_text, help="create inside this folder"
    )

    p = _json_command(sub, "search", "find folders", "folder_search")
    p.add_argument(
        "--parent-folder-uuid", "--parent", type=uuid_text, help="only sub-folders of this one"
    )
    p.add_argument("--folder-name", "--name", help="full or partial name")
    _bool_option(p, "--get-orders-in-folder", "list the orders of each folder")

    p = _json_command(sub, "add-order", "put a patient order into folders", "folder_add_order")
    p.add_argument("--patient-order-uuid", "--order", type=uuid_text, required=True)
    _uuid_list_option(
        p, "--folder-uuid-list", "--folders", required=True, help_text="FolderUuid values"
    )


# --------------------------------------------------------------------------- orders


def _register_order(commands: SubParsers) -> None:
    order = commands.add_parser("order", help="create, find, delete and assign patient orders")
    sub = order.add_subparsers(dest="order_command", metavar="ACTION", required=True)

    p = _json_command(sub, "create", "create a (scheduled) patient order", "order_create")
    p.add_argument("--institution-uuid", "--institution", type=uuid_text, required=True)
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
    p.add_argument("--scheduled-equipment-uuid", "--equipment", type=uuid_text)

    p = _json_command(sub, "get", "all properties of one order, with its series", "order_get")
    _order_keys(p)

    p = _json_command(sub, "search", "find patient orders", "order_search")
    _uuid_list_option(
        p, "--institution-uuid-list", "--institutions", help_text="InstitutionUuid values"
    )
    p.add_argument("--patient-name", help="name or start of it; * and ? are wildcards")
    p.add_argument("--patient-id")
    p.add_argument("--other-patient-id")
    p.add_argument("--accession-number")
    _list_option(p, "--modality-list", "--modalities", help_text="e.g. CT MR or CT,MR")
    p.add_argument("--study-date-from", help="YYYY-MM-DD")
    p.add_argument("--study-date-to", help="YYYY-MM-DD")
    p.add_argument("--patient-birthdate-from", help="YYYY-MM-DD")
    p.add_argument("--patient-birthdate-to", help="YYYY-MM-DD")
    p.add_argument(
        "--assigned-to",
        metavar="WHO",
        help="orders assigned to this user (e-mail or UserUuid) or group (name or UserGroupUuid)",
    )
    p.add_argument("--limit", type=positive_int, help="at most this many orders (server: 1000)")
    p.add_argument("--offset", type=non_negative_int, help="skip this many orders first")

    p = _json_command(
        sub, "delete", "delete a patient order and its images (asks first)", "order_delete"
    )
    _order_keys(p)
    add_yes_option(p)

    p = _json_command(sub, "assign-user", "assign an order to a user", "order_assign_user")
    p.add_argument("--patient-order-uuid", "--order", type=uuid_text, required=True)
    p.add_argument("--assigned-user-uuid", "--user-uuid", type=uuid_text, required=True)

    p = _json_command(sub, "assign-group", "assign an order to a user group", "order_assign_group")
    p.add_argument("--patient-order-uuid", "--order", type=uuid_text, required=True)
    p.add_argument("--assigned-user-group-uuid", "--group-uuid", type=uuid_text, required=True)


def _order_keys(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--patient-order-institution-uuid",
        "--institution",
        type=uuid_text,
        required=True,
        help="the order's InstitutionUuid",
    )
    p.add_argument("--patient-order-uuid", "--order", type=uuid_text, required=True)


# --------------------------------------------------------------------------- tags, lists


def _register_tags(commands: SubParsers) -> None:
    p = _json_command(commands, "tags", "read DICOM tag values from an order's images", "tags")
    _order_keys(p)
    p.add_argument(
        "--patient-series-uuid", "--series", type=uuid_text, help="only this series of the order"
    )
    _list_option(
        p,
        "--dicom-tag-id-list",
        "--tag",
        dest="tags",
        help_text="00100010, (0010,0010), 0010,0010 or a keyword",
    )


LISTS = (
    ("institutions", "list_institutions", "institutions"),
    ("users", "list_users", "users"),
    ("groups", "list_user_groups", "user groups"),
    ("equipment", "list_equipment", "equipment"),
)


def _register_lists(commands: SubParsers) -> None:
    for name, method, noun in LISTS:
        p = _json_command(commands, name, f"list the account's {noun}", "listing")
        p.set_defaults(method=method, noun=noun)
