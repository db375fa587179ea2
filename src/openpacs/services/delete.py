"""DELETE of a study, series or instance (a common DICOMweb extension).

Order of work, so that nothing the index still points at is ever removed:

1. one transaction: delete the instance rows (collecting their blob keys), recount the
   series and study, remove a series or study row that became empty (the SQL is in
   :mod:`openpacs.index.delete_rows`), record the audit event;
2. commit;
3. delete the blobs. A crash between 2 and 3 leaves unreferenced blobs, which cost
   space but no correctness; ``openpacs admin gc --scan-store`` collects them.

The patient order is never deleted with its images (``/deleteorder`` removes it); it goes
back to ``Scheduled`` when its last study goes (see :mod:`openpacs.index.delete_rows`).

Each deletion is recorded as an audit event (``study.delete``, ``series.delete``,
``instance.delete``). Only admins may delete (:mod:`openpacs.services.permissions`);
anyone else, a share link included, gets 403 before anything is looked up. Unknown
UIDs, and other accounts' or out-of-scope ones, are 404.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from openpacs.index.audit import record_event
from openpacs.index.db import Database
from openpacs.index.delete_rows import (
    delete_instance_rows,
    delete_series_rows,
    delete_study_rows,
    find_target,
)
from openpacs.services.errors import NotFound
from openpacs.services.permissions import Action, require
from openpacs.services.principal import Principal
from openpacs.services.retrieve import Scope
from openpacs.storage.base import BlobStore

__all__ = ["DeleteResult", "DeleteService"]

log = logging.getLogger("openpacs.delete")


@dataclass(frozen=True)
class DeleteResult:
    level: str
    instances: int
    blobs_removed: int


class DeleteService:
    """DELETE of a study, series or instance, for a principal (see the module docstring)."""

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self._db = db
        self._blobs = blobs

    def delete(self, principal: Principal, scope: Scope) -> DeleteResult:
        """Delete what ``scope`` names (blocking: run in a worker thread)."""
        require(principal, Action.DELETE)
        with self._db.session() as session:
            found = find_target(session, principal, scope)
            if found is None:
                raise NotFound(f"{scope.describe()} not found")
            target, study_uid = found
            keys = _DELETE_ROWS[scope.level](session, principal.account_id, target)
            record_event(
                session,
                principal,
                f"{scope.level}.delete",
                study_uid=study_uid,
                detail=f"{scope.describe()}: {len(keys)} instance(s)",
            )
        removed = sum(self._remove_blob(key) for key in keys)
        log.info("deleted %s: %d instance(s)", scope.describe(), len(keys))
        return DeleteResult(scope.level, len(keys), removed)

    def _remove_blob(self, key: str) -> bool:
        try:
            self._blobs.delete(key)
        except Exception:  # the index no longer points at it; gc can retry
            log.exception("could not delete blob %s after deleting its index rows", key)
            return False
        return True


_DELETE_ROWS = {
    "instance": delete_instance_rows,
    "series": delete_series_rows,
    "study": delete_study_rows,
}
