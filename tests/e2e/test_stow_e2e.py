"""STOW-RS against a real server: the corpus, the PostDICOM form, dicomweb-client, isolation."""

from __future__ import annotations

from pathlib import Path

import httpx
import pydicom
import pytest
from bench.dataset import InstanceSpec, make_instance, study_specs
from dicomweb_client.api import DICOMwebClient
from dicomweb_client.session_utils import create_session_from_auth
from requests.auth import HTTPBasicAuth

from tests.support.server import ServerProcess, TestAccount
from tests.support.stow import BOUNDARY, failed_items, multipart_body, referenced_uids, stow

# What the archive must say about each file of the corpus (see tests/data/dicom/README.md).
REJECTED = {
    "pydicom__MR_truncated.dcm": (0xC000, "truncated"),
    "pydicom__badVR.dcm": (0xC000, "Number of Frames"),
    "pydicom__no_meta.dcm": (0xC000, "Part-10"),
    "pydicom__rtstruct.dcm": (0xC000, "Part-10"),
    "pydicom__dicomdirtests_DICOMDIR.dcm": (0x0122, "DICOMDIR"),
    "pydicom__hotiron.dcm": (0xA900, "Study Instance UID"),
    "pydicom__SC_rgb_jls_lossy_sample.dcm": (0xA900, "Study Instance UID"),
    "pydicom__priv_SQ.dcm": (0xA900, "SOP Class UID"),
}


# Rejected files whose dataset can be read: their failure names the instance (both UIDs).
IDENTIFIED = {
    "pydicom__MR_truncated.dcm",
    "pydicom__badVR.dcm",
    "pydicom__hotiron.dcm",
    "pydicom__SC_rgb_jls_lossy_sample.dcm",
}


def corpus_files(corpus_dir: Path) -> list[Path]:
    return sorted(corpus_dir.glob("*.dcm"))


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_each_corrupt_or_incomplete_file_fails_alone_with_a_reason(
    server: ServerProcess, account: TestAccount, corpus_dir: Path, name: str
) -> None:
    good = corpus_dir / "pydicom__CT_small.dcm"
    response = stow(
        server.dicomweb, account.auth, [good.read_bytes(), (corpus_dir / name).read_bytes()]
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert referenced_uids(body) == [pydicom.dcmread(good).SOPInstanceUID]
    [failed] = failed_items(body)
    code, words = REJECTED[name]
    assert failed["00081197"]["Value"] == [code]  # type: ignore[index]
    assert words in failed["00000902"]["Value"][0]  # type: ignore[index]
    assert "X-Error-Reason" in response.headers


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_a_failure_names_the_instance_whenever_its_dataset_was_readable(
    server: ServerProcess, account: TestAccount, corpus_dir: Path, name: str
) -> None:
    """PS3.18 10.5.3: each FailedSOPSequence item references the instance that failed."""
    path = corpus_dir / name
    response = stow(server.dicomweb, account.auth, [path.read_bytes()])
    assert response.status_code == 409
    [failed] = failed_items(response.json())
    sop_class = failed["00081150"].get("Value", [""])[0]  # type: ignore[attr-defined]
    sop_instance = failed["00081155"].get("Value", [""])[0]  # type: ignore[attr-defined]
    if name in IDENTIFIED:
        dataset = pydicom.dcmread(path, force=True, stop_before_pixels=True)
        assert (sop_class, sop_instance) == (dataset.SOPClassUID, dataset.SOPInstanceUID)
    else:  # not a Part-10 file, or no SOP UIDs in the dataset
        assert (sop_class, sop_instance) == ("", "")


def test_each_item_names_the_position_of_its_part(
    server: ServerProcess, account: TestAccount, corpus_dir: Path
) -> None:
    """Two parts of one SOP Instance (one truncated), a part without File Meta
    Information, a re-sent part: every item carries its part's 1-based position in the
    private element (0009,1003), the only sure way to map answers to parts."""
    names = [
        "pydicom__MR_small_implicit.dcm",  # 1: stored
        "pydicom__no_meta.dcm",  # 2: not Part-10, no UID in the answer
        "pydicom__MR_truncated.dcm",  # 3: the same SOP Instance UID as 1, truncated
        "pydicom__CT_small.dcm",  # 4: stored
        "pydicom__CT_small.dcm",  # 5: the same instance: one of 4 and 5 is already stored
    ]
    response = stow(server.dicomweb, account.auth, [(corpus_dir / n).read_bytes() for n in names])
    assert response.status_code == 202, response.text
    body = response.json()

    def position(item: dict[str, object]) -> int:
        assert item["00090010"] == {"vr": "LO", "Value": ["OPENPACS"]}
        element = item["00091003"]
        assert isinstance(element, dict) and element["vr"] == "UL"
        return int(element["Value"][0])

    stored = body["00081199"]["Value"]
    assert [position(i) for i in stored] == [1, 4, 5]
    marks = [i.get("00091002", {}).get("Value") for i in stored]
    assert marks[0] is None and sorted(marks[1:], key=str) == [None, ["ALREADY_STORED"]]
    failed = {position(i): i for i in failed_items(body)}
    assert sorted(failed) == [2, 3]
    assert "Part-10" in failed[2]["00091001"]["Value"][0]  # type: ignore[index]
    assert "truncated" in failed[3]["00091001"]["Value"][0]  # type: ignore[index]


def test_the_whole_corpus_in_one_request_stores_every_valid_file(
    server: ServerProcess, account: TestAccount, corpus_dir: Path
) -> None:
    files = corpus_files(corpus_dir)
    response = stow(server.dicomweb, account.auth, [f.read_bytes() for f in files])
    assert response.status_code == 202
    body = response.json()
    assert len(failed_items(body)) == len(REJECTED)
    expected = {
        str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID)
        for f in files
        if f.name not in REJECTED
    }
    # Several files share a SOP Instance UID (one instance in several syntaxes): stored once.
    assert set(referenced_uids(body)) == expected
    assert len(referenced_uids(body)) == len(files) - len(REJECTED)


def test_one_file_per_request_postdicom_form(
    server: ServerProcess, account: TestAccount, corpus_dir: Path
) -> None:
    """Exactly what the C# sample sends: POST {WebAddress}/ with a quoted spaced boundary."""
    data = (corpus_dir / "pydicom__MR_small.dcm").read_bytes()
    boundary = "DICOM DATA BOUNDARY"
    body = (
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = httpx.post(
        server.dicomweb + "/",
        content=body,
        headers={
            "Content-Type": f'multipart/related; boundary="{boundary}"; type="application/dicom"',
            "ContentType": "application/dicom",
        },
        auth=account.auth,
    )
    assert response.status_code == 200, response.text
    assert "X-Error-Reason" not in response.headers
    assert response.headers["content-type"].startswith("application/dicom+json")
    assert referenced_uids(response.json()) == [
        pydicom.dcmread(corpus_dir / "pydicom__MR_small.dcm").SOPInstanceUID
    ]


def test_double_slash_and_chunked_body_are_accepted_in_place(
    server: ServerProcess, account: TestAccount, corpus_dir: Path
) -> None:
    data = multipart_body([(corpus_dir / "pydicom__CT_small.dcm").read_bytes()])

    def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(data), 1000):
            yield data[i : i + 1000]

    response = httpx.post(
        server.dicomweb + "//studies",
        content=chunks(),
        headers={"Content-Type": f"multipart/related; type=application/dicom; boundary={BOUNDARY}"},
        auth=account.auth,
    )
    assert response.status_code == 200, response.text


def test_storing_the_same_instance_twice_is_idempotent(
    server: ServerProcess, account: TestAccount, corpus_dir: Path
) -> None:
    data = (corpus_dir / "pydicom__CT_small.dcm").read_bytes()

    def copies() -> int:
        blobs = (server.data_dir / "blobs").glob("??/*.dcm")
        return sum(1 for blob in blobs if blob.read_bytes() == data)

    before = copies()
    first = stow(server.dicomweb, account.auth, [data])
    second = stow(server.dicomweb, account.auth, [data, data])
    assert first.status_code == 200
    assert second.status_code == 200
    assert len(referenced_uids(second.json())) == 2
    assert copies() == before + 1


def test_a_resent_instance_is_marked_already_stored(
    server: ServerProcess, corpus_dir: Path
) -> None:
    """The first copy is kept and reported as stored; copies after it say so (private
    element (0009,1002) ALREADY_STORED under creator OPENPACS), still 200."""
    account = server.create_account()
    data = (corpus_dir / "pydicom__CT_small.dcm").read_bytes()
    first = stow(server.dicomweb, account.auth, [data])
    again = stow(server.dicomweb, account.auth, [data, data])
    assert first.status_code == 200 and again.status_code == 200
    [new] = first.json()["00081199"]["Value"]
    assert "00091002" not in new
    for item in again.json()["00081199"]["Value"]:
        assert item["00090010"]["Value"] == ["OPENPACS"]
        assert item["00091002"]["Value"] == ["ALREADY_STORED"]


def test_the_whole_failure_reason_travels_beside_the_error_comment(
    server: ServerProcess, account: TestAccount, corpus_dir: Path
) -> None:
    response = stow(
        server.dicomweb, account.auth, [(corpus_dir / "pydicom__badVR.dcm").read_bytes()]
    )
    [failed] = failed_items(response.json())
    comment = failed["00000902"]["Value"][0]  # type: ignore[index]
    full = failed["00091001"]["Value"][0]  # type: ignore[index]
    assert failed["00090010"]["Value"] == ["OPENPACS"]  # type: ignore[index]
    assert failed["00091001"]["vr"] == "UT"  # type: ignore[index]
    assert len(comment) <= 64 and "Number of Frames" in full
    assert len(full) > 64, full
    assert full.startswith(comment.removesuffix("..."))


def test_study_uid_in_the_url_must_match(
    server: ServerProcess, account: TestAccount, corpus_dir: Path
) -> None:
    data = (corpus_dir / "pydicom__CT_small.dcm").read_bytes()
    response = stow(server.dicomweb, account.auth, [data], path="/studies/1.2.3.4")
    assert response.status_code == 409
    [failed] = failed_items(response.json())
    assert failed["00081197"]["Value"] == [0xA901]  # type: ignore[index]
    assert "X-Error-Reason" in response.headers
    dataset = pydicom.dcmread(corpus_dir / "pydicom__CT_small.dcm", stop_before_pixels=True)
    assert failed["00081150"]["Value"] == [dataset.SOPClassUID]  # type: ignore[index]
    assert failed["00081155"]["Value"] == [dataset.SOPInstanceUID]  # type: ignore[index]


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/dicom", 415),
        ("multipart/related; type=application/dicom+json; boundary=x", 415),
        ("multipart/form-data; boundary=x", 415),
        ("multipart/related; type=application/dicom", 400),
    ],
)
def test_wrong_media_types_are_refused(
    server: ServerProcess, account: TestAccount, content_type: str, status: int
) -> None:
    response = httpx.post(
        server.dicomweb + "/studies",
        content=b"--x--",
        headers={"Content-Type": content_type},
        auth=account.auth,
    )
    assert response.status_code == status
    assert response.headers["X-Error-Reason"]


def test_a_body_that_is_not_multipart_is_a_bad_request(
    server: ServerProcess, account: TestAccount
) -> None:
    response = httpx.post(
        server.dicomweb + "/studies",
        content=b"this is not multipart at all",
        headers={"Content-Type": f"multipart/related; type=application/dicom; boundary={BOUNDARY}"},
        auth=account.auth,
    )
    assert response.status_code == 400
    assert "multipart" in response.headers["X-Error-Reason"]


def test_a_part_that_is_not_dicom_fails_alone(
    server: ServerProcess, account: TestAccount, corpus_dir: Path
) -> None:
    response = stow(
        server.dicomweb,
        account.auth,
        [b"hello", (corpus_dir / "pydicom__CT_small.dcm").read_bytes()],
    )
    assert response.status_code == 202
    [failed] = failed_items(response.json())
    assert failed["00081197"]["Value"] == [0xC000]  # type: ignore[index]


def test_a_truncated_request_keeps_the_complete_parts(
    server: ServerProcess, account: TestAccount
) -> None:
    specs = list(study_specs(1, instances_per_series=2, seed="truncated", rows=64, columns=64))
    first, second = (make_instance(s) for s in specs)
    head = f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
    body = head + first + b"\r\n" + head + second[: len(second) // 2]
    response = httpx.post(
        server.dicomweb + "/studies",
        content=body,
        headers={"Content-Type": f"multipart/related; type=application/dicom; boundary={BOUNDARY}"},
        auth=account.auth,
    )
    assert response.status_code == 202
    assert referenced_uids(response.json()) == [specs[0].sop_uid]
    search = httpx.get(
        server.dicomweb + "/instances",
        params={"SOPInstanceUID": specs[1].sop_uid},
        auth=account.auth,
    )
    assert search.status_code == 204


def test_dicomweb_client_package_can_store(
    server: ServerProcess, account: TestAccount, corpus_dir: Path
) -> None:
    client = DICOMwebClient(
        url=server.dicomweb, session=create_session_from_auth(HTTPBasicAuth(*account.auth))
    )
    datasets = [
        pydicom.dcmread(corpus_dir / n) for n in ("pydicom__CT_small.dcm", "pydicom__MR_small.dcm")
    ]
    result = client.store_instances(datasets)
    assert {item.ReferencedSOPInstanceUID for item in result.ReferencedSOPSequence} == {
        ds.SOPInstanceUID for ds in datasets
    }


def test_accounts_do_not_see_each_other(server: ServerProcess, corpus_dir: Path) -> None:
    alice, bob = server.create_account(), server.create_account()
    data = (corpus_dir / "pydicom__CT_small.dcm").read_bytes()
    study_uid = pydicom.dcmread(corpus_dir / "pydicom__CT_small.dcm").StudyInstanceUID
    assert stow(server.dicomweb, alice.auth, [data]).status_code == 200
    mine = httpx.get(
        server.dicomweb + "/studies", params={"StudyInstanceUID": study_uid}, auth=alice.auth
    )
    theirs = httpx.get(
        server.dicomweb + "/studies", params={"StudyInstanceUID": study_uid}, auth=bob.auth
    )
    assert mine.status_code == 200
    assert theirs.status_code == 204
    # The same UIDs may exist in two accounts.
    assert stow(server.dicomweb, bob.auth, [data]).status_code == 200


@pytest.mark.parametrize(
    "auth",
    [None, ("nobody@example.org", "x"), ("wrong-password", "")],
    ids=["none", "unknown", "bad"],
)
def test_bad_credentials_are_401_with_a_basic_challenge(
    server: ServerProcess, account: TestAccount, auth: tuple[str, str] | None
) -> None:
    if auth and auth[0] == "wrong-password":
        auth = (account.email, "not-the-password")
    response = httpx.get(server.dicomweb + "/studies", auth=auth)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="openpacs"'
    assert response.headers["X-Error-Reason"]


def test_synthetic_ct_study_lands_in_one_order_when_sent_file_by_file(
    server: ServerProcess, account: TestAccount
) -> None:
    specs: list[InstanceSpec] = list(
        study_specs(1, instances_per_series=3, seed="order", rows=64, columns=64)
    )
    for spec in specs:
        assert stow(server.dicomweb, account.auth, [make_instance(spec)]).status_code == 200
    response = httpx.get(
        server.dicomweb + "/studies",
        params={"StudyInstanceUID": specs[0].study_uid},
        auth=account.auth,
    )
    [study] = response.json()
    assert study["00201208"]["Value"] == [3]
