"""The custom API's parameter parser: lenient about form, strict about content."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from openpacs.protocol.custom_params import (
    ENDPOINTS,
    MAX_HEADER_BYTES,
    Kind,
    ParameterError,
    decode_header_value,
    parse_body,
    parse_header,
    parse_object,
)

ORDER = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
ORDER2 = "9b2b8d1a-1111-4c3a-8d4e-2b6f9f0c1a22"
INSTITUTION = "6fa459ea-ee8a-4ca4-894e-db77e160355e"

BY_PATH = {spec.path: spec for spec in ENDPOINTS}
CREATE = BY_PATH["/createpatientorder"]
LIST = BY_PATH["/getpatientorderlist"]
SHARE = BY_PATH["/createsharelink"]
SHARE_URL = BY_PATH["/sharepatientorderwithurl"]
FOLDER = BY_PATH["/createfolder"]
SEARCH_FOLDER = BY_PATH["/searchfolder"]
TAGS = BY_PATH["/getdicomtagcontent"]


def create_object(**overrides: object) -> dict[str, object]:
    """Every key sent, as the C# sample does: skipped prompts are ""."""
    obj: dict[str, object] = {key.name: "" for key in CREATE.keys}
    obj.update(
        InstitutionUuid=INSTITUTION,
        PatientName="Müller^Jörg",
        PatientId="P1",
        PatientBirthdate="1980-02-29",
        Modality="CT",
    )
    obj.update(overrides)
    return obj


def header(obj: dict[str, object]) -> str:
    return json.dumps(obj)


# -- the spec table ----------------------------------------------------------------------


def test_every_endpoint_of_the_spec_is_declared() -> None:
    assert set(BY_PATH) == {
        "/createsharelink",
        "/sharepatientorderwithurl",
        "/createfolder",
        "/searchfolder",
        "/sharefolderwithurl",
        "/addordertofolder",
        "/assignordertouser",
        "/assignordertousergroup",
        "/createpatientorder",
        "/getpatientorderproperties",
        "/getpatientorderlist",
        "/deleteorder",
        "/getdicomtagcontent",
        "/getinstitutionlist",
        "/getuserlist",
        "/getusergrouplist",
        "/getequipmentlist",
        "/getsharelist",
        "/deleteshare",
        "/createapitoken",
        "/getapitokenlist",
        "/revokeapitoken",
        "/getauditlog",
    }
    assert len(ENDPOINTS) == len(BY_PATH)


@pytest.mark.parametrize(
    ("path", "header_name", "required"),
    [
        ("/createsharelink", "ShareParameters", {"PatientOrderInfoList", "ExpireDate"}),
        (
            "/sharepatientorderwithurl",
            "SharePatientOrderParameters",
            {"OrderUuidList", "ExpireDate"},
        ),
        ("/createfolder", "CreateFolderParameters", {"FolderName"}),
        ("/searchfolder", "SearchFolderParameters", set()),
        ("/sharefolderwithurl", "ShareFolderParameters", {"FolderUuid"}),
        ("/addordertofolder", "AddOrderToFolderParameters", {"PatientOrderUuid", "FolderUuidList"}),
        (
            "/assignordertouser",
            "AssignOrderToUserParameters",
            {"PatientOrderUuid", "AssignedUserUuid"},
        ),
        (
            "/assignordertousergroup",
            "AssignOrderToUserGroupParameters",
            {"PatientOrderUuid", "AssignedUserGroupUuid"},
        ),
        (
            "/createpatientorder",
            "CreatePatientOrderParameters",
            {"InstitutionUuid", "PatientName", "PatientId", "PatientBirthdate", "Modality"},
        ),
        (
            "/getpatientorderproperties",
            "GetPatientOrderPropertiesParameters",
            {"PatientOrderInstitutionUuid", "PatientOrderUuid"},
        ),
        ("/getpatientorderlist", "GetPatientOrderListParameters", set()),
        (
            "/deleteorder",
            "DeleteOrderParameters",
            {"PatientOrderInstitutionUuid", "PatientOrderUuid"},
        ),
        (
            "/getdicomtagcontent",
            "GetDicomTagContentParameters",
            {"PatientOrderInstitutionUuid", "PatientOrderUuid"},
        ),
        ("/deleteshare", "DeleteShareParameters", {"ShareUuid"}),
    ],
)
def test_headers_and_required_keys(path: str, header_name: str, required: set[str]) -> None:
    spec = BY_PATH[path]
    assert spec.header == header_name
    assert {key.name for key in spec.keys if key.required} == required


def test_all_keys_of_the_create_table() -> None:
    names = [key.name for key in CREATE.keys if not key.extension]
    assert names == [
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


# -- the GET header form -----------------------------------------------------------------


def test_header_form_all_strings() -> None:
    params = parse_header(
        CREATE,
        header(
            create_object(
                PatientSex="f",
                OrderScheduledDatetime="2025-03-01 14:30",
                AccessionNumber="  ACC1 ",
            )
        ),
    )
    assert params.text("PatientName") == "Müller^Jörg"
    assert params.date("PatientBirthdate") == date(1980, 2, 29)
    assert params.datetime("OrderScheduledDatetime") == datetime(2025, 3, 1, 14, 30)
    assert params.text("PatientSex") == "F"
    assert params.text("AccessionNumber") == "ACC1"
    assert params.text("StudyDescription") == ""
    assert not params.given("StudyDescription")
    assert params.text("InstitutionUuid") == INSTITUTION


def test_unicode_escapes_and_utf8_bytes_as_latin1() -> None:
    escaped = json.dumps(create_object(PatientName="山田^太郎"), ensure_ascii=True)
    assert "\\u" in escaped
    assert parse_header(CREATE, escaped).text("PatientName") == "山田^太郎"
    raw = json.dumps(create_object(PatientName="Müller^Jörg"), ensure_ascii=False)
    as_latin1 = raw.encode("utf-8").decode("latin-1")  # what Starlette hands over
    decoded = decode_header_value(CREATE.header or "", as_latin1)
    assert parse_header(CREATE, decoded).text("PatientName") == "Müller^Jörg"


def test_a_header_that_is_not_utf8_is_refused_naming_the_header() -> None:
    # "Müller" sent as Latin-1 bytes: never guessed, the client is told.
    with pytest.raises(ParameterError) as caught:
        decode_header_value("CreatePatientOrderParameters", '{"PatientName": "M\xfcller"}')
    assert caught.value.key == "CreatePatientOrderParameters"
    assert "not UTF-8 (byte 0xFC at position 18)" in caught.value.reason


@pytest.mark.parametrize("raw", [{"a": 1}, '{"a": 1}', '  {"PatientOrderUuid": "x"}'])
def test_an_object_where_a_list_is_expected_is_refused(raw: object) -> None:
    with pytest.raises(ParameterError, match="ModalityList: must be a list, not an object"):
        parse_object(LIST, {"ModalityList": raw})


def test_a_null_list_item_is_named_in_json_words() -> None:
    with pytest.raises(ParameterError, match=r"list items must be strings, not null$"):
        parse_object(LIST, {"ModalityList": [None]})


@pytest.mark.parametrize("word", ["True", "true", "TRUE", "1", "yes"])
def test_true(word: str) -> None:
    assert parse_object(SEARCH_FOLDER, {"GetOrdersInFolder": word}).flag("GetOrdersInFolder")


@pytest.mark.parametrize("word", ["False", "false", "", "0", "no", False, None])
def test_false(word: object) -> None:
    params = parse_object(SEARCH_FOLDER, {"GetOrdersInFolder": word})
    assert params.flag("GetOrdersInFolder") is False


def test_bad_boolean_names_the_key() -> None:
    with pytest.raises(ParameterError, match="GetOrdersInFolder"):
        parse_object(SEARCH_FOLDER, {"GetOrdersInFolder": "maybe"})


def test_lists_in_strings_are_trimmed_and_deduplicated() -> None:
    params = parse_object(LIST, {"ModalityList": '["MR"," CT", "", "MR"]'})
    assert params.items("ModalityList") == ("MR", "CT")


def test_plain_comma_text_is_a_list() -> None:
    assert parse_object(LIST, {"ModalityList": "MR, CT"}).items("ModalityList") == ("MR", "CT")


@pytest.mark.parametrize("empty", ['[""]', "[]", "", [], [""], None])
def test_empty_lists(empty: object) -> None:
    params = parse_object(LIST, {"ModalityList": empty, "InstitutionUuidList": empty})
    assert params.items("ModalityList") == ()
    assert params.items("InstitutionUuidList") == ()
    assert not params.given("ModalityList")


def test_real_lists_in_the_post_form() -> None:
    params = parse_body(
        LIST, json.dumps({"InstitutionUuidList": [INSTITUTION.upper()], "Limit": 5}).encode()
    )
    assert params.items("InstitutionUuidList") == (INSTITUTION,)
    assert params.integer("Limit") == 5


def test_order_info_list_double_encoded() -> None:
    inner = [json.dumps({"PatientOrderUuid": ORDER}), json.dumps({"PatientOrderUuid": ORDER2})]
    obj = {"PatientOrderInfoList": json.dumps(inner), "ExpireDate": "2030-01-01"}
    params = parse_header(SHARE, json.dumps(obj))
    assert params.items("PatientOrderInfoList") == (ORDER, ORDER2)
    assert params.date("ExpireDate") == date(2030, 1, 1)
    assert params.flag("Downloadable") is False


def test_order_info_list_as_objects_or_bare_uuids() -> None:
    params = parse_object(
        SHARE,
        {"PatientOrderInfoList": [{"PatientOrderUuid": ORDER}, ORDER2], "ExpireDate": "2030-01-01"},
    )
    assert params.items("PatientOrderInfoList") == (ORDER, ORDER2)


def test_order_info_list_with_an_empty_id_is_an_error() -> None:
    obj = {
        "PatientOrderInfoList": json.dumps([json.dumps({"PatientOrderUuid": ""})]),
        "ExpireDate": "2030-01-01",
    }
    with pytest.raises(ParameterError, match="PatientOrderInfoList") as info:
        parse_header(SHARE, json.dumps(obj))
    assert "empty PatientOrderUuid" in info.value.reason


def test_order_info_list_empty_is_missing() -> None:
    with pytest.raises(ParameterError, match="PatientOrderInfoList: missing"):
        parse_object(SHARE, {"PatientOrderInfoList": '[""]', "ExpireDate": "2030-01-01"})


@pytest.mark.parametrize("bad", ['[{"x": 1}]', '["{\\"Nope\\": 1}"]', "[1]", "[oops"])
def test_order_info_list_malformed(bad: str) -> None:
    with pytest.raises(ParameterError, match="PatientOrderInfoList"):
        parse_object(SHARE, {"PatientOrderInfoList": bad, "ExpireDate": "2030-01-01"})


def test_uuid_lists_validate_items() -> None:
    with pytest.raises(ParameterError, match="OrderUuidList"):
        parse_object(SHARE_URL, {"OrderUuidList": '["not-a-uuid"]', "ExpireDate": "2030-01-01"})


def test_all_zero_uuid_means_not_given() -> None:
    params = parse_object(
        FOLDER, {"FolderName": "x", "ParentFolderUuid": "0" * 8 + "-0000-0000-0000-" + "0" * 12}
    )
    assert not params.given("ParentFolderUuid")
    assert params.text("ParentFolderUuid") == ""


def test_uuids_are_canonical() -> None:
    params = parse_object(
        FOLDER, {"FolderName": "x", "ParentFolderUuid": "{" + ORDER.upper() + "}"}
    )
    assert params.text("ParentFolderUuid") == ORDER


# -- strict validation -------------------------------------------------------------------


@pytest.mark.parametrize("key", [key.name for key in CREATE.keys if key.required])
@pytest.mark.parametrize("absent", ["", "   ", None, "drop"])
def test_required_keys(key: str, absent: object) -> None:
    obj = create_object()
    if absent == "drop":
        del obj[key]
    else:
        obj[key] = absent
    with pytest.raises(ParameterError) as info:
        parse_object(CREATE, obj)
    assert info.value.key == key
    assert "missing" in info.value.reason


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("PatientBirthdate", "1980-02-30"),
        ("PatientBirthdate", "19800101"),
        ("PatientBirthdate", "01-02-1980"),
        ("OrderScheduledDatetime", "2025-03-01"),
        ("OrderScheduledDatetime", "2025-03-01 25:00"),
        ("InstitutionUuid", "1234"),
        ("ScheduledEquipmentUuid", "zzzz"),
        ("PatientSex", "X"),
        ("PatientName", ["a"]),
        ("PatientId", 12),
        ("PatientId", "x" * 65),
        ("PatientName", "bad\x00name"),
        ("StudyInstanceUID", "1.2.abc"),
    ],
)
def test_bad_values_name_the_key(key: str, value: object) -> None:
    with pytest.raises(ParameterError) as info:
        parse_object(CREATE, create_object(**{key: value}))
    assert info.value.key == key
    assert info.value.reason.startswith(key)


def test_unknown_key() -> None:
    with pytest.raises(ParameterError) as info:
        parse_object(CREATE, create_object(Patientname="x"))
    assert info.value.key == "Patientname"
    assert "unknown" in info.value.reason


@pytest.mark.parametrize(
    ("value", "message"),
    [("0", "at least 1"), ("1001", "at most"), ("x", "integer"), (True, "integer")],
)
def test_limits(value: object, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        parse_object(LIST, {"Limit": value})


def test_header_must_be_a_json_object() -> None:
    for text in ("not json", "[1, 2]", '"x"'):
        with pytest.raises(ParameterError) as info:
            parse_header(CREATE, text)
        assert info.value.key == "CreatePatientOrderParameters"


def test_empty_header_or_body_means_no_parameters() -> None:
    assert parse_header(LIST, None).values == {}
    assert parse_header(LIST, " ").values == {}
    assert parse_body(LIST, b"").values == {}


def test_header_size_limit() -> None:
    ids = [json.dumps({"PatientOrderUuid": ORDER}) for _ in range(800)]
    obj = {"PatientOrderInfoList": json.dumps(ids), "ExpireDate": "2030-01-01"}
    text = json.dumps(obj)
    assert len(text) < MAX_HEADER_BYTES
    assert parse_header(SHARE, text).items("PatientOrderInfoList") == (ORDER,)
    with pytest.raises(ParameterError, match="larger than"):
        parse_header(SHARE, json.dumps({**obj, "SharePassword": "x" * MAX_HEADER_BYTES}))


def test_accessors_check_the_kind() -> None:
    params = parse_object(
        TAGS, {"PatientOrderInstitutionUuid": INSTITUTION, "PatientOrderUuid": ORDER}
    )
    assert params.items("DicomTagIdList") == ()
    with pytest.raises(TypeError):
        params.flag("PatientOrderUuid")
    with pytest.raises(KeyError):
        params.text("Nope")


def test_every_key_kind_is_known() -> None:
    for spec in ENDPOINTS:
        for key in spec.keys:
            assert isinstance(key.kind, Kind)
            if spec.header is None:
                raise AssertionError(f"{spec.path} has keys but no header")
