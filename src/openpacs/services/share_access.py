"""The recipient's side of a share link: opening it, its password and session, its contents.

Opening: the token in the URL is looked up by its hash (:mod:`openpacs.services.shares`);
an unknown token and a deleted share are the same "not found"; a share past its expiry
date is "gone" (410). The orders it shows are computed on every request, so a folder
share is live.

Password: checked with argon2 like a user's; a wrong one counts against the pair
(share, client address) in a :class:`~openpacs.services.ratelimit.FailureLimiter`
(10 within 15 minutes, then 429 until the window moves on). A success is remembered for
a minute (keyed by an HMAC of share, password hash and password; the password itself is
never kept), so a viewer sending the password as Basic auth on every request does not pay
argon2 each time.

Session: after the password form, the browser gets a cookie scoped to the share's path.
Its value is ``<share id>.<expiry, unix seconds>.<HMAC-SHA256, base64url>`` over the
share id, the expiry and the share's current password hash, keyed with the per-install
secret (:func:`load_or_create_secret`). It is valid for :data:`SESSION_SECONDS` at most;
changing or removing the share's password, deleting the share or its expiry date
passing ends it (every request re-checks the share itself). The secret lives in
``DATA_DIR/secret.key`` (created 0600 on first use), so sessions survive restarts and
work in every process that shares the data directory; several machines must be given the
same file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from openpacs.index.audit import record_event
from openpacs.index.db import Database
from openpacs.index.models import Folder, PatientOrder, Series, Study
from openpacs.index.share_rows import image_rows, order_rows, series_in_orders
from openpacs.services.errors import Gone, NotFound
from openpacs.services.passwords import verify_password
from openpacs.services.principal import Principal
from openpacs.services.ratelimit import FailureLimiter
from openpacs.services.shares import find_share_by_token, share_is_expired, share_order_ids

SECRET_FILE = "secret.key"  # noqa: S105 - a file name, not a secret
#: How long a password session lasts at most (seconds).
SESSION_SECONDS = 12 * 3600
#: How long a verified share password is remembered (seconds).
PASSWORD_CACHE_SECONDS = 60.0
NOT_FOUND = "this share link does not exist"


# -- the per-install secret -----------------------------------------------------------------


def load_or_create_secret(data_dir: Path) -> bytes:
    """The 32-byte secret in ``data_dir/secret.key``, made (0600) if missing.

    Creation is atomic across processes: the key is written to a private temporary file
    and hard-linked into place, so a reader never sees a half-written file and the first
    process to link wins.
    """
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = data_dir / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process made it first: use theirs
            except OSError:  # a filesystem without hard links
                if not path.exists():
                    os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 32:
        raise ValueError(f"{path} does not hold a secret of 64 hex digits; remove it to renew")
    return key


# -- an opened share ------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenShare:
    """A share that exists and has not expired, with the orders it shows now."""

    id: int
    uuid: str
    account_id: int
    password_hash: str | None
    expire_date: str
    downloadable: bool
    is_folder: bool
    title: str
    description: str
    order_ids: frozenset[int]

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    def principal(self) -> Principal:
        """Read-only access to exactly the shared orders."""
        return Principal(
            account_id=self.account_id, share_id=self.id, share_order_ids=self.order_ids
        )


def open_share(session: Session, token: str, tz_name: str) -> OpenShare:
    """The share of a URL token (NotFound: unknown or deleted; Gone: expired)."""
    share = find_share_by_token(session, token)
    if share is None:
        raise NotFound(NOT_FOUND)
    if share_is_expired(share, tz_name):
        raise Gone(f"this share link expired on {share.expire_date}")
    title, description = share.title, share.description
    if share.folder_id is not None:
        folder = session.get(Folder, share.folder_id)
        if folder is not None:
            title = title or folder.name
            description = description or folder.description
    return OpenShare(
        id=share.id,
        uuid=share.uuid,
        account_id=share.account_id,
        password_hash=share.password_hash,
        expire_date=share.expire_date,
        downloadable=bool(share.downloadable),
        is_folder=share.folder_id is not None,
        title=title,
        description=description,
        order_ids=share_order_ids(session, share),
    )


# -- password and session -------------------------------------------------------------------


@dataclass(frozen=True)
class PasswordCheck:
    ok: bool
    #: Set when the client is blocked (too many wrong passwords): seconds to wait.
    retry_after: float | None = None


class ShareAccess:
    """Password checks, their rate limit and password sessions of share links."""

    def __init__(
        self,
        secret: bytes,
        *,
        limiter: FailureLimiter | None = None,
        session_seconds: int = SESSION_SECONDS,
        cache_seconds: float = PASSWORD_CACHE_SECONDS,
    ) -> None:
        self._secret = secret
        self.limiter = limiter or FailureLimiter()
        self.session_seconds = session_seconds
        self._cache_seconds = cache_seconds
        self._verified: dict[bytes, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> ShareAccess:
        return cls(load_or_create_secret(data_dir))

    def _mac(self, *parts: object) -> bytes:
        message = "|".join(str(p) for p in parts).encode()
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def check_password(self, share: OpenShare, password: str, client: str) -> PasswordCheck:
        """Blocking (argon2): call from a worker thread."""
        if share.password_hash is None:
            return PasswordCheck(True)
        digest = self._mac("share-password", share.id, share.password_hash, password)
        now = time.monotonic()
        with self._lock:
            until = self._verified.get(digest)
        if until is not None and until > now:
            return PasswordCheck(True)
        key = ("share", share.id, client)
        wait = self.limiter.blocked(key)
        if wait is not None:
            return PasswordCheck(False, wait)
        if not verify_password(share.password_hash, password):
            self.limiter.failure(key)
            return PasswordCheck(False)
        self.limiter.success(key)
        with self._lock:
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[digest] = now + self._cache_seconds
        return PasswordCheck(True)

    def blocked(self, share: OpenShare, client: str) -> float | None:
        """Seconds this client must wait before trying a password for this share again."""
        return self.limiter.blocked(("share", share.id, client))

    def new_session(self, share: OpenShare, now: float | None = None) -> tuple[str, int]:
        """A session cookie value for ``share`` and its lifetime in seconds."""
        expires = int(now if now is not None else time.time()) + self.session_seconds
        mac = self._mac("share-session", share.id, expires, share.password_hash or "")
        value = f"{share.id}.{expires}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
        return value, self.session_seconds

    def session_valid(
        self, share: OpenShare, values: Iterable[str], now: float | None = None
    ) -> bool:
        """True if one of the cookie ``values`` is a live session of this share."""
        current = now if now is not None else time.time()
        for value in values:
            share_id, _, rest = value.partition(".")
            expires_text, _, mac_text = rest.partition(".")
            if share_id != str(share.id) or not expires_text.isdigit():
                continue
            if int(expires_text) <= current:
                continue
            expected = self._mac(
                "share-session", share.id, int(expires_text), share.password_hash or ""
            )
            wanted = base64.urlsafe_b64encode(expected).decode().rstrip("=")
            if hmac.compare_digest(wanted.encode(), mac_text.encode()):
                return True
        return False


# -- what the page shows --------------------------------------------------------------------


@dataclass(frozen=True)
class SharedSeries:
    series_uid: str
    study_uid: str
    number: int | None
    modality: str
    description: str
    images: int


@dataclass(frozen=True)
class SharedStudy:
    """One shared order, with its images' study and series (none for a scheduled order)."""

    order_uuid: str
    patient_name: str
    patient_id: str
    birth_date: str  # YYYYMMDD
    sex: str
    study_uid: str
    study_date: str  # YYYYMMDD
    description: str
    modalities: tuple[str, ...]
    images: int
    series: tuple[SharedSeries, ...]


def shared_studies(session: Session, share: OpenShare) -> list[SharedStudy]:
    """The shared orders, newest study first, each with its series in number order."""
    return order_studies(session, share.account_id, share.order_ids)


def order_studies(
    session: Session, account_id: int, visible_order_ids: Iterable[int]
) -> list[SharedStudy]:
    """Orders of the account (ids the caller may see), newest study first, each with its
    series in number order (the share page's and the web application's order page's)."""
    rows = order_rows(session, account_id, visible_order_ids)
    studies, series_of = rows.study_of_order, rows.series_of_study
    result = [_shared_study(order, studies.get(order.id), series_of) for order in rows.orders]
    result.sort(key=lambda s: (s.study_date, s.patient_name, s.order_uuid), reverse=True)
    return result


def _shared_study(
    order: PatientOrder, study: Study | None, series_of: dict[int, list[Series]]
) -> SharedStudy:
    series = series_of.get(study.id, []) if study is not None else []
    modalities = tuple(m for m in (study.modalities_in_study if study else "").split("\\") if m)
    if not modalities:
        modalities = tuple(m.strip() for m in order.modality.split(",") if m.strip())
    return SharedStudy(
        order_uuid=order.uuid,
        patient_name=order.patient_name or (study.patient_name if study else ""),
        patient_id=order.patient_id or (study.patient_id if study else ""),
        birth_date=order.patient_birth_date or (study.patient_birth_date if study else ""),
        sex=order.patient_sex or (study.patient_sex if study else ""),
        study_uid=study.study_instance_uid if study else order.study_instance_uid,
        study_date=(study.study_date if study else "") or order.study_date,
        description=(study.study_description if study else "") or order.study_description,
        modalities=modalities,
        images=study.num_instances if study else 0,
        series=tuple(
            SharedSeries(
                series_uid=s.series_instance_uid,
                study_uid=study.study_instance_uid if study else "",
                number=s.series_number,
                modality=s.modality,
                description=s.series_description,
                images=s.num_instances,
            )
            for s in series
        ),
    )


@dataclass(frozen=True)
class SeriesImage:
    sop_uid: str
    frame: int | None  # 1-based frame of a multi-frame instance; None for single-frame


@dataclass(frozen=True)
class SeriesView:
    """What the viewer page needs of one shared series."""

    study: SharedStudy
    series: SharedSeries
    images: tuple[SeriesImage, ...]


#: A multi-frame instance contributes at most this many frames to the viewer.
MAX_FRAMES_PER_INSTANCE = 2000


def series_view(session: Session, share: OpenShare, series_uid: str) -> SeriesView:
    """The images of one shared series in order (NotFound if not in the share)."""
    return order_series_view(session, share.account_id, share.order_ids, series_uid)


def order_series_view(
    session: Session, account_id: int, visible_order_ids: Iterable[int], series_uid: str
) -> SeriesView:
    """The images of one series of these orders in order (NotFound if in none of them)."""
    found = series_in_orders(session, account_id, visible_order_ids, series_uid)
    if found is None:
        raise NotFound(f"series {series_uid[:64]} is not among these studies")
    series, study, order = found
    shown = _shared_study(order, study, {study.id: [series]})
    instances = image_rows(session, account_id, series.id)
    images: list[SeriesImage] = []
    for sop_uid, frames in instances:
        if frames is not None and frames > 1:
            count = min(int(frames), MAX_FRAMES_PER_INSTANCE)
            images += [SeriesImage(str(sop_uid), n) for n in range(1, count + 1)]
        else:
            images.append(SeriesImage(str(sop_uid), None))
    return SeriesView(shown, shown.series[0], tuple(images))


# -- audit ----------------------------------------------------------------------------------


def record_share_event(
    db: Database,
    share: OpenShare,
    action: str,
    *,
    study_uid: str = "",
    detail: str = "",
    client: str = "",
) -> None:
    """One AuditEvent row (``share.view``, ``share.download``) for this share (blocking)."""
    with db.session() as session:
        record_event(
            session,
            Principal(share.account_id, share_id=share.id),
            action,
            study_uid=study_uid,
            detail=f"ShareUuid={share.uuid}" + (f"; {detail}" if detail else ""),
            client=client,
        )
