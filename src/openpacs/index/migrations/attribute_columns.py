"""What a migration that adds an indexed attribute does: add its column, fill the rows.

A new row of the attribute table (:mod:`openpacs.dicom.attributes`) makes new instances
fill the new column at ingest and keep the element in their level's stored DICOM JSON
(``study_json``, ``series_json``, ``instance_json``: the level's tag set includes the
table's rows). The rows already in the index get both here. Their level JSON holds only
the attributes the level had when they were stored, so the value is read from the full
header of an instance (``instance.metadata_json``, every attribute of the file): the
instance itself, or for a study or series its first instance still stored (the one
ingest took the level's attributes from, unless it was deleted). A value the level JSON
already holds wins. The column is filled through the same extraction as ingest
(:func:`openpacs.dicom.ingest.attribute_values`), and the element is added to the level
JSON, so old and new rows agree in matching and in results.

The migration names the attribute in full (keyword, level, kind, column, length) rather
than reading the table, so that it means the same thing when it runs years later.
Attributes of sequence items (``series_request_attributes``) are not covered: their rows
are made per item and need a migration of their own. A downgrade drops the column and
leaves the element in the level JSON (an extra attribute in results, harmless).
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

from openpacs.dicom.attributes import Attribute, Kind, Level
from openpacs.dicom.parsed import attribute_values
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
    """Add ``attr``'s column(s) to its level's table and fill them, and the level's stored
    JSON, for the rows already there.

    Cost: one pass over the level's table in id order, ``BATCH`` rows per round trip
    (one SELECT, then one executemany UPDATE of the rows that have the element); memory
    stays at one batch. The database reads the element out of each chosen instance's
    ``metadata_json`` itself (a JSON parse of that document per row, on the server), so
    only the element and the small level JSON cross the wire; a study's or series' first
    instance is found through the instance table's study/series index. Rows without the
    element are not written. Measured on this machine with small headers: 20,000
    instances in 0.7 s on SQLite and 3 s on PostgreSQL, 200 series in under 1 s; the time
    grows with the number of rows of the level and the size of their headers.
    """
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
    conn = op.get_bind()
    query = sa.select(table.c.id, table.c[json_name], _header_element(conn, table, attr))
    fill_columns = _update(table, names)
    fill_with_json = _update(table, names, json_name)
    last = 0
    while True:  # in id order, a batch at a time: the whole table never sits in memory
        rows = conn.execute(query.where(table.c.id > last).order_by(table.c.id).limit(BATCH)).all()
        if not rows:
            return
        columns_only: list[dict[str, Any]] = []
        with_json: list[dict[str, Any]] = []
        for row_id, stored, from_header in rows:
            level_json = _document(stored)
            element = level_json.get(attr.key) or _document(from_header) or None
            if not isinstance(element, dict):
                continue
            values = attribute_values({attr.key: element}, attr)
            change = {"row_id": row_id, **{f"new_{k}": v for k, v in values.items()}}
            if attr.key in level_json:
                columns_only.append(change)
            else:
                level_json[attr.key] = element
                with_json.append(
                    {**change, "new_json": orjson.dumps(dict(sorted(level_json.items())))}
                )
        if columns_only:
            conn.execute(fill_columns, columns_only)
        if with_json:
            conn.execute(fill_with_json, with_json)
        last = int(rows[-1][0])


def drop_attribute_column(attr: Attribute) -> None:
    table_name, _ = _TABLES[attr.level]
    with op.batch_alter_table(table_name) as batch_op:
        for column in reversed(_columns(attr)):
            batch_op.drop_column(column.name)


def _update(table: sa.TableClause, names: list[str], json_name: str | None = None) -> sa.Update:
    values: dict[str, Any] = {name: sa.bindparam(f"new_{name}") for name in names}
    if json_name is not None:
        values[json_name] = sa.bindparam("new_json")
    return sa.update(table).where(table.c.id == sa.bindparam("row_id")).values(values)


def _header_element(
    conn: sa.Connection, table: sa.TableClause, attr: Attribute
) -> sa.ColumnElement[Any]:
    """The element ``attr.key`` of the full header of the row's instance (for a study or
    series: its first instance), as DICOM JSON text, read by the database; NULL when
    there is no such instance or element."""
    if attr.level is Level.INSTANCE:
        return _element_of(conn, sa.column("metadata_json", sa.LargeBinary()), attr.key)
    instance = sa.table("instance", sa.column("id"), sa.column("metadata_json"))
    parent = f"{attr.level.value}_id"
    first = sa.table("instance", sa.column("id"), sa.column(parent)).alias("first_instance")
    first_id = (
        sa.select(sa.func.min(first.c.id))
        .where(first.c[parent] == table.c.id)
        .correlate(table)  # the row of the outermost SELECT, two levels up
        .scalar_subquery()
    )
    element = _element_of(conn, instance.c.metadata_json, attr.key)
    return sa.select(element).where(instance.c.id == first_id).scalar_subquery()


def _element_of(conn: sa.Connection, stored: Any, key: str) -> sa.ColumnElement[Any]:
    """One element of a stored DICOM JSON document, as JSON text, extracted in SQL."""
    if conn.dialect.name == "postgresql":
        document = sa.cast(sa.func.convert_from(stored, "UTF8"), sa.JSON)
        return sa.cast(document.op("->")(sa.cast(sa.literal(key), sa.Text)), sa.Text)
    text = sa.cast(stored, sa.Text)  # SQLite: json_extract gives an object as its JSON text
    return sa.case((sa.func.json_valid(text) == 1, sa.func.json_extract(text, f'$."{key}"')))


def _document(stored: bytes | str | None) -> dict[str, Any]:
    try:
        data = orjson.loads(stored or b"{}")
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}
