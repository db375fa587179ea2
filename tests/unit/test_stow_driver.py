"""The STOW driver over a real SQLite index and filesystem store, fed chunk by chunk:
what a request's body becomes (outcomes in order, audit events, the study RetrieveURL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from bench.dataset import make_instance
from sqlalchemy import select

from openpacs.dicom import status
from openpacs.index.models import AuditEvent, Instance
from openpacs.protocol.stow_response import PART_POSITION, StowResult, error_comment
from openpacs.services.audit import AuditTrail
from openpacs.services.errors import BadRequest, Forbidden, TooLarge
from openpacs.services.principal import Principal
from openpacs.services.store import StoreService
from openpacs.services.stow import ClientGone, Limits, StowDriver, StowRequest
from openpacs.storage.filesystem import FilesystemBlobStore
from tests.support.index import account_index
from tests.support.specs import small_spec
from tests.support.stow import BOUNDARY, multipart_body

BASE = "http://pacs.example/dicomweb"
ROOMY = Limits(max_bytes=1 << 40, max_parts=10_000)


class World:
    def __init__(self, tmp: Path, spool_threshold: int, limits: Limits = ROOMY) -> None:
        self.db, self.who = account_index(tmp)
        self.blobs = FilesystemBlobStore(tmp / "blobs")
        self.store = StoreService(self.db, self.blobs)
        self.audit = AuditTrail(self.db)
        self.driver = StowDriver(
            self.store,
            self.audit,
            staging=self.blobs.staging_dir(),
            spool_threshold=spool_threshold,
            limits=limits,
        )

    def run(
        self,
        body: bytes,
        *,
        chunk: int = 1000,
        study: str | None = None,
        who: Principal | None = None,
        content_length: int | None = None,
        leave_after: int | None = None,
    ) -> StowResult:
        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), chunk):
                if leave_after is not None and start >= leave_after:
                    raise ClientGone
                yield body[start : start + chunk]

        request = StowRequest(who or self.who, BOUNDARY, BASE, study, "10.0.0.7", content_length)
        return asyncio.run(self.driver.run(request, chunks()))

    def audit_events(self) -> list[tuple[str, str, str, str]]:
        self.audit.close()  # writes what is queued
        with self.db.session() as session:
            rows = session.execute(
                select(
                    AuditEvent.action,
                    AuditEvent.study_instance_uid,
                    AuditEvent.detail,
                    AuditEvent.client,
                ).order_by(AuditEvent.id)
            ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]

    def close(self) -> None:
        self.store.close()
        self.audit.close()
        self.db.dispose()


@pytest.fixture(params=[4 << 20, 0], ids=["in-memory", "spooled"])
def world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    w = World(tmp_path, request.param)
    yield w
    w.close()


def test_parts_are_stored_in_arrival_order_and_each_study_is_audited_once(world: World) -> None:
    specs = [small_spec("drv", 1, 1), small_spec("drv", 1, 2), small_spec("other", 1, 1)]
    result = world.run(multipart_body([make_instance(s) for s in specs]))
    assert [s.sop_instance_uid for s in result.stored] == [s.sop_uid for s in specs]
    assert result.failed == [] and result.http_status() == 200
    assert result.study_retrieve_url is None  # two studies: no single study URL
    assert result.stored[0].retrieve_url == (
        f"{BASE}/studies/{specs[0].study_uid}/series/{specs[0].series_uid}"
        f"/instances/{specs[0].sop_uid}"
    )
    assert sorted(world.audit_events()) == sorted(
        [
            ("study.store", specs[0].study_uid, "2 instance(s)", "10.0.0.7"),
            ("study.store", specs[2].study_uid, "1 instance(s)", "10.0.0.7"),
        ]
    )
    assert list(world.blobs.staging_dir().iterdir()) == []


def test_one_study_gets_its_retrieve_url(world: World) -> None:
    spec = small_spec("single", 1, 1)
    result = world.run(multipart_body([make_instance(spec)]), chunk=7)
    assert result.study_retrieve_url == f"{BASE}/studies/{spec.study_uid}"


def test_bad_parts_fail_alone_in_their_place(world: World) -> None:
    good = make_instance(small_spec("mixed", 1, 1))
    typed = (
        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n\r\n".encode()
        + b"\xff\xd8 not dicom\r\n"
        + multipart_body([b"not a dicom file", good])
    )
    result = world.run(typed)
    assert [f.failure_code for f in result.failed] == [
        status.SOP_CLASS_NOT_SUPPORTED,
        status.CANNOT_UNDERSTAND,
    ]
    assert "image/jpeg" in result.failed[0].reason
    assert len(result.stored) == 1 and result.http_status() == 202


def test_every_answer_item_names_its_part_position(world: World) -> None:
    """Two parts of one instance and an unreadable part cannot be told apart by their
    SOP Instance UID: each item carries its part's 1-based position (0009,1003)."""
    first = make_instance(small_spec("pos", 1, 1))
    other = make_instance(small_spec("pos", 1, 2))
    result = world.run(multipart_body([first, b"not a dicom file", first, other]))
    assert [s.part for s in result.stored] == [1, 3, 4]
    # Parts are stored several at a time: whichever copy reached the index first is the
    # stored one, and the other says it was already stored.
    copies = {s.part: s.already_stored for s in result.stored}
    assert sorted([copies[1], copies[3]]) == [False, True] and not copies[4]
    assert [f.part for f in result.failed] == [2]
    answer = result.to_json()
    stored_items = answer["00081199"]["Value"]
    failed_items = answer["00081198"]["Value"]
    positions = [i[PART_POSITION] for i in stored_items]
    assert positions == [{"vr": "UL", "Value": [n]} for n in (1, 3, 4)]
    assert [i[PART_POSITION]["Value"] for i in failed_items] == [[2]]
    assert all(i["00090010"]["Value"] == ["OPENPACS"] for i in stored_items + failed_items)


def test_a_cut_off_body_keeps_its_complete_parts(world: World) -> None:
    first = make_instance(small_spec("cut", 1, 1))
    second = make_instance(small_spec("cut", 1, 2))
    head = f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
    result = world.run(head + first + b"\r\n" + head + second[: len(second) // 2])
    assert len(result.stored) == 1
    [failed] = result.failed
    assert failed.failure_code == status.CANNOT_UNDERSTAND and "cut off" in failed.reason
    assert failed.part == 2
    assert list(world.blobs.staging_dir().iterdir()) == []


def test_the_study_in_the_url_must_match(world: World) -> None:
    result = world.run(multipart_body([make_instance(small_spec("url", 1, 1))]), study="1.2.3")
    [failed] = result.failed
    assert failed.failure_code == status.STUDY_UID_MISMATCH
    assert result.http_status() == 409


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"this is not multipart at all", "malformed multipart body"),
        (f"--{BOUNDARY}--\r\n".encode(), "no parts"),
    ],
)
def test_a_body_without_parts_is_a_bad_request(world: World, body: bytes, words: str) -> None:
    with pytest.raises(BadRequest, match=words):
        world.run(body)


def test_read_only_access_cannot_store(world: World) -> None:
    viewer = Principal(account_id=world.who.account_id, share_id=1, share_order_ids=frozenset())
    assert viewer.read_only
    with pytest.raises(Forbidden):
        world.run(multipart_body([make_instance(small_spec("ro", 1, 1))]), who=viewer)


@pytest.mark.parametrize(
    ("reason", "comment"),
    [
        ("short reason", "short reason"),
        ("x" * 64, "x" * 64),
        (
            "Number of Frames (0028,0008) has an invalid value '1A': it must be a whole number",
            "Number of Frames (0028,0008) has an invalid value '1A': it...",
        ),
        ("a" * 100, "a" * 61 + "..."),
        ("line\nbreaks  and   spaces", "line breaks and spaces"),
    ],
)
def test_the_error_comment_is_an_lo_value_cut_at_a_word(reason: str, comment: str) -> None:
    assert error_comment(reason) == comment
    assert len(error_comment(reason)) <= 64


# -- limits (OPENPACS_MAX_REQUEST_BYTES, OPENPACS_MAX_PARTS) and clients that leave ------


def stored_count(world: World) -> int:
    with world.db.session() as session:
        return len(session.execute(select(Instance.id)).all())


def test_a_declared_length_beyond_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    world = World(tmp_path, 4 << 20, Limits(max_bytes=1000, max_parts=10))
    try:
        with pytest.raises(TooLarge, match="larger than the limit of 1000 bytes"):
            world.run(b"never read", content_length=1001)
        assert stored_count(world) == 0
    finally:
        world.close()


def test_a_body_past_the_byte_limit_stops_there_keeping_the_parts_that_ended(
    tmp_path: Path,
) -> None:
    instances = [make_instance(small_spec("big", 1, n)) for n in (1, 2, 3)]
    world = World(tmp_path, 0, Limits(max_bytes=len(instances[0]) + 500, max_parts=10))
    try:
        result = world.run(multipart_body(instances))  # chunked: no length declared
        assert result.http_status() == 413
        assert [s.sop_instance_uid for s in result.stored] == [small_spec("big", 1, 1).sop_uid]
        assert result.first_failure() == result.over_limit
        assert f"limit of {len(instances[0]) + 500} bytes" in (result.over_limit or "")
        assert result.failed[-1].failure_code == status.OUT_OF_RESOURCES
        assert result.failed[-1].part == 2  # the part being read when the limit hit
        assert stored_count(world) == 1  # nothing stored half
        assert list(world.blobs.staging_dir().iterdir()) == []
    finally:
        world.close()


def test_a_body_past_the_byte_limit_before_any_part_ended_is_refused(tmp_path: Path) -> None:
    world = World(tmp_path, 0, Limits(max_bytes=100, max_parts=10))
    try:
        with pytest.raises(TooLarge, match="OPENPACS_MAX_REQUEST_BYTES"):
            world.run(multipart_body([make_instance(small_spec("huge", 1, 1))]))
        assert list(world.blobs.staging_dir().iterdir()) == []
    finally:
        world.close()


def test_more_parts_than_the_limit_stop_at_the_first_part_too_many(tmp_path: Path) -> None:
    world = World(tmp_path, 4 << 20, Limits(max_bytes=1 << 30, max_parts=2))
    try:
        result = world.run(
            multipart_body([make_instance(small_spec("many", 1, n)) for n in range(4)])
        )
        assert result.http_status() == 413
        assert len(result.stored) == 2 and stored_count(world) == 2
        assert "more than 2 parts" in (result.over_limit or "")
        assert [f.part for f in result.failed] == [3]
    finally:
        world.close()


def test_a_client_that_leaves_mid_body_keeps_the_parts_that_ended(world: World) -> None:
    first = make_instance(small_spec("leave", 1, 1))
    body = multipart_body([first, make_instance(small_spec("leave", 1, 2))])
    with pytest.raises(ClientGone):
        world.run(body, leave_after=len(first) + 200)
    assert stored_count(world) == 1
    assert [event[0] for event in world.audit_events()] == ["study.store"]
    assert list(world.blobs.staging_dir().iterdir()) == []
