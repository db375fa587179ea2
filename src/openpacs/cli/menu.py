"""``openpacs menu``: the numbered menu of the vendor guide's sample application.

Each function asks for its parameters one by one, with the guide's hints (date formats,
optional fields: Enter to skip), then calls the SDK. Input comes from stdin, so the menu
also runs from a pipe (``printf '6\\nScans\\n\\n\\n0\\n' | openpacs menu``).

On a terminal the menu fits 80x24 (two columns), waits for Enter after each result (so
the menu does not push the result off the screen), and Ctrl-C at any question goes back
to the menu. An institution is picked from a list, or taken when there is only one.
Deleting asks for a "y" first, in a pipe too.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from openpacs.cli.client_common import FAILED, OK, describe
from openpacs.cli.client_output import show_api_result, show_records, show_retrieve, show_upload
from openpacs.cli.client_progress import progress_bar
from openpacs.client.requests import format_date, format_datetime, split_list, split_tag_ids
from openpacs.client.sync import PacsClient

COLUMN_WIDTH = 39  # two columns of the menu in 80 characters

HINTS = {
    "date": "YYYY-MM-DD",
    "datetime": "YYYY-MM-DD HH:MM",
    "bool": "y/n",
    "list": "comma separated",
    "tags": "e.g. 00100010, (0010,0020), PatientName",
    "uuids": "comma separated",
}


@dataclass(frozen=True)
class Field:
    """One parameter prompt: the guide's name, the SDK keyword, its kind."""

    key: str
    arg: str
    # text, secret, date, datetime, bool, list, tags, path, uuid, uuids (a list of them),
    # institution (picked from the list, or a UUID typed when there is none)
    kind: str = "text"
    required: bool = False
    hint: str = ""


class Prompter:
    """Asks questions on stdout, reads answers from stdin (a terminal or a pipe)."""

    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.tty = self.stdin.isatty()

    def say(self, text: str = "") -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def line(self, label: str, *, secret: bool = False) -> str:
        """One answer; EOFError when the input has ended."""
        if secret and self.tty:
            return getpass.getpass(label)
        self.stdout.write(label)
        self.stdout.flush()
        raw = self.stdin.readline()
        if not raw:
            self.say()
            raise EOFError
        value = raw.rstrip("\r\n")
        if not self.tty:  # show the answer, as a terminal would have
            self.say("" if secret else value)
        return value

    def ask(self, field: Field) -> Any:
        """The value of a field, validated; None for a skipped optional field."""
        hints = [h for h in (field.hint or HINTS.get(field.kind, ""),) if h]
        if not field.required:
            hints.append("optional, Enter to skip")
        label = f"{field.key}" + (f" ({'; '.join(hints)})" if hints else "") + ": "
        while True:
            text = self.line(label, secret=field.kind == "secret").strip()
            if not text:
                if field.required:
                    self.say(f"  {field.key} is required.")
                    continue
                return None
            try:
                return convert(field, text)
            except ValueError as exc:
                self.say(f"  {exc}")

    def choose(self, label: str, options: list[str]) -> int:
        """A 1-based choice among ``options`` (also by the option's first letters)."""
        for number, option in enumerate(options, 1):
            self.say(f"  {number}. {option}")
        while True:
            text = self.line(f"{label} (1-{len(options)}): ").strip().lower()
            if text.isdigit() and 1 <= int(text) <= len(options):
                return int(text)
            for number, option in enumerate(options, 1):
                if text and option.lower().startswith(text):
                    return number
            self.say("  Please choose one of the numbers above.")


def convert(field: Field, text: str) -> Any:
    if field.kind == "date":
        return format_date(text, field.key)
    if field.kind == "datetime":
        return format_datetime(text, field.key)
    if field.kind == "bool":
        answer = text.lower()
        if answer in ("y", "yes", "true", "1", "j", "ja"):
            return True
        if answer in ("n", "no", "false", "0", "nee"):
            return False
        raise ValueError(f"{field.key}: answer y or n")
    if field.kind == "list":
        return split_list(text)
    if field.kind == "tags":
        return split_tag_ids(text)
    if field.kind == "path":
        return Path(text).expanduser()
    if field.kind in ("uuid", "institution"):
        return _uuid(field, text)
    if field.kind == "uuids":
        return [_uuid(field, item) for item in split_list(text)]
    return text


def _uuid(field: Field, text: str) -> str:
    """A UUID checked here, before any question that follows and any call to the server."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ValueError(f"{field.key}: not a UUID: {text!r}") from None


# --------------------------------------------------------------------------- functions

LEVELS = ["Study", "Series", "Instance"]
LEVEL_FIELDS = {
    1: ("StudyInstanceUID", "study_instance_uid"),
    2: ("SeriesInstanceUID", "series_instance_uid"),
    3: ("SOPInstanceUID", "sop_instance_uid"),
}


def ask_retrieve_target(prompter: Prompter) -> dict[str, str]:
    """The guide's interactive retrieve: choose the level, then type the UID."""
    prompter.say("Retrieve level:")
    choice = prompter.choose("Choose the level", LEVELS)
    key, arg = LEVEL_FIELDS[choice]
    uid = prompter.ask(Field(key, arg, required=True))
    return {arg: str(uid)}


def _upload(client: PacsClient, p: Prompter) -> None:
    directory = p.ask(
        Field("DirectoryPath", "directory_path", "path", True, "folder of .dcm files")
    )
    with progress_bar("Uploading", 0) as bar:
        result = client.upload_directory(directory, progress=bar)
    show_upload(result, False)
    if not result.ok:
        raise _PartialFailure(f"{len(result.failed)} of {len(result.files)} files failed")


def _search(client: PacsClient, p: Prompter) -> None:
    p.say("Fill in one of these (the most specific one is used):")
    patient_id = p.ask(Field("PatientID", "patient_id"))
    study = p.ask(Field("StudyInstanceUID", "study_instance_uid", hint="its series are listed"))
    series = p.ask(Field("SeriesInstanceUID", "series_instance_uid", hint="its instances"))
    records = client.search(
        patient_id=patient_id, study_instance_uid=study, series_instance_uid=series
    )
    level = "instance" if series else "series" if study else "study"
    show_records(records, level, False)


def _retrieve(client: PacsClient, p: Prompter) -> None:
    target = ask_retrieve_target(p)
    output = p.ask(Field("OutputFolder", "output_dir", "path", hint="default: here"))
    with progress_bar("Retrieving", 0) as bar:
        result = client.retrieve(**target, output_dir=output, layout="human", progress=bar)
    show_retrieve(result, False)


class _PartialFailure(Exception):
    pass


@dataclass(frozen=True)
class Function:
    title: str
    method: str = ""
    fields: tuple[Field, ...] = ()
    noun: str = "items"
    custom: Callable[[PacsClient, Prompter], None] | None = None
    confirm: str = ""  # a destructive function asks this first


_EXPIRE = Field("ExpireDate", "expire_date", "date", True)
_ORDER = Field("PatientOrderUuid", "patient_order_uuid", "uuid", True)
_ORDER_INSTITUTION = Field(
    "PatientOrderInstitutionUuid", "patient_order_institution_uuid", "institution", True
)

FUNCTIONS: list[Function] = [
    Function("Store DICOM instances (STOW-RS)", custom=_upload),
    Function("Search DICOM objects (QIDO-RS)", custom=_search),
    Function("Retrieve DICOM instances (WADO-RS)", custom=_retrieve),
    Function(
        "Create share link",
        "create_share_link",
        (
            Field(
                "PatientOrderInfoList",
                "patient_order_info_list",
                "uuids",
                True,
                "PatientOrderUuid values, comma separated",
            ),
            _EXPIRE,
            Field("SharePassword", "share_password", "secret"),
            Field("Downloadable", "downloadable", "bool"),
        ),
    ),
    Function(
        "Share patient orders with URL",
        "share_patient_orders",
        (
            Field("OrderUuidList", "order_uuid_list", "uuids", True),
            _EXPIRE,
            Field("SharePassword", "share_password", "secret"),
            Field("UserCanDownloadStudies", "user_can_download_studies", "bool"),
        ),
    ),
    Function(
        "Create folder",
        "create_folder",
        (
            Field("FolderName", "folder_name", required=True),
            Field("FolderDescription", "folder_description"),
            Field("ParentFolderUuid", "parent_folder_uuid", "uuid", hint="empty: at the top"),
        ),
    ),
    Function(
        "Search folders",
        "search_folders",
        (
            Field("ParentFolderUuid", "parent_folder_uuid", "uuid"),
            Field("FolderName", "folder_name", hint="full or partial name"),
            Field("GetOrdersInFolder", "get_orders_in_folder", "bool"),
        ),
        noun="folders",
    ),
    Function(
        "Share folder with URL",
        "share_folder",
        (
            Field("FolderUuid", "folder_uuid", "uuid", True),
            Field("SharePassword", "share_password", "secret"),
            Field("ShareTitle", "share_title"),
            Field("ShareDescription", "share_description"),
            Field("ExpireDate", "expire_date", "date"),
            Field("UserCanDownloadStudies", "user_can_download_studies", "bool"),
        ),
    ),
    Function(
        "Add order to folder",
        "add_order_to_folder",
        (_ORDER, Field("FolderUuidList", "folder_uuid_list", "uuids", True)),
    ),
    Function(
        "Assign order to user",
        "assign_order_to_user",
        (_ORDER, Field("AssignedUserUuid", "assigned_user_uuid", "uuid", True)),
    ),
    Function(
        "Assign order to user group",
        "assign_order_to_user_group",
        (_ORDER, Field("AssignedUserGroupUuid", "assigned_user_group_uuid", "uuid", True)),
    ),
    Function(
        "Create patient order",
        "create_patient_order",
        (
            Field("InstitutionUuid", "institution_uuid", "institution", True),
            Field("PatientName", "patient_name", required=True),
            Field("PatientId", "patient_id", required=True),
            Field("PatientBirthdate", "patient_birthdate", "date", True),
            Field("Modality", "modality", required=True, hint="CT, MR, US, ..."),
            Field("OtherPatientId", "other_patient_id"),
            Field("PatientSex", "patient_sex", hint="M, F, O"),
            Field("StudyDescription", "study_description"),
            Field("AccessionNumber", "accession_number"),
            Field("PatientComplaints", "patient_complaints"),
            Field("OrderScheduledDatetime", "order_scheduled_datetime", "datetime"),
            Field("RequestedProcedureId", "requested_procedure_id"),
            Field("RequestedProcedureDescription", "requested_procedure_description"),
            Field("RequestingPhysician", "requesting_physician"),
            Field("ReferringPhysiciansName", "referring_physicians_name"),
            Field("ScheduledEquipmentUuid", "scheduled_equipment_uuid", "uuid"),
        ),
    ),
    Function("Get patient order properties", "get_patient_order", (_ORDER_INSTITUTION, _ORDER)),
    Function(
        "Search patient orders",
        "search_patient_orders",
        (
            Field("InstitutionUuidList", "institution_uuid_list", "uuids"),
            Field("PatientName", "patient_name"),
            Field("PatientId", "patient_id"),
            Field("OtherPatientId", "other_patient_id"),
            Field("AccessionNumber", "accession_number"),
            Field("ModalityList", "modality_list", "list", hint="e.g. CT, MR"),
            Field("StudyDateFrom", "study_date_from", "date"),
            Field("StudyDateTo", "study_date_to", "date"),
            Field("PatientBirthdateFrom", "patient_birthdate_from", "date"),
            Field("PatientBirthdateTo", "patient_birthdate_to", "date"),
        ),
        noun="orders",
    ),
    Function(
        "Delete patient order",
        "delete_patient_order",
        (_ORDER_INSTITUTION, _ORDER),
        confirm="Delete this order and all its images?",
    ),
    Function(
        "Get DICOM tag content",
        "get_dicom_tag_content",
        (
            _ORDER_INSTITUTION,
            _ORDER,
            Field("PatientSeriesUuid", "patient_series_uuid", "uuid"),
            Field("DicomTagIdList", "dicom_tag_id_list", "tags"),
        ),
    ),
    Function("List institutions", "list_institutions", noun="institutions"),
    Function("List users", "list_users", noun="users"),
    Function("List user groups", "list_user_groups", noun="user groups"),
    Function("List equipment", "list_equipment", noun="equipment"),
    Function("List shares", "list_shares", noun="shares"),
    Function(
        "Delete share",
        "delete_share",
        (Field("ShareUuid", "share_uuid", "uuid", True),),
        confirm="Delete this share link? Its URL stops working at once.",
    ),
]


def choose_institution(client: PacsClient, p: Prompter, field: Field) -> str:
    """The only institution, or one picked from the list (typed when there is none)."""
    found = client.list_institutions()
    if len(found) == 1:
        only = found[0]
        p.say(f"{field.key}: {only.name} ({only.institution_uuid})")
        return only.institution_uuid
    if not found:
        return str(p.ask(field))
    p.say(f"{field.key}:")
    labels = [f"{i.name} ({i.institution_uuid})" for i in found]
    return found[p.choose("Choose the institution", labels) - 1].institution_uuid


class _NotConfirmed(Exception):
    pass


def run_function(client: PacsClient, prompter: Prompter, function: Function) -> None:
    if function.custom is not None:
        function.custom(client, prompter)
        return
    kwargs: dict[str, Any] = {}
    for field in function.fields:
        if field.kind == "institution":
            kwargs[field.arg] = choose_institution(client, prompter, field)
        else:
            kwargs[field.arg] = prompter.ask(field)
    if function.confirm:
        answer = prompter.line(f"{function.confirm} (y/N): ").strip().lower()
        if answer not in ("y", "yes"):
            raise _NotConfirmed("not deleted")
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    result = getattr(client, function.method)(**kwargs)
    show_api_result(result, False, noun=function.noun)


def menu_lines(functions: list[Function] = FUNCTIONS) -> list[str]:
    """The menu in two columns of at most 39 characters: it fits 80x24."""
    cells = [f"{n:>3}. {f.title}" for n, f in enumerate(functions, 1)]
    rows = (len(cells) + 1) // 2
    lines = ["openpacs - DICOMweb functions"]
    for row in range(rows):
        left = cells[row]
        right = cells[row + rows] if row + rows < len(cells) else ""
        lines.append(f"{left:<{COLUMN_WIDTH}} {right}".rstrip())
    lines.append("  0. Exit")
    return lines


def run_menu(client: PacsClient, args: argparse.Namespace, prompter: Prompter | None = None) -> int:
    """The menu loop; 0 when every chosen function succeeded, else 1."""
    p = prompter or Prompter()
    failures = 0
    while True:
        p.say()
        for line in menu_lines():
            p.say(line)
        try:
            text = _option(p)
        except (EOFError, KeyboardInterrupt):
            p.say()
            break
        if text in ("0", "q", "quit", "exit"):
            break
        if not text.isdigit() or not 1 <= int(text) <= len(FUNCTIONS):
            p.say(f"  Unknown option {text!r}: choose 0-{len(FUNCTIONS)}.")
            continue
        function = FUNCTIONS[int(text) - 1]
        p.say(f"-- {function.title}")
        try:
            run_function(client, p, function)
        except EOFError:
            failures += 1
            break
        except KeyboardInterrupt:
            p.say()
            p.say("  Cancelled.")
            continue
        except (_PartialFailure, _NotConfirmed) as exc:
            failures += 1
            print(f"openpacs: {exc}", file=sys.stderr)
        except Exception as exc:
            failures += 1
            if getattr(args, "debug", False):
                import traceback

                traceback.print_exc()
            message, _ = describe(exc, getattr(client, "web_address", ""))
            print(f"openpacs: {message}", file=sys.stderr)
        if not _pause(p):
            break
    return OK if failures == 0 else FAILED


def _option(p: Prompter) -> str:
    """The option typed; an empty line only asks again (the menu is still on screen)."""
    while True:
        text = p.line("Select an option: ").strip()
        if text:
            return text


def _pause(p: Prompter) -> bool:
    """On a terminal, wait for Enter before the menu comes back; False on Ctrl-D."""
    if not p.tty:
        return True
    try:
        p.line("Press Enter for the menu ")
    except (EOFError, KeyboardInterrupt):
        p.say()
        return False
    return True
