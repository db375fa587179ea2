"""Basic-auth verification with a short cache of successful checks.

argon2 is slow on purpose (tens of ms); a client sending hundreds of requests must not pay
that each time, so a success is remembered briefly, keyed by a keyed digest of the
credentials (the password itself is never kept).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select

from openpacs.index.db import Database
from openpacs.index.models import Account, User
from openpacs.services.passwords import hash_password, verify_password
from openpacs.services.principal import Principal


@dataclass(frozen=True)
class AuthResult:
    principal: Principal | None
    dicomweb_enabled: bool = True


class Authenticator:
    def __init__(self, db: Database, cache_seconds: float = 60.0) -> None:
        self._db = db
        self._ttl = cache_seconds
        self._key = secrets.token_bytes(32)
        self._cache: dict[bytes, tuple[float, AuthResult]] = {}
        self._lock = threading.Lock()
        # Each argon2 check takes 64 MiB for a moment: a burst of first logins must not
        # multiply that, so at most two run at once (the rest wait their turn).
        self._hashing = threading.BoundedSemaphore(2)
        # Verified against when the user does not exist, so that response timing does not
        # tell which e-mail addresses have accounts.
        self._dummy_hash = hash_password(secrets.token_hex(16))

    def _digest(self, email: str, password: str) -> bytes:
        message = email.encode() + b"\x00" + password.encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def cached(self, email: str, password: str) -> AuthResult | None:
        """The remembered result of a recent successful check of these credentials, if any
        (cheap: no argon2); lets a working client through while its user name is blocked."""
        digest = self._digest(email.strip().lower(), password)
        with self._lock:
            hit = self._cache.get(digest)
            return hit[1] if hit and hit[0] > time.monotonic() else None

    def authenticate(self, email: str, password: str) -> AuthResult:
        """Blocking (argon2): call from a worker thread."""
        email = email.strip().lower()
        digest = self._digest(email, password)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
            if hit and hit[0] > now:
                return hit[1]
        with self._db.session() as session:
            row = session.execute(
                select(User, Account.dicomweb_enabled)
                .join(Account, Account.id == User.account_id)
                .where(User.email == email)
            ).first()
        with self._hashing:
            # Several first requests with the same credentials: one hash does for all.
            with self._lock:
                hit = self._cache.get(digest)
                if hit and hit[0] > time.monotonic():
                    return hit[1]
            if row is None:
                verify_password(self._dummy_hash, password)
                return AuthResult(None)
            user, enabled = row
            if not verify_password(user.password_hash, password):
                return AuthResult(None)
        result = AuthResult(
            Principal(
                account_id=user.account_id,
                user_id=user.id,
                user_uuid=user.uuid,
                email=user.email,
                role=user.role,
            ),
            dicomweb_enabled=bool(enabled),
        )
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + self._ttl, result)
        return result

    def forget(self) -> None:
        """Drop cached verifications (after a password or account change)."""
        with self._lock:
            self._cache.clear()
