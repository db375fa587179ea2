"""Alembic environment: the engine is handed in by openpacs.index.migrate."""

from __future__ import annotations

from alembic import context

from openpacs.index.models import Base

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
