"""Retrieve and delete services over a real SQLite index and filesystem blob store (the
WADO decisions built on them: tests/unit/test_wado_service.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from bench.dataset import InstanceSpec, det_uid, make_instance
from sqlalchemy import select

from openpacs.index.db import Database
from openpacs.index.delete_rows import delete_study_rows
from openpacs.index.migrate import upgrade
from openpacs.index.models import Account, Institution, PatientOrder, Series, Study
from openpacs.services.delete import DeleteService
from openpacs.services.errors import Forbidden, NotFound
from openpacs.services.principal import Principal
from openpacs.services.retrieve import (
    Scope,
    fetch_metadata,
    get_instance,
    list_instances,
    representative_instance,
)
from openpacs.services.store import StoreService
from openpacs.services.upload import Upload
from openpacs.storage.filesystem import FilesystemBlobStore
from tests.support.specs import small_spec


@dataclass
class World:
    db: Database
    blobs: FilesystemBlobStore
    alice: Principal
    bob: Principal
    tmp: Path

    def store(self, who: Principal, spec: InstanceSpec) -> None:
        service = StoreService(self.db, self.blobs)
        try:
            outcome = service.store(who, Upload(data=make_instance(spec)), base_url="http://x")
        finally:
            service.close()
        assert outcome.stored is not None, outcome.failed


spec = small_spec


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    db = Database(f"sqlite:///{tmp_path / 'index.db'}")
    upgrade(db.engine)
    ids = []
    with db.session() as session:
        for name in ("alice", "bob"):
            account = Account(name=name)
            session.add(account)
            session.flush()
            session.add(Institution(account_id=account.id, name=name, is_default=True))
            ids.append(account.id)
    yield World(
        db,
        FilesystemBlobStore(tmp_path / "blobs"),
        Principal(account_id=ids[0], user_id=1, role="admin"),
        Principal(account_id=ids[1], user_id=2, role="admin"),
        tmp_path,
    )
    db.dispose()


def test_instances_come_in_series_then_instance_number_order(world: World) -> None:
    for series, number in [(2, 1), (1, 3), (1, 1), (1, 2), (2, 2)]:
        world.store(world.alice, spec("order", series, number))
    with world.db.session() as session:
        refs = list_instances(session, world.alice, Scope(det_uid("order", "study")))
    assert [r.sop_uid for r in refs] == [
        det_uid("order", "sop", s, n) for s, n in [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)]
    ]
    chosen = representative_instance(refs)
    assert chosen is not None and chosen.sop_uid == det_uid("order", "sop", 1, 2)
    with world.db.session() as session:
        metadata = fetch_metadata(session, world.alice.account_id, [r.id for r in refs][::-1])
    sops = [orjson.loads(m)["00080018"]["Value"][0] for m in metadata]
    assert sops == [r.sop_uid for r in refs][::-1]


def test_scopes_other_accounts_and_shares(world: World) -> None:
    world.store(world.alice, spec("scope", 1, 1))
    study = det_uid("scope", "study")
    sop = det_uid("scope", "sop", 1, 1)
    with world.db.session() as session:
        order_id = session.scalar(select(Study.order_id))
        assert order_id is not None
        with pytest.raises(NotFound):
            list_instances(session, world.bob, Scope(study))
        with pytest.raises(NotFound):
            get_instance(session, world.bob, Scope(None, None, sop))
        shared = Principal(
            world.alice.account_id, share_id=1, share_order_ids=frozenset({order_id})
        )
        unshared = Principal(world.alice.account_id, share_id=1, share_order_ids=frozenset())
        assert get_instance(session, shared, Scope(None, None, sop)).ref.sop_uid == sop
        with pytest.raises(NotFound):
            list_instances(session, unshared, Scope(study))
        detail = get_instance(
            session, world.alice, Scope(study, det_uid("scope", "series", 1), sop)
        )
        assert detail.frames_json is not None and detail.ref.number_of_frames == 1
        with pytest.raises(NotFound):
            list_instances(session, world.alice, Scope(study, det_uid("scope", "series", 9)))
    with pytest.raises(Forbidden):
        DeleteService(world.db, world.blobs).delete(shared, Scope(study))


def test_delete_study_rows_returns_keys_and_keeps_the_order_scheduled(world: World) -> None:
    for series, number in [(1, 1), (1, 2), (2, 1)]:
        world.store(world.alice, spec("del", series, number))
    world.store(world.bob, spec("del", 1, 1))  # same UIDs in another account
    with world.db.session() as session:
        study_id = session.scalar(
            select(Study.id).where(Study.account_id == world.alice.account_id)
        )
        assert study_id is not None
        keys = delete_study_rows(session, world.alice.account_id, study_id)
        assert len(keys) == 3
        assert delete_study_rows(session, world.bob.account_id, study_id) == []
    for key in keys:
        assert world.blobs.local_path(key).exists()  # type: ignore[union-attr]
    with world.db.session() as session:
        statuses = dict(session.execute(select(PatientOrder.account_id, PatientOrder.status)).all())
        assert statuses == {
            world.alice.account_id: "Scheduled",
            world.bob.account_id: "ImagesReceived",
        }
        assert (
            session.scalar(select(Series.id).where(Series.account_id == world.alice.account_id))
            is None
        )


def test_delete_recounts_and_removes_blobs(world: World) -> None:
    for series, number in [(1, 1), (1, 2), (2, 1)]:
        world.store(
            world.alice, spec("recount", series, number, modality="MR" if series == 2 else "CT")
        )
    study = det_uid("recount", "study")
    with world.db.session() as session:
        keys = {r.sop_uid: r.blob_key for r in list_instances(session, world.alice, Scope(study))}
    sop = det_uid("recount", "sop", 2, 1)
    result = DeleteService(world.db, world.blobs).delete(world.alice, Scope(None, None, sop))
    assert (result.level, result.instances, result.blobs_removed) == ("instance", 1, 1)
    assert not world.blobs.local_path(keys[sop]).exists()  # type: ignore[union-attr]
    with world.db.session() as session:
        row = session.execute(
            select(Study.num_series, Study.num_instances, Study.modalities_in_study)
        ).one()
    assert tuple(row) == (1, 2, "\\CT\\")
    with pytest.raises(NotFound):
        DeleteService(world.db, world.blobs).delete(world.alice, Scope(None, None, sop))
    with pytest.raises(NotFound):
        DeleteService(world.db, world.blobs).delete(world.bob, Scope(study))
