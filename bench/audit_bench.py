"""The audit trail's costs: on the WADO hot path, and reading it at a million events.

``wado``: the latency of a small WADO-RS retrieve (one 64x64 instance, multipart) and of
``/metadata``, one client, against servers of this tree with ``OPENPACS_AUDIT_SYNC``
true and false, and optionally another tree (``--baseline /path/to/src``, e.g. the
main branch, whose audit was an unsynced in-memory queue); the servers take turns,
round by round, so machine noise falls on all of them alike.

``readout``: a million events in one account (50 users, 20,000 patients, 30,000 studies,
12 actions, a year), on SQLite and on PostgreSQL (``--postgres URL``, after ANALYZE);
for each filter of ``openpacs audit``: the plan (EXPLAIN) and the time of the first
page of 100 and of a page deep in the results.

    .venv/bin/python -m bench.audit_bench wado [--rounds 5] [--baseline ../main/src]
    .venv/bin/python -m bench.audit_bench readout [--events 1000000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text
from tests.support.server import ServerProcess
from tests.support.stow import stow

from bench.dataset import InstanceSpec, det_uid, make_instance
from openpacs.index.audit import (
    AuditFilter,
    actions_with_prefix,
    branch_statement,
    events_page,
    readout_statement,
)
from openpacs.index.db import Database
from openpacs.index.migrate import upgrade
from openpacs.index.models import Account, AuditEvent, User

ACTIONS = (
    "study.retrieve",
    "study.metadata",
    "study.view",
    "study.store",
    "order.read",
    "order.tags",
    "order.assign",
    "share.create",
    "share.view",
    "study.delete",
    "order.create",
    "folder.add_order",
)


# --------------------------------------------------------------------------- wado


def _servers(baseline: str | None, root: Path) -> dict[str, ServerProcess]:
    servers = {
        "sync": ServerProcess(root / "sync", env={"OPENPACS_AUDIT_SYNC": "true"}),
        "no-sync": ServerProcess(root / "nosync", env={"OPENPACS_AUDIT_SYNC": "false"}),
    }
    if baseline:
        pythonpath = os.pathsep.join(filter(None, [baseline, os.environ.get("PYTHONPATH")]))
        servers["baseline"] = ServerProcess(root / "base", env={"PYTHONPATH": pythonpath})
    return servers


def _timed(client: httpx.Client, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url)
        response.read()
        out.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return out


def wado(args: argparse.Namespace) -> None:
    spec = InstanceSpec(
        patient_id="AUDIT-BENCH",
        patient_name="Bench^Audit",
        study_uid=det_uid("audit-bench", "study"),
        series_uid=det_uid("audit-bench", "series"),
        sop_uid=det_uid("audit-bench", "sop"),
        study_date="20240101",
        accession="AB1",
        modality="CT",
        instance_number=1,
        rows=64,
        columns=64,
    )
    with tempfile.TemporaryDirectory() as tmp:
        servers = _servers(args.baseline, Path(tmp))
        clients: dict[str, httpx.Client] = {}
        try:
            for name, server in servers.items():
                server.start()
                account = server.create_account()
                assert stow(server.dicomweb, account.auth, [make_instance(spec)]).is_success
                clients[name] = httpx.Client(auth=account.auth, timeout=30)
            paths = {
                "instance": f"/studies/{spec.study_uid}/series/{spec.series_uid}"
                f"/instances/{spec.sop_uid}",
                "metadata": f"/studies/{spec.study_uid}/metadata",
            }
            times: dict[tuple[str, str], list[float]] = {}
            for name, server in servers.items():  # warm up (logins, caches)
                for path in paths.values():
                    _timed(clients[name], server.dicomweb + path, 20)
            for _ in range(args.rounds):
                for name, server in servers.items():
                    for what, path in paths.items():
                        got = _timed(clients[name], server.dicomweb + path, args.requests)
                        times.setdefault((name, what), []).extend(got)
            for (name, what), values in sorted(times.items()):
                values.sort()
                row = {
                    "server": name,
                    "request": what,
                    "n": len(values),
                    "p50_ms": round(statistics.median(values), 2),
                    "p95_ms": round(values[int(len(values) * 0.95)], 2),
                    "mean_ms": round(statistics.fmean(values), 2),
                }
                print(json.dumps(row))
        finally:
            for client in clients.values():
                client.close()
            for server in servers.values():
                server.stop()


# --------------------------------------------------------------------------- readout


@contextmanager
def _database(url: str | None) -> Iterator[Database]:
    if url:
        db = Database(url)
        yield db
        db.dispose()
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'audit.db'}")
        yield db
        db.dispose()


def _seed(db: Database, events: int) -> tuple[int, list[int], list[str], list[str]]:
    upgrade(db.engine)
    rng = random.Random(7)
    with db.engine.begin() as conn:
        account = conn.execute(insert(Account).values(name="bench").returning(Account.id)).scalar()
        assert account is not None
        users = [
            int(
                conn.execute(
                    insert(User)
                    .values(
                        account_id=account,
                        email=f"u{i}-{time.time_ns()}@bench.example",
                        password_hash="x",
                        role="member",
                    )
                    .returning(User.id)
                ).scalar_one()
            )
            for i in range(50)
        ]
    patients = [f"PAT{i:06d}" for i in range(20_000)]
    studies = [det_uid("audit", i) for i in range(30_000)]
    start = datetime.now(UTC) - timedelta(days=365)
    batch: list[dict[str, Any]] = []
    started = time.perf_counter()
    for i in range(events):
        study = rng.randrange(len(studies))
        batch.append(
            {
                "account_id": account,
                "user_id": rng.choice(users),
                "share_id": None,
                "token_id": None,
                "action": rng.choice(ACTIONS),
                "outcome": "failure" if rng.random() < 0.02 else "success",
                "study_instance_uid": studies[study],
                "patient_id": patients[study % len(patients)],
                "detail": "",
                "client": f"10.0.{rng.randrange(255)}.{rng.randrange(255)}",
                "created_at": start + timedelta(seconds=i * 365 * 86400 / events),
            }
        )
        if len(batch) == 20_000:
            with db.engine.begin() as conn:
                conn.execute(insert(AuditEvent), batch)
            batch = []
    if batch:
        with db.engine.begin() as conn:
            conn.execute(insert(AuditEvent), batch)
    if not db.is_sqlite:
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE audit_event"))
    print(f"# seeded {events} events in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return account, users, patients, studies


def _explain(db: Database, where: AuditFilter, account: int) -> str:
    if where.action.endswith("*"):  # one range per action (events_page): show the first
        with db.session() as session:
            first = actions_with_prefix(session, account, where.action.rstrip("*"))[0]
        stmt: Any = branch_statement(account, where, first, 101)
    else:
        stmt = readout_statement(account, where).limit(101)
    sql = str(stmt.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + sql).all()
    lines = [str(row[3] if db.is_sqlite else row[0]).strip() for row in rows]
    if not db.is_sqlite:  # the scans of audit_event and any sort; the joins are by key
        lines = [line for line in lines if "audit_event" in line or line.startswith("->  Sort")]
    return " | ".join(lines)


def readout(args: argparse.Namespace) -> None:
    for url in [None, args.postgres] if args.postgres else [None]:
        with _database(url) as db:
            account, users, patients, studies = _seed(db, args.events)
            week_ago = datetime.now(UTC) - timedelta(days=7)
            filters = {
                "newest": AuditFilter(),
                "user": AuditFilter(user_id=users[3]),
                "patient": AuditFilter(patient_id=patients[1234]),
                "study": AuditFilter(study_instance_uid=studies[4321]),
                "action": AuditFilter(action="study.delete"),
                "action_prefix": AuditFilter(action="order.*"),
                "patient_last_week": AuditFilter(patient_id=patients[99], since=week_ago),
                "user_last_week": AuditFilter(user_id=users[7], since=week_ago),
            }
            for name, where in filters.items():
                timings = {}
                for label, offset in (("first_page_ms", 0), ("page_at_5000_ms", 5000)):
                    best = float("inf")
                    for _ in range(3):
                        started = time.perf_counter()
                        with db.session() as session:
                            rows = events_page(session, account, where, limit=100, offset=offset)
                        best = min(best, (time.perf_counter() - started) * 1000)
                    timings[label] = round(best, 2)
                    timings[label.replace("_ms", "_rows")] = len(rows)
                row = {
                    "database": db.engine.dialect.name,
                    "events": args.events,
                    "filter": name,
                    **timings,
                    "plan": _explain(db, where, account),
                }
                print(json.dumps(row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("wado")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--baseline", help="another tree's src/ (e.g. the main branch)")
    p = sub.add_parser("readout")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--postgres", help="an empty PostgreSQL database URL")
    args = parser.parse_args()
    wado(args) if args.mode == "wado" else readout(args)


if __name__ == "__main__":
    main()
