"""The order search's other patient ID, birth-date and institution filters: an index each

Revision ID: 0008_order_search
Revises: 0007_order_modality
Create Date: 2026-12-06 15:00:00

``/getpatientorderlist`` (and the web application's order list) filters by
``OtherPatientId``, by a ``PatientBirthdate`` range and by institutions; without these
indexes each filter's count read every order of the account (SQLite: 64 ms for one
institution of four at 100,000 orders). ``ix_order_account_institution`` ends with
(created_at, id) as ``ix_order_account_status`` does: one institution's newest orders
and their count come from the index alone.
"""

from __future__ import annotations

from alembic import op

revision = "0008_order_search"
down_revision = "0007_order_modality"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_order_account_other_patient_id", "patient_order", ["account_id", "other_patient_id"]
    )
    op.create_index(
        "ix_order_account_birth_date", "patient_order", ["account_id", "patient_birth_date"]
    )
    op.create_index(
        "ix_order_account_institution",
        "patient_order",
        ["account_id", "institution_id", "created_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_order_account_institution", table_name="patient_order")
    op.drop_index("ix_order_account_birth_date", table_name="patient_order")
    op.drop_index("ix_order_account_other_patient_id", table_name="patient_order")
