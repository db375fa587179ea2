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

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from openpacs.dicom.names import normalize_name
from openpacs.index import folder_rows as rows
from openpacs.index.audit import record_event
from openpacs.index.db import Database
from openpacs.index.folder_rows import descendant_folder_ids
from openpacs.index.models import Folder
from openpacs.index.share_links import uuids_by_id
from openpacs.index.viewer import Viewer
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
            linked = rows.link_count(session, ids)
            if not with_contents and (len(ids) > 1 or linked):
                raise Conflict(
                    f"folder {folder.name!r} is not empty "
                    f"({counted(len(ids) - 1, 'subfolders')}, "
                    f"{counted(linked, 'order links')}); "
                    "confirm to delete it with its contents"
                )
            shares = rows.shares_of_folders(session, ids)
            if shares:
                grant = grant_of(who, Action.REVOKE_SHARE)
                if grant is Grant.NONE or (
                    grant is Grant.OWN and any(s.created_by_user_id != who.user_id for s in shares)
                ):
                    raise Forbidden(
                        f"folder {folder.name!r} is shared by a link you may not revoke; "
                        "ask an admin"
                    )
            rows.delete_folders(session, ids, [s.id for s in shares])
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
            rows.unlink_order(session, folder.id, order.id)
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
    folder = rows.folder_by_uuid(session, who.account_id, folder_uuid)
    if folder is None:
        raise NotFound(f"{key}: no folder {folder_uuid}")
    return folder


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
    parent_id = parent.id if parent is not None else None
    clash = rows.named_sibling(session, who.account_id, folder_name_norm(name), parent_id, own)
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
        row = rows.name_and_parent(session, parent_id)
        if row is None:
            break
        names.append(row[0])
        parent_id = row[1]
    return " / ".join(reversed(names))


# -- read --------------------------------------------------------------------------------


def search_folders(session: Session, who: Principal, query: FolderQuery) -> tuple[FolderInfo, ...]:
    parent_id = None
    if query.parent_folder_uuid:
        parent_id = find_folder(session, who, query.parent_folder_uuid, "ParentFolderUuid").id
    part = folder_name_norm(query.folder_name) if query.folder_name else ""
    folders = rows.matching_folders(session, who.account_id, parent_id, part)
    return folder_infos(session, who, folders, with_orders=query.get_orders_in_folder)


def folder_infos(
    session: Session, viewer: Viewer, folders: Sequence[Folder], *, with_orders: bool
) -> tuple[FolderInfo, ...]:
    """FolderInfo of each folder: a few batched look-ups, none per folder. Orders (and
    their count) are those of the viewer's read scope."""
    if not folders:
        return ()
    ids = [f.id for f in folders]
    parents = uuids_by_id(
        session, Folder, (f.parent_id for f in folders if f.parent_id is not None)
    )
    n_orders, n_children = rows.folder_counts(session, viewer, ids)
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
    links = rows.visible_links(session, viewer, folder_ids)
    orders = rows.orders_by_id(session, sorted({order_id for _, order_id in links}))
    orders.sort(key=lambda o: (_iso(o.created_at), o.id), reverse=True)
    summaries = {
        o.id: OrderSummary(**values)
        for o, values in zip(orders, _summary_values(session, orders), strict=True)
    }
    rank = {o.id: n for n, o in enumerate(orders)}
    out: dict[int, list[int]] = {}
    for folder_id, order_id in links:
        out.setdefault(folder_id, []).append(order_id)
    return {
        folder_id: [summaries[i] for i in sorted(order_ids, key=rank.__getitem__)]
        for folder_id, order_ids in out.items()
    }


# -- add orders --------------------------------------------------------------------------


def add_order_to_folders(
    session: Session, who: Principal, order_uuid: str, folder_uuids: Sequence[str]
) -> OrderFolders:
    order = find_order(session, who, order_uuid)
    wanted = list(dict.fromkeys(folder_uuids))
    found = rows.folder_ids_by_uuid(session, who.account_id, wanted)
    missing = [u for u in wanted if u not in found]
    if missing:
        raise NotFound(f"FolderUuidList: no folder {missing[0]}")
    linked = rows.folders_holding(session, order.id)
    added = [u for u in wanted if found[u] not in linked]
    if added:
        rows.link_orders(session, [{"folder_id": found[u], "order_id": order.id} for u in added])
        record_event(
            session,
            who,
            "folder.add_order",
            study_uid=order.study_instance_uid,
            detail=f"PatientOrderUuid={order.uuid}; FolderUuid={','.join(added)}",
        )
        session.flush()
    folders = rows.folders_of_order(session, order.id)
    return OrderFolders(
        patient_order_uuid=order.uuid,
        added_folder_uuid_list=tuple(added),
        folder_list=tuple(FolderRef(str(u), str(n)) for u, n in folders),
    )
