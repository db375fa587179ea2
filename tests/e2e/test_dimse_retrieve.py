"""C-MOVE and C-GET from a real server: exactly the study's instances, in the stored or an
accepted syntax, A801, failures counted, and nothing of another account."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import JPEGLSLossless
from pynetdicom import build_role, evt
from pynetdicom.presentation import build_context

from openpacs.index.models import AuditEvent
from tests.support.audit import audit_events
from tests.support.dcmtk import require_dcmtk, run, tool_path
from tests.support.dimse import add_equipment, association, make_image, new_ae_title, store_files
from tests.support.server import ServerProcess, TestAccount, free_port

STUDY_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
STUDY_GET = "1.2.840.10008.5.1.4.1.2.2.3"
ROOT = "1.2.826.0.1.3680043.10.1415.98"
X, Y = f"{ROOT}.1", f"{ROOT}.2"
J2K = "pydicom__MR_small_jp2klossless.dcm"
LOSSY = "pydicom__SC_rgb_jpeg_dcmtk.dcm"


@dataclass
class Archive:
    account: TestAccount
    title: str  # the requester
    destination: str  # a storescp registered as equipment of the account
    received: Path
    corpus: dict[str, pydicom.Dataset]


@pytest.fixture(scope="module")
def archive(
    server: ServerProcess, tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path
) -> Iterator[Archive]:
    require_dcmtk()
    account = server.create_account()
    title, destination = new_ae_title("WS"), new_ae_title("DEST")
    port = free_port()
    add_equipment(server, account, title)
    add_equipment(server, account, destination, host="127.0.0.1", port=port)
    folder = tmp_path_factory.mktemp("retrieve")
    paths = []
    for n, (study, series) in enumerate(
        [(X, f"{X}.1"), (X, f"{X}.1"), (X, f"{X}.2"), (Y, f"{Y}.1")]
    ):
        path = folder / f"{n}.dcm"
        path.write_bytes(
            make_image(
                study=study,
                series=series,
                sop=f"{series}.{n}",
                patient=("Move^Me", "MOVE-1"),
                instance_number=n,
            )
        )
        paths.append(path)
    corpus = {name: corpus_dir / name for name in (J2K, LOSSY)}
    answers = store_files(server, title, [*paths, *corpus.values()])
    assert all(a is not None and a.Status == 0 for a in answers.values()), answers
    received = folder / "received"
    received.mkdir()
    # storescp accepts the uncompressed syntaxes only (its default).
    storescp = subprocess.Popen(
        [tool_path("storescp") or "storescp", "-aet", destination, "-od", str(received), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    time.sleep(0.3)
    yield Archive(
        account,
        title,
        destination,
        received,
        {name: pydicom.dcmread(path) for name, path in corpus.items()},
    )
    storescp.kill()  # it only receives; nothing to finish
    storescp.wait(10)


def received_uids(folder: Path) -> set[str]:
    uids = {
        str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
        for path in folder.iterdir()
    }
    for path in folder.iterdir():
        path.unlink()
    return uids


def keys(*pairs: str) -> list[str]:
    """dcmtk's ``-k KEY=VALUE`` arguments."""
    return [arg for pair in pairs for arg in ("-k", pair)]


def movescu(server: ServerProcess, calling: str, destination: str, *pairs: str) -> str:
    """movescu at STUDY level; its output."""
    address = ["127.0.0.1", str(server.dicom_port)]
    study = keys("QueryRetrieveLevel=STUDY", *pairs)
    called = ["-aet", calling, "-aec", "OPENPACS", "-aem", destination]
    return run("movescu", "-S", "-v", *called, *address, *study).stdout


def test_movescu_sends_exactly_the_studys_instances(
    server: ServerProcess, archive: Archive
) -> None:
    out = movescu(server, archive.title, archive.destination, f"StudyInstanceUID={X}")
    assert "Final Move Response (Success)" in out, out
    assert received_uids(archive.received) == {f"{X}.1.0", f"{X}.1.1", f"{X}.2.2"}
    events = audit_events(
        server.database_url,
        archive.account.account_uuid,
        AuditEvent.action == "study.move",
        count=1,
    )
    assert events and f"to {archive.destination}" in events[0][1]
    assert "3 completed, 0 warning, 0 failed" in events[0][1]


def test_an_unknown_destination_is_a801(server: ServerProcess, archive: Archive) -> None:
    out = movescu(server, archive.title, "NOWHERE", f"StudyInstanceUID={X}")
    assert "MoveDestinationUnknown" in out
    assert received_uids(archive.received) == set()


def test_a_compressed_instance_is_decoded_for_a_peer_that_only_takes_uncompressed(
    server: ServerProcess, archive: Archive
) -> None:
    original = archive.corpus[J2K]
    study = f"StudyInstanceUID={original.StudyInstanceUID}"
    out = movescu(server, archive.title, archive.destination, study)
    assert "Final Move Response (Success)" in out, out
    [path] = list(archive.received.iterdir())
    got = pydicom.dcmread(path)
    assert not got.file_meta.TransferSyntaxUID.is_compressed
    assert got.SOPInstanceUID == original.SOPInstanceUID
    assert np.array_equal(got.pixel_array, original.pixel_array)
    path.unlink()


def test_another_account_moves_nothing(server: ServerProcess, archive: Archive) -> None:
    other = server.create_account()
    title = new_ae_title("THIEF")
    add_equipment(server, other, title)
    # Its own destination with the same storescp: still nothing of account A goes there.
    destination = new_ae_title("LOOT")
    add_equipment(server, other, destination, host="127.0.0.1", port=1)
    out = movescu(server, title, destination, f"StudyInstanceUID={X}")
    assert "Final Move Response (Success)" in out and "Completed Suboperations" not in out
    # The requester's destination AE is account A's: unknown to account B.
    out = movescu(server, title, archive.destination, f"StudyInstanceUID={X}")
    assert "MoveDestinationUnknown" in out
    assert received_uids(archive.received) == set()


def test_getscu_receives_exactly_the_studys_instances(
    server: ServerProcess, archive: Archive, tmp_path: Path
) -> None:
    done = run(
        "getscu",
        "-S",
        "-aet",
        archive.title,
        "-aec",
        "OPENPACS",
        "127.0.0.1",
        server.dicom_port,
        *keys("QueryRetrieveLevel=STUDY", f"StudyInstanceUID={X}"),
        "-od",
        tmp_path,
    )
    assert done.returncode == 0, done.stdout
    assert received_uids(tmp_path) == {f"{X}.1.0", f"{X}.1.1", f"{X}.2.2"}


def test_c_get_counts_an_instance_it_cannot_send_as_failed(
    server: ServerProcess, archive: Archive
) -> None:
    """The peer takes the lossy JPEG's SOP class only as JPEG-LS lossless, which a lossy
    image cannot honestly become: that sub-operation fails and names the instance."""
    lossy = archive.corpus[LOSSY]
    stored: list[str] = []

    def on_store(event: evt.Event) -> int:
        stored.append(str(event.request.AffectedSOPInstanceUID))
        return 0

    contexts = [build_context(STUDY_GET), build_context(lossy.SOPClassUID, [JPEGLSLossless])]
    role = build_role(lossy.SOPClassUID, scp_role=True)
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = lossy.StudyInstanceUID
    with association(
        server, archive.title, contexts, ext_neg=[role], evt_handlers=[(evt.EVT_C_STORE, on_store)]
    ) as assoc:
        answers = list(assoc.send_c_get(identifier, STUDY_GET))
    final, failed = answers[-1]
    assert final.Status == 0xA702  # every sub-operation failed
    assert final.NumberOfFailedSuboperations == 1 and stored == []
    assert failed.FailedSOPInstanceUIDList == lossy.SOPInstanceUID


def test_c_get_on_a_series_with_pynetdicom(server: ServerProcess, archive: Archive) -> None:
    stored: list[str] = []

    def on_store(event: evt.Event) -> int:
        stored.append(str(event.request.AffectedSOPInstanceUID))
        return 0

    ct = "1.2.840.10008.5.1.4.1.1.2"
    contexts = [build_context(STUDY_GET), build_context(ct)]
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "SERIES"
    identifier.SeriesInstanceUID = f"{X}.1"
    with association(
        server,
        archive.title,
        contexts,
        ext_neg=[build_role(ct, scp_role=True)],
        evt_handlers=[(evt.EVT_C_STORE, on_store)],
    ) as assoc:
        answers = list(assoc.send_c_get(identifier, STUDY_GET))
    assert answers[-1][0].Status == 0
    assert sorted(stored) == [f"{X}.1.0", f"{X}.1.1"]
