"""Personal API tokens: made, listed and revoked by their user; shown once, kept hashed.

A token is ``opat_`` followed by 43 URL-safe characters: 256 random bits from
``secrets``. The prefix lets secret scanners and people recognise one; the first 12
characters are kept in clear (``Prefix``) so a user can tell their tokens apart.

Why a fast keyed hash and not argon2: the database keeps HMAC-SHA256 of the token
(:func:`token_hash`), looked up by equality. A slow hash exists to make guessing *low-
entropy* secrets (passwords) expensive after a leak; a 256-bit random token cannot be
guessed however fast the hash, so argon2 would only cost every sign-in 50 ms and
64 MiB without making anything safer. HMAC with a fixed, openpacs-specific key keeps
the stored values apart from any other SHA-256 of the same text (share tokens are plain
SHA-256), and equality on the hash needs no constant-time comparison (an attacker who
cannot invert SHA-256 learns nothing from timing a lookup).

Each token has a name, an expiry (``ExpireDate``: the last day it works, in the server's
time zone, at most :data:`MAX_DAYS` ahead) and a scope: ``read`` (every read the user's
role allows, nothing else) or ``read-write`` (what the role allows). A token works as a
Bearer token and as the HTTP Basic password (with the user's e-mail as user name).
Tokens are managed with the password: a token cannot create, list or revoke tokens.
Revoking one, or disabling its user, ends its use within seconds (see
:mod:`openpacs.index.credentials`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from openpacs.index.audit import record_event
from openpacs.index.credentials import end_logins, token_of, tokens_of
from openpacs.index.db import Database
from openpacs.index.models import ApiToken, utcnow
from openpacs.services.errors import BadRequest, NotFound
from openpacs.services.orders import _iso
from openpacs.services.permissions import Action, require
from openpacs.services.principal import READ_ONLY_SCOPE, READ_WRITE_SCOPE, Principal
from openpacs.services.shares import today_in

TOKEN_PREFIX = "opat_"  # noqa: S105 - the visible prefix, not a secret
SCOPES = (READ_ONLY_SCOPE, READ_WRITE_SCOPE)
MAX_DAYS = 366
_SHOWN = 12  # characters of a token kept in clear
_HMAC_KEY = b"openpacs personal API token v1"
_TOKEN_LENGTH = len(TOKEN_PREFIX) + 43


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def looks_like_token(secret: str) -> bool:
    """True for text shaped like one of our tokens (the Basic password may be one)."""
    return secret.startswith(TOKEN_PREFIX) and len(secret) == _TOKEN_LENGTH


def token_hash(token: str) -> str:
    """What ``ApiToken.token_hash`` holds for a token (see the module docstring)."""
    return hmac.new(_HMAC_KEY, token.encode(), hashlib.sha256).hexdigest()


# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiTokenInfo:
    """One token as its user sees it (never the token itself: only its hash is kept)."""

    api_token_uuid: str
    token_name: str
    scope: str  # "read" or "read-write"
    prefix: str  # the token's first characters
    created_at: str  # ISO 8601, UTC
    expire_date: str  # YYYY-MM-DD, the last day it works
    expires_at: str  # ISO 8601, UTC: the moment it stops working
    last_used_at: str  # ISO 8601, UTC; "" = never used
    revoked: bool
    expired: bool


@dataclass(frozen=True)
class CreatedApiToken(ApiTokenInfo):
    """A new token with its secret: the only time the secret is shown."""

    token: str


@dataclass(frozen=True)
class ApiTokenList:
    api_token_list: tuple[ApiTokenInfo, ...]


@dataclass(frozen=True)
class RevokedApiToken:
    api_token_uuid: str


# -- the service -------------------------------------------------------------------------


class TokenService:
    def __init__(self, db: Database, tz_name: str = "UTC") -> None:
        self._db = db
        self._tz = tz_name or "UTC"

    def create(self, who: Principal, name: str, scope: str, expire_date: date) -> CreatedApiToken:
        require(who, Action.OWN_TOKENS)
        name = " ".join(name.split())
        if not name:
            raise BadRequest("TokenName: missing required parameter")
        if scope not in SCOPES:
            raise BadRequest(f"Scope: must be one of {', '.join(SCOPES)}")
        today = today_in(self._tz)
        if expire_date < today:
            raise BadRequest(
                f"ExpireDate: {expire_date.isoformat()} is in the past "
                f"(today is {today.isoformat()} in {self._tz})"
            )
        if expire_date > today + timedelta(days=MAX_DAYS):
            raise BadRequest(f"ExpireDate: at most {MAX_DAYS} days ahead")
        assert who.user_id is not None  # OWN_TOKENS is granted to users only
        token = new_token()
        with self._db.session() as session:
            row = ApiToken(
                account_id=who.account_id,
                user_id=who.user_id,
                name=name,
                token_hash=token_hash(token),
                prefix=token[:_SHOWN],
                scope=scope,
                expires_at=self._end_of(expire_date),
            )
            session.add(row)
            session.flush()
            info = self._info(row)
            detail = f"ApiTokenUuid={row.uuid}; {name!r}, {scope}, until {info.expire_date}"
            record_event(session, who, "token.create", detail=detail)
        values = {f.name: getattr(info, f.name) for f in fields(ApiTokenInfo)}
        return CreatedApiToken(**values, token=token)

    def list_tokens(self, who: Principal) -> ApiTokenList:
        """The caller's tokens, newest first (revoked and expired ones too, marked)."""
        require(who, Action.OWN_TOKENS)
        with self._db.session() as session:
            rows = tokens_of(session, who.user_id)
            return ApiTokenList(tuple(self._info(row) for row in rows))

    def revoke(self, who: Principal, token_uuid: str) -> RevokedApiToken:
        """Stop one of the caller's tokens; every server process refuses it within seconds."""
        require(who, Action.OWN_TOKENS)
        with self._db.session() as session:
            row = token_of(session, who.user_id, token_uuid)
            if row is None:
                raise NotFound(f"ApiTokenUuid: no API token {token_uuid} of yours")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                end_logins(session)
                record_event(session, who, "token.revoke", detail=f"ApiTokenUuid={row.uuid}")
            return RevokedApiToken(row.uuid)

    # -- helpers

    def _end_of(self, last_day: date) -> datetime:
        """The first moment after ``last_day`` in the server's time zone, in UTC."""
        start = datetime.combine(last_day + timedelta(days=1), time(), ZoneInfo(self._tz))
        return start.astimezone(UTC)

    def _info(self, row: ApiToken) -> ApiTokenInfo:
        expires = _aware(row.expires_at)
        last_day = (expires.astimezone(ZoneInfo(self._tz)) - timedelta(seconds=1)).date()
        return ApiTokenInfo(
            api_token_uuid=row.uuid,
            token_name=row.name,
            scope=row.scope,
            prefix=row.prefix,
            created_at=_iso(row.created_at),
            expire_date=last_day.isoformat(),
            expires_at=_iso(expires),
            last_used_at=_iso(row.last_used_at),
            revoked=row.revoked_at is not None,
            expired=expires <= datetime.now(UTC),
        )


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
