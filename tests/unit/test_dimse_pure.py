"""The pure helpers of the DICOM face: Part-10 wrapping, statuses, negotiation order,
the association verdict and host matching."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.filebase import DicomBytesIO
from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
)
from pynetdicom.presentation import build_context

from openpacs.dicom import status
from openpacs.dimse.contexts import (
    STORAGE_CLASSES,
    VERIFICATION,
    contexts_for,
    supported_contexts,
)
from openpacs.dimse.gate import CALLED_AE_NOT_RECOGNISED, CALLING_AE_NOT_RECOGNISED, Refused, judge
from openpacs.dimse.part10 import part10
from openpacs.dimse.status import c_store_status, status_dataset
from openpacs.services.peers import Peer, UnknownPeer, host_matches
from openpacs.services.principal import Principal

CT = "1.2.840.10008.5.1.4.1.1.2"


def test_a_received_data_set_becomes_a_part10_file_with_its_bytes_unchanged() -> None:
    ds = pydicom.Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID, ds.PatientName = CT, "1.2.3", "Doe^J"
    raw = DicomBytesIO()
    raw.is_implicit_VR = raw.is_little_endian = True
    pydicom.filewriter.write_dataset(raw, ds)
    body = bytes(raw.getvalue())
    data = part10(
        body, sop_class_uid=CT, sop_instance_uid="1.2.3",
        transfer_syntax=ImplicitVRLittleEndian, source_ae_title="CT1",
    )  # fmt: skip
    assert data[128:132] == b"DICM" and data.endswith(body)
    read = pydicom.dcmread(DicomBytesIO(data))
    assert read.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    assert read.file_meta.SourceApplicationEntityTitle == "CT1"
    assert read.file_meta.MediaStorageSOPInstanceUID == "1.2.3"
    assert read.PatientName == "Doe^J"


@pytest.mark.parametrize(
    ("code", "sent"),
    [
        (status.OUT_OF_RESOURCES, 0xA700),
        (status.DATASET_DOES_NOT_MATCH_SOP_CLASS, 0xA900),
        (status.STUDY_UID_MISMATCH, 0xA900),
        (status.CANNOT_UNDERSTAND, 0xC000),
        (status.PROCESSING_FAILURE, 0x0110),
        (status.DUPLICATE_SOP_INSTANCE, 0x0111),
    ],
)
def test_store_failures_are_sent_as_c_store_statuses(code: int, sent: int) -> None:
    assert c_store_status(code) == sent


def test_an_error_comment_is_one_ascii_line_of_64_characters_at_most() -> None:
    answer = status_dataset(0xC000, "Number of Frames\n (0028,0008) é " + "x" * 100)
    assert answer.Status == 0xC000
    assert len(answer.ErrorComment) == 64 and answer.ErrorComment.isascii()
    assert "\n" not in answer.ErrorComment and answer.ErrorComment.endswith("...")
    assert "ErrorComment" not in status_dataset(0)


def test_every_storage_class_is_accepted_in_both_roles_and_in_compressed_syntaxes() -> None:
    contexts = {str(c.abstract_syntax): c for c in supported_contexts()}
    assert set(STORAGE_CLASSES) <= set(contexts)
    ct = contexts[CT]
    assert ct.scu_role and ct.scp_role
    assert {JPEGBaseline8Bit, JPEG2000Lossless, ExplicitVRBigEndian} <= set(ct.transfer_syntax)


def test_the_requestors_first_choice_is_accepted() -> None:
    asked = [
        build_context(CT, [JPEGBaseline8Bit, "1.2.3.4", ExplicitVRLittleEndian]),
        build_context(CT, ["1.2.3.4", ImplicitVRLittleEndian]),
        build_context("1.2.3.4.5", [ExplicitVRLittleEndian]),  # not a SOP class of ours
        build_context(VERIFICATION, ["1.2.3.4"]),  # no syntax in common
    ]
    ours = contexts_for(asked)
    assert [(c.abstract_syntax, c.transfer_syntax) for c in ours[:1]] == [
        (CT, [JPEGBaseline8Bit, ImplicitVRLittleEndian])
    ]
    assert ours[0].scp_role and ours[0].scu_role  # a C-GET requester may take the SCP role
    assert len(ours) == 2 and ExplicitVRLittleEndian in ours[1].transfer_syntax


def _peer(calling: str, _address: str) -> Peer:
    if calling != "CT1":
        raise UnknownPeer(f"calling AE title {calling!r} is no registered equipment's")
    return Peer(Principal(account_id=7, ae_title="CT1"), "uuid", "CT 1")


def test_the_verdict_names_the_wrong_title() -> None:
    verdict = judge("OPENPACS", _peer)
    assert verdict("OPENPACS ", "CT1", "10.0.0.1").principal.account_id == 7
    with pytest.raises(Refused) as called:
        verdict("OTHER", "CT1", "10.0.0.1")
    assert called.value.rejection == CALLED_AE_NOT_RECOGNISED
    with pytest.raises(Refused) as calling:
        verdict("OPENPACS", "MR9", "10.0.0.1")
    assert calling.value.rejection == CALLING_AE_NOT_RECOGNISED
    assert "MR9" in calling.value.reason


@pytest.mark.parametrize(
    ("host", "address", "same"),
    [
        ("127.0.0.1", "127.0.0.1", True),
        ("127.0.0.1", "::ffff:127.0.0.1", True),
        ("localhost", "127.0.0.1", True),
        ("10.0.0.2", "10.0.0.1", False),
        ("", "127.0.0.1", False),
        ("no-such-host.invalid", "127.0.0.1", False),
    ],
)
def test_host_matching(host: str, address: str, same: bool) -> None:
    assert host_matches(host, address) is same


# -- C-MOVE / C-GET -------------------------------------------------------------------


def test_an_instance_goes_out_as_stored_or_decoded_to_an_accepted_syntax() -> None:
    from openpacs.dimse.syntax import outgoing_syntax

    accepted = [(CT, JPEG2000Lossless), (CT, ImplicitVRLittleEndian), ("1.2.9", JPEGBaseline8Bit)]
    assert outgoing_syntax(CT, JPEG2000Lossless, accepted, has_pixel_data=True) == JPEG2000Lossless
    assert (
        outgoing_syntax(CT, JPEGBaseline8Bit, accepted, has_pixel_data=True)
        == ImplicitVRLittleEndian
    )
    # A lossy image never becomes "lossless"; with nothing else accepted it cannot go.
    only_lossless = [(CT, JPEG2000Lossless)]
    assert outgoing_syntax(CT, JPEGBaseline8Bit, only_lossless, has_pixel_data=True) is None
    assert outgoing_syntax("1.2.3", ExplicitVRLittleEndian, accepted, has_pixel_data=True) is None


def test_the_sub_association_proposes_each_stored_syntax_and_a_fallback() -> None:
    from openpacs.dimse.syntax import MAX_CONTEXTS, sub_association_contexts

    contexts = sub_association_contexts(
        [(CT, JPEG2000Lossless), (CT, ExplicitVRLittleEndian), (CT, JPEG2000Lossless)]
    )
    assert [(c.abstract_syntax, c.transfer_syntax) for c in contexts] == [
        (CT, [JPEG2000Lossless]),
        (CT, [ExplicitVRLittleEndian, ImplicitVRLittleEndian]),
    ]
    many = [(f"1.2.{n}", JPEG2000Lossless) for n in range(100)]
    assert len(sub_association_contexts(many)) == MAX_CONTEXTS


def test_a_retrieve_identifier_names_the_unique_keys() -> None:
    from openpacs.dimse.identifier import FindError, parse_retrieve_identifier

    ds = pydicom.Dataset()
    ds.QueryRetrieveLevel = "SERIES"
    ds.StudyInstanceUID = "1.2"
    ds.SeriesInstanceUID = ["1.2.1", "1.2.2"]
    request = parse_retrieve_identifier(ds, "study")
    assert (request.study_uids, request.series_uids) == (("1.2",), ("1.2.1", "1.2.2"))
    ds.QueryRetrieveLevel = "IMAGE"
    with pytest.raises(FindError, match="SOPInstanceUID is required"):
        parse_retrieve_identifier(ds, "study")
    patient = pydicom.Dataset()
    patient.QueryRetrieveLevel = "PATIENT"
    patient.PatientID = "P1"
    assert parse_retrieve_identifier(patient, "patient").patient_ids == ("P1",)
    with pytest.raises(FindError):
        parse_retrieve_identifier(patient, "study")


def test_a_commitment_report_lists_committed_and_failed_instances() -> None:
    from openpacs.dimse.commitment import report_dataset
    from openpacs.services.commitment import Commitment

    event_type, ds = report_dataset("2.25.9", Commitment([(CT, "1.1")], []), "OPENPACS")
    assert event_type == 1 and ds.RetrieveAETitle == "OPENPACS"
    assert [i.ReferencedSOPInstanceUID for i in ds.ReferencedSOPSequence] == ["1.1"]
    assert "FailedSOPSequence" not in ds
    event_type, ds = report_dataset("2.25.9", Commitment([], [(CT, "1.2", 0x0112)]), "OPENPACS")
    assert event_type == 2 and "ReferencedSOPSequence" not in ds
    assert ds.FailedSOPSequence[0].FailureReason == 0x0112
