"""Folder look-ups shared by the order and folder services."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from openpacs.index.models import Folder, FolderOrder


def folders_of_order(session: Session, order_id: int) -> list[tuple[str, str]]:
    """(FolderUuid, name) of every folder that holds the order, by name."""
    rows = session.execute(
        select(Folder.uuid, Folder.name)
        .join(FolderOrder, FolderOrder.folder_id == Folder.id)
        .where(FolderOrder.order_id == order_id)
        .order_by(Folder.name, Folder.id)
    ).all()
    return [(str(uuid), str(name)) for uuid, name in rows]
