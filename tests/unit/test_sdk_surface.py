"""The SDK speaks one convention: documented, typed methods; the institution of an order
by the same name everywhere; results that print as counts; QIDO results that say when the
server has more."""

from __future__ import annotations

import inspect
import json
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest

from openpacs.client import AsyncPacsClient, PacsClient
from openpacs.client.results import (
    DicomRecord,
    FileResult,
    RecordList,
    RetrieveResult,
    UploadResult,
)
from tests.unit.test_client_wire import INSTITUTION, ORDER, Recorder, make_client, param_header

PUBLIC = [
    (cls, name, member)
    for cls in (PacsClient, AsyncPacsClient)
    for name, member in inspect.getmembers(cls, inspect.isfunction)
    if not name.startswith("_")
]


@pytest.mark.parametrize(("cls", "name", "method"), PUBLIC, ids=lambda v: getattr(v, "__name__", v))
def test_every_public_method_is_documented_and_typed(cls: type, name: str, method: Any) -> None:
    assert (method.__doc__ or "").strip(), f"{cls.__name__}.{name} has no docstring"
    signature = inspect.signature(method)
    assert signature.return_annotation is not inspect.Signature.empty, name
    for parameter in list(signature.parameters.values())[1:]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        assert parameter.annotation is not inspect.Parameter.empty, (name, parameter.name)


@pytest.mark.parametrize(
    ("method", "header", "extra"),
    [
        ("get_patient_order", "GetPatientOrderPropertiesParameters", {}),
        ("delete_patient_order", "DeleteOrderParameters", {}),
        ("get_dicom_tag_content", "GetDicomTagContentParameters", {}),
    ],
)
def test_the_institution_of_an_order_has_one_name_too(
    method: str, header: str, extra: dict[str, Any]
) -> None:
    sent = []
    for keyword in ("institution_uuid", "patient_order_institution_uuid"):
        rec = Recorder()
        with make_client(rec) as client, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            getattr(client, method)(**{keyword: INSTITUTION}, patient_order_uuid=ORDER, **extra)
        sent.append(json.loads(param_header(rec.last, header)))
        deprecated = [w for w in caught if issubclass(w.category, DeprecationWarning)]
        # The guide's name is the SDK's; the other one still works, with a warning that
        # points at the caller's line.
        assert len(deprecated) == (keyword == "institution_uuid")
        assert all(w.filename == __file__ for w in deprecated)
    assert sent[0] == sent[1]
    assert sent[0]["PatientOrderInstitutionUuid"] == INSTITUTION
    with (
        make_client(Recorder()) as client,
        pytest.raises(ValueError, match="not both"),
        pytest.warns(DeprecationWarning),
    ):
        getattr(client, method)(
            institution_uuid=INSTITUTION,
            patient_order_institution_uuid=ORDER,
            patient_order_uuid=ORDER,
        )


def test_results_print_as_counts() -> None:
    files = [
        FileResult(Path("a"), "stored"),
        FileResult(Path("b"), "already_stored"),
        FileResult(Path("c"), "failed", reason="bad"),
        FileResult(Path("d"), "skipped", reason="text"),
        FileResult(Path("e"), "stored"),
    ]
    result = UploadResult(files)
    assert repr(result) == "UploadResult(stored=2, already_stored=1, failed=1, skipped=1)"
    assert not result.ok and FileResult(Path("d"), "skipped").ok


def test_a_retrieve_prints_as_counts_and_its_folder() -> None:
    folder = Path("out")
    files = [folder / f"{n}.dcm" for n in range(40)]
    result = RetrieveResult(
        "study",
        "1.2.3",
        folder,
        files,
        bytes=4000,
        layout="human",
        already_there=files[:3],
        renamed=files[3:5],
    )
    assert repr(result) == (
        "RetrieveResult(study='1.2.3', files=40, written=37, unchanged=3, renamed=2, "
        "bytes=4000, directory='out', layout='human')"
    )


def test_a_record_prints_its_level_uids_and_patient() -> None:
    raw = {
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane"}]},
        "00100020": {"vr": "LO", "Value": ["P1"]},
        "0020000D": {"vr": "UI", "Value": ["1.2.3"]},
        "0020000E": {"vr": "UI", "Value": ["1.2.3.4"]},
        "00080018": {"vr": "UI", "Value": ["1.2.3.4.5"]},
        "7FE00010": {"vr": "OB", "InlineBinary": "AAAA"},
    }
    study = "level='study', study_instance_uid='1.2.3'"
    patient = "patient_id='P1', patient_name='Doe^Jane'"
    assert repr(DicomRecord("study", raw)) == f"DicomRecord({study}, {patient})"
    assert repr(DicomRecord("instance", raw)) == (
        "DicomRecord(level='instance', study_instance_uid='1.2.3', "
        f"series_instance_uid='1.2.3.4', sop_instance_uid='1.2.3.4.5', {patient})"
    )


def test_a_search_cut_by_a_limit_says_there_is_more() -> None:
    warning = '299 http://pacs.test/dicomweb: "There are additional results that can be requested"'

    def answer(request: httpx.Request) -> httpx.Response:
        more = request.url.params.get("offset") != "2"
        return httpx.Response(200, json=[{}, {}], headers={"Warning": warning} if more else {})

    with make_client(Recorder(answer)) as client:
        first = client.search(limit=2)
        last = client.search(limit=2, offset=2)
    assert isinstance(first, RecordList) and first.more
    assert not last.more
