"""Folders: named virtual containers of patient orders (``/createfolder``, ``/searchfolder``,
``/addordertofolder``).

A folder holds links to orders; putting an order in a folder moves and copies nothing,
and one order can be in many folders. Folders nest to any depth (``parent_id``); the tree
can have no cycle: a folder's parent must already exist when it is created, and a move
(the web application's) refuses to put a folder below itself.

Rules (documented for users):

* Names are compared case- and accent-insensitively (``Folder.name_norm``: upper case,
  accents removed, runs of white space collapsed). Two folders under the same parent
  cannot have the same name (409 naming the existing folder, so a retried or repeated
  create can reuse it); the same name under different parents is fine.
* ``/searchfolder`` with ``ParentFolderUuid`` lists that folder's direct subfolders;
  without it, it searches every folder of the account at any depth. ``FolderName``
  keeps the folders whose name contains the text (case- and accent-insensitive).
  Results are ordered by name. With ``GetOrdersInFolder`` each folder carries the
  orders linked directly to it (not those of its subfolders), newest first.
* ``/addordertofolder`` is idempotent: linking an order to a folder it is already in
  changes nothing.

Every function is scoped to the caller's account: another account's folder or order is
reported as not found (404). Folders themselves are the account's (every role sees
their names), but the orders in them are filtered by the caller's read scope: a reader
sees in a folder only the orders assigned to them, and ``NumberOfOrders`` counts those.
Creating folders and linking orders needs the write permission (not a reader's).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from openpacs.dicom.ingest import normalize_name
from openpacs.index.audit import record_event
from openpacs.index.db import Database
from openpacs.index.folder_rows import folders_of_order
from openpacs.index.models import Folder, FolderOrder, PatientOrder, Share
from openpacs.index.raw import dialect_insert
from openpacs.index.viewer import Viewer, order_scope
from openpacs.services.errors import BadRequest, Conflict, Forbidden, NotFound
from openpacs.services.orders import (
    FolderRef,
    OrderSummary,
    _iso,
    _summary_values,
    find_order,
)
from openpacs.services.permissions import Action, Grant, grant_of, require
from openpacs.services.principal import Principal
from openpacs.words import counted

# IN lists are sent in chunks of this size (SQLite's bound-parameter limit).
_CHUNK = 500


# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FolderInfo:
    """One folder; ``PatientOrderList`` is filled only when the orders were asked for."""

    folder_uuid: str
    folder_name: str
    folder_description: str
    parent_folder_uuid: str  # "" for a top-level folder
    created_at: str  # ISO 8601, UTC
    number_of_orders: int  # orders linked directly to this folder
    number_of_subfolders: int  # direct subfolders
    patient_order_list: tuple[OrderSummary, ...]


@dataclass(frozen=True)
class FolderList:
    folder_list: tuple[FolderInfo, ...]


@dataclass(frozen=True)
class OrderFolders:
    """The folders of an order after ``/addordertofolder``."""

    patient_order_uuid: str
    added_folder_uuid_list: tuple[str, ...]  # newly linked (already linked ones are left out)
    folder_list: tuple[FolderRef, ...]  # every folder the order is in now, by name


# -- requests ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FolderQuery:
    parent_folder_uuid: str = ""
    folder_name: str = ""
    get_orders_in_folder: bool = False


# -- the service -------------------------------------------------------------------------


class FolderService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self, who: Principal, name: str, description: str = "", parent_folder_uuid: str = ""
    ) -> FolderInfo:
        require(who, Action.WRITE)
        with self._db.session() as session:
            folder = create_folder(session, who, name, description, parent_folder_uuid)
            return folder_infos(session, who, [folder], with_orders=False)[0]

    def search(self, who: Principal, query: FolderQuery) -> FolderList:
        require(who, Action.READ)
        with self._db.session() as session:
            return FolderList(search_folders(session, who, query))

    def add_order(
        self, who: Principal, order_uuid: str, folder_uuids: Sequence[str]
    ) -> OrderFolders:
        require(who, Action.WRITE)
        with self._db.session() as session:
            return add_order_to_folders(session, who, order_uuid, folder_uuids)

    # -- the web application's changes (no API endpoint of the vendor guide)

    def change(
        self, who: Principal, folder_uuid: str, name: str, description: str, parent_uuid: str
    ) -> None:
        """Rename a folder, change its description, or move it under another parent
        (``parent_uuid`` "" = the top); never below itself."""
        require(who, Action.WRITE)
        name = " ".join(name.split())
        if not name:
            raise BadRequest("FolderName: a folder needs a name")
        with self._db.session() as session:
            folder = find_folder(session, who, folder_uuid, "FolderUuid")
            parent = (
                find_folder(session, who, parent_uuid, "ParentFolderUuid") if parent_uuid else None
            )
            if parent is not None and parent.id in descendant_folder_ids(session, folder.id):
                raise BadRequest("ParentFolderUuid: a folder cannot be moved into itself")
            _check_free_name(session, who, name, parent, own=folder.id)
            folder.name, folder.name_norm = name, folder_name_norm(name)
            folder.description = description.strip()
            folder.parent_id = parent.id if parent is not None else None
            record_event(session, who, "folder.change", detail=f"FolderUuid={folder.uuid}: {name}")

    def delete(self, who: Principal, folder_uuid: str, *, with_contents: bool) -> None:
        """Delete a folder: empty (no subfolders, no orders), or with ``with_contents``
        its subfolders and links too. Orders are never deleted; share links of the
        folders end (which needs the right to revoke them)."""
        require(who, Action.WRITE)
        with self._db.session() as session:
            folder = find_folder(session, who, folder_uuid, "FolderUuid")
            ids = descendant_folder_ids(session, folder.id)
            linked = session.scalar(
                select(func.count()).select_from(FolderOrder).where(FolderOrder.folder_id.in_(ids))
            )
            if not with_contents and (len(ids) > 1 or linked):
                raise Conflict(
                    f"folder {folder.name!r} is not empty "
                    f"({counted(len(ids) - 1, 'subfolders')}, "
                    f"{counted(linked or 0, 'order links')}); "
                    "confirm to delete it with its contents"
                )
            shares = session.scalars(select(Share).where(Share.folder_id.in_(ids))).all()
            if shares:
                grant = grant_of(who, Action.REVOKE_SHARE)
                if grant is Grant.NONE or (
                    grant is Grant.OWN and any(s.created_by_user_id != who.user_id for s in shares)
                ):
                    raise Forbidden(
                        f"folder {folder.name!r} is shared by a link you may not revoke; "
                        "ask an admin"
                    )
                session.execute(delete(Share).where(Share.id.in_([s.id for s in shares])))
            session.execute(delete(FolderOrder).where(FolderOrder.folder_id.in_(ids)))
            session.execute(delete(Folder).where(Folder.id.in_(ids)))
            record_event(
                session,
                who,
                "folder.delete",
                detail=f"FolderUuid={folder.uuid}: {folder.name}, {len(ids) - 1} subfolder(s), "
                f"{linked} order link(s), {len(shares)} share(s)",
            )

    def remove_order(self, who: Principal, order_uuid: str, folder_uuid: str) -> None:
        """Take an order out of a folder (the order itself stays)."""
        require(who, Action.WRITE)
        with self._db.session() as session:
            order = find_order(session, who, order_uuid)
            folder = find_folder(session, who, folder_uuid, "FolderUuid")
            session.execute(
                delete(FolderOrder).where(
                    FolderOrder.folder_id == folder.id, FolderOrder.order_id == order.id
                )
            )
            record_event(
                session,
                who,
                "folder.remove_order",
                study_uid=order.study_instance_uid,
                detail=f"PatientOrderUuid={order.uuid}; FolderUuid={folder.uuid}",
            )


# -- names -------------------------------------------------------------------------------


def folder_name_norm(name: str) -> str:
    """The comparison form of a folder name: upper case, no accents, single spaces."""
    return normalize_name(" ".join(name.split()))


# -- lookups -----------------------------------------------------------------------------


def find_folder(session: Session, who: Principal, folder_uuid: str, key: str) -> Folder:
    """The caller's folder; NotFound (naming ``key``) for unknown and other accounts' ones."""
    folder = session.scalar(
        select(Folder).where(Folder.account_id == who.account_id, Folder.uuid == folder_uuid)
    )
    if folder is None:
        raise NotFound(f"{key}: no folder {folder_uuid}")
    return folder


def descendant_folder_ids(session: Session, folder_id: int) -> list[int]:
    """The folder and every folder below it, at any depth (a recursive query).

    UNION (not UNION ALL) drops rows seen before, so even a cyclic tree would end.
    """
    tree = select(Folder.id).where(Folder.id == folder_id).cte("tree", recursive=True)
    tree = tree.union(select(Folder.id).join(tree, Folder.parent_id == tree.c.id))
    return [int(i) for i in session.scalars(select(tree.c.id))]


# -- create ------------------------------------------------------------------------------


def create_folder(
    session: Session, who: Principal, name: str, description: str, parent_folder_uuid: str
) -> Folder:
    name = " ".join(name.split())
    parent = None
    if parent_folder_uuid:
        parent = find_folder(session, who, parent_folder_uuid, "ParentFolderUuid")
    norm = folder_name_norm(name)
    _check_free_name(session, who, name, parent)
    folder = Folder(
        account_id=who.account_id,
        parent_id=parent.id if parent is not None else None,
        name=name,
        name_norm=norm,
        description=description,
    )
    session.add(folder)
    session.flush()
    return folder


def _check_free_name(
    session: Session, who: Principal, name: str, parent: Folder | None, own: int | None = None
) -> None:
    """Conflict when another folder under ``parent`` has the same name. The reason names
    both in words (the people reading it know folders by name and place) and ends with
    the existing folder's FolderUuid, so that an API client can use that folder."""
    same_name = select(Folder).where(
        Folder.account_id == who.account_id,
        Folder.name_norm == folder_name_norm(name),
        Folder.parent_id.is_(None) if parent is None else Folder.parent_id == parent.id,
        Folder.id != (own or 0),
    )
    clash = session.scalar(same_name.limit(1))
    if clash is None:
        return
    where = "at the top level" if parent is None else f"in {folder_path(session, parent)!r}"
    hint = "" if clash.name == name else " (names are compared ignoring case, accents and spaces)"
    raise Conflict(
        f"FolderName: there is already a folder named {clash.name!r} {where}{hint}; "
        f"choose another name (FolderUuid {clash.uuid})"
    )


def folder_path(session: Session, folder: Folder) -> str:
    """The folder's place from the top, in words: ``Teaching / Chest``."""
    names = [folder.name]
    parent_id, seen = folder.parent_id, {folder.id}
    while parent_id is not None and parent_id not in seen and len(names) < 64:
        seen.add(parent_id)
        row = session.execute(
            select(Folder.name, Folder.parent_id).where(Folder.id == parent_id)
        ).first()
        if row is None:
            break
        names.append(str(row[0]))
        parent_id = row[1]
    return " / ".join(reversed(names))


# -- read --------------------------------------------------------------------------------


def search_folders(session: Session, who: Principal, query: FolderQuery) -> tuple[FolderInfo, ...]:
    stmt: Select[Folder] = select(Folder).where(Folder.account_id == who.account_id)
    if query.parent_folder_uuid:
        parent = find_folder(session, who, query.parent_folder_uuid, "ParentFolderUuid")
        stmt = stmt.where(Folder.parent_id == parent.id)
    if query.folder_name:
        part = folder_name_norm(query.folder_name)
        if part:
            stmt = stmt.where(Folder.name_norm.contains(part, autoescape=True))
    folders = session.scalars(stmt.order_by(Folder.name_norm, Folder.name, Folder.id)).all()
    return folder_infos(session, who, folders, with_orders=query.get_orders_in_folder)


def _links(viewer: Viewer) -> Select[int, int]:
    """``folder_order`` rows whose order the viewer may see (all when nothing narrows)."""
    stmt = select(FolderOrder.folder_id, FolderOrder.order_id)
    scope = order_scope(viewer)
    if scope:
        stmt = stmt.join(PatientOrder, PatientOrder.id == FolderOrder.order_id).where(*scope)
    return stmt


def folder_infos(
    session: Session, viewer: Viewer, folders: Sequence[Folder], *, with_orders: bool
) -> tuple[FolderInfo, ...]:
    """FolderInfo of each folder: a few batched look-ups, none per folder. Orders (and
    their count) are those of the viewer's read scope."""
    if not folders:
        return ()
    ids = [f.id for f in folders]
    parents = _uuids_of(session, {f.parent_id for f in folders if f.parent_id is not None})
    n_orders: dict[int, int] = {}
    n_children: dict[int, int] = {}
    for chunk in _chunks(ids):
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
    orders: dict[int, list[OrderSummary]] = {}
    if with_orders:
        orders = _orders_by_folder(session, viewer, ids)
    return tuple(
        FolderInfo(
            folder_uuid=f.uuid,
            folder_name=f.name,
            folder_description=f.description,
            parent_folder_uuid=parents.get(f.parent_id, "") if f.parent_id is not None else "",
            created_at=_iso(f.created_at),
            number_of_orders=n_orders.get(f.id, 0),
            number_of_subfolders=n_children.get(f.id, 0),
            patient_order_list=tuple(orders.get(f.id, ())),
        )
        for f in folders
    )


def _orders_by_folder(
    session: Session, viewer: Viewer, folder_ids: list[int]
) -> dict[int, list[OrderSummary]]:
    """The orders linked directly to each folder that the viewer may see, newest first
    (as /getpatientorderlist)."""
    links: list[tuple[int, int]] = []
    for chunk in _chunks(folder_ids):
        links += [
            (int(folder_id), int(order_id))
            for folder_id, order_id in session.execute(
                _links(viewer).where(FolderOrder.folder_id.in_(chunk))
            )
        ]
    order_ids = sorted({order_id for _, order_id in links})
    rows: list[PatientOrder] = []
    for chunk in _chunks(order_ids):
        rows += session.scalars(select(PatientOrder).where(PatientOrder.id.in_(chunk))).all()
    rows.sort(key=lambda o: (_iso(o.created_at), o.id), reverse=True)
    summaries = {
        o.id: OrderSummary(**values)
        for o, values in zip(rows, _summary_values(session, rows), strict=True)
    }
    rank = {o.id: n for n, o in enumerate(rows)}
    out: dict[int, list[int]] = {}
    for folder_id, order_id in links:
        out.setdefault(folder_id, []).append(order_id)
    return {
        folder_id: [summaries[i] for i in sorted(order_ids, key=rank.__getitem__)]
        for folder_id, order_ids in out.items()
    }


def _uuids_of(session: Session, folder_ids: Iterable[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for chunk in _chunks(sorted(set(folder_ids))):
        for folder_id, folder_uuid in session.execute(
            select(Folder.id, Folder.uuid).where(Folder.id.in_(chunk))
        ):
            out[int(folder_id)] = str(folder_uuid)
    return out


# -- add orders --------------------------------------------------------------------------


def add_order_to_folders(
    session: Session, who: Principal, order_uuid: str, folder_uuids: Sequence[str]
) -> OrderFolders:
    order = find_order(session, who, order_uuid)
    wanted = list(dict.fromkeys(folder_uuids))
    found: dict[str, int] = {}
    for chunk in _chunks(wanted):
        for folder_uuid, folder_id in session.execute(
            select(Folder.uuid, Folder.id).where(
                Folder.account_id == who.account_id, Folder.uuid.in_(chunk)
            )
        ):
            found[str(folder_uuid)] = int(folder_id)
    missing = [u for u in wanted if u not in found]
    if missing:
        raise NotFound(f"FolderUuidList: no folder {missing[0]}")
    linked = set(
        session.scalars(select(FolderOrder.folder_id).where(FolderOrder.order_id == order.id))
    )
    added = [u for u in wanted if found[u] not in linked]
    if added:
        _insert_links(session, [{"folder_id": found[u], "order_id": order.id} for u in added])
        record_event(
            session,
            who,
            "folder.add_order",
            study_uid=order.study_instance_uid,
            detail=f"PatientOrderUuid={order.uuid}; FolderUuid={','.join(added)}",
        )
        session.flush()
    folders = folders_of_order(session, order.id)
    return OrderFolders(
        patient_order_uuid=order.uuid,
        added_folder_uuid_list=tuple(added),
        folder_list=tuple(FolderRef(str(u), str(n)) for u, n in folders),
    )


def _insert_links(session: Session, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: a concurrent identical request is no error."""
    make = dialect_insert(session.get_bind().dialect.name)
    session.execute(make(FolderOrder).values(rows).on_conflict_do_nothing())


def _chunks(values: Sequence[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])
