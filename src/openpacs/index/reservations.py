"""Blob reservations (``pending_blob``) are claimed by deleting their row.

Two parties end a reservation: the commit of the instance that was written under the
key (the key becomes the instance's) and garbage collection (the key is abandoned: its
blob goes). Each claims the row with one ``DELETE ... RETURNING`` and acts only on the
keys it got back, so whichever deletes the row first wins and the other learns it lost:
gc never removes the blob of a key an instance committed, and an instance never commits
a key whose blob gc may already have removed. Nothing depends on timing or grace.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.orm import Session

from openpacs.index.models import PendingBlob, utcnow
from openpacs.index.raw import InListStatement

_CLAIM = InListStatement(
    lambda keys: (
        delete(PendingBlob).where(PendingBlob.blob_key.in_(keys)).returning(PendingBlob.blob_key)
    )
)


def claim(conn: Connection | Session, keys: Sequence[str]) -> set[str]:
    """Delete the reservations of ``keys``; the keys that were still reserved. (Compiled
    once per number of keys: the index writer claims every batch it commits.)"""
    if not keys:
        return set()
    connection = conn.connection() if isinstance(conn, Session) else conn
    return {row[0] for row in _CLAIM.rows(connection, list(keys))}


def reserve(conn: Connection | Session, keys: Sequence[str]) -> None:
    """Reserve ``keys`` (again): their blobs are garbage until an instance claims them."""
    if keys:
        now = utcnow()
        conn.execute(insert(PendingBlob), [{"blob_key": key, "created_at": now} for key in keys])


def reserved_before(conn: Connection | Session, cutoff: datetime, limit: int) -> list[str]:
    """Up to ``limit`` keys reserved before ``cutoff``, oldest first."""
    query = (
        select(PendingBlob.blob_key)
        .where(PendingBlob.created_at < cutoff)
        .order_by(PendingBlob.created_at)
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def reserved_among(conn: Connection | Session, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` are reserved now."""
    query = select(PendingBlob.blob_key).where(PendingBlob.blob_key.in_(keys))
    return set(conn.execute(query).scalars())
