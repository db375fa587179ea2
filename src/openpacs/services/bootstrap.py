"""First start: schema up to date, and an admin account when the database is empty."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from openpacs.index.db import Database
from openpacs.index.migrate import upgrade
from openpacs.services.accounts import count_accounts, create_account
from openpacs.services.passwords import random_password

INITIAL_ADMIN_EMAIL = "admin@openpacs.local"
INITIAL_ACCOUNT_NAME = "openpacs"
CREDENTIALS_FILE = "initial-admin.txt"


@dataclass(frozen=True)
class InitialAdmin:
    account_uuid: str
    account_name: str
    email: str
    password: str
    file: Path


def prepare_database(db: Database) -> None:
    upgrade(db.engine)


def ensure_initial_admin(db: Database, data_dir: Path) -> InitialAdmin | None:
    """Create the first account once; its UUID and credentials go to a file only the owner
    reads."""
    with db.session() as session:
        if count_accounts(session) > 0:
            return None
        password = random_password()
        created = create_account(
            session, name=INITIAL_ACCOUNT_NAME, email=INITIAL_ADMIN_EMAIL, password=password
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / CREDENTIALS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(
            f"account: {created.account_uuid}\nemail: {INITIAL_ADMIN_EMAIL}\npassword: {password}\n"
        )
    return InitialAdmin(
        created.account_uuid, INITIAL_ACCOUNT_NAME, INITIAL_ADMIN_EMAIL, password, path
    )
