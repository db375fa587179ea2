"""A throw-away SQLite index with one account, for service tests without a server."""

from __future__ import annotations

from pathlib import Path

from openpacs.index.db import Database
from openpacs.index.migrate import upgrade
from openpacs.index.models import Account, Institution
from openpacs.services.principal import Principal


def account_index(tmp: Path, name: str = "a") -> tuple[Database, Principal]:
    """``tmp/index.db`` at the current schema, with account ``name`` and its default
    institution; the principal is a user of that account."""
    db = Database(f"sqlite:///{tmp / 'index.db'}")
    upgrade(db.engine)
    with db.session() as session:
        account = Account(name=name)
        session.add(account)
        session.flush()
        session.add(Institution(account_id=account.id, name=name, is_default=True))
        who = Principal(account_id=account.id, user_id=1)
    return db, who
