"""The web application's order list: indexes for its status and modality filters

Revision ID: 0005_web
Revises: 0004_dicom
Create Date: 2026-12-06 07:00:00

``ix_order_account_status`` (account, status, created_at, id) answers "the account's
scheduled orders, newest first" and their count from the index alone; without it the
count of 20,000 scheduled orders among 100,000 read every order row (150-300 ms).
``ix_order_account_modality`` finds the orders of a requested modality (the orders
whose images have it come from ``ix_study_account_modalities``).
"""

from __future__ import annotations

from alembic import op

revision = "0005_web"
down_revision = "0004_dicom"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_order_account_status", "patient_order", ["account_id", "status", "created_at", "id"]
    )
    op.create_index("ix_order_account_modality", "patient_order", ["account_id", "modality"])


def downgrade() -> None:
    op.drop_index("ix_order_account_modality", table_name="patient_order")
    op.drop_index("ix_order_account_status", table_name="patient_order")
