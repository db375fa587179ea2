"""Web sessions ended by sign-out

Revision ID: 0006_revoked
Revises: 0005_web
Create Date: 2026-12-06 07:40:00

``revoked_session`` holds the id of each web session its user signed out of before it
expired (the cookie is a signed token: without this row a copy of it would keep working
until its expiry). It is read with the session's user on every request; rows whose
``expires_at`` has passed are purged at the next sign-out.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_revoked"
down_revision = "0005_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revoked_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_revoked_session_expires_at", "revoked_session", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_revoked_session_expires_at", table_name="revoked_session")
    op.drop_table("revoked_session")
