"""Browser sessions of the web application: sign-in, the signed session cookie, CSRF.

A session is a **signed token** kept in an HttpOnly cookie; nothing is stored per
session on the server while it lives, so every process (and every node sharing
``DATA_DIR/secret.key``) accepts it without a database write. Its value is::

    v1.<user id>.<credentials version>.<issued>.<last seen>.<nonce>.<HMAC-SHA256>

keyed with a key derived from the per-install secret (the share links' file,
:func:`openpacs.services.share_access.load_or_create_secret`), so it cannot be forged or
altered. It is valid while:

* its signature is right;
* ``issued`` is less than the absolute lifetime ago (``OPENPACS_SESSION_MAX_HOURS``);
* ``last seen`` is less than the idle time ago (``OPENPACS_SESSION_IDLE_MINUTES``): every
  request with the cookie re-issues it with a new ``last seen`` once it is a minute old
  (:meth:`SessionKeeper.refreshed`), so only an idle browser is signed out;
* the user still exists, is not disabled, and their ``credentials_version`` is the one
  signed in the token: a new password, a new role or institutions, or disabling the user
  raise it (:func:`openpacs.index.credentials.end_logins`), which ends every session of
  that user at once, on every process (the user row is read on every request; there is
  no cache to wait for).

Signing out ends the session on the server too (:meth:`SessionKeeper.sign_out`): the
nonce is the session's id, and a ``revoked_session`` row refuses it from then on. That
row is read in the same query as the user (an ``EXISTS`` on its primary key), so a copy
of the cookie stops working at the next request on every process and every node, with
no cache to wait for and no extra query; rows are purged once the session would have
expired anyway.

The nonce is new at every sign-in (the cookie is rotated), and the CSRF token is an HMAC
of it: a synchronizer token bound to the session, which a page puts in its forms and its
``fetch`` calls (``X-CSRF-Token``) and which a cross-site page cannot read.

Signing in checks the e-mail and password with the same :class:`Authenticator` as HTTP
Basic (argon2, the same timing for unknown e-mails, disabled users refused), counts a
wrong password in the same :class:`FailureLimiter` (per user name: 10 within 15 minutes,
then 429), and records a refused sign-in of a known user in the audit trail (``login``).
An API token is not accepted as the password here: tokens are for programs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from openpacs.index.credentials import (
    institution_ids,
    password_hash_of,
    revoke_session,
    session_user,
)
from openpacs.index.db import Database
from openpacs.services.accounts import set_own_password
from openpacs.services.audit import FAILURE, AuditTrail, Event
from openpacs.services.auth import WRONG_LOGIN, Authenticator, AuthResult, user_principal
from openpacs.services.errors import BadRequest
from openpacs.services.passwords import (
    WeakPassword,
    check_password_strength,
    verify_password,
)
from openpacs.services.principal import Principal
from openpacs.services.ratelimit import FailureLimiter
from openpacs.services.share_access import load_or_create_secret

__all__ = [
    "COOKIE_NAME",
    "SessionKeeper",
    "SessionToken",
    "SignIn",
]

COOKIE_NAME = "openpacs_session"
_VERSION = "v1"
#: A session's ``last seen`` is renewed when it is at least this old (seconds).
REFRESH_SECONDS = 60
NOT_A_TOKEN_PAGE = "sign in with your password: API tokens are for programs"  # noqa: S105


@dataclass(frozen=True)
class SessionToken:
    """What a session cookie says (once its signature and times are checked)."""

    user_id: int
    version: int  # the user's credentials_version when they signed in
    issued: int  # unix seconds: the absolute expiry counts from here
    seen: int  # unix seconds: the idle expiry counts from here
    nonce: str  # new at every sign-in; the CSRF token is derived from it


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: a principal and its cookie value, or why not."""

    principal: Principal | None = None
    cookie: str = ""
    csrf: str = ""
    error: str = ""
    status: int = 200
    retry_after: float | None = None


class SessionKeeper:
    """Sign-in, the session cookie's value, its principal, CSRF tokens, own password.

    One per application (it holds the key): built with the database, the data directory
    (for the secret), the lifetimes in seconds, and the sign-in's authenticator, limiter
    and audit trail, which are the ones HTTP Basic uses.
    """

    def __init__(
        self,
        db: Database,
        data_dir: Path,
        *,
        idle_seconds: int,
        max_seconds: int,
        authenticator: Authenticator,
        limiter: FailureLimiter,
        audit: AuditTrail | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        secret = load_or_create_secret(data_dir)
        self._key = hmac.new(secret, b"openpacs web session v1", hashlib.sha256).digest()
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self._authenticator = authenticator
        self._limiter = limiter
        self._audit = audit
        self._now = clock

    # -- the cookie's value (pure, no I/O)

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def encode(self, token: SessionToken) -> str:
        payload = ".".join(
            (
                _VERSION,
                str(token.user_id),
                str(token.version),
                str(token.issued),
                str(token.seen),
                token.nonce,
            )
        )
        return f"{payload}.{self._mac(payload)}"

    def decode(self, value: str) -> SessionToken | None:
        """The token of a cookie value if it is ours, unaltered and not expired; else None."""
        if len(value) > 300:
            return None
        payload, _, mac = value.rpartition(".")
        parts = payload.split(".")
        if len(parts) != 6 or parts[0] != _VERSION:
            return None
        if not hmac.compare_digest(mac.encode("ascii", "replace"), self._mac(payload).encode()):
            return None
        try:
            user_id, version, issued, seen = (int(p) for p in parts[1:5])
        except ValueError:
            return None
        now = self._now()
        if now - issued >= self.max_seconds or now - seen >= self.idle_seconds:
            return None
        if seen < issued or issued > now + 60:
            return None
        return SessionToken(user_id, version, issued, seen, parts[5])

    def new_token(self, who: Principal) -> SessionToken:
        """A fresh session (new nonce: the cookie rotates at every sign-in)."""
        assert who.user_id is not None
        now = int(self._now())
        return SessionToken(who.user_id, who.credentials_version, now, now, secrets.token_hex(16))

    def refreshed(self, token: SessionToken) -> SessionToken | None:
        """The token with ``last seen`` renewed, when it is due (else None)."""
        now = int(self._now())
        if now - token.seen < REFRESH_SECONDS:
            return None
        return replace(token, seen=now)

    def csrf_token(self, token: SessionToken) -> str:
        return self._mac(f"csrf.{token.nonce}")

    def csrf_ok(self, token: SessionToken, given: str) -> bool:
        expected = self.csrf_token(token)
        return bool(given) and hmac.compare_digest(given.encode("utf-8"), expected.encode())

    # -- who is signed in (blocking: one short read)

    def principal(self, token: SessionToken) -> tuple[Principal, bool] | None:
        """The session's user as a principal, and whether DICOMweb is on for the account;
        None when the user is gone, disabled, or changed credentials since sign-in, or
        the session was signed out (:meth:`sign_out`)."""
        with self._db.session() as session:
            found = session_user(session, token.user_id, token.nonce)
            if found is None:
                return None
            user, enabled = found
            if user.disabled or (user.credentials_version or 0) != token.version:
                return None
            scope = institution_ids(session, user.id)
            return user_principal(user, scope), enabled

    # -- signing out (blocking: one short write)

    def sign_out(self, token: SessionToken) -> None:
        """End the session on the server: its id (the nonce) is revoked, so a copy of
        the cookie is refused from the next request on, by every process and node."""
        now = self._now()
        expires = datetime.fromtimestamp(token.issued + self.max_seconds, UTC)
        with self._db.session() as session:
            revoke_session(session, token.nonce, expires, datetime.fromtimestamp(now, UTC))

    # -- signing in (blocking: argon2)

    def sign_in(self, email: str, password: str, client: str) -> SignIn:
        """Check e-mail and password as HTTP Basic does; a new session when right."""
        key = email.strip().lower()
        if not key or not password:
            return SignIn(error="Enter your e-mail address and your password.", status=400)
        wait = self._limiter.blocked(key)
        if wait is not None:
            return SignIn(
                error="Too many wrong passwords for this e-mail address. Try again later.",
                status=429,
                retry_after=wait,
            )
        # A disabled user or a new password must not pass on a login cached before the
        # change: read the login epoch first (one short query; see services/auth.py).
        self._authenticator.check_epoch()
        result = self._authenticator.authenticate(key, password)
        if result.principal is not None and result.principal.token_id is not None:
            return SignIn(error=_sentence(NOT_A_TOKEN_PAGE), status=401)
        if result.principal is None:
            if not result.refusal:
                self._limiter.failure(key)
            self._record_failure(result, client)
            if result.refusal:
                return SignIn(error=_sentence(result.refusal), status=403)
            return SignIn(error=_sentence(WRONG_LOGIN), status=401)
        self._limiter.success(key)
        who = replace(result.principal, client=client)
        token = self.new_token(who)
        if self._audit is not None:
            self._audit.record_durably(Event.by(who, "login", detail="web application"))
        return SignIn(who, self.encode(token), self.csrf_token(token))

    def _record_failure(self, result: AuthResult, client: str) -> None:
        if self._audit is None or result.attempted is None:
            return
        event = Event.by(
            replace(result.attempted, client=client),
            "login",
            outcome=FAILURE,
            detail=f"web application: {result.refusal or result.reason}",
        )
        self._audit.record_durably(event)

    # -- the user's own password (blocking: argon2)

    def change_password(self, who: Principal, current: str, new: str, repeated: str) -> SignIn:
        """Set the signed-in user's password after checking the current one.

        Every session and API token of the user ends (as with ``openpacs admin
        set-password``); the browser that made the change gets a new session.
        """
        if who.user_id is None or who.email is None:
            raise BadRequest("only a user can change a password")
        if new != repeated:
            return SignIn(error="The two new passwords are not the same.", status=400)
        try:
            check_password_strength(new)
        except WeakPassword as exc:
            return SignIn(error=_sentence(str(exc)), status=400)
        key = who.email.strip().lower()
        wait = self._limiter.blocked(key)
        if wait is not None:
            return SignIn(
                error="Too many wrong passwords. Try again later.", status=429, retry_after=wait
            )
        with self._db.session() as session:
            stored = password_hash_of(session, who.user_id)
        if stored is None or not verify_password(stored, current):
            self._limiter.failure(key)
            return SignIn(error="Your current password is not right.", status=400)
        with self._db.session() as session:
            user = set_own_password(session, who, new)
            changed = user_principal(user, who.institution_ids)
        self._authenticator.forget()
        token = self.new_token(changed)
        return SignIn(
            replace(changed, client=who.client), self.encode(token), self.csrf_token(token)
        )


def _sentence(text: str) -> str:
    """A reason from the services as a sentence for a page."""
    text = text.strip()
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")
