"""Access control: disabled users, credential versions, institution scope, API tokens,
the login epoch, and audit columns (patient, outcome, token) with the readout's indexes.

Revision ID: 0003_access
Revises: 0002
Create Date: 2026-12-10 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_access"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)
# The readout's indexes: (account_id, <filter>, created_at, id), walked newest first.
_AUDIT_INDEXES = {
    "ix_audit_account_user": "user_id",
    "ix_audit_account_patient": "patient_id",
    "ix_audit_account_study": "study_instance_uid",
    "ix_audit_account_action": "action",
}


def upgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("credentials_version", sa.Integer(), nullable=False, server_default="0")
        )

    op.create_table(
        "user_institution",
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("institution_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["institution_id"], ["institution.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "institution_id"),
    )
    with op.batch_alter_table("user_institution", schema=None) as batch_op:
        batch_op.create_index(
            "ix_user_institution_institution_id", ["institution_id"], unique=False
        )

    op.create_table(
        "api_token",
        sa.Column("id", _ID, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("last_used_at", _TIME, nullable=True),
        sa.Column("revoked_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.create_index("ix_api_token_user_id", ["user_id"], unique=False)

    op.create_table(
        "auth_epoch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO auth_epoch (id, epoch) VALUES (1, 0)")

    op.create_table(
        "audit_journal_mark",
        sa.Column("journal", sa.String(length=64), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("journal"),
    )

    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("outcome", sa.String(length=10), nullable=False, server_default="success")
        )
        batch_op.add_column(
            sa.Column("patient_id", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.drop_index("ix_audit_account_time")
        batch_op.create_index(
            "ix_audit_account_time", ["account_id", "created_at", "id"], unique=False
        )
        for name, column in _AUDIT_INDEXES.items():
            batch_op.create_index(name, ["account_id", column, "created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        for name in _AUDIT_INDEXES:
            batch_op.drop_index(name)
        batch_op.drop_index("ix_audit_account_time")
        batch_op.create_index("ix_audit_account_time", ["account_id", "created_at"], unique=False)
        batch_op.drop_column("patient_id")
        batch_op.drop_column("outcome")
        batch_op.drop_column("token_id")
    op.drop_table("audit_journal_mark")
    op.drop_table("auth_epoch")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index("ix_api_token_user_id")
    op.drop_table("api_token")
    with op.batch_alter_table("user_institution", schema=None) as batch_op:
        batch_op.drop_index("ix_user_institution_institution_id")
    op.drop_table("user_institution")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("credentials_version")
        batch_op.drop_column("disabled")
