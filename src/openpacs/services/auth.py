"""Sign-in: HTTP Basic (e-mail and password, or e-mail and API token) and Bearer tokens,
with a short cache of successful checks that every credential change empties at once.

argon2 is slow on purpose (tens of ms); a client sending hundreds of requests must not pay
that each time, so a success is remembered for up to ``cache_seconds`` (60), keyed by a
keyed digest of the credentials (the secret itself is never kept). API tokens are
checked with a fast hash (:mod:`openpacs.services.tokens`) and cached the same way, but
never past their expiry.

The cache must not outlive a change: a new password, a disabled user, a new role or
institutions, a revoked token. Each of those raises the database's login epoch
(:mod:`openpacs.index.credentials`); :meth:`Authenticator.epoch_due` tells the caller
when the epoch was last read more than ``epoch_seconds`` (1) ago, and
:meth:`Authenticator.check_epoch` reads it (one primary-key look-up) and forgets every
cached login when it moved. So a change reaches every process and every node within
about a second, at the cost of one tiny query per process per second, not per request.

Answers: wrong or unknown credentials, an expired or revoked token: 401 (the
authenticator returns no principal and the reason); right credentials of a disabled
user: 403 ``refusal``. A failure names the user the credentials belong to when there is
one (``attempted``), so the face can put the failed sign-in in that account's trail.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from openpacs.index.credentials import (
    institution_ids,
    read_epoch,
    token_row,
    touch_tokens,
    user_row,
)
from openpacs.index.db import Database
from openpacs.index.models import ApiToken, User
from openpacs.services.passwords import UNKNOWN_USER_HASH, verify_password
from openpacs.services.principal import Principal
from openpacs.services.tokens import looks_like_token, token_hash

log = logging.getLogger("openpacs.auth")

WRONG_LOGIN = "wrong e-mail or password"
BAD_TOKEN = "unknown API token"  # noqa: S105 - a message, not a secret
DISABLED = "this user is disabled; ask an administrator of the account"


@dataclass(frozen=True)
class AuthResult:
    """The principal, or None with ``reason`` (401); a known but refused user has
    ``refusal`` set (403) instead."""

    principal: Principal | None
    dicomweb_enabled: bool = True
    reason: str = WRONG_LOGIN
    refusal: str = ""
    # On a failure, the user the credentials name when known (for the audit trail).
    attempted: Principal | None = None


class Authenticator:
    def __init__(
        self, db: Database, cache_seconds: float = 60.0, epoch_seconds: float = 1.0
    ) -> None:
        self._db = db
        self._ttl = cache_seconds
        self._epoch_every = epoch_seconds
        self._key = secrets.token_bytes(32)
        self._cache: dict[bytes, tuple[float, AuthResult]] = {}
        self._lock = threading.Lock()
        self._epoch: int | None = None
        self._epoch_read_at = float("-inf")
        self._epoch_checking = threading.Lock()
        # Each argon2 check takes 64 MiB for a moment: a burst of first logins must not
        # multiply that, so at most two run at once (the rest wait their turn).
        self._hashing = threading.BoundedSemaphore(2)

    # -- the login epoch

    def epoch_due(self) -> bool:
        """True when :meth:`check_epoch` should run before the cache is trusted."""
        return time.monotonic() - self._epoch_read_at >= self._epoch_every

    def check_epoch(self) -> None:
        """Blocking (one query): forget every cached login if the epoch moved. When a
        check is already running (a burst of requests), return at once."""
        if not self._epoch_checking.acquire(blocking=False):
            return
        try:
            started = time.monotonic()
            try:
                with self._db.engine.connect() as conn:
                    epoch = read_epoch(conn)
            except Exception:
                log.exception("could not read the login epoch; cached logins are dropped")
                epoch = None
            with self._lock:
                if epoch is None or epoch != self._epoch:
                    self._cache.clear()
                self._epoch = epoch
                self._epoch_read_at = started
        finally:
            self._epoch_checking.release()

    def forget(self) -> None:
        """Drop cached verifications (in this process)."""
        with self._lock:
            self._cache.clear()

    # -- the cache

    def _digest(self, kind: bytes, *parts: str) -> bytes:
        message = kind + b"\x00" + b"\x00".join(part.encode() for part in parts)
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def _lookup(self, digest: bytes) -> AuthResult | None:
        with self._lock:
            hit = self._cache.get(digest)
            return hit[1] if hit and hit[0] > time.monotonic() else None

    def _remember(self, digest: bytes, result: AuthResult, seconds: float) -> None:
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (time.monotonic() + seconds, result)

    def cached(self, email: str, password: str) -> AuthResult | None:
        """The remembered result of a recent successful check of these credentials, if any
        (cheap: no argon2); lets a working client through while its user name is blocked."""
        return self._lookup(self._digest(b"basic", email.strip().lower(), password))

    def cached_bearer(self, token: str) -> AuthResult | None:
        return self._lookup(self._digest(b"bearer", token))

    # -- checks (blocking: call from a worker thread)

    def authenticate(self, email: str, password: str) -> AuthResult:
        """Basic credentials: the password, or an API token of this user."""
        email = email.strip().lower()
        digest = self._digest(b"basic", email, password)
        hit = self._lookup(digest)
        if hit is not None:
            return hit
        if looks_like_token(password):
            result, seconds = self._check_token(password, email=email)
            if result.principal is not None or result.refusal:
                if result.principal is not None:
                    self._remember(digest, result, seconds)
                return result
            # Not one of our tokens after all: it may be a password that looks like one.
        with self._db.session() as session:
            found = user_row(session, email)
            scope = institution_ids(session, found[0].id) if found is not None else None
        with self._hashing:
            # Several first requests with the same credentials: one hash does for all.
            hit = self._lookup(digest)
            if hit is not None:
                return hit
            if found is None:
                verify_password(UNKNOWN_USER_HASH, password)
                return AuthResult(None)
            user, enabled = found
            if not verify_password(user.password_hash, password):
                return AuthResult(None, attempted=user_principal(user, scope))
        if user.disabled:
            return AuthResult(None, refusal=DISABLED, attempted=user_principal(user, scope))
        result = AuthResult(user_principal(user, scope), dicomweb_enabled=enabled)
        self._remember(digest, result, self._ttl)
        return result

    def authenticate_bearer(self, token: str) -> AuthResult:
        """``Authorization: Bearer <token>``: an API token alone."""
        digest = self._digest(b"bearer", token)
        hit = self._lookup(digest)
        if hit is not None:
            return hit
        result, seconds = self._check_token(token)
        if result.principal is not None:
            self._remember(digest, result, seconds)
        return result

    def _check_token(self, token: str, *, email: str | None = None) -> tuple[AuthResult, float]:
        """The result for an API token (and how long it may be cached)."""
        if not looks_like_token(token):
            return AuthResult(None, reason=BAD_TOKEN), 0.0
        now = datetime.now(UTC)
        with self._db.session() as session:
            found = token_row(session, token_hash(token))
            if found is None:
                return AuthResult(None, reason=BAD_TOKEN), 0.0
            row, user, enabled = found
            if email is not None and email not in ("", user.email):
                return AuthResult(None, reason=BAD_TOKEN), 0.0
            if row.revoked_at is not None:
                return AuthResult(None, reason="this API token was revoked"), 0.0
            expires = (
                row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
            )
            if expires <= now:
                return AuthResult(None, reason="this API token has expired"), 0.0
            if user.disabled:
                return AuthResult(None, refusal=DISABLED), 0.0
            scope = institution_ids(session, user.id)
            touch_tokens(session, [(row.id, now)])
        principal = user_principal(user, scope, row)
        seconds = min(self._ttl, (expires - now).total_seconds())
        return AuthResult(principal, dicomweb_enabled=enabled), seconds


def user_principal(
    user: User, scope: frozenset[int] | None, token: ApiToken | None = None
) -> Principal:
    """The principal of a user (signed in with ``token``, or with the password)."""
    return Principal(
        account_id=user.account_id,
        user_id=user.id,
        user_uuid=user.uuid,
        email=user.email,
        role=user.role,
        institution_ids=scope,
        token_id=token.id if token is not None else None,
        token_scope=token.scope if token is not None else None,
        credentials_version=user.credentials_version or 0,
    )
