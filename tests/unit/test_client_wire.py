"""The exact requests the SDK sends (method, path, headers, body), via httpx.MockTransport.

The custom endpoints must match SPEC section 4 byte for byte: one header holding a JSON
object of string values, every key present, ``"True"``/``"False"``, lists as JSON text,
``PatientOrderInfoList`` double-encoded. Uploads and retrieves are checked by parsing
the streamed bodies with the project's own multipart parser.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage

from openpacs.client import (
    AsyncPacsClient,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectionFailed,
    IncompleteResponse,
    NoDicomFilesError,
    NotFoundError,
    PacsClient,
    PacsError,
    PermissionDenied,
    ServerError,
)
from openpacs.client.upload import BatchPlanner, LocalFile
from openpacs.protocol.multipart import (
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
    encode_parts,
    get_boundary,
    parse_content_type,
)

ROOT = "http://pacs.test/dicomweb"
USER, PASSWORD = "me@example.org", "s3cret-wachtwoord"
ORDER = "1f0e4a52-8b7c-4a61-9d3e-2a0c5b7e9f11"
ORDER2 = "2a1b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
INSTITUTION = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
FOLDER = "9b2d3e4f-1a2b-4c3d-8e9f-0a1b2c3d4e5f"


class Recorder:
    """A MockTransport handler that records requests and answers from a script."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []
        self.answer = answer or (lambda request: httpx.Response(200, json={}))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        self.requests.append(request)
        self.bodies.append(body)
        return self.answer(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def make_client(recorder: Recorder, **kwargs: Any) -> PacsClient:
    kwargs.setdefault("backoff", 0.0)
    return PacsClient(ROOT, USER, PASSWORD, transport=httpx.MockTransport(recorder), **kwargs)


def param_header(request: httpx.Request, name: str) -> str:
    assert request.method == "GET"
    assert request.read() == b""
    value = request.headers.get(name)
    assert value is not None, f"header {name} missing; got {dict(request.headers)}"
    return value


# --------------------------------------------------------------------------- basics


def test_basic_auth_and_web_address_joining() -> None:
    rec = Recorder()
    client = PacsClient(ROOT + "/", USER, PASSWORD, transport=httpx.MockTransport(rec))
    client.list_institutions()
    request = rec.last
    assert str(request.url) == f"{ROOT}/getinstitutionlist"
    expected = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert "openpacs-client" in request.headers["user-agent"]


def test_web_address_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        PacsClient("pacs.test/dicomweb", USER, PASSWORD)


# --------------------------------------------------------------------------- custom endpoints

CUSTOM_CASES: list[tuple[str, Callable[[PacsClient], Any], str, str, str]] = [
    (
        "create_share_link",
        lambda c: c.create_share_link([ORDER, ORDER2], "2031-01-31", "pw", True),
        "createsharelink",
        "ShareParameters",
        '{"PatientOrderInfoList":"[\\"{\\\\\\"PatientOrderUuid\\\\\\":\\\\\\"'
        + ORDER
        + '\\\\\\"}\\",\\"{\\\\\\"PatientOrderUuid\\\\\\":\\\\\\"'
        + ORDER2
        + '\\\\\\"}\\"]","ExpireDate":"2031-01-31","SharePassword":"pw","Downloadable":"True"}',
    ),
    (
        "share_patient_orders",
        lambda c: c.share_patient_orders([ORDER, ORDER2], date(2031, 1, 31)),
        "sharepatientorderwithurl",
        "SharePatientOrderParameters",
        '{"OrderUuidList":"[\\"' + ORDER + '\\",\\"' + ORDER2 + '\\"]",'
        '"ExpireDate":"2031-01-31","SharePassword":"","UserCanDownloadStudies":""}',
    ),
    (
        "create_folder",
        lambda c: c.create_folder("Scans 2024"),
        "createfolder",
        "CreateFolderParameters",
        '{"FolderName":"Scans 2024","FolderDescription":"","ParentFolderUuid":""}',
    ),
    (
        "search_folders",
        lambda c: c.search_folders(folder_name="Scan", get_orders_in_folder=False),
        "searchfolder",
        "SearchFolderParameters",
        '{"ParentFolderUuid":"","FolderName":"Scan","GetOrdersInFolder":"False"}',
    ),
    (
        "share_folder",
        lambda c: c.share_folder(
            FOLDER,
            share_title="Team",
            share_description="For review",
            user_can_download_studies=True,
        ),
        "sharefolderwithurl",
        "ShareFolderParameters",
        '{"FolderUuid":"' + FOLDER + '","SharePassword":"","ShareTitle":"Team",'
        '"ShareDescription":"For review","ExpireDate":"","UserCanDownloadStudies":"True"}',
    ),
    (
        "add_order_to_folder",
        lambda c: c.add_order_to_folder(ORDER, [FOLDER]),
        "addordertofolder",
        "AddOrderToFolderParameters",
        '{"PatientOrderUuid":"' + ORDER + '","FolderUuidList":"[\\"' + FOLDER + '\\"]"}',
    ),
    (
        "assign_order_to_user",
        lambda c: c.assign_order_to_user(ORDER, ORDER2),
        "assignordertouser",
        "AssignOrderToUserParameters",
        '{"PatientOrderUuid":"' + ORDER + '","AssignedUserUuid":"' + ORDER2 + '"}',
    ),
    (
        "assign_order_to_user_group",
        lambda c: c.assign_order_to_user_group(ORDER, ORDER2),
        "assignordertousergroup",
        "AssignOrderToUserGroupParameters",
        '{"PatientOrderUuid":"' + ORDER + '","AssignedUserGroupUuid":"' + ORDER2 + '"}',
    ),
    (
        "get_patient_order",
        lambda c: c.get_patient_order(INSTITUTION, ORDER),
        "getpatientorderproperties",
        "GetPatientOrderPropertiesParameters",
        '{"PatientOrderInstitutionUuid":"' + INSTITUTION + '","PatientOrderUuid":"' + ORDER + '"}',
    ),
    (
        "search_patient_orders",
        lambda c: c.search_patient_orders(
            patient_name="Doe", modality_list="MR, CT", study_date_from="2020-01-01"
        ),
        "getpatientorderlist",
        "GetPatientOrderListParameters",
        '{"InstitutionUuidList":"","PatientName":"Doe","PatientId":"","OtherPatientId":"",'
        '"AccessionNumber":"","ModalityList":"[\\"MR\\",\\"CT\\"]","StudyDateFrom":"2020-01-01",'
        '"StudyDateTo":"","PatientBirthdateFrom":"","PatientBirthdateTo":""}',
    ),
    (
        "delete_patient_order",
        lambda c: c.delete_patient_order(INSTITUTION, ORDER),
        "deleteorder",
        "DeleteOrderParameters",
        '{"PatientOrderInstitutionUuid":"' + INSTITUTION + '","PatientOrderUuid":"' + ORDER + '"}',
    ),
    (
        "get_dicom_tag_content",
        lambda c: c.get_dicom_tag_content(
            INSTITUTION, ORDER, dicom_tag_id_list=["00100010", "(0010,0020)"]
        ),
        "getdicomtagcontent",
        "GetDicomTagContentParameters",
        '{"PatientOrderInstitutionUuid":"' + INSTITUTION + '","PatientOrderUuid":"' + ORDER + '",'
        '"PatientSeriesUuid":"","DicomTagIdList":"[\\"00100010\\",\\"(0010,0020)\\"]"}',
    ),
    (
        "delete_share",
        lambda c: c.delete_share(ORDER2),
        "deleteshare",
        "DeleteShareParameters",
        '{"ShareUuid":"' + ORDER2 + '"}',
    ),
]


@pytest.mark.parametrize(
    ("name", "invoke", "path", "header", "expected"),
    CUSTOM_CASES,
    ids=[case[0] for case in CUSTOM_CASES],
)
def test_custom_endpoint_wire_format(
    name: str, invoke: Callable[[PacsClient], Any], path: str, header: str, expected: str
) -> None:
    rec = Recorder()
    with make_client(rec) as client:
        invoke(client)
    assert len(rec.requests) == 1
    request = rec.last
    assert str(request.url) == f"{ROOT}/{path}"
    assert param_header(request, header) == expected
    # Every value is a string, whatever its kind.
    assert all(isinstance(v, str) for v in json.loads(expected).values())


def test_share_link_order_info_list_is_a_list_of_json_strings() -> None:
    rec = Recorder()
    with make_client(rec) as client:
        client.create_share_link(
            [{"PatientOrderUuid": ORDER}, json.dumps({"PatientOrderUuid": ORDER2})], "2031-01-31"
        )
    outer = json.loads(param_header(rec.last, "ShareParameters"))
    inner = json.loads(outer["PatientOrderInfoList"])
    assert [json.loads(item) for item in inner] == [
        {"PatientOrderUuid": ORDER},
        {"PatientOrderUuid": ORDER2},
    ]
    assert outer["Downloadable"] == "" and outer["SharePassword"] == ""


def test_share_link_takes_plain_uuids_too() -> None:
    rec = Recorder()
    with make_client(rec) as client:
        client.create_share_link(patient_order_info_list=[ORDER], expire_date="2031-01-31")
    outer = json.loads(param_header(rec.last, "ShareParameters"))
    assert json.loads(outer["PatientOrderInfoList"]) == [f'{{"PatientOrderUuid":"{ORDER}"}}']


def test_create_patient_order_sends_every_key_in_order() -> None:
    rec = Recorder(lambda r: httpx.Response(200, json={"PatientOrderUuid": ORDER}))
    with make_client(rec) as client:
        order = client.create_patient_order(
            INSTITUTION,
            "Müller^Jürgen",
            "P-1",
            date(1970, 5, 17),
            "MR",
            patient_sex="M",
            order_scheduled_datetime=datetime(2030, 2, 3, 14, 5),
        )
    raw = param_header(rec.last, "CreatePatientOrderParameters")
    assert raw.isascii()  # non-ASCII is \u-escaped JSON, so it fits in a header
    params = json.loads(raw)
    assert list(params) == [
        "InstitutionUuid",
        "PatientName",
        "PatientId",
        "PatientBirthdate",
        "Modality",
        "OtherPatientId",
        "PatientSex",
        "StudyDescription",
        "AccessionNumber",
        "PatientComplaints",
        "OrderScheduledDatetime",
        "RequestedProcedureId",
        "RequestedProcedureDescription",
        "RequestingPhysician",
        "ReferringPhysiciansName",
        "ScheduledEquipmentUuid",
    ]
    assert params["PatientName"] == "Müller^Jürgen"
    assert params["PatientBirthdate"] == "1970-05-17"
    assert params["OrderScheduledDatetime"] == "2030-02-03 14:05"
    assert params["StudyDescription"] == ""
    # The answer held only the UUID: the result is completed from what was sent.
    assert order.patient_order_uuid == ORDER
    assert order.patient_name == "Müller^Jürgen"


def test_extension_keys_only_when_given() -> None:
    rec = Recorder(lambda r: httpx.Response(200, json={"PatientOrderList": []}))
    with make_client(rec) as client:
        client.search_patient_orders()
        client.search_patient_orders(limit=10, offset=20)
    plain = json.loads(param_header(rec.requests[0], "GetPatientOrderListParameters"))
    assert "Limit" not in plain and "Offset" not in plain
    paged = json.loads(param_header(rec.requests[1], "GetPatientOrderListParameters"))
    assert paged["Limit"] == "10" and paged["Offset"] == "20"


def test_listing_endpoints_have_no_parameter_header() -> None:
    rec = Recorder(lambda r: httpx.Response(200, json={}))
    with make_client(rec) as client:
        client.list_institutions()
        client.list_users()
        client.list_user_groups()
        client.list_equipment()
        client.list_shares()
    paths = [r.url.path for r in rec.requests]
    assert paths == [
        "/dicomweb/getinstitutionlist",
        "/dicomweb/getuserlist",
        "/dicomweb/getusergrouplist",
        "/dicomweb/getequipmentlist",
        "/dicomweb/getsharelist",
    ]
    for request in rec.requests:
        assert request.method == "GET"
        assert not any(name.lower().endswith("parameters") for name in request.headers)


@pytest.mark.parametrize(
    "invoke",
    [
        lambda c: c.create_share_link([ORDER], "2031-13-01"),
        lambda c: c.create_share_link([ORDER], "31-01-2031"),
        lambda c: c.share_patient_orders([ORDER], "2031/01/31"),
        lambda c: c.share_folder(FOLDER, expire_date="tomorrow"),
        lambda c: c.create_patient_order(INSTITUTION, "A", "1", "1970-02-30", "CT"),
        lambda c: c.create_patient_order(
            INSTITUTION, "A", "1", "1970-01-01", "CT", order_scheduled_datetime="2030-01-01"
        ),
        lambda c: c.search_patient_orders(study_date_to="2020-1-1"),
        lambda c: c.create_folder(""),
        lambda c: c.create_share_link([], "2031-01-31"),
        lambda c: c.add_order_to_folder(ORDER, []),
    ],
)
def test_bad_input_is_refused_before_sending(invoke: Callable[[PacsClient], Any]) -> None:
    rec = Recorder()
    with make_client(rec) as client, pytest.raises(ValueError):
        invoke(client)
    assert rec.requests == []


def test_results_are_typed_and_keep_raw() -> None:
    answers = {
        "/dicomweb/sharefolderwithurl": {
            "ShareUuid": ORDER2,
            "ShareUrl": "http://pacs.test/share/abc",
            "ExpireDate": "2031-01-31",
            "Something": "new",
        },
        "/dicomweb/getuserlist": {
            "UserList": [{"UserUuid": ORDER, "Email": "a@b.c", "DisplayName": "A", "Role": "admin"}]
        },
        "/dicomweb/getpatientorderlist": {
            "PatientOrderList": [
                {
                    "PatientOrderUuid": ORDER,
                    "PatientOrderInstitutionUuid": INSTITUTION,
                    "OrderStatus": "Scheduled",
                    "ModalitiesInStudy": ["MR", "CT"],
                }
            ],
            "TotalCount": 5,
            "Limit": 1,
            "Offset": 0,
        },
        "/dicomweb/getdicomtagcontent": {
            "PatientOrderUuid": ORDER,
            "SeriesList": [
                {
                    "PatientSeriesUuid": ORDER2,
                    "SeriesInstanceUID": "1.2.3",
                    "InstanceList": [
                        {
                            "SOPInstanceUID": "1.2.3.4",
                            "DicomTags": {
                                "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^J"}]},
                                "00080060": {"vr": "CS", "Value": ["MR"]},
                            },
                        }
                    ],
                }
            ],
        },
    }
    rec = Recorder(lambda r: httpx.Response(200, json=answers[r.url.path]))
    with make_client(rec) as client:
        share = client.share_folder(FOLDER)
        users = client.list_users()
        orders = client.search_patient_orders()
        tags = client.get_dicom_tag_content(INSTITUTION, ORDER)
    assert share.share_url == "http://pacs.test/share/abc" and share.raw["Something"] == "new"
    assert users[0].email == "a@b.c" and users[0].role == "admin"
    assert orders.total_count == 5 and orders[0].status == "Scheduled"
    assert orders[0].institution_uuid == INSTITUTION and orders[0].modalities == ["MR", "CT"]
    by_tag = {t.tag: t for t in tags.tags}
    assert by_tag["00100010"].text == "Doe^J" and by_tag["00100010"].keyword == "PatientName"
    assert by_tag["00080060"].patient_series_uuid == ORDER2
    assert by_tag["00080060"].sop_instance_uid == "1.2.3.4"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDenied),
        (404, NotFoundError),
        (409, ConflictError),
        (500, ServerError),
        (503, ServerError),
        (410, PacsError),
    ],
)
def test_errors_carry_status_and_reason(status: int, error: type[PacsError]) -> None:
    reason = "FolderName: missing required parameter"
    rec = Recorder(
        lambda r: httpx.Response(
            status, headers={"X-Error-Reason": reason}, json={"Error": reason, "Status": status}
        )
    )
    with make_client(rec) as client, pytest.raises(error) as caught:
        client.list_users()
    assert caught.value.status == status
    assert caught.value.reason == reason
    assert reason in str(caught.value)


def test_error_reason_falls_back_to_json_body() -> None:
    rec = Recorder(lambda r: httpx.Response(404, json={"Error": "no such order"}))
    with make_client(rec) as client, pytest.raises(NotFoundError, match="no such order"):
        client.get_patient_order(INSTITUTION, ORDER)


def test_unreachable_server_is_connection_failed() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    with make_client(Recorder(refuse)) as client, pytest.raises(ConnectionFailed) as caught:
        client.list_users()
    assert caught.value.status is None
    assert "cannot connect" in str(caught.value)


# --------------------------------------------------------------------------- QIDO


def _study_json(patient_id: str = "P1") -> dict[str, Any]:
    return {
        "00100020": {"vr": "LO", "Value": [patient_id]},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane"}]},
        "0020000D": {"vr": "UI", "Value": ["1.2.3"]},
        "00080020": {"vr": "DA", "Value": ["20240131"]},
        "00080061": {"vr": "CS", "Value": ["CT", "MR"]},
        "00201208": {"vr": "IS", "Value": [12]},
    }


def test_search_uses_the_guide_url_forms() -> None:
    rec = Recorder(lambda r: httpx.Response(200, json=[_study_json()]))
    with make_client(rec) as client:
        studies = client.search(patient_id="P1")
        client.search(study_instance_uid="1.2.3")
        client.search(series_instance_uid="1.2.3.4")
        client.search(PatientName="Doe*", limit=5, fuzzymatching=True)
    urls = [str(r.url) for r in rec.requests]
    assert urls == [
        f"{ROOT}/studies?00100020=P1",
        f"{ROOT}/studies/series?0020000D=1.2.3",
        f"{ROOT}/studies/series/instances?0020000E=1.2.3.4",
        f"{ROOT}/studies?PatientName=Doe%2A&limit=5&fuzzymatching=true",
    ]
    assert all(r.headers["accept"] == "application/dicom+json" for r in rec.requests)
    study = studies[0]
    assert study.patient_name == "Doe^Jane" and study.patient_id == "P1"
    assert study.modalities == ["CT", "MR"] and study.number_of_study_related_instances == 12
    assert study.study_date == "20240131" and study.raw["0020000D"]["Value"] == ["1.2.3"]


def test_standard_qido_forms_and_snake_case_filters() -> None:
    rec = Recorder(lambda r: httpx.Response(204))
    with make_client(rec) as client:
        assert client.search_studies(patient_name="Doe*", study_date=(date(2020, 1, 1), None)) == []
        client.search_series("1.2.3", modality="CT")
        client.search_instances("1.2.3", "1.2.3.4")
        client.search_instances(series_instance_uid="1.2.3.4", includefield=["00280010", "all"])
    urls = [str(r.url) for r in rec.requests]
    assert urls == [
        f"{ROOT}/studies?PatientName=Doe%2A&StudyDate=20200101-",
        f"{ROOT}/studies/1.2.3/series?Modality=CT",
        f"{ROOT}/studies/1.2.3/series/1.2.3.4/instances",
        f"{ROOT}/instances?0020000E=1.2.3.4&includefield=00280010%2Call",
    ]


def test_uid_can_never_change_the_path() -> None:
    rec = Recorder(lambda r: httpx.Response(204))
    with make_client(rec) as client:
        client.search_series("../../admin")
        with pytest.raises(ValueError):
            client.search_series("..")
    assert rec.last.url.raw_path == b"/dicomweb/studies/..%2F..%2Fadmin/series"


# --------------------------------------------------------------------------- WADO


def _dicom_bytes(uid: str, size: int = 300) -> bytes:
    """A small but complete Part-10 file."""
    import io

    ds = Dataset()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = uid
    ds.StudyInstanceUID = "1.2.3"
    ds.SeriesInstanceUID = "1.2.3.4"
    ds.PatientID = "P1"
    ds.ImageComments = "x" * size
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _multipart(parts: list[bytes], boundary: str = "wado-boundary") -> bytes:
    return b"".join(
        encode_parts(boundary, [({"Content-Type": "application/dicom"}, [p]) for p in parts])
    )


def _wado_answer(parts: list[bytes], cut: int = 0) -> Callable[[httpx.Request], httpx.Response]:
    body = _multipart(parts)
    if cut:
        body = body[:-cut]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={
                "Content-Type": 'multipart/related; type="application/dicom"; '
                'boundary="wado-boundary"'
            },
            stream=Chunks(body),
        )

    return answer


class Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body in small odd-sized chunks (parts straddle chunks), sync or async."""

    def __init__(self, body: bytes, size: int = 97) -> None:
        self.body, self.size = body, size

    def __iter__(self) -> Iterator[bytes]:
        for i in range(0, len(self.body), self.size):
            yield self.body[i : i + self.size]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self:
            yield chunk


def test_retrieve_url_forms_and_accept() -> None:
    rec = Recorder(_wado_answer([_dicom_bytes("1.9")]))
    with make_client(rec) as client:
        for kwargs in (
            {"study_instance_uid": "1.2.3"},
            {"series_instance_uid": "1.2.3.4"},
            {"sop_instance_uid": "1.2.3.4.5"},
        ):
            client.retrieve(**kwargs, output_dir=None)  # type: ignore[arg-type]
    assert [r.url.path for r in rec.requests] == [
        "/dicomweb/studies/1.2.3",
        "/dicomweb/studies/series/1.2.3.4",
        "/dicomweb/studies/series/instances/1.2.3.4.5",
    ]
    for request in rec.requests:
        media, params = parse_content_type(request.headers["accept"])
        assert media == "multipart/related"
        assert params == {"type": "application/dicom", "transfer-syntax": "*"}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_retrieve_writes_one_file_per_part_in_a_new_folder(tmp_path: Path) -> None:
    parts = [_dicom_bytes(f"1.9.{i}", size=50 * i) for i in range(1, 6)]
    rec = Recorder(_wado_answer(parts))
    seen: list[tuple[int, int]] = []
    with make_client(rec) as client:
        first = client.retrieve(
            study_instance_uid="1.2.3",
            output_dir=tmp_path / "out",
            progress=lambda f, ft, b, bt: seen.append((f, b)),
        )
        second = client.retrieve(study_instance_uid="1.2.3", output_dir=tmp_path / "out")
        with pytest.raises(ValueError):
            client.retrieve(study_instance_uid="1.2.3", series_instance_uid="1.2.3.4")
        with pytest.raises(ValueError):
            client.retrieve()
    assert first.directory == tmp_path / "out"
    assert [p.name for p in first.files] == [f"part-{i:04d}.dcm" for i in range(1, 6)]
    assert [p.read_bytes() for p in first.files] == parts
    # The folder existed: the second retrieve got a new folder inside it.
    assert second.directory.parent == first.directory
    assert second.directory.name.startswith("retrieved-study-")
    assert [p.read_bytes() for p in second.files] == parts
    assert seen and seen[-1][0] == 5


def test_retrieve_default_folder_is_new_each_time(tmp_path: Path) -> None:
    rec = Recorder(_wado_answer([_dicom_bytes("1.9")]))
    with make_client(rec) as client:
        a = client.retrieve(series_instance_uid="1.2.3.4")
        b = client.retrieve(series_instance_uid="1.2.3.4")
    assert a.directory != b.directory
    assert a.directory.parent == b.directory.parent == tmp_path
    assert a.directory.name.startswith("retrieved-series-")


def test_retrieve_cut_off_keeps_complete_files_only(tmp_path: Path) -> None:
    parts = [_dicom_bytes(f"1.9.{i}", size=400) for i in range(3)]
    rec = Recorder(_wado_answer(parts, cut=200))
    with make_client(rec) as client, pytest.raises(IncompleteResponse) as caught:
        client.retrieve(study_instance_uid="1.2.3", output_dir=tmp_path / "cut")
    kept = caught.value.files
    assert [p.read_bytes() for p in kept] == parts[:2]
    assert sorted(p.name for p in (tmp_path / "cut").iterdir()) == [
        "part-0001.dcm",
        "part-0002.dcm",
    ]


def test_retrieve_404_creates_no_folder(tmp_path: Path) -> None:
    rec = Recorder(lambda r: httpx.Response(404, headers={"X-Error-Reason": "no such study"}))
    with make_client(rec) as client, pytest.raises(NotFoundError, match="no such study"):
        client.retrieve(study_instance_uid="1.2.3", output_dir=tmp_path / "never")
    assert not (tmp_path / "never").exists()


# --------------------------------------------------------------------------- STOW


def _corpus(tmp_path: Path, count: int, *, dup: bool = False) -> Path:
    folder = tmp_path / "scans"
    (folder / "sub").mkdir(parents=True)
    for i in range(count):
        where = folder / "sub" if i % 2 else folder
        (where / f"img{i:03d}.dcm").write_bytes(_dicom_bytes(f"1.8.{i}", size=1000 + i))
    if dup:  # the same instance twice, in two encodings
        (folder / "copy.dcm").write_bytes(_dicom_bytes("1.8.0", size=10))
    (folder / "notes.txt").write_text("not DICOM")
    (folder / "junk.dcm").write_bytes(b"this is not a DICOM file at all")
    (folder / "noext").write_bytes(_dicom_bytes("1.8.999"))
    return folder


def _parse_stow(request: httpx.Request, body: bytes) -> list[bytes]:
    content_type = request.headers["content-type"]
    media, params = parse_content_type(content_type)
    assert media == "multipart/related" and params["type"] == "application/dicom"
    parser = MultipartParser(get_boundary(content_type))
    parts: list[bytes] = []
    current: list[bytes] = []
    for event in [*parser.feed(body), *parser.close()]:
        if isinstance(event, PartStart):
            assert event.headers == {"content-type": "application/dicom"}
            current = []
        elif isinstance(event, PartData):
            current.append(event.data)
        elif isinstance(event, PartEnd):
            assert event.complete
            parts.append(b"".join(current))
    return parts


def _uid_of(data: bytes) -> str:
    import io

    from pydicom import dcmread

    return str(dcmread(io.BytesIO(data)).SOPInstanceUID)


def _stow_ok(request: httpx.Request) -> httpx.Response:
    parts = _parse_stow(request, request.read())
    items = [
        {
            "00081150": {"vr": "UI", "Value": [SecondaryCaptureImageStorage]},
            "00081155": {"vr": "UI", "Value": [_uid_of(p)]},
        }
        for p in parts
    ]
    return httpx.Response(200, json={"00081199": {"vr": "SQ", "Value": items}})


def test_upload_streams_batches_of_dicom_files(tmp_path: Path) -> None:
    folder = _corpus(tmp_path, 7, dup=True)
    rec = Recorder(_stow_ok)
    progress: list[tuple[int, int, int, int]] = []
    with make_client(rec) as client:
        result = client.upload_directory(
            folder, batch_size=3, concurrency=1, progress=lambda *a: progress.append(a)
        )
    for request in rec.requests:
        assert request.method == "POST" and request.url.path == "/dicomweb/studies"
        assert request.headers["content-type"].startswith(
            'multipart/related; type="application/dicom"; boundary='
        )
        assert request.headers["accept"] == "application/dicom+json"
        assert request.headers.get("transfer-encoding") == "chunked"  # streamed, not buffered
    sent = [
        part
        for request, body in zip(rec.requests, rec.bodies, strict=True)
        for part in _parse_stow(request, body)
    ]
    sources = [p for p in folder.rglob("*") if p.suffix == ".dcm" and p.name != "junk.dcm"]
    assert sorted(sent) == sorted(p.read_bytes() for p in [*sources, folder / "noext"])
    for request, body in zip(rec.requests, rec.bodies, strict=True):
        uids = [_uid_of(p) for p in _parse_stow(request, body)]
        assert 1 <= len(uids) <= 3 and len(set(uids)) == len(uids)  # never a UID twice
    by_name = {f.path.name: f for f in result.files}
    assert by_name["noext"].status == "stored"  # recognised by its DICM prefix
    assert by_name["notes.txt"].status == "skipped" and not by_name["notes.txt"].sent
    assert by_name["junk.dcm"].status == "failed" and not by_name["junk.dcm"].sent
    # copy.dcm comes first (sorted), so img000.dcm with the same UID is the second copy.
    assert by_name["copy.dcm"].status == "stored"
    assert by_name["img000.dcm"].status == "already_stored"
    assert "copy.dcm" in by_name["img000.dcm"].reason
    assert repr(result) == "UploadResult(stored=8, already_stored=1, failed=1, skipped=1)"
    assert progress[-1][0] == progress[-1][1] == 11  # every file found, as in the summary
    sent_sizes = sum(f.size for f in result.files if f.status != "skipped")
    assert progress[-1][2] == progress[-1][3] == sent_sizes


def test_upload_says_why_a_file_is_not_dicom(tmp_path: Path) -> None:
    folder = tmp_path / "cd"
    (folder / "IMAGES").mkdir(parents=True)
    (folder / "IMAGES" / "IM00001").write_bytes(_dicom_bytes("1.8.1"))
    (folder / "empty.dcm").write_bytes(b"")
    (folder / "text.dcm").write_text("PatientName: Doe\n" * 20)
    (folder / "random.dcm").write_bytes(bytes(range(256)) * 4)
    (folder / "viewer.exe").write_bytes(b"MZ" + bytes(300))
    (folder / "DICOMDIR").write_bytes(_dicom_bytes("1.8.2"))
    with make_client(Recorder(_stow_ok)) as client:
        result = client.upload_directory(folder)
    by_name = {f.path.name: f for f in result.files}
    assert by_name["IM00001"].status == "stored"
    assert by_name["empty.dcm"].reason == "the file is empty"
    assert by_name["text.dcm"].reason == "a text file, not DICOM"
    # the server's words for the same cause
    assert "no 'DICM' prefix after the 128-byte preamble" in by_name["random.dcm"].reason
    assert {by_name[n].status for n in ("empty.dcm", "text.dcm", "random.dcm")} == {"failed"}
    assert by_name["viewer.exe"].status == "skipped"
    assert by_name["DICOMDIR"].status == "skipped" and "DICOMDIR" in by_name["DICOMDIR"].reason


def test_upload_recognises_dicom_by_content_not_name(tmp_path: Path) -> None:
    folder = _corpus(tmp_path, 2)
    rec = Recorder(_stow_ok)
    with make_client(rec) as client:
        result = client.upload_directory(folder, recursive=False)
    statuses = {f.path.name: f.status for f in result.files}
    assert statuses == {  # not sub/
        "img000.dcm": "stored",
        "junk.dcm": "failed",
        "noext": "stored",
        "notes.txt": "skipped",
    }


def test_upload_maps_failures_to_files(tmp_path: Path) -> None:
    folder = _corpus(tmp_path, 4)

    def answer(request: httpx.Request) -> httpx.Response:
        uids = [_uid_of(p) for p in _parse_stow(request, request.read())]
        stored = [{"00081155": {"vr": "UI", "Value": [u]}} for u in uids if u != "1.8.2"]
        failed = [
            {
                "00000902": {"vr": "LO", "Value": ["Number of Frames has an invalid value"]},
                "00081197": {"vr": "US", "Value": [0xC000]},
                "00081155": {"vr": "UI", "Value": [u]},
            }
            for u in uids
            if u == "1.8.2"
        ]
        body: dict[str, Any] = {"00081199": {"vr": "SQ", "Value": stored}}
        if failed:
            body["00081198"] = {"vr": "SQ", "Value": failed}
            return httpx.Response(202, json=body, headers={"X-Error-Reason": "1 failed"})
        return httpx.Response(200, json=body)

    with make_client(Recorder(answer)) as client:
        result = client.upload_directory(folder, batch_size=10)
    by_name = {f.path.name: f for f in result.files}
    bad = by_name["img002.dcm"]
    assert bad.status == "failed" and bad.failure_code == 0xC000
    assert bad.reason == "Number of Frames has an invalid value (0xC000 cannot understand)"
    assert [by_name[f"img00{i}.dcm"].status for i in (0, 1, 3)] == ["stored"] * 3


def test_upload_retries_5xx_and_connection_errors(tmp_path: Path) -> None:
    folder = _corpus(tmp_path, 3)
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ReadError("reset by peer", request=request)
        if calls["n"] == 2:
            return httpx.Response(503, headers={"X-Error-Reason": "busy"})
        return _stow_ok(request)

    rec = Recorder(flaky)
    with make_client(rec, retries=3) as client:
        result = client.upload_directory(folder, batch_size=10)
    assert len(result.stored) == 4 and result.requests == 2  # two got an HTTP answer
    # Every attempt sent the whole batch again (3 *.dcm files and "noext").
    assert len(rec.requests) == 3
    assert [len(_parse_stow(r, b)) for r, b in zip(rec.requests, rec.bodies, strict=True)] == [
        4
    ] * 3


def test_upload_gives_up_after_retries(tmp_path: Path) -> None:
    folder = _corpus(tmp_path, 2)
    rec = Recorder(lambda r: httpx.Response(500, headers={"X-Error-Reason": "disk full"}))
    with make_client(rec, retries=2) as client:
        result = client.upload_directory(folder, batch_size=10)
    assert len(rec.requests) == 3
    assert all("disk full" in f.reason for f in result.failed if f.sent)


def test_upload_splits_a_refused_batch(tmp_path: Path) -> None:
    folder = _corpus(tmp_path, 3)

    def answer(request: httpx.Request) -> httpx.Response:
        if len(_parse_stow(request, request.read())) > 1:
            return httpx.Response(413, headers={"X-Error-Reason": "too large"})
        return _stow_ok(request)

    rec = Recorder(answer)
    with make_client(rec) as client:
        result = client.upload_directory(folder, batch_size=10)
    assert len(result.stored) == 4
    assert len(rec.requests) == 1 + 4


def test_upload_stops_on_401(tmp_path: Path) -> None:
    folder = _corpus(tmp_path, 6)
    rec = Recorder(lambda r: httpx.Response(401, headers={"X-Error-Reason": "bad password"}))
    with make_client(rec) as client, pytest.raises(AuthenticationError):
        client.upload_directory(folder, batch_size=1, concurrency=2)
    assert len(rec.requests) <= 4  # the ones in flight; the other batches are not sent


def test_upload_to_unreachable_server_raises(tmp_path: Path) -> None:
    folder = _corpus(tmp_path, 4)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    with make_client(Recorder(refuse), retries=1) as client, pytest.raises(ConnectionFailed):
        client.upload_directory(folder, batch_size=1, concurrency=1)


def test_upload_of_a_folder_without_dicom(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.txt").write_text("x")
    with make_client(Recorder()) as client:
        with pytest.raises(NoDicomFilesError):
            client.upload_directory(tmp_path / "empty")
        with pytest.raises(FileNotFoundError):
            client.upload_directory(tmp_path / "missing")


def test_batch_planner_separates_duplicate_uids() -> None:
    planner = BatchPlanner(3)
    files = [LocalFile(i, Path(f"f{i}"), 10, uid) for i, uid in enumerate("AABACAAD")]
    batches = [b for f in files for b in planner.add(f)] + planner.finish()
    assert sorted(f.index for b in batches for f in b) == list(range(8))
    for batch in batches:
        uids = [f.sop_instance_uid for f in batch]
        assert len(uids) == len(set(uids)) and len(uids) <= 3


# --------------------------------------------------------------------------- async twin


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_async_client_sends_the_same_requests(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return _stow_ok(request)
        if request.url.path.endswith("/studies/1.2.3"):
            return _wado_answer([_dicom_bytes("1.9.1"), _dicom_bytes("1.9.2")])(request)
        if request.url.path.endswith("/studies"):
            return httpx.Response(200, json=[_study_json()])
        return httpx.Response(200, json={"FolderUuid": FOLDER})

    sync_rec, async_rec = Recorder(answer), Recorder(answer)
    with make_client(sync_rec) as client:
        client.create_folder("A", "B", FOLDER)
        client.search(patient_id="P1")
    async with AsyncPacsClient(
        ROOT, USER, PASSWORD, transport=httpx.MockTransport(async_rec)
    ) as aclient:
        folder = await aclient.create_folder("A", "B", FOLDER)
        await aclient.search(patient_id="P1")
        result = await aclient.upload_directory(_corpus(tmp_path, 5), batch_size=2)
        got = await aclient.retrieve(study_instance_uid="1.2.3", output_dir=tmp_path / "a")
    assert folder.folder_uuid == FOLDER and folder.folder_name == "A"
    for left, right in zip(sync_rec.requests, async_rec.requests[:2], strict=True):
        assert (left.method, str(left.url)) == (right.method, str(right.url))
        assert left.headers.get("CreateFolderParameters") == right.headers.get(
            "CreateFolderParameters"
        )
    assert (len(result.stored), len(result.failed), len(result.skipped)) == (6, 1, 1)
    assert [p.read_bytes() for p in got.files] == [_dicom_bytes("1.9.1"), _dicom_bytes("1.9.2")]


@pytest.mark.anyio
async def test_async_upload_raises_auth_errors_plainly(tmp_path: Path) -> None:
    rec = Recorder(lambda r: httpx.Response(401))
    async with AsyncPacsClient(
        ROOT, USER, PASSWORD, transport=httpx.MockTransport(rec), backoff=0
    ) as aclient:
        with pytest.raises(AuthenticationError):
            await aclient.upload_directory(_corpus(tmp_path, 3), batch_size=1)
