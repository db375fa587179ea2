"""Every request the SDK sends, built as pure data (no I/O): one package, four parts.

- :mod:`._core`: :class:`ApiRequest`, :class:`Reply`, :class:`Call`, value formatting;
- :mod:`.custom`: the custom endpoints (SPEC section 4);
- :mod:`.access`: API tokens and the audit trail (openpacs additions in the same form);
- :mod:`.dicomweb`: QIDO-RS, WADO-RS and STOW-RS.

A builder returns a :class:`Call`: the :class:`ApiRequest` (method, path relative to the
DICOMweb root, headers, query parameters, body) and the function that turns the answer
into a typed result. :class:`~openpacs.client.sync.PacsClient` and
:class:`~openpacs.client.aio.AsyncPacsClient` only send them.

The custom endpoints use the wire format of PostDICOM's sample clients (SPEC section 4):
``GET {WebAddress}/{path}`` with all parameters in one request header holding a JSON
object of *string* values. Every key is always sent, ``""`` meaning "not given";
booleans are ``"True"``/``"False"``; lists are JSON text inside the string.
"""

from openpacs.client.requests._core import (
    DICOM_JSON,
    DICOM_MULTIPART_ACCEPT,
    USER_AGENT,
    ApiRequest,
    Call,
    DateLike,
    DateTimeLike,
    Level,
    QidoValue,
    Reply,
    StrList,
    check_uid,
    custom_request,
    format_date,
    format_datetime,
    join_url,
    split_list,
    uid_segment,
)
from openpacs.client.requests.access import (
    create_api_token,
    get_audit_log,
    list_api_tokens,
    revoke_api_token,
)
from openpacs.client.requests.custom import (
    add_order_to_folder,
    assign_order_to_user,
    assign_order_to_user_group,
    create_folder,
    create_patient_order,
    create_share_link,
    delete_patient_order,
    delete_share,
    get_dicom_tag_content,
    get_patient_order,
    list_equipment,
    list_institutions,
    list_shares,
    list_user_groups,
    list_users,
    search_folders,
    search_patient_orders,
    share_folder,
    share_patient_orders,
    split_tag_ids,
)
from openpacs.client.requests.dicomweb import (
    qido,
    qido_params,
    retrieve_request,
    search,
    search_instances,
    search_series,
    search_studies,
    stow_request,
)

__all__ = [
    "DICOM_JSON",
    "DICOM_MULTIPART_ACCEPT",
    "USER_AGENT",
    "ApiRequest",
    "Call",
    "DateLike",
    "DateTimeLike",
    "Level",
    "QidoValue",
    "Reply",
    "StrList",
    "add_order_to_folder",
    "assign_order_to_user",
    "assign_order_to_user_group",
    "check_uid",
    "create_api_token",
    "create_folder",
    "create_patient_order",
    "create_share_link",
    "custom_request",
    "delete_patient_order",
    "delete_share",
    "format_date",
    "format_datetime",
    "get_audit_log",
    "get_dicom_tag_content",
    "get_patient_order",
    "join_url",
    "list_api_tokens",
    "list_equipment",
    "list_institutions",
    "list_shares",
    "list_user_groups",
    "list_users",
    "qido",
    "qido_params",
    "retrieve_request",
    "revoke_api_token",
    "search",
    "search_folders",
    "search_instances",
    "search_patient_orders",
    "search_series",
    "search_studies",
    "share_folder",
    "share_patient_orders",
    "split_list",
    "split_tag_ids",
    "stow_request",
    "uid_segment",
]
