"""What a migration that adds an indexed attribute does: add its column, fill the rows.

A new row of the attribute table (:mod:`openpacs.dicom.attributes`) makes new instances
fill the new column at ingest; the rows already in the index get it here, from the DICOM
JSON stored with each study, series or instance (``study_json``, ``series_json``,
``instance_json`` hold every attribute of their level), through the same extraction as
ingest (:func:`openpacs.dicom.ingest.attribute_values`), so old and new rows agree.

The migration names the attribute in full (keyword, level, kind, column, length) rather
than reading the table, so that it means the same thing when it runs years later.
Attributes of sequence items (``series_request_attributes``) are not covered: their rows
are made per item and need a migration of their own.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

from openpacs.dicom.attributes import Attribute, Kind, Level
from openpacs.dicom.ingest import attribute_values
from openpacs.index.models import attribute_column_types

__all__ = ["add_attribute_column", "drop_attribute_column"]

_TABLES = {
    Level.STUDY: ("study", "study_json"),
    Level.SERIES: ("series", "series_json"),
    Level.INSTANCE: ("instance", "instance_json"),
}
BATCH = 1000


def _columns(attr: Attribute) -> list[sa.Column[Any]]:
    """The new column(s), as the models make them (existing rows get "" or NULL)."""
    nullable = attr.kind is Kind.INT
    return [
        sa.Column(name, column_type, nullable=nullable, server_default=None if nullable else "")
        for name, column_type in attribute_column_types(attr).items()
    ]


def add_attribute_column(attr: Attribute) -> None:
    """Add ``attr``'s column(s) to its level's table and fill them from the stored JSON."""
    if attr.sequence is not None:
        raise ValueError("sequence item attributes need a migration of their own")
    table_name, json_name = _TABLES[attr.level]
    columns = _columns(attr)
    for column in columns:
        op.add_column(table_name, column)
    names = [c.name for c in columns]
    table = sa.table(
        table_name,
        sa.column("id", sa.Integer()),
        sa.column(json_name, sa.LargeBinary()),
        *(sa.column(name) for name in names),
    )
    update = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("row_id"))
        .values({name: sa.bindparam(f"new_{name}") for name in names})
    )
    conn = op.get_bind()
    last = 0
    while True:  # in id order, a batch at a time: the whole table never sits in memory
        rows = conn.execute(
            sa.select(table.c.id, table.c[json_name])
            .where(table.c.id > last)
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        changes = []
        for row_id, stored in rows:
            values = attribute_values(_fragment(stored), attr)
            if any(value not in ("", None) for value in values.values()):
                changes.append({"row_id": row_id, **{f"new_{k}": v for k, v in values.items()}})
        if changes:
            conn.execute(update, changes)
        last = int(rows[-1][0])


def drop_attribute_column(attr: Attribute) -> None:
    table_name, _ = _TABLES[attr.level]
    with op.batch_alter_table(table_name) as batch_op:
        for column in reversed(_columns(attr)):
            batch_op.drop_column(column.name)


def _fragment(stored: bytes | None) -> dict[str, Any]:
    try:
        data = orjson.loads(stored or b"{}")
    except orjson.JSONDecodeError:
        return {}
    return {str(k).upper(): v for k, v in data.items()} if isinstance(data, dict) else {}
