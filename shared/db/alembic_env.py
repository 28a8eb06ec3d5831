"""The body of every service's ``migrations/env.py``: one schema, version table inside it."""

from __future__ import annotations

import sqlalchemy as sa


def run_migrations(target_metadata: sa.MetaData) -> None:
    from alembic import context

    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with `careloop migrate <service>`; it provides the connection")
    schema = target_metadata.schema
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table_schema=schema,
        include_schemas=False,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()
