"""Property-based tests (hypothesis) of DICOM ingest on mutated corpus files: bytes
flipped, ranges overwritten, files cut or stretched. parse_instance refuses what it
cannot store with InvalidInstance and nothing else; through the whole application
(STOW, then metadata, frames, rendered and thumbnail of what was stored) no answer is a
5xx, nothing is stored half, and the server keeps answering.

Bounded: small corpus files, a few dozen examples through the application, no deadline.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from openpacs.dicom.ingest import parse_instance
from openpacs.dicom.invalid import InvalidInstance
from openpacs.index.db import Database
from openpacs.index.migrate import upgrade
from openpacs.index.models import Instance
from openpacs.services.accounts import create_account
from openpacs.settings import Settings
from openpacs.web.app import create_app
from tests.support.stow import BOUNDARY, multipart_body

with warnings.catch_warnings():  # Starlette would rather its test client used httpx2
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

# pydicom warns about every damaged value it reads past; the Starlette test client about
# its HTTP library.
pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

CORPUS = Path(__file__).resolve().parents[1] / "data" / "dicom"
# Small files of many kinds: native and compressed pixels, colour, big endian, deflated,
# implicit VR, sequences (SR, RT), a truncated one.
FILES = sorted(path for path in CORPUS.glob("*.dcm") if path.stat().st_size < 40_000)
ORIGINALS = {path.name: path.read_bytes() for path in FILES}
PASSWORD = "fuzz-ingest-password"


@dataclass(frozen=True)
class Mutation:
    kind: str  # flip, overwrite, cut, insert
    at: int
    data: bytes

    def apply(self, original: bytes) -> bytes:
        at = self.at % (len(original) + 1)
        if self.kind == "flip" and at < len(original):
            return (
                original[:at]
                + bytes([original[at] ^ (self.data[:1] or b"\xff")[0]])
                + original[at + 1 :]
            )
        if self.kind == "overwrite":
            return original[:at] + self.data + original[at + len(self.data) :]
        if self.kind == "cut":
            return original[:at]
        return original[:at] + self.data + original[at:]


# Most of what ingest reads is in the first kilobytes (File Meta, the header, element
# lengths); pixel data is the rest.
mutations = st.builds(
    Mutation,
    kind=st.sampled_from(["flip", "flip", "overwrite", "cut", "insert"]),
    at=st.one_of(st.integers(0, 2048), st.integers(0, 40_000)),
    data=st.one_of(
        st.binary(min_size=1, max_size=16),
        st.sampled_from([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"SQ\x00\x00\xff\xff\xff\xff"]),
    ),
)
mutated_files = st.tuples(
    st.sampled_from(sorted(ORIGINALS)), st.lists(mutations, min_size=1, max_size=3)
)


def mutate(name: str, changes: list[Mutation]) -> bytes:
    data = ORIGINALS[name]
    for change in changes:
        data = change.apply(data)
    return data


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated_files)
def test_a_mutated_file_is_parsed_or_refused_with_a_reason(
    case: tuple[str, list[Mutation]],
) -> None:
    try:
        parse_instance(mutate(*case))
    except InvalidInstance as exc:
        assert exc.reason and exc.reason.isprintable()
        assert "Error:" not in exc.reason and "NoneType" not in exc.reason


# -- through the application ------------------------------------------------------------


@dataclass
class App:
    client: TestClient
    db: Database
    data_dir: Path
    auth: tuple[str, str]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    data_dir = tmp_path_factory.mktemp("fuzz-app")
    settings_ = Settings(data_dir=data_dir, access_log=False).resolved()
    db = Database(settings_.effective_database_url)
    upgrade(db.engine)
    with db.session() as session:
        create_account(session, name="fuzz", email="fuzz@example.org", password=PASSWORD)
    with TestClient(create_app(settings_, db=db), raise_server_exceptions=False) as client:
        yield App(client, db, data_dir, ("fuzz@example.org", PASSWORD))
    db.dispose()


def get(app: App, url: str) -> int:
    status = app.client.get(url, auth=app.auth).status_code
    assert status < 500, url
    return status


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=mutated_files)
def test_a_mutated_file_through_the_application_is_never_a_5xx_nor_stored_half(
    app: App, case: tuple[str, list[Mutation]]
) -> None:
    answer = app.client.post(
        "/dicomweb/studies",
        content=multipart_body([mutate(*case)]),
        headers={
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
        },
        auth=app.auth,
    )
    assert answer.status_code < 500, answer.headers.get("x-error-reason")
    for item in answer.json().get("00081199", {}).get("Value", []):
        url = item["00081190"]["Value"][0].split("/dicomweb", 1)[1]
        base = f"/dicomweb{url}"
        get(app, base + "/metadata")
        for suffix in ("/rendered", "/thumbnail", "/frames/1"):
            get(app, base + suffix)
    # Nothing stored half: every instance has its whole file; no part left in staging.
    with app.db.session() as session:
        keys = list(session.scalars(select(Instance.blob_key)))
    blobs = app.data_dir / "blobs"
    assert all((blobs / key).stat().st_size > 0 for key in keys)
    assert not [path for path in (blobs / ".staging").iterdir() if path.is_file()]
    assert app.client.get("/healthz").status_code == 200  # and it keeps answering


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    name=st.sampled_from(sorted(ORIGINALS)),
    changes=st.lists(mutations, max_size=3),
    content_type=st.sampled_from(
        [
            f'multipart/related; type="application/dicom"; boundary={BOUNDARY}',
            f"multipart/related; boundary={BOUNDARY}",
            'multipart/related; type="application/dicom"',
            "multipart/related; boundary=",
            "application/dicom",
            "",
        ]
    ),
)
def test_a_mutated_stow_body_is_never_a_5xx(
    app: App, name: str, changes: list[Mutation], content_type: str
) -> None:
    body = multipart_body([ORIGINALS[name]])
    for change in changes:  # now the framing itself is damaged too
        body = change.apply(body)
    answer = app.client.post(
        "/dicomweb/studies", content=body, headers={"Content-Type": content_type}, auth=app.auth
    )
    assert answer.status_code < 500, answer.headers.get("x-error-reason")
    assert app.client.get("/healthz").status_code == 200
