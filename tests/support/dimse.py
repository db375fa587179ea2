"""Registering DICOM peers in a test server's database, and a pynetdicom SCU."""

from __future__ import annotations

import uuid

from openpacs.index.db import Database
from openpacs.services import accounts
from tests.support.server import ServerProcess, TestAccount


def new_ae_title(prefix: str = "T") -> str:
    """A fresh AE title (16 characters at most), so tests never share one."""
    return (prefix + uuid.uuid4().hex)[:16].upper()


def add_equipment(
    server: ServerProcess,
    account: TestAccount,
    ae_title: str,
    *,
    host: str = "",
    port: int | None = None,
    modality: str = "",
) -> str:
    """Register an equipment of ``account`` with this AE title; its EquipmentUuid."""
    db = Database(server.database_url)
    try:
        with db.session() as session:
            equipment = accounts.add_equipment(
                session,
                account.institution_uuid,
                name=f"equipment {ae_title}",
                modality=modality,
                ae_title=ae_title,
            )
            equipment.host = host
            equipment.port = port
            return equipment.uuid
    finally:
        db.dispose()
