"""Folder rows: look-ups by UUID and name, the tree below a folder, the orders linked to
folders (in a viewer's read scope), and the changes of a folder's links.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from openpacs.index.in_lists import in_chunks
from openpacs.index.models import Folder, FolderOrder, PatientOrder, Share
from openpacs.index.raw import dialect_insert
from openpacs.index.viewer import Viewer, order_scope


def folders_of_order(session: Session, order_id: int) -> list[tuple[str, str]]:
    """(FolderUuid, name) of every folder that holds the order, by name."""
    rows = session.execute(
        select(Folder.uuid, Folder.name)
        .join(FolderOrder, FolderOrder.folder_id == Folder.id)
        .where(FolderOrder.order_id == order_id)
        .order_by(Folder.name, Folder.id)
    ).all()
    return [(str(uuid), str(name)) for uuid, name in rows]


def folder_by_uuid(session: Session, account_id: int, folder_uuid: str) -> Folder | None:
    return session.scalar(
        select(Folder).where(Folder.account_id == account_id, Folder.uuid == folder_uuid)
    )


def folder_ids_by_uuid(session: Session, account_id: int, uuids: Sequence[str]) -> dict[str, int]:
    """FolderUuid -> id, for those of ``uuids`` that are the account's."""
    found: dict[str, int] = {}
    for chunk in in_chunks(uuids):
        for folder_uuid, folder_id in session.execute(
            select(Folder.uuid, Folder.id).where(
                Folder.account_id == account_id, Folder.uuid.in_(chunk)
            )
        ):
            found[str(folder_uuid)] = int(folder_id)
    return found


def descendant_folder_ids(session: Session, folder_id: int) -> list[int]:
    """The folder and every folder below it, at any depth (a recursive query).

    UNION (not UNION ALL) drops rows seen before, so even a cyclic tree would end.
    """
    tree = select(Folder.id).where(Folder.id == folder_id).cte("tree", recursive=True)
    tree = tree.union(select(Folder.id).join(tree, Folder.parent_id == tree.c.id))
    return [int(i) for i in session.scalars(select(tree.c.id))]


def named_sibling(
    session: Session, account_id: int, name_norm: str, parent_id: int | None, own: int | None
) -> Folder | None:
    """A folder under ``parent_id`` (None: the top level) whose compared name is
    ``name_norm``, other than the folder ``own``."""
    return session.scalar(
        select(Folder)
        .where(
            Folder.account_id == account_id,
            Folder.name_norm == name_norm,
            Folder.parent_id.is_(None) if parent_id is None else Folder.parent_id == parent_id,
            Folder.id != (own or 0),
        )
        .limit(1)
    )


def name_and_parent(session: Session, folder_id: int) -> tuple[str, int | None] | None:
    row = session.execute(
        select(Folder.name, Folder.parent_id).where(Folder.id == folder_id)
    ).first()
    return None if row is None else (str(row[0]), row[1])


def matching_folders(
    session: Session, account_id: int, parent_id: int | None, name_part: str
) -> list[Folder]:
    """The account's folders (under ``parent_id`` when given) whose compared name
    contains ``name_part`` (any when empty), by name."""
    stmt: Select[Folder] = select(Folder).where(Folder.account_id == account_id)
    if parent_id is not None:
        stmt = stmt.where(Folder.parent_id == parent_id)
    if name_part:
        stmt = stmt.where(Folder.name_norm.contains(name_part, autoescape=True))
    return list(session.scalars(stmt.order_by(Folder.name_norm, Folder.name, Folder.id)))


def _links(viewer: Viewer) -> Select[int, int]:
    """``folder_order`` rows whose order the viewer may see (all when nothing narrows)."""
    stmt = select(FolderOrder.folder_id, FolderOrder.order_id)
    scope = order_scope(viewer)
    if scope:
        stmt = stmt.join(PatientOrder, PatientOrder.id == FolderOrder.order_id).where(*scope)
    return stmt


def visible_links(session: Session, viewer: Viewer, folder_ids: list[int]) -> list[tuple[int, int]]:
    """(folder id, order id) of the links of these folders to orders the viewer may see."""
    links: list[tuple[int, int]] = []
    for chunk in in_chunks(folder_ids):
        links += [
            (int(folder_id), int(order_id))
            for folder_id, order_id in session.execute(
                _links(viewer).where(FolderOrder.folder_id.in_(chunk))
            )
        ]
    return links


def folder_counts(
    session: Session, viewer: Viewer, folder_ids: list[int]
) -> tuple[dict[int, int], dict[int, int]]:
    """Per folder: the orders the viewer may see in it, and its subfolders."""
    n_orders: dict[int, int] = {}
    n_children: dict[int, int] = {}
    for chunk in in_chunks(folder_ids):
        links = _links(viewer).where(FolderOrder.folder_id.in_(chunk)).subquery()
        for folder_id, count in session.execute(
            select(links.c.folder_id, func.count()).group_by(links.c.folder_id)
        ):
            n_orders[int(folder_id)] = int(count)
        for parent_id, count in session.execute(
            select(Folder.parent_id, func.count())
            .where(Folder.parent_id.in_(chunk))
            .group_by(Folder.parent_id)
        ):
            if parent_id is not None:
                n_children[int(parent_id)] = int(count)
    return n_orders, n_children


def orders_by_id(session: Session, order_ids: Sequence[int]) -> list[PatientOrder]:
    rows: list[PatientOrder] = []
    for chunk in in_chunks(order_ids):
        rows += session.scalars(select(PatientOrder).where(PatientOrder.id.in_(chunk))).all()
    return rows


def folders_holding(session: Session, order_id: int) -> set[int]:
    """The ids of the folders the order is linked to."""
    return {
        int(i)
        for i in session.scalars(
            select(FolderOrder.folder_id).where(FolderOrder.order_id == order_id)
        )
    }


def link_count(session: Session, folder_ids: Sequence[int]) -> int:
    """How many order links these folders hold."""
    found = session.scalar(
        select(func.count()).select_from(FolderOrder).where(FolderOrder.folder_id.in_(folder_ids))
    )
    return int(found or 0)


def shares_of_folders(session: Session, folder_ids: Sequence[int]) -> list[Share]:
    return list(session.scalars(select(Share).where(Share.folder_id.in_(folder_ids))))


def delete_folders(session: Session, folder_ids: Sequence[int], share_ids: Sequence[int]) -> None:
    """The folders, their order links and the share links of them (the orders stay)."""
    if share_ids:
        session.execute(delete(Share).where(Share.id.in_(share_ids)))
    session.execute(delete(FolderOrder).where(FolderOrder.folder_id.in_(folder_ids)))
    session.execute(delete(Folder).where(Folder.id.in_(folder_ids)))


def unlink_order(session: Session, folder_id: int, order_id: int) -> None:
    session.execute(
        delete(FolderOrder).where(
            FolderOrder.folder_id == folder_id, FolderOrder.order_id == order_id
        )
    )


def link_orders(session: Session, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: a concurrent identical request is no error."""
    make = dialect_insert(session.get_bind().dialect.name)
    session.execute(make(FolderOrder).values(rows).on_conflict_do_nothing())
