"""What the DICOM node records: every association and every operation.

Associations of a known equipment and their operations go to the audit trail of the
equipment's account (as DICOMweb requests do), written in batches off the DIMSE thread
(``services/audit.py``): ``dicom.associate`` when accepted, ``dicom.reject`` when its
title is an equipment's but the host or the called AE title is wrong. Every rejection
is also logged (logger ``openpacs.dimse``, warning) with the calling AE title, the
address and the reason: a title that is nobody's has no account to record it under.

C-STORE is counted per association and recorded when the association ends, one
``study.store`` event per study (like one STOW request), so that a 1,000-image series
is one audit row, not a thousand.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field

from openpacs.services.audit import AuditTrail, Event
from openpacs.services.commitment import Commitment
from openpacs.services.peers import Peer

log = logging.getLogger("openpacs.dimse")

__all__ = ["AssociationRecord", "SubOperations", "Trail"]


@dataclass
class SubOperations:
    """The C-STORE responses of one retrieve's sub-operations, as they come back."""

    completed: int = 0
    warning: int = 0
    failed: int = 0
    per_study: Counter[str] = field(default_factory=Counter)

    def response(self, status: int) -> None:
        if status == 0:
            self.completed += 1
        elif 0xB000 <= status <= 0xBFFF or status in (0x0001, 0x0107, 0x0116):
            self.warning += 1
        else:
            self.failed += 1

    def describe(self) -> str:
        return f"{self.completed} completed, {self.warning} warning, {self.failed} failed"


@dataclass
class AssociationRecord:
    """One accepted association: who, from where, and what it stored so far."""

    peer: Peer
    address: str
    stored: Counter[str] = field(default_factory=Counter)  # study UID -> instances
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The sub-operations of the C-GET running on this association, if one is.
    sub_operations: SubOperations | None = None
    # Storage commitment results to report once the N-ACTION response has gone out.
    pending_reports: list[tuple[str, Commitment]] = field(default_factory=list)

    @property
    def ae_title(self) -> str:
        return self.peer.principal.ae_title or ""


class Trail:
    def __init__(self, audit: AuditTrail) -> None:
        self._audit = audit

    def refused(self, calling: str, address: str, reason: str, accounts: list[int]) -> None:
        """A rejected association: in the audit trail of every account that has an
        equipment with that calling AE title (a wrong host or called AE title), else
        (nobody's title) in the log only."""
        log.warning("association from %r at %s rejected: %s", calling, address, reason)
        for account_id in accounts:
            self._audit.record(
                Event(
                    account_id=account_id,
                    action="dicom.reject",
                    detail=f"rejected: calling AE {calling} from {address}: {reason}",
                    client=f"{address} {calling}".strip(),
                )
            )

    def accepted(self, record: AssociationRecord) -> None:
        who = f"calling AE {record.ae_title} ({record.peer.name})"
        detail = f"accepted: {who} from {record.address}"
        self.event(record, "dicom.associate", detail)

    def stored(self, record: AssociationRecord, study_uid: str) -> None:
        with record.lock:
            record.stored[study_uid] += 1

    def ended(self, record: AssociationRecord, how: str) -> None:
        """The association is over (released, aborted, connection lost): its C-STOREs."""
        with record.lock:
            stored, record.stored = record.stored, Counter()
        for study_uid, count in sorted(stored.items()):
            detail = f"{count} instance(s) by C-STORE from {record.ae_title}"
            self.event(record, "study.store", detail, study_uid)
        log.debug("association of %s from %s %s", record.ae_title, record.address, how)

    def event(self, record: AssociationRecord, action: str, detail: str, study: str = "") -> None:
        who = record.peer.principal
        self._audit.record(
            Event(
                account_id=who.account_id,
                action=action,
                study_instance_uid=study,
                detail=detail,
                client=f"{record.address} {record.ae_title}".strip(),
            )
        )
