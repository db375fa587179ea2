"""Sign-in with passwords and API tokens, and how fast a change reaches a cached login."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from openpacs.index.db import Database
from openpacs.index.migrate import upgrade
from openpacs.index.models import ApiToken
from openpacs.protocol.basic_auth import bearer_token
from openpacs.services import accounts
from openpacs.services.auth import DISABLED, Authenticator
from openpacs.services.principal import Principal
from openpacs.services.tokens import TokenService, looks_like_token, new_token, token_hash

EMAIL, PASSWORD = "dr@example.org", "a long password"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'index.db'}")
    upgrade(database.engine)
    with database.session() as session:
        accounts.create_account(session, name="a", email=EMAIL, password=PASSWORD)
    yield database
    database.dispose()


def signed_in(auth: Authenticator) -> Principal:
    principal = auth.authenticate(EMAIL, PASSWORD).principal
    assert principal is not None
    return principal


def make_token(db: Database, who: Principal, scope: str = "read-write") -> tuple[str, str]:
    made = TokenService(db).create(who, "test", scope, datetime.now(UTC).date() + timedelta(1))
    return made.token, made.api_token_uuid


def test_tokens_are_random_recognisable_and_kept_only_as_a_keyed_hash() -> None:
    first, second = new_token(), new_token()
    assert first != second and looks_like_token(first) and len(first) == 48
    assert not looks_like_token("opat_short") and not looks_like_token("password")
    assert token_hash(first) != token_hash(second) and len(token_hash(first)) == 64
    import hashlib

    assert token_hash(first) != hashlib.sha256(first.encode()).hexdigest()


def test_bearer_header_parsing() -> None:
    assert bearer_token("Bearer opat_abc") == "opat_abc"
    assert bearer_token("bearer   opat_abc  ") == "opat_abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token("Bearer caf\u00e9") is None


def test_a_token_signs_in_as_bearer_and_as_the_basic_password(db: Database) -> None:
    auth = Authenticator(db)
    who = signed_in(auth)
    token, _ = make_token(db, who, "read")
    bearer = auth.authenticate_bearer(token).principal
    basic = auth.authenticate(EMAIL.upper(), token).principal
    for principal in (bearer, basic):
        assert principal is not None
        assert (principal.user_id, principal.token_scope) == (who.user_id, "read")
        assert principal.token_read_only
    assert auth.authenticate("someone@else.org", token).principal is None
    assert auth.authenticate_bearer(token[:-1] + "x").reason == "unknown API token"
    with db.session() as session:
        assert session.scalar(select(ApiToken.last_used_at)) is not None


def test_revoking_reaches_a_cached_login_at_the_next_epoch_check(db: Database) -> None:
    auth = Authenticator(db, epoch_seconds=0.0)
    token, token_uuid = make_token(db, signed_in(auth))
    auth.check_epoch()
    assert auth.cached_bearer(token) is None
    assert auth.authenticate_bearer(token).principal is not None
    assert auth.cached_bearer(token) is not None  # cached: no query on the next request
    TokenService(db).revoke(signed_in(auth), token_uuid)
    assert auth.epoch_due()
    auth.check_epoch()
    assert auth.cached_bearer(token) is None
    assert auth.authenticate_bearer(token).reason == "this API token was revoked"


def test_disabling_a_user_refuses_password_and_tokens(db: Database) -> None:
    auth = Authenticator(db)
    token, _ = make_token(db, signed_in(auth))
    with db.session() as session:
        accounts.set_disabled(session, EMAIL, True)
    auth.check_epoch()
    assert auth.authenticate(EMAIL, PASSWORD).refusal == DISABLED
    assert auth.authenticate_bearer(token).refusal == DISABLED
    with db.session() as session:
        accounts.set_disabled(session, EMAIL, False)
    auth.check_epoch()
    assert auth.authenticate_bearer(token).principal is not None


def test_a_new_password_ends_the_old_one_and_revokes_the_tokens(db: Database) -> None:
    auth = Authenticator(db)
    token, _ = make_token(db, signed_in(auth))
    with db.session() as session:
        accounts.set_password(session, EMAIL, "another long password")
    auth.check_epoch()
    assert auth.authenticate(EMAIL, PASSWORD).principal is None
    assert auth.authenticate(EMAIL, "another long password").principal is not None
    assert auth.authenticate_bearer(token).reason == "this API token was revoked"


def test_a_cached_token_login_never_outlives_the_token(db: Database) -> None:
    auth = Authenticator(db, cache_seconds=60)
    token, _ = make_token(db, signed_in(auth))
    soon = datetime.now(UTC) + timedelta(seconds=0.6)
    with db.session() as session:
        session.execute(update(ApiToken).values(expires_at=soon))
    assert auth.authenticate_bearer(token).principal is not None
    assert auth.cached_bearer(token) is not None
    time.sleep(0.7)
    assert auth.cached_bearer(token) is None
    assert auth.authenticate_bearer(token).reason == "this API token has expired"


def test_a_role_change_reaches_the_principal(db: Database) -> None:
    auth = Authenticator(db)
    assert signed_in(auth).role == "admin"
    with db.session() as session:
        accounts.set_role(session, EMAIL, "reader")
    assert signed_in(auth).role == "admin"  # cached until the epoch is read
    auth.check_epoch()
    principal = signed_in(auth)
    assert principal.role == "reader" and principal.credentials_version == 1


def test_token_rules(db: Database) -> None:
    from openpacs.services.errors import BadRequest, Forbidden

    service, who = TokenService(db), signed_in(Authenticator(db))
    today = datetime.now(UTC).date()
    with pytest.raises(BadRequest, match="in the past"):
        service.create(who, "old", "read", today - timedelta(days=2))
    with pytest.raises(BadRequest, match="at most 366 days"):
        service.create(who, "far", "read", today + timedelta(days=400))
    with pytest.raises(BadRequest, match="Scope"):
        service.create(who, "odd", "admin", today)
    token_user = Principal(
        who.account_id, user_id=who.user_id, token_id=1, token_scope="read-write"
    )
    with pytest.raises(Forbidden, match="with the password"):
        service.list_tokens(token_user)
