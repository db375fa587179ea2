"""``openpacs token create|list|revoke`` and ``openpacs audit``; arguments in
:mod:`.access_parsers`. Each returns the exit code (0 done, 1 failed, 2 usage error).

``token create`` prints the secret once (on standard output, after the token's fields;
``--json`` for scripts): it is never shown again. ``audit`` prints a table, ``--json``
or ``--csv`` (every column, one event per line, for a spreadsheet); ``--all`` fetches
every page of a large answer.
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import date, timedelta
from typing import Any

from openpacs.cli.access_parsers import DEFAULT_TOKEN_DAYS
from openpacs.cli.client_common import OK, fail, with_client
from openpacs.cli.client_output import print_json, stderr_console
from openpacs.cli.confirm import confirmed
from openpacs.cli.tables import Column, identifier, render, stdout_console
from openpacs.client.access_results import ApiToken, AuditEvent
from openpacs.client.sync import PacsClient

AUDIT_PAGE = 10_000


# --------------------------------------------------------------------------- tokens


@with_client
def token_create(client: PacsClient, args: argparse.Namespace) -> int:
    expire = args.expire_date or (date.today() + timedelta(days=DEFAULT_TOKEN_DAYS)).isoformat()
    token = client.create_api_token(token_name=args.name, expire_date=expire, scope=args.scope)
    if args.json:
        print_json(token.raw)
        return OK
    _token_table([token])
    stderr_console().print("The token is shown only now; keep it in a safe place:")
    print(token.token)
    return OK


@with_client
def token_list(client: PacsClient, args: argparse.Namespace) -> int:
    tokens = client.list_api_tokens()
    if args.json:
        print_json([token.raw for token in tokens])
    elif not tokens:
        stdout_console().print("No API tokens.")
    else:
        _token_table(tokens)
    return OK


@with_client
def token_revoke(client: PacsClient, args: argparse.Namespace) -> int:
    if not confirmed(f"Revoke API token {args.api_token_uuid}?", yes=args.yes):
        return fail("not revoked")
    revoked = client.revoke_api_token(args.api_token_uuid)
    if args.json:
        print_json(revoked.raw)
    else:
        stdout_console().print(f"Revoked {revoked.api_token_uuid or args.api_token_uuid}.")
    return OK


def _token_table(tokens: list[ApiToken]) -> None:
    columns = [
        identifier("ApiTokenUuid"),
        Column("Name"),
        Column("Scope"),
        identifier("Prefix"),
        Column("Expires"),
        Column("Last used"),
        Column("State"),
    ]
    rows = [
        [
            t.api_token_uuid,
            t.token_name,
            t.scope,
            t.prefix,
            t.expire_date,
            t.last_used_at[:16].replace("T", " ") or "never",
            "revoked" if t.revoked else "expired" if t.expired else "active",
        ]
        for t in tokens
    ]
    render(stdout_console(), columns, rows)


# --------------------------------------------------------------------------- audit

_CSV_FIELDS = (
    ("EventTime", "event_time"),
    ("UserEmail", "user_email"),
    ("UserUuid", "user_uuid"),
    ("ApiTokenUuid", "api_token_uuid"),
    ("ShareUuid", "share_uuid"),
    ("ClientAddress", "client_address"),
    ("Action", "action"),
    ("Outcome", "outcome"),
    ("PatientId", "patient_id"),
    ("StudyInstanceUID", "study_instance_uid"),
    ("Detail", "detail"),
)


@with_client
def audit(client: PacsClient, args: argparse.Namespace) -> int:
    date_from, date_to = args.date_from, args.date_to
    if args.days:
        date_from = (date.today() - timedelta(days=args.days - 1)).isoformat()
    events, next_offset = _events(client, args, date_from, date_to)
    if args.json:
        print_json([event.raw for event in events])
    elif args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([name for name, _ in _CSV_FIELDS])
        for event in events:
            writer.writerow([getattr(event, attr) for _, attr in _CSV_FIELDS])
    elif not events:
        stdout_console().print("No audit events.")
    else:
        _audit_table(events)
    if next_offset is not None and not (args.json or args.csv):
        stderr_console().print(f"More events: use --offset {next_offset} or --all.")
    return OK


def _events(
    client: PacsClient, args: argparse.Namespace, date_from: str | None, date_to: str | None
) -> tuple[list[AuditEvent], int | None]:
    """The matching events (one page of ``--limit``, or with ``--all`` every page), and
    the offset of the next page when more exist."""
    events: list[AuditEvent] = []
    offset, wanted = args.offset, None if args.all else args.limit
    while True:
        size = AUDIT_PAGE if wanted is None else min(wanted, AUDIT_PAGE)
        page = client.get_audit_log(
            user=args.audit_user,
            patient_id=args.patient_id,
            study_instance_uid=args.study,
            action=args.action,
            outcome=args.outcome,
            date_from=date_from,
            date_to=date_to,
            limit=size,
            offset=offset,
        )
        events += page
        offset += len(page)
        if wanted is not None:
            wanted -= len(page)
        if not page.more or not page or wanted == 0:
            return events, offset if page.more else None


def _audit_table(events: list[AuditEvent]) -> None:
    columns = [
        Column("Time (UTC)"),
        identifier("Who"),
        identifier("From"),
        Column("Action"),
        Column("Outcome"),
        identifier("PatientId"),
        identifier("StudyInstanceUID"),
        Column("Detail"),
    ]
    rows: list[list[Any]] = [
        [
            e.event_time[:19].replace("T", " "),
            e.user_email or (f"share {e.share_uuid}" if e.share_uuid else "-"),
            e.client_address,
            e.action,
            e.outcome,
            e.patient_id,
            e.study_instance_uid,
            e.detail,
        ]
        for e in events
    ]
    render(stdout_console(), columns, rows)
