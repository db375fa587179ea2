"""Share links: a list of orders, or one folder, opened by anyone who has the URL.

``/createsharelink``, ``/sharepatientorderwithurl`` and ``/sharefolderwithurl`` create a
share; ``/getsharelist`` lists the account's shares and ``/deleteshare`` removes one.

The secret: each share has a random token of 256 bits (``secrets.token_urlsafe(32)``).
Only its SHA-256 is stored (``Share.token_hash``), so the URL
``{public URL}/share/{token}`` is shown once, in the answer of the create call, and
never again: a database leak does not leak working links, and ``/getsharelist`` has no
URLs. A lost URL cannot be recovered; delete the share and make a new one.

Expiry: ``ExpireDate`` (YYYY-MM-DD) is the last day the link works, in the server's time
zone (``Settings.timezone``); from the next day it answers 410. A date before today in
that zone is refused (400). Folder shares may have no expiry date ("" = never expires).

Contents: an order share lists its orders (``ShareOrder`` rows; deleting an order
removes it from every share). A folder share is live: it shows the orders that are in
the folder or in any folder below it at the moment the link is opened, like sharing a
folder on a cloud drive shares its subfolders.

Who may: creating a share needs the write permission (admins, members), and its orders
must be in the creator's read scope; a user limited to some institutions cannot share
a folder (the share is live and would show any institution's orders). Listing and
deleting shares: admins all of the account's, members only the ones they created
(``created_by_user_id``), readers none.

The functions ``token_hash``, ``find_share_by_token``, ``share_order_ids`` and
``share_is_expired`` are the interface of the recipient's side (``web/share/``,
``services/share_access.py``); keep their names and signatures.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from openpacs.index import share_links as rows
from openpacs.index.audit import record_event
from openpacs.index.db import Database
from openpacs.index.folder_rows import descendant_folder_ids
from openpacs.index.models import Folder, PatientOrder, Share, User
from openpacs.index.viewer import readable_orders
from openpacs.services.errors import BadRequest, Forbidden, NotFound
from openpacs.services.folders import find_folder
from openpacs.services.orders import _iso
from openpacs.services.passwords import hash_password
from openpacs.services.permissions import Action, Grant, require
from openpacs.services.principal import Principal

ORDERS = "orders"
FOLDER = "folder"
# token_urlsafe(32) is 43 characters; anything far longer is not a token of ours.
_MAX_TOKEN_LENGTH = 200


# -- the recipient side's interface -------------------------------------------------------


def token_hash(token: str) -> str:
    """What ``Share.token_hash`` holds for a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def find_share_by_token(session: Session, token: str) -> Share | None:
    """The share a URL token opens, or None (expiry is not checked here)."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    return rows.share_by_token_hash(session, token_hash(token))


def share_order_ids(session: Session, share: Share) -> frozenset[int]:
    """The ids of the orders a share shows now.

    Order shares: their ShareOrder rows. Folder shares (live): the orders linked to the
    folder or to any folder below it.
    """
    if share.folder_id is not None:
        folder_ids = descendant_folder_ids(session, share.folder_id)
        return frozenset(rows.orders_in_folders(session, folder_ids))
    return frozenset(rows.orders_of_share(session, share.id))


def share_is_expired(share: Share, tz_name: str, today: date | None = None) -> bool:
    """True from the day after ``share.expire_date`` in the time zone ``tz_name``.

    A share without an expiry date never expires; a stored date that cannot be read
    counts as expired (fail closed).
    """
    if not share.expire_date:
        return False
    try:
        last_day = date.fromisoformat(share.expire_date)
    except ValueError:
        return True
    return (today or today_in(tz_name)) > last_day


def today_in(tz_name: str) -> date:
    """Today's date in the server's time zone (an IANA name such as Europe/Amsterdam)."""
    try:
        zone = ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tz_name!r} (OPENPACS_TIMEZONE)") from exc
    return datetime.now(zone).date()


# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ShareInfo:
    """One share as ``/getsharelist`` shows it (never its URL: only a hash is stored)."""

    share_uuid: str
    kind: str  # "orders" or "folder"
    folder_uuid: str  # folder shares; "" for order shares
    patient_order_uuid_list: tuple[str, ...]  # what the link shows now (live for folders)
    expire_date: str  # YYYY-MM-DD, the last day the link works; "" = never expires
    expired: bool
    downloadable: bool
    password_protected: bool
    share_title: str
    share_description: str
    created_by_user_uuid: str
    created_at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class CreatedShare(ShareInfo):
    """A new share with its URL: the only time the URL (its secret token) is shown."""

    share_url: str


@dataclass(frozen=True)
class ShareList:
    share_list: tuple[ShareInfo, ...]


@dataclass(frozen=True)
class DeletedShare:
    share_uuid: str


# -- requests ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ShareOptions:
    expire_date: date | None
    password: str = ""
    downloadable: bool = False
    title: str = ""
    description: str = ""


# -- the service -------------------------------------------------------------------------


class ShareService:
    def __init__(self, db: Database, public_url: str, tz_name: str) -> None:
        self._db = db
        self._public_url = public_url.rstrip("/")
        self._tz = tz_name

    def share_orders(
        self, who: Principal, order_uuids: Sequence[str], options: ShareOptions, key: str
    ) -> CreatedShare:
        """A share of a list of orders; ``key`` names the list parameter in errors."""
        require(who, Action.WRITE)
        if not order_uuids:
            raise BadRequest(f"{key}: missing required parameter")
        self._check_expiry(options.expire_date, required=True)
        with self._db.session() as session:
            orders = _orders_of(session, who, order_uuids, key)
            share, token = self._new_share(session, who, options)
            rows.add_share_orders(session, share.id, (o.id for o in orders))
            for order in orders:
                _audit(
                    session, who, share, order.study_instance_uid, f"PatientOrderUuid={order.uuid}"
                )
            session.flush()
            return self._created(session, share, token)

    def share_folder(self, who: Principal, folder_uuid: str, options: ShareOptions) -> CreatedShare:
        require(who, Action.WRITE)
        if who.institution_ids is not None:
            raise Forbidden(
                "a folder share is live and may show orders of any institution: sharing "
                "a folder needs a user who is not limited to some institutions"
            )
        self._check_expiry(options.expire_date, required=False)
        with self._db.session() as session:
            folder = find_folder(session, who, folder_uuid, "FolderUuid")
            share, token = self._new_share(session, who, options, folder)
            _audit(session, who, share, "", f"FolderUuid={folder.uuid}")
            session.flush()
            return self._created(session, share, token)

    def list_shares(self, who: Principal) -> ShareList:
        """The account's shares (admins), or those the caller created (members)."""
        grant = require(who, Action.REVOKE_SHARE)
        with self._db.session() as session:
            mine = who.user_id if grant is Grant.OWN else None
            shares = rows.account_shares(session, who.account_id, created_by=mine)
            return ShareList(share_infos(session, shares, self._tz))

    def delete(self, who: Principal, share_uuid: str) -> DeletedShare:
        """Revoke a share: any of the account's (admins) or one the caller made (members)."""
        with self._db.session() as session:
            share = _own_share(session, who, share_uuid, "delete")
            record_event(session, who, "share.delete", detail=f"ShareUuid={share.uuid}")
            rows.remove_share(session, share)
            return DeletedShare(share_uuid)

    def extend(self, who: Principal, share_uuid: str, expire_date: date | None) -> ShareInfo:
        """A new last day for a share (None: it never expires), as for revoking: any of
        the account's (admins) or one the caller made (members). An expired link works
        again when its date moves into the future."""
        self._check_expiry(expire_date, required=False)
        with self._db.session() as session:
            share = _own_share(session, who, share_uuid, "change")
            share.expire_date = expire_date.isoformat() if expire_date else ""
            until = share.expire_date or "never expires"
            record_event(session, who, "share.extend", detail=f"ShareUuid={share.uuid}: {until}")
            session.flush()
            return share_infos(session, [share], self._tz)[0]

    # -- helpers

    def _check_expiry(self, expire_date: date | None, *, required: bool) -> None:
        if expire_date is None:
            if required:
                raise BadRequest("ExpireDate: missing required parameter")
            return
        today = today_in(self._tz)
        if expire_date < today:
            raise BadRequest(
                f"ExpireDate: {expire_date.isoformat()} is in the past "
                f"(today is {today.isoformat()} in {self._tz or 'UTC'})"
            )

    def _new_share(
        self,
        session: Session,
        who: Principal,
        options: ShareOptions,
        folder: Folder | None = None,
    ) -> tuple[Share, str]:
        token = secrets.token_urlsafe(32)
        title = options.title
        if folder is not None and not title:
            title = folder.name
        share = Share(
            account_id=who.account_id,
            created_by_user_id=who.user_id,
            token_hash=token_hash(token),
            password_hash=hash_password(options.password) if options.password else None,
            expire_date=options.expire_date.isoformat() if options.expire_date else "",
            downloadable=options.downloadable,
            folder_id=folder.id if folder is not None else None,
            title=title,
            description=options.description,
        )
        session.add(share)
        session.flush()
        return share, token

    def _created(self, session: Session, share: Share, token: str) -> CreatedShare:
        info = share_infos(session, [share], self._tz)[0]
        values = {f.name: getattr(info, f.name) for f in fields(ShareInfo)}
        return CreatedShare(**values, share_url=f"{self._public_url}/share/{token}")


def _own_share(session: Session, who: Principal, share_uuid: str, verb: str) -> Share:
    """A share the caller may revoke or change (the ``revoke-share`` permission)."""
    grant = require(who, Action.REVOKE_SHARE)
    share = rows.share_by_uuid(session, who.account_id, share_uuid)
    if share is None:
        raise NotFound(f"ShareUuid: no share {share_uuid}")
    if grant is Grant.OWN and share.created_by_user_id != who.user_id:
        raise Forbidden(f"your role ({who.role}) may {verb} only the share links you created")
    return share


def share_infos(session: Session, shares: Sequence[Share], tz_name: str) -> tuple[ShareInfo, ...]:
    if not shares:
        return ()
    folder_uuids = rows.uuids_by_id(session, Folder, (s.folder_id for s in shares if s.folder_id))
    user_uuids = rows.uuids_by_id(
        session, User, (s.created_by_user_id for s in shares if s.created_by_user_id is not None)
    )
    today = today_in(tz_name)
    listed = rows.listed_order_uuids(session, [s.id for s in shares if s.folder_id is None])
    infos: list[ShareInfo] = []
    for share in shares:
        if share.folder_id is not None:
            listed[share.id] = rows.order_uuids(session, share_order_ids(session, share))
        infos.append(
            ShareInfo(
                share_uuid=share.uuid,
                kind=FOLDER if share.folder_id is not None else ORDERS,
                folder_uuid=folder_uuids.get(share.folder_id, "") if share.folder_id else "",
                patient_order_uuid_list=tuple(sorted(listed.get(share.id, ()))),
                expire_date=share.expire_date,
                expired=share_is_expired(share, tz_name, today),
                downloadable=share.downloadable,
                password_protected=share.password_hash is not None,
                share_title=share.title,
                share_description=share.description,
                created_by_user_uuid=user_uuids.get(share.created_by_user_id or 0, ""),
                created_at=_iso(share.created_at),
            )
        )
    return tuple(infos)


def _orders_of(
    session: Session, who: Principal, order_uuids: Sequence[str], key: str
) -> list[PatientOrder]:
    """The caller's orders (in their read scope), in the order given; NotFound naming the
    first unknown one."""
    wanted = list(dict.fromkeys(order_uuids))
    found = readable_orders(session, who, wanted)
    missing = [u for u in wanted if u not in found]
    if missing:
        raise NotFound(f"{key}: no patient order {missing[0]}")
    return [found[u] for u in wanted]


def _audit(session: Session, who: Principal, share: Share, study_uid: str, detail: str) -> None:
    record_event(
        session,
        who,
        "share.create",
        study_uid=study_uid,
        detail=f"ShareUuid={share.uuid}; {detail}",
    )
