"""C-FIND identifiers -> QIDO queries and matches -> response identifiers (no server)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from pydicom.dataset import Dataset

from openpacs.dicom.attributes import tag_of
from openpacs.dimse import find as find_module
from openpacs.dimse.identifier import FindError, parse_identifier, response_identifier
from openpacs.protocol.qido import (
    DateRange,
    Level,
    SequenceMatch,
    SingleValue,
    UidList,
    Wildcard,
)
from openpacs.services.find import Match


def identifier(level: str, **keys: Any) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


def test_keys_with_values_become_qido_filters_and_every_key_is_returned() -> None:
    request = parse_identifier(
        identifier("STUDY", PatientName="Doe*", StudyDate="20200101-20201231",
                   StudyInstanceUID=["1.2", "1.3"], PatientID="P1", AccessionNumber=""),
        "study",
    )  # fmt: skip
    assert request.query.level is Level.STUDY
    by_tag = {f.tag: f for f in request.query.filters}
    assert isinstance(by_tag[tag_of("PatientName")], Wildcard)
    assert isinstance(by_tag[tag_of("StudyDate")], DateRange)
    assert isinstance(by_tag[tag_of("StudyInstanceUID")], UidList)
    assert isinstance(by_tag[tag_of("PatientID")], SingleValue)
    assert tag_of("AccessionNumber") in request.query.includefields
    assert not request.partial
    assert request.unique_keys == (tag_of("StudyInstanceUID"),)


def test_sequence_items_match_as_in_qido() -> None:
    item = Dataset()
    item.RequestedProcedureID = "RP-7"
    item.ScheduledProcedureStepID = ""
    request = parse_identifier(identifier("SERIES", RequestAttributesSequence=[item]), "study")
    [match] = request.query.filters
    assert isinstance(match, SequenceMatch)
    assert request.item_keys[tag_of("RequestAttributesSequence")] == (
        tag_of("ScheduledProcedureStepID"),
        tag_of("RequestedProcedureID"),
    )


@pytest.mark.filterwarnings("ignore:Invalid value for VR")
@pytest.mark.parametrize(
    ("level", "model", "keys", "words"),
    [
        ("STUDY", "study", {"Modality": "CT"}, "below STUDY"),
        ("PATIENT", "study", {}, "not valid"),
        ("PATIENT", "patient", {"StudyDate": "20200101"}, "PATIENT level"),
        ("STUDY", "study", {"StudyDate": "202001"}, "not a valid DA"),
        ("", "study", {}, "not valid"),
    ],
)
def test_identifiers_that_cannot_be_answered(
    level: str, model: str, keys: dict[str, str], words: str
) -> None:
    with pytest.raises(FindError) as refused:
        parse_identifier(identifier(level, **keys), model)
    assert refused.value.status == 0xA900 and words in refused.value.reason


def test_an_empty_lower_level_key_is_returned_empty_and_unsupported_keys_warn() -> None:
    request = parse_identifier(identifier("STUDY", Modality="", PatientAge="045Y"), "study")
    assert request.partial  # PatientAge cannot be matched: FF01
    answer = response_identifier({}, request, ae_title="OPENPACS")
    assert {e.keyword for e in answer} == {
        "QueryRetrieveLevel", "StudyInstanceUID", "Modality", "PatientAge"
    }  # fmt: skip


def test_a_response_has_the_requested_keys_the_unique_keys_and_computed_counts() -> None:
    request = parse_identifier(
        identifier("PATIENT", PatientName="", NumberOfPatientRelatedStudies=""), "patient"
    )
    item = {
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Müller^Jörg"}]},
        "00100020": {"vr": "LO", "Value": ["P1"]},
        "00081030": {"vr": "LO", "Value": ["not asked for"]},
    }
    answer = response_identifier(
        item, request, ae_title="X", extra={tag_of("NumberOfPatientRelatedStudies"): 2}
    )
    assert {e.keyword for e in answer} == {
        "QueryRetrieveLevel", "PatientName", "PatientID", "NumberOfPatientRelatedStudies",
        "SpecificCharacterSet",
    }  # fmt: skip
    assert answer.SpecificCharacterSet == "ISO_IR 192"
    assert (answer.PatientID, answer.NumberOfPatientRelatedStudies) == ("P1", 2)


def test_a_c_cancel_stops_the_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    item = {"0020000D": {"vr": "UI", "Value": ["1.2.3"]}}
    monkeypatch.setattr(find_module, "find_matches", lambda *a, **k: iter([Match(item)] * 5))
    events: list[tuple[str, str]] = []
    node = SimpleNamespace(
        record=lambda assoc: SimpleNamespace(peer=SimpleNamespace(principal=None)),
        services=SimpleNamespace(db=None, settings=SimpleNamespace(dicomweb_root="http://x")),
        trail=SimpleNamespace(event=lambda record, action, detail: events.append((action, detail))),
        ae_title="OPENPACS",
    )
    event = SimpleNamespace(
        assoc=None,
        request=SimpleNamespace(AffectedSOPClassUID="1.2.840.10008.5.1.4.1.2.2.1"),
        identifier=identifier("STUDY", StudyInstanceUID=""),
        is_cancelled=False,
    )
    answers: Iterator[tuple[Any, Any]] = find_module.handle_find(node, event)  # type: ignore[arg-type]
    first = next(answers)
    assert first[0] == 0xFF00
    event.is_cancelled = True
    assert [status for status, _ in answers] == [0xFE00]
    assert events[0][1].startswith("C-FIND STUDY (study root) cancelled after 1")


def test_a_worklist_identifier_and_its_answer() -> None:
    from openpacs.dimse.worklist import parse_worklist, worklist_dataset
    from openpacs.services.worklist import WorklistItem

    step = Dataset()
    step.Modality = "CT"
    step.ScheduledProcedureStepStartDate = "20260301-20260331"
    step.ScheduledStationAETitle = ""
    ds = identifier("", PatientName="doe*", AccessionNumber="", PatientAge="045Y")
    del ds.QueryRetrieveLevel
    ds.ScheduledProcedureStepSequence = [step]
    request = parse_worklist(ds)
    assert set(request.filters) == {"PatientName", "Modality", "ScheduledProcedureStepStartDate"}
    assert isinstance(request.filters["ScheduledProcedureStepStartDate"][1], DateRange)
    assert request.partial  # PatientAge
    item = WorklistItem(
        patient_name="Doe^Jane", patient_id="P1", other_patient_id="", patient_birth_date="",
        patient_sex="F", accession_number="A1", study_instance_uid="2.25.1",
        requested_procedure_id="", requested_procedure_description="CT head",
        study_description="", referring_physician_name="", requesting_physician="",
        modality="CT", station_ae_title="CT1", station_name="CT 1", start_date="20260304",
        start_time="0815", order_uuid="u",
    )  # fmt: skip
    answer = worklist_dataset(item, request)
    assert {e.keyword for e in answer} == {
        "AccessionNumber", "PatientName", "PatientAge", "ScheduledProcedureStepSequence"
    }  # fmt: skip
    [returned] = answer.ScheduledProcedureStepSequence
    assert (returned.Modality, returned.ScheduledStationAETitle) == ("CT", "CT1")
    assert returned.ScheduledProcedureStepStartDate == "20260304"
    assert "ScheduledStationName" not in returned  # not asked for
