"""The custom endpoints of SPEC section 4 (PostDICOM's management calls), as pure data.

``GET {WebAddress}/{path}`` with every parameter in one header: a JSON object of string
values, every key present (``""`` = not given), booleans ``"True"``/``"False"``, lists
as JSON text. Builders check values (dates, required keys) before anything is sent.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from openpacs.client.requests._core import (
    Call,
    DateLike,
    DateTimeLike,
    Reply,
    StrList,
    _bool,
    _compact,
    _list,
    _optional,
    _required,
    check_uid,
    custom_request,
    format_date,
    format_datetime,
    split_list,
)
from openpacs.client.results import (
    Acknowledgement,
    DicomTagContent,
    Equipment,
    Folder,
    Institution,
    OrderList,
    PatientOrder,
    Share,
    User,
    UserGroup,
    json_object,
    list_in,
)


def _object(reply: Reply) -> dict[str, Any]:
    return json_object(reply.json())


def _share(reply: Reply) -> Share:
    return Share.from_json(_object(reply))


def _ack(reply: Reply) -> Acknowledgement:
    return Acknowledgement.from_json(_object(reply))


def _order_info_list(patient_order_info_list: Sequence[str | Mapping[str, str]] | str) -> str:
    if isinstance(patient_order_info_list, str):
        patient_order_info_list = split_list(patient_order_info_list)
    uuids = [u for u in (_order_uuid_of(item) for item in patient_order_info_list) if u]
    if not uuids:
        raise ValueError("PatientOrderInfoList needs at least one PatientOrderUuid")
    # A JSON list of JSON strings, each {"PatientOrderUuid":"..."}: as the samples send it.
    return _compact([_compact({"PatientOrderUuid": uuid}) for uuid in uuids])


def _order_uuid_of(item: str | Mapping[str, str]) -> str:
    if isinstance(item, Mapping):
        return str(item.get("PatientOrderUuid", "")).strip()
    text = str(item).strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"PatientOrderInfoList: {text!r} is not valid JSON") from exc
        if isinstance(data, dict):
            return str(data.get("PatientOrderUuid", "")).strip()
        raise ValueError(f"PatientOrderInfoList: {text!r} is not a JSON object")
    return text


def create_share_link(
    patient_order_info_list: Sequence[str | Mapping[str, str]] | str,
    expire_date: DateLike,
    share_password: str | None = None,
    downloadable: bool | None = None,
) -> Call[Share]:
    """Create a share link for patient orders (``/createsharelink``).

    ``patient_order_info_list`` items may be order UUIDs, ``{"PatientOrderUuid": ...}``
    mappings or their JSON text (as in the guide); a string is a comma-separated list.
    """
    params = {
        "PatientOrderInfoList": _order_info_list(patient_order_info_list),
        "ExpireDate": _required(format_date(expire_date, "ExpireDate"), "ExpireDate"),
        "SharePassword": _optional(share_password),
        "Downloadable": _bool(downloadable),
    }
    return Call(custom_request("createsharelink", "ShareParameters", params), _share)


def share_patient_orders(
    order_uuid_list: StrList,
    expire_date: DateLike,
    share_password: str | None = None,
    user_can_download_studies: bool | None = None,
) -> Call[Share]:
    """Share patient orders with a URL (``/sharepatientorderwithurl``)."""
    params = {
        "OrderUuidList": _list(order_uuid_list, "OrderUuidList", required=True),
        "ExpireDate": _required(format_date(expire_date, "ExpireDate"), "ExpireDate"),
        "SharePassword": _optional(share_password),
        "UserCanDownloadStudies": _bool(user_can_download_studies),
    }
    return Call(
        custom_request("sharepatientorderwithurl", "SharePatientOrderParameters", params), _share
    )


def create_folder(
    folder_name: str,
    folder_description: str | None = None,
    parent_folder_uuid: str | None = None,
) -> Call[Folder]:
    """Create a folder, at the top or inside ``parent_folder_uuid`` (``/createfolder``)."""
    params = {
        "FolderName": _required(folder_name, "FolderName"),
        "FolderDescription": _optional(folder_description),
        "ParentFolderUuid": _optional(parent_folder_uuid),
    }

    def parse(reply: Reply) -> Folder:
        raw = _object(reply)
        folder = Folder.from_json(raw)
        if not folder.folder_name:  # answers often carry only the new UUID
            return Folder(
                folder_uuid=folder.folder_uuid,
                folder_name=params["FolderName"],
                folder_description=params["FolderDescription"],
                parent_folder_uuid=folder.parent_folder_uuid or params["ParentFolderUuid"],
                raw=raw,
            )
        return folder

    return Call(custom_request("createfolder", "CreateFolderParameters", params), parse)


def search_folders(
    parent_folder_uuid: str | None = None,
    folder_name: str | None = None,
    get_orders_in_folder: bool | None = None,
) -> Call[list[Folder]]:
    """Find folders by parent and (part of the) name (``/searchfolder``)."""
    params = {
        "ParentFolderUuid": _optional(parent_folder_uuid),
        "FolderName": _optional(folder_name),
        "GetOrdersInFolder": _bool(get_orders_in_folder),
    }

    def parse(reply: Reply) -> list[Folder]:
        return [Folder.from_json(i) for i in list_in(reply.json(), "FolderList", "Folders")]

    return Call(custom_request("searchfolder", "SearchFolderParameters", params), parse)


def share_folder(
    folder_uuid: str,
    share_password: str | None = None,
    share_title: str | None = None,
    share_description: str | None = None,
    expire_date: DateLike | None = None,
    user_can_download_studies: bool | None = None,
) -> Call[Share]:
    """Share a folder with a URL (``/sharefolderwithurl``); the share follows the folder."""
    params = {
        "FolderUuid": _required(folder_uuid, "FolderUuid"),
        "SharePassword": _optional(share_password),
        "ShareTitle": _optional(share_title),
        "ShareDescription": _optional(share_description),
        "ExpireDate": format_date(expire_date, "ExpireDate"),
        "UserCanDownloadStudies": _bool(user_can_download_studies),
    }
    return Call(custom_request("sharefolderwithurl", "ShareFolderParameters", params), _share)


def add_order_to_folder(
    patient_order_uuid: str, folder_uuid_list: StrList
) -> Call[Acknowledgement]:
    """Put a patient order into one or more folders (``/addordertofolder``)."""
    params = {
        "PatientOrderUuid": _required(patient_order_uuid, "PatientOrderUuid"),
        "FolderUuidList": _list(folder_uuid_list, "FolderUuidList", required=True),
    }
    return Call(custom_request("addordertofolder", "AddOrderToFolderParameters", params), _ack)


def assign_order_to_user(patient_order_uuid: str, assigned_user_uuid: str) -> Call[Acknowledgement]:
    """Assign a patient order to a user (``/assignordertouser``)."""
    params = {
        "PatientOrderUuid": _required(patient_order_uuid, "PatientOrderUuid"),
        "AssignedUserUuid": _required(assigned_user_uuid, "AssignedUserUuid"),
    }
    return Call(custom_request("assignordertouser", "AssignOrderToUserParameters", params), _ack)


def assign_order_to_user_group(
    patient_order_uuid: str, assigned_user_group_uuid: str
) -> Call[Acknowledgement]:
    """Assign a patient order to a user group (``/assignordertousergroup``)."""
    params = {
        "PatientOrderUuid": _required(patient_order_uuid, "PatientOrderUuid"),
        "AssignedUserGroupUuid": _required(assigned_user_group_uuid, "AssignedUserGroupUuid"),
    }
    return Call(
        custom_request("assignordertousergroup", "AssignOrderToUserGroupParameters", params),
        _ack,
    )


def create_patient_order(
    institution_uuid: str,
    patient_name: str,
    patient_id: str,
    patient_birthdate: DateLike,
    modality: str,
    other_patient_id: str | None = None,
    patient_sex: str | None = None,
    study_description: str | None = None,
    accession_number: str | None = None,
    patient_complaints: str | None = None,
    order_scheduled_datetime: DateTimeLike | None = None,
    requested_procedure_id: str | None = None,
    requested_procedure_description: str | None = None,
    requesting_physician: str | None = None,
    referring_physicians_name: str | None = None,
    scheduled_equipment_uuid: str | None = None,
    *,
    study_instance_uid: str | None = None,
) -> Call[PatientOrder]:
    """Create a (scheduled) patient order (``/createpatientorder``).

    ``study_instance_uid`` (an openpacs extension, sent only when given) fixes the UID
    the images will carry; otherwise the server generates one.
    """
    params = {
        "InstitutionUuid": _required(institution_uuid, "InstitutionUuid"),
        "PatientName": _required(patient_name, "PatientName"),
        "PatientId": _required(patient_id, "PatientId"),
        "PatientBirthdate": _required(
            format_date(patient_birthdate, "PatientBirthdate"), "PatientBirthdate"
        ),
        "Modality": _required(modality, "Modality"),
        "OtherPatientId": _optional(other_patient_id),
        "PatientSex": _optional(patient_sex),
        "StudyDescription": _optional(study_description),
        "AccessionNumber": _optional(accession_number),
        "PatientComplaints": _optional(patient_complaints),
        "OrderScheduledDatetime": format_datetime(
            order_scheduled_datetime, "OrderScheduledDatetime"
        ),
        "RequestedProcedureId": _optional(requested_procedure_id),
        "RequestedProcedureDescription": _optional(requested_procedure_description),
        "RequestingPhysician": _optional(requesting_physician),
        "ReferringPhysiciansName": _optional(referring_physicians_name),
        "ScheduledEquipmentUuid": _optional(scheduled_equipment_uuid),
    }
    if study_instance_uid:
        params["StudyInstanceUID"] = check_uid(study_instance_uid, "StudyInstanceUID")

    def parse(reply: Reply) -> PatientOrder:
        raw = _object(reply)
        order = PatientOrder.from_json(raw)
        if order.patient_name or not order.patient_order_uuid:
            return order
        # The answer may carry only the new UUID: fill in what was sent.
        return PatientOrder(
            patient_order_uuid=order.patient_order_uuid,
            institution_uuid=order.institution_uuid or params["InstitutionUuid"],
            patient_name=params["PatientName"],
            patient_id=params["PatientId"],
            other_patient_id=params["OtherPatientId"],
            patient_birthdate=params["PatientBirthdate"],
            patient_sex=params["PatientSex"],
            modality=params["Modality"],
            study_description=params["StudyDescription"],
            accession_number=params["AccessionNumber"],
            study_instance_uid=order.study_instance_uid,
            status=order.status,
            order_scheduled_datetime=params["OrderScheduledDatetime"],
            raw=raw,
        )

    return Call(custom_request("createpatientorder", "CreatePatientOrderParameters", params), parse)


def _single_order(reply: Reply) -> PatientOrder:
    raw = _object(reply)
    for key in ("PatientOrder", "Order", "PatientOrderProperties"):
        inner = raw.get(key)
        if isinstance(inner, dict):
            merged = {**inner, **{k: v for k, v in raw.items() if k != key}}
            return PatientOrder.from_json(merged)
    return PatientOrder.from_json(raw)


def _order_key(
    patient_order_institution_uuid: str | None,
    institution_uuid: str | None,
    patient_order_uuid: str | None,
) -> dict[str, str]:
    """The two keys of one order. The SDK's names are the guide's parameters in snake_case:
    the guide calls the institution ``PatientOrderInstitutionUuid`` here (and
    ``InstitutionUuid`` when creating); ``institution_uuid=`` is a deprecated alias."""
    if institution_uuid is not None:
        warnings.warn(
            "institution_uuid= is deprecated here: use patient_order_institution_uuid= "
            "(the guide's name for an order's institution)",
            DeprecationWarning,
            stacklevel=4,  # _order_key < the builder < the client's method < the caller
        )
    given = {v.strip() for v in (patient_order_institution_uuid, institution_uuid) if v}
    given.discard("")
    if len(given) > 1:
        raise ValueError("give institution_uuid or patient_order_institution_uuid, not both")
    institution = given.pop() if given else None
    return {
        "PatientOrderInstitutionUuid": _required(institution, "PatientOrderInstitutionUuid"),
        "PatientOrderUuid": _required(patient_order_uuid, "PatientOrderUuid"),
    }


def get_patient_order(
    patient_order_institution_uuid: str | None = None,
    patient_order_uuid: str | None = None,
    *,
    institution_uuid: str | None = None,
) -> Call[PatientOrder]:
    """All properties of one patient order, with its series (``/getpatientorderproperties``).

    ``institution_uuid`` is a deprecated alias of ``patient_order_institution_uuid``.
    """
    params = _order_key(patient_order_institution_uuid, institution_uuid, patient_order_uuid)
    return Call(
        custom_request("getpatientorderproperties", "GetPatientOrderPropertiesParameters", params),
        _single_order,
    )


def search_patient_orders(
    institution_uuid_list: StrList | None = None,
    patient_name: str | None = None,
    patient_id: str | None = None,
    other_patient_id: str | None = None,
    accession_number: str | None = None,
    modality_list: StrList | None = None,
    study_date_from: DateLike | None = None,
    study_date_to: DateLike | None = None,
    patient_birthdate_from: DateLike | None = None,
    patient_birthdate_to: DateLike | None = None,
    *,
    assigned_user_uuid: str | None = None,
    assigned_user_group_uuid: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> Call[OrderList]:
    """Find patient orders (``/getpatientorderlist``); every filter is optional.

    The keyword-only filters are openpacs extensions, sent only when given (so the call
    stays exactly the guide's against other servers).
    """
    params = {
        "InstitutionUuidList": _list(institution_uuid_list),
        "PatientName": _optional(patient_name),
        "PatientId": _optional(patient_id),
        "OtherPatientId": _optional(other_patient_id),
        "AccessionNumber": _optional(accession_number),
        "ModalityList": _list(modality_list),
        "StudyDateFrom": format_date(study_date_from, "StudyDateFrom"),
        "StudyDateTo": format_date(study_date_to, "StudyDateTo"),
        "PatientBirthdateFrom": format_date(patient_birthdate_from, "PatientBirthdateFrom"),
        "PatientBirthdateTo": format_date(patient_birthdate_to, "PatientBirthdateTo"),
    }
    extensions = {
        "AssignedUserUuid": _optional(assigned_user_uuid),
        "AssignedUserGroupUuid": _optional(assigned_user_group_uuid),
        "Limit": "" if limit is None else str(int(limit)),
        "Offset": "" if offset is None else str(int(offset)),
    }
    params.update({key: value for key, value in extensions.items() if value})
    return Call(
        custom_request("getpatientorderlist", "GetPatientOrderListParameters", params),
        lambda reply: OrderList.from_json(reply.json()),
    )


def delete_patient_order(
    patient_order_institution_uuid: str | None = None,
    patient_order_uuid: str | None = None,
    *,
    institution_uuid: str | None = None,
) -> Call[Acknowledgement]:
    """Delete a patient order with its images (``/deleteorder``); the institution as in
    :func:`get_patient_order`."""
    params = _order_key(patient_order_institution_uuid, institution_uuid, patient_order_uuid)
    return Call(custom_request("deleteorder", "DeleteOrderParameters", params), _ack)


def get_dicom_tag_content(
    patient_order_institution_uuid: str | None = None,
    patient_order_uuid: str | None = None,
    patient_series_uuid: str | None = None,
    dicom_tag_id_list: StrList | None = None,
    *,
    institution_uuid: str | None = None,
) -> Call[DicomTagContent]:
    """Values of DICOM tags in an order's images (``/getdicomtagcontent``); the
    institution as in :func:`get_patient_order`.

    Tag ids as ``00100010``, ``(0010,0010)``, ``0010,0010`` or keywords. A string is
    split on ``;`` or whitespace when it holds several ``(gggg,eeee)`` ids, else on ``,``.
    """
    params = {
        **_order_key(patient_order_institution_uuid, institution_uuid, patient_order_uuid),
        "PatientSeriesUuid": _optional(patient_series_uuid),
        "DicomTagIdList": _list(split_tag_ids(dicom_tag_id_list)),
    }
    return Call(
        custom_request("getdicomtagcontent", "GetDicomTagContentParameters", params),
        lambda reply: DicomTagContent.from_json(_object(reply)),
    )


def split_tag_ids(value: StrList | None) -> list[str]:
    """Tag ids from a list or one string: ``"(0010,0010) 0010,0020; PatientID"`` gives
    ``["0010,0010", "0010,0020", "PatientID"]`` (a ``gggg,eeee`` pair stays together)."""
    if value is None:
        return []
    if not isinstance(value, str):
        return [str(v).strip() for v in value if str(v).strip()]
    tokens = [t for t in re.split(r"[\s,;()]+", value) if t]
    ids: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if _HEX4.fullmatch(token) and i + 1 < len(tokens) and _HEX4.fullmatch(tokens[i + 1]):
            ids.append(f"{token},{tokens[i + 1]}")
            i += 2
        else:
            ids.append(token)
            i += 1
    return ids


_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")


def _listing(cls: Any, *keys: str) -> Callable[[Reply], list[Any]]:
    def parse(reply: Reply) -> list[Any]:
        return [cls.from_json(item) for item in list_in(reply.json(), *keys)]

    return parse


def list_institutions() -> Call[list[Institution]]:
    """The account's institutions (``/getinstitutionlist``): where orders are created."""
    return Call(
        custom_request("getinstitutionlist", "", {}),
        _listing(Institution, "InstitutionList", "Institutions"),
    )


def list_users() -> Call[list[User]]:
    """The account's users (``/getuserlist``): for ``assign_order_to_user``."""
    return Call(custom_request("getuserlist", "", {}), _listing(User, "UserList"))


def list_user_groups() -> Call[list[UserGroup]]:
    """The account's user groups (``/getusergrouplist``)."""
    return Call(
        custom_request("getusergrouplist", "", {}),
        _listing(UserGroup, "UserGroupList", "GroupList"),
    )


def list_equipment() -> Call[list[Equipment]]:
    """The account's modality devices (``/getequipmentlist``)."""
    return Call(
        custom_request("getequipmentlist", "", {}),
        _listing(Equipment, "EquipmentList"),
    )


def list_shares() -> Call[list[Share]]:
    """The account's share links (``/getsharelist``)."""
    return Call(custom_request("getsharelist", "", {}), _listing(Share, "ShareList"))


def delete_share(share_uuid: str) -> Call[Acknowledgement]:
    """Delete a share link (``/deleteshare``): the link stops working at once."""
    params = {"ShareUuid": _required(share_uuid, "ShareUuid")}
    return Call(custom_request("deleteshare", "DeleteShareParameters", params), _ack)
