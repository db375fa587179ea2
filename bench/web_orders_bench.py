"""Server time of the web application's order list at 100,000 orders (issue: < 300 ms).

Creates one account with ``--orders`` patient orders directly through the index layer
(bulk inserts of ``index.models`` rows, spread over four institutions; 80% have received
images: a study date and a study row with its modalities; every order has an other
patient ID; 1% are assigned to a user, 1% to their group), then times the list's query
(``OrderService.search``: the page of 25 and the count) for each search the page offers,
on SQLite and, when it answers, on PostgreSQL. With ``--http`` it also times
``GET /orders`` whole (rendering included) on a real server with a signed-in session,
on each database.

    .venv/bin/python -m bench.web_orders_bench [--orders 100000] [--repeat 20] [--http]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select
from tests.support.postgres import temporary_database
from tests.support.server import ServerProcess

from openpacs.dicom.names import normalise_person_name
from openpacs.index.db import Database
from openpacs.index.migrate import upgrade
from openpacs.index.models import (
    Account,
    Institution,
    OrderModality,
    PatientOrder,
    Study,
    User,
    UserGroup,
    UserGroupMember,
)
from openpacs.services.accounts import create_account
from openpacs.services.orders import OrderQuery, OrderService
from openpacs.services.principal import Principal

SURNAMES = ["Smith", "Jansen", "De Vries", "Müller", "Garcia", "Nguyen", "Kowalski", "Ito"]
GIVEN = ["Anna", "Bram", "Chen", "Dana", "Emre", "Fleur", "Goran", "Hana"]
MODALITIES = ["CT", "MR", "US", "CR", "DX", "MG"]
START = date(2015, 1, 1)
PASSWORD = "bench-password-2026"
#: The account's first institution (made with it) and three more; order i is in i % 4.
MORE_INSTITUTIONS = ("North", "South", "East")


def patient_name(patient: int) -> str:
    return f"{SURNAMES[patient % len(SURNAMES)]}{patient:05d}^{GIVEN[patient % len(GIVEN)]}"


def other_patient_id(patient: int) -> str:
    return f"H{patient:07d}"


def seed(database_url: str, n_orders: int) -> tuple[Principal, tuple[str, ...]]:
    """The account, filled; returns its admin as a principal and its institutions'
    UUIDs (the orders are spread over them evenly)."""
    db = Database(database_url)
    upgrade(db.engine)
    started = time.perf_counter()
    with db.session() as session:
        created = create_account(
            session, name="bench", email="bench@example.org", password=PASSWORD
        )
        account_id = session.scalars(
            select(Account.id).where(Account.uuid == created.account_uuid)
        ).one()
        places = [Institution(account_id=account_id, name=n) for n in MORE_INSTITUTIONS]
        session.add_all(places)
        session.flush()
        made_with = session.scalars(
            select(Institution).where(Institution.uuid == created.institution_uuid)
        ).one()
        institution_ids = [made_with.id, *(p.id for p in places)]
        institution_uuids = (made_with.uuid, *(p.uuid for p in places))
        user = session.scalars(select(User).where(User.email == created.email)).one()
        group = UserGroup(account_id=account_id, name="Radiology")
        session.add(group)
        session.flush()
        session.add(UserGroupMember(group_id=group.id, user_id=user.id))
        who = Principal(account_id, user_id=user.id, user_uuid=user.uuid, role="admin")
        group_id = group.id
    batch = 5000
    for first in range(0, n_orders, batch):
        orders: list[dict[str, Any]] = []
        for i in range(first, min(first + batch, n_orders)):
            patient = i // 2
            name = patient_name(patient)
            received = bool(i % 5)
            orders.append(
                {
                    "uuid": str(uuid.uuid4()),
                    "account_id": account_id,
                    "institution_id": institution_ids[i % len(institution_ids)],
                    "status": "ImagesReceived" if received else "Scheduled",
                    "study_instance_uid": f"2.25.{i + 10**12}",
                    "patient_name": name,
                    "patient_name_norm": normalise_person_name(name),
                    "patient_id": f"PAT{patient:06d}",
                    "other_patient_id": other_patient_id(patient),
                    "patient_birth_date": (
                        date(1940, 1, 1) + timedelta(days=(patient * 53) % 25000)
                    ).strftime("%Y%m%d"),
                    "modality": MODALITIES[i % len(MODALITIES)],
                    "accession_number": f"ACC{i:07d}",
                    "study_description": "Benchmark order",
                    "study_date": (
                        (START + timedelta(days=(i * 37) % 3650)).strftime("%Y%m%d")
                        if received
                        else ""
                    ),
                    "assigned_user_id": user.id if i % 100 == 7 else None,
                    "assigned_group_id": group_id if i % 100 == 42 else None,
                }
            )
        with db.session() as session:
            session.execute(insert(PatientOrder), orders)
            ids = dict(
                session.execute(
                    select(PatientOrder.study_instance_uid, PatientOrder.id).where(
                        PatientOrder.account_id == account_id,
                        PatientOrder.study_instance_uid.in_(
                            [o["study_instance_uid"] for o in orders]
                        ),
                    )
                ).all()
            )
            studies = [
                {
                    "account_id": account_id,
                    "order_id": ids[o["study_instance_uid"]],
                    "study_instance_uid": o["study_instance_uid"],
                    "patient_name": o["patient_name"],
                    "patient_name_norm": o["patient_name_norm"],
                    "patient_id": o["patient_id"],
                    "study_date": o["study_date"],
                    "modalities_in_study": f"\\{o['modality']}\\",
                    "num_series": 1,
                    "num_instances": 100,
                }
                for o in orders
                if o["study_date"]
            ]
            session.execute(insert(Study), studies)
            # What the store path keeps (index/order_modalities.py): the order's own
            # modality, which is also its study's here.
            session.execute(
                insert(OrderModality),
                [
                    {
                        "account_id": account_id,
                        "modality": o["modality"],
                        "order_id": ids[o["study_instance_uid"]],
                    }
                    for o in orders
                ],
            )
    if db.engine.dialect.name == "postgresql":
        # As autovacuum does on a live server (statistics, and the visibility map that lets
        # a count read the index alone); SQLite's plans are shaped not to need statistics.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    db.dispose()
    print(f"seeded {n_orders} orders in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return who, institution_uuids


def searches(who: Principal, n_orders: int, institutions: tuple[str, ...]) -> dict[str, OrderQuery]:
    patient = n_orders // 4 // 2
    prefix = patient_name(patient).split("^")[0][:-2]  # ~100 patients
    return {
        "newest, page 1 of 25": OrderQuery(limit=25),
        "page 100 (offset 2475)": OrderQuery(limit=25, offset=2475),
        "name prefix (any case)": OrderQuery(patient_name=prefix.lower(), limit=25),
        "patient ID": OrderQuery(patient_id=f"PAT{patient:06d}", limit=25),
        "accession": OrderQuery(accession_number=f"ACC{patient:07d}", limit=25),
        "other patient ID": OrderQuery(other_patient_id=other_patient_id(patient), limit=25),
        "study date, 60 days": OrderQuery(
            study_date_from=date(2019, 3, 1), study_date_to=date(2019, 4, 30), limit=25
        ),
        "birth date, 1 year": OrderQuery(
            birthdate_from=date(1970, 1, 1), birthdate_to=date(1970, 12, 31), limit=25
        ),
        "birth date, 40 years": OrderQuery(
            birthdate_from=date(1950, 1, 1), birthdate_to=date(1989, 12, 31), limit=25
        ),
        "modality MR": OrderQuery(modalities=("MR",), limit=25),
        "modalities MR, CT": OrderQuery(modalities=("MR", "CT"), limit=25),
        "institution 1 of 4": OrderQuery(institution_uuids=institutions[1:2], limit=25),
        "institutions 2 of 4": OrderQuery(institution_uuids=institutions[1:3], limit=25),
        "2 institutions + MR, CT": OrderQuery(
            institution_uuids=institutions[1:3], modalities=("MR", "CT"), limit=25
        ),
        "status Scheduled": OrderQuery(status="Scheduled", limit=25),
        "assigned to me or my groups": OrderQuery(assigned_to_user_id=who.user_id, limit=25),
        "sort by name": OrderQuery(sort="name", limit=25),
        "sort by study date": OrderQuery(sort="study_date", limit=25),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def time_service(
    database_url: str, who: Principal, n_orders: int, institutions: tuple[str, ...], repeat: int
) -> list[str]:
    db = Database(database_url)
    service = OrderService(db)
    lines = []
    for label, query in searches(who, n_orders, institutions).items():
        times, total = [], 0
        for k in range(repeat + 2):
            began = time.perf_counter()
            total = service.search(who, query).total_count
            if k >= 2:  # two warm-up runs
                times.append((time.perf_counter() - began) * 1000)
        lines.append(
            f"  {label:<30} p50 {percentile(times, 0.5):7.1f} ms  p95 "
            f"{percentile(times, 0.95):7.1f} ms  max {max(times):7.1f} ms  ({total:,} orders)"
        )
    db.dispose()
    return lines


def pages(n_orders: int, institutions: tuple[str, ...]) -> dict[str, str]:
    """The list's addresses timed over HTTP: each filter of the form, and some together."""
    patient = n_orders // 4 // 2
    two = "&".join(f"institution={u}" for u in institutions[1:3])
    deep = max(1, min(100, n_orders // 50))  # page 100 at 100,000 (a smaller run has fewer)
    return {
        "newest": "/orders",
        "name prefix": "/orders?name=smith0123",
        "study date, 60 days": "/orders?from=2019-03-01&to=2019-04-30",
        "other patient ID": f"/orders?opid={other_patient_id(patient)}",
        "birth date, 1 year": "/orders?bfrom=1970-01-01&bto=1970-12-31",
        "birth date, 40 years": "/orders?bfrom=1950-01-01&bto=1989-12-31",
        "modality MR": "/orders?modality=MR",
        "modalities MR, CT": "/orders?modality=MR&modality=CT",
        "institution 1 of 4": f"/orders?institution={institutions[1]}",
        "institutions 2 of 4": f"/orders?{two}",
        "2 institutions + MR, CT": f"/orders?{two}&modality=MR&modality=CT",
        f"page {deep}": f"/orders?page={deep}",
    }


def time_http(
    data_dir: Path, database_url: str, n_orders: int, institutions: tuple[str, ...], repeat: int
) -> list[str]:
    server = ServerProcess(data_dir, database_url=database_url).start()
    lines = []
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            signed = client.post(
                "/signin", data={"email": "bench@example.org", "password": PASSWORD}
            )
            assert signed.status_code == 303, signed.text
            for label, path in pages(n_orders, institutions).items():
                times = []
                for k in range(repeat + 2):
                    began = time.perf_counter()
                    answer = client.get(path)
                    if k >= 2:
                        times.append((time.perf_counter() - began) * 1000)
                    assert answer.status_code == 200, (path, answer.text[:300])
                found = re.search(r'id="total">([\d,]+)<', answer.text)
                count = found.group(1) if found else "0"
                lines.append(
                    f"  {label:<30} p50 {percentile(times, 0.5):7.1f} ms  p95 "
                    f"{percentile(times, 0.95):7.1f} ms  ({count} orders)"
                )
    finally:
        server.stop()
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--http", action="store_true", help="also time GET /orders whole")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    report: list[str] = []
    with tempfile.TemporaryDirectory(prefix="openpacs-web-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'openpacs.db'}"
        who, places = seed(url, args.orders)
        report.append(f"SQLite, {args.orders:,} orders: OrderService.search (page of 25 + count)")
        report += time_service(url, who, args.orders, places, args.repeat)
        if args.http:
            report.append("SQLite, GET /orders over HTTP, signed in (whole page)")
            report += time_http(Path(tmp), url, args.orders, places, args.repeat)
        print("\n".join(report), file=sys.stderr)  # (the SQLite half, while PostgreSQL runs)
    if not args.no_postgres:
        try:
            with temporary_database() as pg_url, tempfile.TemporaryDirectory() as pg_dir:
                who, places = seed(pg_url, args.orders)
                report.append(f"PostgreSQL, {args.orders:,} orders: OrderService.search")
                report += time_service(pg_url, who, args.orders, places, args.repeat)
                if args.http:
                    report.append("PostgreSQL, GET /orders over HTTP, signed in (whole page)")
                    report += time_http(Path(pg_dir), pg_url, args.orders, places, args.repeat)
        except Exception as exc:  # no server: say so, keep the SQLite figures
            report.append(f"PostgreSQL skipped: {exc}")
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
