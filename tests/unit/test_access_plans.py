"""The read scope and the audit readout use indexes (SQLite EXPLAIN QUERY PLAN; SQLite
plans without statistics, so an empty index plans as a large one would).

PostgreSQL plans from table statistics: ``bench/audit_bench.py`` shows its plans at a
million events."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Select, delete, event, insert

from openpacs.index.audit import (
    AuditFilter,
    actions_with_prefix,
    branch_statement,
    events_page,
    readout_statement,
)
from openpacs.index.db import Database
from openpacs.index.migrate import upgrade
from openpacs.index.models import (
    Account,
    AuditEvent,
    Institution,
    User,
    UserGroup,
    UserGroupMember,
)
from openpacs.index.qido_sql import search_statement
from openpacs.index.retrieve_sql import fetch_directory_rows, fetch_metadata
from openpacs.protocol.qido import Level, parse_qido
from openpacs.services.audit import Event
from openpacs.services.orders import OrderQuery, search_orders
from openpacs.services.principal import Principal
from tests.unit.test_search_service import uses

READER = Principal(1, user_id=5, role="reader")
ADMIN = Principal(1, user_id=4, role="admin")
LIMITED = Principal(1, user_id=6, role="member", institution_ids=frozenset({2, 3}))


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('plans') / 'index.db'}")
    upgrade(database.engine)
    yield database
    database.dispose()


def plan(db: Database, stmt: Select[Any]) -> str:
    sql = str(stmt.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()
    return "\n".join(str(row[3]) for row in rows)


def test_a_readers_search_starts_from_their_assigned_orders(db: Database) -> None:
    detail = plan(db, search_statement(READER, parse_qido([], Level.STUDY)))
    assert uses("ix_study_order_id", detail), detail
    assert uses("ix_patient_order_assigned_user_id", detail), detail
    assert uses("ix_user_group_member_user_id", detail), detail
    assert "SCAN study" not in detail and "SCAN patient_order" not in detail, detail


def test_a_limited_users_search_walks_the_account_and_checks_the_institution(
    db: Database,
) -> None:
    stmt = search_statement(LIMITED, parse_qido([("PatientID", "P1")], Level.STUDY))
    detail = plan(db, stmt)
    assert uses("ix_study_account_patient_id", detail), detail
    assert "SCAN " not in detail, detail


@pytest.mark.parametrize(
    ("where", "index"),
    [
        (AuditFilter(), "ix_audit_account_time"),
        (AuditFilter(user_id=3), "ix_audit_account_user"),
        (AuditFilter(patient_id="P1"), "ix_audit_account_patient"),
        (AuditFilter(study_instance_uid="1.2.3"), "ix_audit_account_study"),
        (AuditFilter(action="study.retrieve"), "ix_audit_account_action"),
    ],
)
def test_each_audit_filter_reads_its_index_newest_first(
    db: Database, where: AuditFilter, index: str
) -> None:
    detail = plan(db, readout_statement(1, where).limit(100))
    assert uses(index, detail), detail
    assert "SCAN audit_event" not in detail, detail
    assert "USE TEMP B-TREE FOR ORDER BY" not in detail, detail  # no sort: a range walk


def test_an_action_prefix_reads_one_range_per_action(db: Database) -> None:
    detail = plan(db, branch_statement(1, AuditFilter(action="study.*"), "study.view", 101))
    assert uses("ix_audit_account_action", detail), detail
    assert "USE TEMP B-TREE" not in detail, detail


def test_an_action_prefix_finds_the_accounts_actions(db: Database) -> None:
    rows = [Event(1, action).row() for action in ("study.view", "study.store", "order.read")]
    with db.engine.begin() as conn:
        conn.execute(insert(Account).values(id=1, name="a"))
        conn.execute(insert(AuditEvent), rows * 3)
    try:
        with db.session() as session:
            assert actions_with_prefix(session, 1, "study.") == ["study.store", "study.view"]
            page = events_page(session, 1, AuditFilter(action="study.*"), limit=4)
            assert len(page) == 5 and {r.event.action for r in page} <= {
                "study.store",
                "study.view",
            }
            assert events_page(session, 1, AuditFilter(action="user.*"), limit=4) == []
            times = [(r.event.created_at, r.event.id) for r in page]
            assert times == sorted(times, reverse=True)
    finally:
        with db.engine.begin() as conn:
            conn.execute(delete(AuditEvent))
            conn.execute(delete(Account))


def order_list_plans(db: Database, who: Principal, query: OrderQuery) -> list[str]:
    """The SQLite plans of an order search's statements (the count and the page)."""
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        if sql.lstrip().startswith("SELECT") and "FROM patient_order" in sql:
            statements.append((sql, params))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with db.session() as session:
            search_orders(session, who, query)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    assert len(statements) == 2  # the count and the page
    details = []
    for sql, params in statements:
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
        details.append("\n".join(str(row[3]) for row in rows))
    return details


def test_a_readers_order_list_starts_from_their_assignments(db: Database) -> None:
    for detail in order_list_plans(db, READER, OrderQuery()):
        assert uses("ix_patient_order_assigned_user_id", detail), detail
        assert "SCAN patient_order" not in detail, detail


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (OrderQuery(other_patient_id="H0000042"), "ix_order_account_other_patient_id"),
        (OrderQuery(other_patient_id="H00000*"), "ix_order_account_other_patient_id"),
        (
            OrderQuery(birthdate_from=date(1970, 1, 1), birthdate_to=date(1970, 12, 31)),
            "ix_order_account_birth_date",
        ),
        (OrderQuery(birthdate_to=date(1950, 1, 1)), "ix_order_account_birth_date"),
    ],
)
def test_the_order_searchs_other_id_and_birth_date_read_their_index(
    db: Database, query: OrderQuery, index: str
) -> None:
    """Both the count and the page (newest first: the matches are sorted, not the whole
    account walked in creation order)."""
    for detail in order_list_plans(db, ADMIN, query):
        assert uses(index, detail), detail
        assert "SCAN patient_order" not in detail, detail


def test_the_order_searchs_institutions_are_counted_from_their_index(db: Database) -> None:
    """One institution or several: the count reads (account, institution, created, id)
    alone, never every order of the account; one institution's newest page walks it."""
    with db.session() as session:
        account = Account(name="plans")
        session.add(account)
        session.flush()
        places = [Institution(account_id=account.id, name=n) for n in ("North", "South")]
        session.add_all(places)
        session.flush()
        who = Principal(account.id, user_id=1, role="admin")
        uuids = tuple(p.uuid for p in places)
    try:
        count, page = order_list_plans(db, who, OrderQuery(institution_uuids=uuids[:1]))
        assert uses("ix_order_account_institution", count), count
        assert uses("ix_order_account_institution", page), page
        assert "TEMP B-TREE" not in page, page  # already newest first
        count, page = order_list_plans(db, who, OrderQuery(institution_uuids=uuids))
        assert uses("ix_order_account_institution", count), count
        assert "SCAN patient_order" not in count + page, (count, page)
    finally:
        with db.engine.begin() as conn:
            conn.execute(delete(Institution))
            conn.execute(delete(Account))


def test_assigned_to_me_or_my_groups_reads_both_assignment_indexes(db: Database) -> None:
    """The user's groups are looked up first and given as values: with a subquery in the
    OR, PostgreSQL scanned the whole table (it cannot BitmapOr a hashed subplan)."""
    with db.session() as session:
        account = Account(name="mine")
        session.add(account)
        session.flush()
        user = User(account_id=account.id, email="mine@example.org", password_hash="x")
        group = UserGroup(account_id=account.id, name="Radiology")
        session.add_all([user, group])
        session.flush()
        session.add(UserGroupMember(group_id=group.id, user_id=user.id))
        who = Principal(account.id, user_id=user.id, role="admin")
    try:
        for detail in order_list_plans(db, who, OrderQuery(assigned_to_user_id=who.user_id)):
            assert uses("ix_patient_order_assigned_user_id", detail), detail
            assert uses("ix_patient_order_assigned_group_id", detail), detail
            assert "SCAN patient_order" not in detail and "SUBQUERY" not in detail, detail
    finally:
        with db.engine.begin() as conn:
            for table in (UserGroupMember, UserGroup, User, Account):
                conn.execute(delete(table))


def test_metadata_and_directory_rows_read_instances_by_primary_key(db: Database) -> None:
    """Not by the account's (account_id, sop_instance_uid) index, which SQLite prefers when
    ``account_id = ?`` is in the WHERE clause: that walked every instance of the account
    for each study's metadata (25 ms at 100,000 instances, growing with the archive)."""
    traced: list[str] = []
    with db.session() as session:
        dbapi = session.connection().connection.dbapi_connection
        dbapi.set_trace_callback(traced.append)  # type: ignore[union-attr]
        fetch_metadata(session, 1, list(range(1, 51)))  # a study of 50 instances
        fetch_directory_rows(session, 1, list(range(1, 51)))
        dbapi.set_trace_callback(None)  # type: ignore[union-attr]
        reads = [sql for sql in traced if sql.lstrip().upper().startswith("SELECT")]
        assert len(reads) == 2, traced
        for sql in reads:
            # Planned as run: with bound parameters (literal values plan otherwise).
            values = tuple(int(v) for v in re.findall(r"(?<![\w.])\d+\b", sql))
            bound = re.sub(r"(?<![\w.])\d+\b", "?", sql)
            rows = session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + bound, values).all()
            detail = "\n".join(str(row[3]) for row in rows)
            assert "SEARCH instance USING INTEGER PRIMARY KEY" in detail, detail
            assert "account_id=?" not in detail, detail
