"""Statements run on the DBAPI cursor behave like the ORM/Core ones they replace."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, bindparam, insert, select, update

from openpacs.index.migrate import upgrade
from openpacs.index.models import Account, Institution, PatientOrder, Study
from openpacs.index.raw import RawStatement, RowInsert, raw_cursor
from tests.support.postgres import index_database


@pytest.fixture(params=["sqlite", "postgresql"])
def conn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Connection]:
    with index_database(request.param, tmp_path) as db:
        upgrade(db.engine)
        with db.engine.begin() as connection:
            yield connection


def account_id(conn: Connection) -> int:
    return int(conn.execute(insert(Account).values(name="acct").returning(Account.id)).scalar_one())


STUDY = RowInsert(Study, skip_duplicates_of=("account_id", "study_instance_uid"))


def test_a_row_insert_gives_left_out_columns_the_models_defaults(conn: Connection) -> None:
    cursor = raw_cursor(conn)
    owner = account_id(conn)
    given = {"account_id": owner, "study_instance_uid": "1.2.3", "patient_id": "P1"}
    (new_id,) = STUDY.execute(cursor, conn.dialect, given).fetchone()

    row = conn.execute(select(Study).where(Study.id == new_id)).one()._mapping
    assert row["patient_id"] == "P1"
    assert (row["num_series"], row["num_instances"], row["modalities_in_study"]) == (0, 0, "")
    assert bytes(row["study_json"]) == b"{}"
    assert row["created_at"] is not None and row["updated_at"] is not None
    assert row["order_id"] is None


def test_a_row_insert_skips_an_existing_row_and_returns_nothing(conn: Connection) -> None:
    cursor = raw_cursor(conn)
    owner = account_id(conn)
    first = {"account_id": owner, "study_instance_uid": "1.2.3", "patient_id": "FIRST"}
    assert STUDY.execute(cursor, conn.dialect, first).fetchone() is not None
    again = {**first, "patient_id": "SECOND"}
    assert STUDY.execute(cursor, conn.dialect, again).fetchone() is None
    assert conn.execute(select(Study.patient_id)).scalars().all() == ["FIRST"]


def test_a_row_insert_refuses_a_value_for_no_column() -> None:
    with pytest.raises(KeyError, match="patient_nam"):
        STUDY.complete({"account_id": 1, "study_instance_uid": "1.2", "patient_nam": "x"})


def test_an_update_sets_the_on_update_column_and_keeps_literal_values(conn: Connection) -> None:
    cursor = raw_cursor(conn)
    owner = account_id(conn)
    institution = {"account_id": owner, "name": "Default", "is_default": True}
    (institution_id,) = RowInsert(Institution).execute(cursor, conn.dialect, institution).fetchone()
    values = {"account_id": owner, "institution_id": institution_id, "study_instance_uid": "1.2"}
    (order_id,) = RowInsert(PatientOrder).execute(cursor, conn.dialect, values).fetchone()
    assert conn.execute(select(PatientOrder.status)).scalar_one() == "Scheduled"  # a default
    before = conn.execute(select(PatientOrder.updated_at)).scalar_one()
    time.sleep(0.01)
    # "Scheduled" is a literal in the statement: it must not be asked of the caller.
    mark = RawStatement(
        update(PatientOrder)
        .where(PatientOrder.id == bindparam("order_id"), PatientOrder.status == "Scheduled")
        .values(patient_id=bindparam("patient_id"))
    )
    mark.execute(cursor, conn.dialect, {"order_id": order_id, "patient_id": "P9"})

    patient_id, after = conn.execute(select(PatientOrder.patient_id, PatientOrder.updated_at)).one()
    assert patient_id == "P9"
    assert after > before
