"""The web application's sessions: the signed cookie, its expiry, CSRF, sign-in, and what
ends a session (a new password, a new role, a disabled user), on a real SQLite index."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from openpacs.index.db import Database
from openpacs.index.migrate import upgrade
from openpacs.services import accounts
from openpacs.services.auth import Authenticator
from openpacs.services.ratelimit import FailureLimiter
from openpacs.services.sessions import SessionKeeper, SessionToken
from openpacs.services.tokens import TokenService
from openpacs.web.session_auth import safe_next

EMAIL, PASSWORD = "dr@example.org", "a long password"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'index.db'}")
    upgrade(database.engine)
    with database.session() as session:
        accounts.create_account(session, name="a", email=EMAIL, password=PASSWORD)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def keeper_for(db: Database, tmp_path: Path, clock: Clock, limit: int = 10) -> SessionKeeper:
    return SessionKeeper(
        db,
        tmp_path,
        idle_seconds=1800,
        max_seconds=12 * 3600,
        authenticator=Authenticator(db, cache_seconds=0.0),
        limiter=FailureLimiter(limit=limit),
        clock=clock,
    )


@pytest.fixture
def keeper(db: Database, tmp_path: Path, clock: Clock) -> SessionKeeper:
    return keeper_for(db, tmp_path, clock)


def signed_in(keeper: SessionKeeper) -> SessionToken:
    result = keeper.sign_in(EMAIL, PASSWORD, "10.0.0.1")
    assert result.principal is not None, result.error
    token = keeper.decode(result.cookie)
    assert token is not None
    return token


def test_a_right_password_makes_a_session_whose_cookie_decodes(keeper: SessionKeeper) -> None:
    result = keeper.sign_in(" DR@example.org ", PASSWORD, "10.0.0.1")
    assert result.principal is not None and result.principal.email == EMAIL
    assert result.principal.token_id is None and result.principal.client == "10.0.0.1"
    token = keeper.decode(result.cookie)
    assert token is not None and token.user_id == result.principal.user_id
    assert result.csrf == keeper.csrf_token(token)
    found = keeper.principal(token)
    assert found is not None and found[0].email == EMAIL and found[1] is True


def test_every_sign_in_gets_a_new_cookie_and_csrf_token(keeper: SessionKeeper) -> None:
    first, second = (keeper.sign_in(EMAIL, PASSWORD, "x") for _ in range(2))
    assert first.cookie != second.cookie and first.csrf != second.csrf


def test_wrong_passwords_are_refused_then_rate_limited(
    db: Database, tmp_path: Path, clock: Clock
) -> None:
    keeper = keeper_for(db, tmp_path, clock, limit=3)
    for _ in range(3):
        result = keeper.sign_in(EMAIL, "not it at all", "x")
        assert result.principal is None and result.status == 401
        assert result.error == "Wrong e-mail or password."
    blocked = keeper.sign_in(EMAIL, PASSWORD, "x")  # even the right one: no check at all
    assert blocked.principal is None and blocked.status == 429 and blocked.retry_after
    assert keeper.sign_in("", PASSWORD, "x").status == 400


def test_an_api_token_is_not_a_password_for_the_sign_in_page(
    db: Database, keeper: SessionKeeper
) -> None:
    from datetime import date, timedelta

    who = signed_in_principal(keeper)
    token = TokenService(db).create(who, "t", "read-write", date.today() + timedelta(days=3))
    result = keeper.sign_in(EMAIL, token.token, "x")
    assert result.principal is None and result.status == 401 and "API tokens" in result.error


def signed_in_principal(keeper: SessionKeeper):  # type: ignore[no-untyped-def]
    result = keeper.sign_in(EMAIL, PASSWORD, "x")
    assert result.principal is not None
    return result.principal


def test_a_disabled_user_cannot_sign_in_and_their_session_ends(
    db: Database, keeper: SessionKeeper
) -> None:
    token = signed_in(keeper)
    with db.session() as session:
        accounts.set_disabled(session, EMAIL, True)
    assert keeper.principal(token) is None
    result = keeper.sign_in(EMAIL, PASSWORD, "x")
    assert result.principal is None and result.status == 403 and "disabled" in result.error


@pytest.mark.parametrize("change", ["password", "role", "institutions"])
def test_a_credentials_change_ends_the_session(
    db: Database, keeper: SessionKeeper, change: str
) -> None:
    token = signed_in(keeper)
    with db.session() as session:
        if change == "password":
            accounts.set_password(session, EMAIL, "another long password")
        elif change == "role":
            accounts.set_role(session, EMAIL, "reader")
        else:
            accounts.set_institutions(session, EMAIL, [])
    assert keeper.principal(token) is None


def test_idle_and_absolute_expiry(keeper: SessionKeeper, clock: Clock) -> None:
    token = signed_in(keeper)
    cookie = keeper.encode(token)
    clock.now += 1799
    assert keeper.decode(cookie) is not None
    clock.now += 2
    assert keeper.decode(cookie) is None  # idle for more than 30 minutes
    # Kept busy (renewed every minute), it still ends 12 hours after the sign-in.
    clock.now = token.issued + 60
    renewed = keeper.refreshed(token)
    assert renewed is not None and keeper.refreshed(renewed) is None
    while clock.now + 1200 < token.issued + 12 * 3600:
        clock.now += 1200
        fresh = keeper.refreshed(renewed)
        assert fresh is not None
        renewed = fresh
        assert keeper.decode(keeper.encode(renewed)) is not None
    clock.now = token.issued + 12 * 3600
    assert keeper.decode(keeper.encode(renewed)) is None


def test_an_altered_or_foreign_cookie_is_refused(
    db: Database, keeper: SessionKeeper, tmp_path: Path, clock: Clock
) -> None:
    token = signed_in(keeper)
    cookie = keeper.encode(token)
    assert keeper.decode(cookie.replace(f"v1.{token.user_id}.", "v1.999.", 1)) is None
    assert keeper.decode(keeper.encode(replace(token, version=token.version + 1))[:-2]) is None
    assert keeper.decode("") is None and keeper.decode("v1.1.2.3") is None
    assert keeper.decode("x" * 1000) is None
    other_dir = tmp_path / "other"
    other = keeper_for(db, other_dir, clock)  # another install: another secret
    assert other.decode(cookie) is None


def test_the_csrf_token_belongs_to_one_session(keeper: SessionKeeper) -> None:
    first, second = signed_in(keeper), signed_in(keeper)
    assert keeper.csrf_ok(first, keeper.csrf_token(first))
    assert not keeper.csrf_ok(first, keeper.csrf_token(second))
    assert not keeper.csrf_ok(first, "")
    # The token survives the cookie's renewal (same sign-in).
    assert keeper.csrf_token(replace(first, seen=first.seen + 600)) == keeper.csrf_token(first)


def test_changing_the_own_password(db: Database, keeper: SessionKeeper) -> None:
    token = signed_in(keeper)
    found = keeper.principal(token)
    assert found is not None
    who = found[0]
    wrong = keeper.change_password(
        who, "not the password", "brand new secret 42", "brand new secret 42"
    )
    assert wrong.principal is None and "current password" in wrong.error
    mismatch = keeper.change_password(who, PASSWORD, "brand new secret 42", "brand new secret 43")
    assert mismatch.principal is None and "not the same" in mismatch.error
    weak = keeper.change_password(who, PASSWORD, "password123", "password123")
    assert weak.principal is None and "common" in weak.error
    done = keeper.change_password(who, PASSWORD, "brand new secret 42", "brand new secret 42")
    assert done.principal is not None
    assert keeper.principal(token) is None  # the old session ended ...
    new_token = keeper.decode(done.cookie)
    assert new_token is not None and keeper.principal(new_token) is not None  # ... not this one
    assert keeper.sign_in(EMAIL, PASSWORD, "x").principal is None
    assert keeper.sign_in(EMAIL, "brand new secret 42", "x").principal is not None


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("/orders?page=2", True),
        ("/viewer/?StudyInstanceUIDs=1.2.3", True),
        ("//evil.example/x", False),
        ("https://evil.example/", False),
        ("/\\evil.example", False),
        ("orders", False),
        ("/a\nb", False),
    ],
)
def test_only_same_site_paths_are_next_urls(value: str, safe: bool) -> None:
    assert (safe_next(value) == value) is safe


def test_sign_out_revokes_that_session_only(
    db: Database, keeper: SessionKeeper, clock: Clock, tmp_path: Path
) -> None:
    """Signing out refuses the session's token from then on (a copied cookie, another
    process with its own keeper); the user's other sessions go on; revocations are
    purged once the session would have expired anyway."""
    from sqlalchemy import func, select

    from openpacs.index.models import RevokedSession

    first, second = signed_in(keeper), signed_in(keeper)
    renewed = replace(first, seen=first.seen + 120)  # the same session, cookie renewed
    keeper.sign_out(first)
    other_process = keeper_for(db, tmp_path, clock)
    for who in (keeper, other_process):
        assert who.principal(first) is None
        assert who.principal(renewed) is None
        assert who.principal(second) is not None
    keeper.sign_out(first)  # twice: no error
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(RevokedSession)) == 1
    # Past the absolute lifetime of the first session, the next sign-out purges its row.
    clock.now += 12 * 3600 + 1
    third = signed_in(keeper)
    keeper.sign_out(third)
    with db.session() as session:
        assert session.scalars(select(RevokedSession.id)).all() == [third.nonce]
