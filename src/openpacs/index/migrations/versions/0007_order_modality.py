"""The modalities of each patient order as rows, for the order list's modality filter

Revision ID: 0007_order_modality
Revises: 0006_revoked
Create Date: 2026-12-06 07:45:00

``order_modality`` (account, modality, order) lists each order under its own modality and
its studies' ModalitiesInStudy (see ``openpacs.index.order_modalities``), so that the
filter reads an index instead of scanning every study. Filled here for existing orders.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openpacs.index.order_modalities import modalities_of

revision = "0007_order_modality"
down_revision = "0006_revoked"
branch_labels = None
depends_on = None

_BATCH = 5000
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # as the ids they hold


def upgrade() -> None:
    table = op.create_table(
        "order_modality",
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("modality", sa.String(length=64), nullable=False),
        sa.Column("order_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["patient_order.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "modality", "order_id"),
    )
    op.create_index("ix_order_modality_order_id", "order_modality", ["order_id"])
    _backfill(op.get_bind(), table)


def _backfill(conn: sa.Connection, table: sa.Table) -> None:
    studies: dict[int, list[str]] = {}
    for order_id, value in conn.execute(
        sa.text("SELECT order_id, modalities_in_study FROM study WHERE order_id IS NOT NULL")
    ):
        studies.setdefault(int(order_id), []).append(value or "")
    rows: list[dict[str, object]] = []
    orders = conn.execute(sa.text("SELECT id, account_id, modality FROM patient_order")).all()
    for order_id, account_id, own in orders:
        for modality in sorted(modalities_of(own, studies.get(int(order_id), ()))):
            rows.append({"account_id": account_id, "modality": modality, "order_id": order_id})
        if len(rows) >= _BATCH:
            conn.execute(sa.insert(table), rows)
            rows = []
    if rows:
        conn.execute(sa.insert(table), rows)


def downgrade() -> None:
    op.drop_index("ix_order_modality_order_id", table_name="order_modality")
    op.drop_table("order_modality")
