"""StationName (0008,1010) becomes a series matching key: series.station_name

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 12:00:00
"""

from __future__ import annotations

from openpacs.dicom.attributes import Attribute, Kind, Level
from openpacs.index.migrations.attribute_columns import (
    add_attribute_column,
    drop_attribute_column,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# As the row of dicom/attributes.py reads when this migration was written.
STATION_NAME = Attribute("StationName", Level.SERIES, Kind.TEXT, "station_name", 64)


def upgrade() -> None:
    add_attribute_column(STATION_NAME)


def downgrade() -> None:
    drop_attribute_column(STATION_NAME)
