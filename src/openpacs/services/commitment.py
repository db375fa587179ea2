"""Storage commitment: which of the instances a peer asks about we keep for it.

An instance is committed when it is in the requester's account with the SOP class the
peer names: its row is in the index, and the store service commits a row only after
the blob is durable, so every committed instance is durably stored. Any other instance
is listed as failed with its reason (PS3.4 J.3.2.1.2.1.2): 0112 no such object instance
(not stored, or another account's), 0119 class/instance conflict (stored under another
SOP class).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from openpacs.index.db import Database
from openpacs.index.instance_lookups import sop_classes
from openpacs.services.principal import Principal

__all__ = ["CLASS_INSTANCE_CONFLICT", "NO_SUCH_OBJECT_INSTANCE", "Commitment", "commit"]

NO_SUCH_OBJECT_INSTANCE = 0x0112
CLASS_INSTANCE_CONFLICT = 0x0119


@dataclass(frozen=True)
class Commitment:
    committed: list[tuple[str, str]]  # (SOP class, SOP instance)
    failed: list[tuple[str, str, int]]  # (SOP class, SOP instance, failure reason)


def commit(db: Database, principal: Principal, references: Sequence[tuple[str, str]]) -> Commitment:
    """Sort ``references`` ((SOP class, SOP instance) pairs) into committed and failed."""
    uids = list(dict.fromkeys(uid for _, uid in references))
    with db.session() as session:
        stored = sop_classes(session, principal.account_id, uids)
    result = Commitment([], [])
    for sop_class, uid in references:
        if uid not in stored:
            result.failed.append((sop_class, uid, NO_SUCH_OBJECT_INSTANCE))
        elif stored[uid] != sop_class:
            result.failed.append((sop_class, uid, CLASS_INSTANCE_CONFLICT))
        else:
            result.committed.append((sop_class, uid))
    return result
