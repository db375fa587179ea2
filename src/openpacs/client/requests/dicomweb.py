"""DICOMweb requests: QIDO-RS searches, WADO-RS retrieves, STOW-RS stores (pure data)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime

from openpacs.client.errors import PacsError
from openpacs.client.requests._core import (
    _DATE,
    DICOM_JSON,
    DICOM_MULTIPART_ACCEPT,
    ApiRequest,
    Call,
    DateLike,
    Level,
    QidoValue,
    Reply,
    check_uid,
    uid_segment,
)
from openpacs.client.results import DicomRecord, RecordList

_QIDO_CONTROL = {"limit", "offset", "fuzzymatching", "includefield", "orderby"}
_KEYWORDS: dict[str, str] | None = None


def _keyword_for(name: str) -> str:
    """``patient_name`` -> ``PatientName``; tags and exact keywords pass unchanged."""
    global _KEYWORDS
    if name.lower() in _QIDO_CONTROL:
        return name.lower()
    if _KEYWORDS is None:
        from pydicom.datadict import keyword_dict

        _KEYWORDS = {kw.lower(): kw for kw in keyword_dict}
    if name in _KEYWORDS.values():
        return name
    return _KEYWORDS.get(name.replace("_", "").lower(), name)


def _qido_value(value: QidoValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    if isinstance(value, tuple):
        low, high = value
        return f"{_dicom_date(low)}-{_dicom_date(high)}"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value
    return ",".join(str(v) for v in value)


def _dicom_date(value: DateLike | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    text = str(value).strip()
    return text.replace("-", "") if _DATE.fullmatch(text) else text


def qido_params(filters: Mapping[str, QidoValue | None]) -> list[tuple[str, str]]:
    """QIDO query parameters from keyword arguments (None values are left out)."""
    return [
        (_keyword_for(name), _qido_value(value))
        for name, value in filters.items()
        if value is not None
    ]


MORE_RESULTS = "additional results"


def _records(level: Level) -> Callable[[Reply], RecordList]:
    def parse(reply: Reply) -> RecordList:
        if reply.status == 204 or not reply.body.strip():
            return RecordList([])
        data = reply.json()
        if not isinstance(data, list):
            raise PacsError(
                "the QIDO answer is not a list of DICOM JSON objects",
                status=reply.status,
                url=reply.url,
            )
        more = MORE_RESULTS in reply.header("warning").lower()
        return RecordList(
            [DicomRecord(level, item) for item in data if isinstance(item, dict)], more=more
        )

    return parse


def qido(path: str, level: Level, params: list[tuple[str, str]]) -> Call[RecordList]:
    request = ApiRequest("GET", path, headers={"Accept": DICOM_JSON}, params=params)
    return Call(request, _records(level))


def search(
    patient_id: str | None = None,
    study_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
    **qido_filters: QidoValue | None,
) -> Call[RecordList]:
    """The guide's search, in PostDICOM's URL forms.

    - ``series_instance_uid``: the instances of a series
      (``GET studies/series/instances?0020000E=...``);
    - else ``study_instance_uid``: the series of a study (``GET studies/series?0020000D=...``);
    - else the studies, of ``patient_id`` when given (``GET studies?00100020=...``).

    Any other QIDO parameter (``PatientName="Doe*"``, ``limit=10``, ``includefield=...``)
    is added to the query.
    """
    extra = qido_params(qido_filters)
    if series_instance_uid:
        params = [("0020000E", check_uid(series_instance_uid, "SeriesInstanceUID"))]
        if study_instance_uid:
            params.append(("0020000D", check_uid(study_instance_uid, "StudyInstanceUID")))
        if patient_id:
            params.append(("00100020", patient_id))
        return qido("studies/series/instances", "instance", params + extra)
    if study_instance_uid:
        params = [("0020000D", check_uid(study_instance_uid, "StudyInstanceUID"))]
        if patient_id:
            params.append(("00100020", patient_id))
        return qido("studies/series", "series", params + extra)
    params = [("00100020", patient_id)] if patient_id else []
    return qido("studies", "study", params + extra)


def search_studies(**filters: QidoValue | None) -> Call[RecordList]:
    """QIDO-RS ``GET studies`` with any matching keys and controls."""
    return qido("studies", "study", qido_params(filters))


def search_series(
    study_instance_uid: str | None = None, **filters: QidoValue | None
) -> Call[RecordList]:
    """QIDO-RS ``GET studies/{study}/series`` (or ``GET series`` across all studies)."""
    if study_instance_uid:
        path = f"studies/{uid_segment(study_instance_uid, 'StudyInstanceUID')}/series"
    else:
        path = "series"
    return qido(path, "series", qido_params(filters))


def search_instances(
    study_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
    **filters: QidoValue | None,
) -> Call[RecordList]:
    """QIDO-RS instances of a series, of a study, or across everything."""
    params = qido_params(filters)
    if study_instance_uid and series_instance_uid:
        study = uid_segment(study_instance_uid, "StudyInstanceUID")
        series = uid_segment(series_instance_uid, "SeriesInstanceUID")
        path = f"studies/{study}/series/{series}/instances"
    elif study_instance_uid:
        path = f"studies/{uid_segment(study_instance_uid, 'StudyInstanceUID')}/instances"
    else:
        path = "instances"
        if series_instance_uid:
            uid = check_uid(series_instance_uid, "SeriesInstanceUID")
            params = [("0020000E", uid), *params]
    return qido(path, "instance", params)


# --------------------------------------------------------------------------- WADO-RS, STOW-RS


def retrieve_request(
    study_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
) -> tuple[Level, str, ApiRequest]:
    """The guide's retrieve (PostDICOM URL forms); exactly one UID must be given."""
    candidates: list[tuple[Level, str | None]] = [
        ("study", study_instance_uid),
        ("series", series_instance_uid),
        ("instance", sop_instance_uid),
    ]
    given = [(level, uid) for level, uid in candidates if uid]
    if len(given) != 1:
        raise ValueError(
            "give exactly one of study_instance_uid, series_instance_uid, sop_instance_uid"
        )
    level, uid = given[0]
    assert uid is not None
    names = {
        "study": "StudyInstanceUID",
        "series": "SeriesInstanceUID",
        "instance": "SOPInstanceUID",
    }
    prefixes = {
        "study": "studies",
        "series": "studies/series",
        "instance": "studies/series/instances",
    }
    segment = uid_segment(uid, names[level])
    request = ApiRequest(
        "GET", f"{prefixes[level]}/{segment}", headers={"Accept": DICOM_MULTIPART_ACCEPT}
    )
    return level, uid.strip(), request


def stow_request(path: str, content_type: str) -> ApiRequest:
    """The head of a STOW-RS request; the clients attach the streamed multipart body."""
    return ApiRequest("POST", path, headers={"Content-Type": content_type, "Accept": DICOM_JSON})
