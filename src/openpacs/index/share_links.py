"""The rows of share links: a share by its token's hash or its UUID, an account's shares,
what a share lists, and the identifiers a share's description shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from openpacs.index.in_lists import in_chunks
from openpacs.index.models import Folder, FolderOrder, PatientOrder, Share, ShareOrder, User


def share_by_token_hash(session: Session, token_hash: str) -> Share | None:
    return session.scalar(select(Share).where(Share.token_hash == token_hash))


def share_by_uuid(session: Session, account_id: int, share_uuid: str) -> Share | None:
    return session.scalar(
        select(Share).where(Share.account_id == account_id, Share.uuid == share_uuid)
    )


def account_shares(session: Session, account_id: int, created_by: int | None) -> list[Share]:
    """The account's shares, newest first; only those ``created_by`` made when given."""
    stmt = select(Share).where(Share.account_id == account_id)
    if created_by is not None:
        stmt = stmt.where(Share.created_by_user_id == created_by)
    return list(session.scalars(stmt.order_by(Share.created_at.desc(), Share.id.desc())))


def orders_in_folders(session: Session, folder_ids: Sequence[int]) -> set[int]:
    """The ids of the orders linked to any of these folders."""
    found: set[int] = set()
    for chunk in in_chunks(folder_ids):
        found.update(
            int(i)
            for i in session.scalars(
                select(FolderOrder.order_id).where(FolderOrder.folder_id.in_(chunk))
            )
        )
    return found


def orders_of_share(session: Session, share_id: int) -> set[int]:
    """The ids of the orders an order share lists (its ShareOrder rows)."""
    rows = session.scalars(select(ShareOrder.order_id).where(ShareOrder.share_id == share_id))
    return {int(i) for i in rows}


def add_share_orders(session: Session, share_id: int, order_ids: Iterable[int]) -> None:
    session.add_all(ShareOrder(share_id=share_id, order_id=i) for i in order_ids)


def remove_share(session: Session, share: Share) -> None:
    """The share and the list of its orders (the orders stay)."""
    session.execute(delete(ShareOrder).where(ShareOrder.share_id == share.id))
    session.delete(share)


def uuids_by_id(session: Session, model: type[Folder | User], ids: Iterable[int]) -> dict[int, str]:
    """id -> UUID of these folders or users (the public identifiers a share names)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(select(model.id, model.uuid).where(model.id.in_(wanted)))
    return {int(i): str(u) for i, u in rows}


def listed_order_uuids(session: Session, share_ids: Sequence[int]) -> dict[int, list[str]]:
    """share id -> the UUIDs of the orders these order shares list."""
    listed: dict[int, list[str]] = {}
    for chunk in in_chunks(sorted(share_ids)):
        for share_id, order_uuid in session.execute(
            select(ShareOrder.share_id, PatientOrder.uuid)
            .join(PatientOrder, PatientOrder.id == ShareOrder.order_id)
            .where(ShareOrder.share_id.in_(chunk))
        ):
            listed.setdefault(int(share_id), []).append(str(order_uuid))
    return listed


def order_uuids(session: Session, order_ids: Iterable[int]) -> list[str]:
    out: list[str] = []
    for chunk in in_chunks(sorted(order_ids)):
        out += session.scalars(select(PatientOrder.uuid).where(PatientOrder.id.in_(chunk)))
    return out
