"""Read-only look-ups of instance rows by blob key or UID: for garbage collection and
storage migration (which keys the index holds, id-ordered pages of keys) and for storage
commitment (the SOP class stored under each UID)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openpacs.index.models import Instance

# UIDs per IN list: well under every backend's limit on bound parameters.
_BATCH = 500


def indexed_keys(session: Session, keys: Sequence[str]) -> set[str]:
    """Those of ``keys`` that some instance's blob is stored under."""
    if not keys:
        return set()
    return set(session.scalars(select(Instance.blob_key).where(Instance.blob_key.in_(keys))))


def instance_totals(session: Session) -> tuple[int, int]:
    """(number of instances, sum of their sizes) in the whole index."""
    count, size = session.execute(
        select(func.count(Instance.id), func.coalesce(func.sum(Instance.size), 0))
    ).one()
    return int(count), int(size)


def instance_keys_after(session: Session, last_id: int, limit: int) -> list[tuple[int, str, int]]:
    """(id, blob key, size) of up to ``limit`` instances with an id above ``last_id``, in
    id order (paging through the index while rows are added)."""
    rows = session.execute(
        select(Instance.id, Instance.blob_key, Instance.size)
        .where(Instance.id > last_id)
        .order_by(Instance.id)
        .limit(limit)
    ).all()
    return [(int(row_id), str(key), int(size or 0)) for row_id, key, size in rows]


def sop_classes(session: Session, account_id: int, uids: Sequence[str]) -> dict[str, str]:
    """SOP Instance UID -> SOP Class UID of the account's instances among ``uids``."""
    found: dict[str, str] = {}
    for start in range(0, len(uids), _BATCH):
        rows = session.execute(
            select(Instance.sop_instance_uid, Instance.sop_class_uid).where(
                Instance.account_id == account_id,
                Instance.sop_instance_uid.in_(uids[start : start + _BATCH]),
            )
        )
        found.update({str(uid): str(cls) for uid, cls in rows})
    return found
