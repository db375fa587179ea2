"""C-MOVE and C-GET on the service side: which instances, and each one ready to send.

The instances are the principal's only (its account; another account's UIDs simply
match nothing), found with the WADO-RS look-ups (``index/retrieve_sql.py``) in retrieval
order; a patient's are those of the studies a QIDO search by Patient ID finds.

An instance goes out as a pydicom data set read from its stored file, in the stored
transfer syntax (its bytes are re-encoded unchanged), or decoded to the syntax the peer
accepted (``dicom/transcode.py``, as WADO-RS does for ``transfer-syntax=``).
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from pydicom import dcmread
from pydicom.dataset import Dataset

from openpacs.index.db import Database
from openpacs.index.retrieve_sql import find_instances
from openpacs.protocol.qido import Level, parse_qido
from openpacs.services.find import find_matches
from openpacs.services.principal import Principal
from openpacs.services.retrieve import InstanceRef, Scope
from openpacs.services.stored_files import open_stored
from openpacs.storage.base import BlobStore

__all__ = ["NotSendable", "instances_to_retrieve", "outgoing_dataset"]


class NotSendable(Exception):
    """The instance cannot be sent in the syntax asked for (the reason says why)."""


def instances_to_retrieve(
    db: Database,
    principal: Principal,
    *,
    base_url: str,
    patient_ids: Iterable[str] = (),
    study_uids: Iterable[str] = (),
    series_uids: Iterable[str] = (),
    sop_uids: Iterable[str] = (),
) -> list[InstanceRef]:
    """Every instance the keys name (the most specific ones given decide), once each."""
    scopes: list[Scope]
    study_list, series_list, sop_list = list(study_uids), list(series_uids), list(sop_uids)
    one_study = study_list[0] if len(study_list) == 1 else None
    one_series = series_list[0] if len(series_list) == 1 else None
    if sop_list:
        scopes = [Scope(one_study, one_series, uid) for uid in sop_list]
    elif series_list:
        scopes = [Scope(one_study, uid) for uid in series_list]
    elif study_list:
        scopes = [Scope(uid) for uid in study_list]
    else:
        scopes = [
            Scope(str(match.item["0020000D"]["Value"][0]))
            for patient in patient_ids
            for match in find_matches(
                db,
                principal,
                parse_qido([("PatientID", patient)], Level.STUDY),
                base_url=base_url,
            )
        ]
    found: dict[int, InstanceRef] = {}
    with db.session() as session:
        for scope in scopes:
            for ref in find_instances(session, principal, scope):
                found.setdefault(ref.id, ref)
    return list(found.values())


def outgoing_dataset(blobs: BlobStore, ref: InstanceRef, syntax: str) -> Dataset:
    """The instance as a data set in ``syntax`` (its File Meta says which)."""
    with open_stored(blobs, ref) as stored:
        if syntax == ref.transfer_syntax_uid:
            return dcmread(stored, force=True)
        # The transcoder loads at the first C-GET or C-MOVE that needs it, or after the
        # first answers (web/warm_up.py), not with the DICOM node.
        from openpacs.dicom.transcode import TranscodeError, transcode

        out = io.BytesIO()
        try:
            transcode(stored, out, syntax)
        except TranscodeError as exc:
            raise NotSendable(str(exc)) from None
    out.seek(0)
    return dcmread(out, force=True)
