"""Equipment become DICOM peers: equipment.host, equipment.port, an index on ae_title

Revision ID: 0004_dicom
Revises: 0003_access
Create Date: 2026-12-07 12:00:00

The DICOM listener looks an association's calling AE title up on every association
(so that changes need no restart): ``ix_equipment_ae_title`` serves that look-up. An AE
title is unique within its account; the admin commands check it (existing databases may
hold duplicates from before, which a unique index would refuse to create).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_dicom"
down_revision = "0003_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("equipment") as batch:
        batch.add_column(sa.Column("host", sa.String(255), nullable=False, server_default=""))
        batch.add_column(sa.Column("port", sa.Integer(), nullable=True))
    op.create_index("ix_equipment_ae_title", "equipment", ["ae_title"])


def downgrade() -> None:
    op.drop_index("ix_equipment_ae_title", table_name="equipment")
    with op.batch_alter_table("equipment") as batch:
        batch.drop_column("port")
        batch.drop_column("host")
