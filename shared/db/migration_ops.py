"""Alembic operations shared by the services' migrations (the messaging tables)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID


def create_messaging_tables(schema: str) -> None:
    """The outbox and inbox of ``shared.db.tables``, frozen as of revision 0001."""
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=True),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
        schema=schema,
    )
    op.create_index(
        "ix_outbox_unpublished", "outbox", ["id"], schema=schema,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index("ix_outbox_published_at", "outbox", ["published_at"], schema=schema)
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )


def add_outbox_parking(schema: str) -> None:
    """``outbox.parked_at`` / ``parked_reason``: rows the broker refuses for good are parked."""
    op.add_column("outbox", sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True), schema=schema)
    op.add_column("outbox", sa.Column("parked_reason", sa.Text, nullable=True), schema=schema)
    op.create_index("ix_outbox_parked", "outbox", ["id"], schema=schema,
                    postgresql_where=sa.text("parked_at IS NOT NULL"))


def drop_outbox_parking(schema: str) -> None:
    op.drop_index("ix_outbox_parked", table_name="outbox", schema=schema)
    op.drop_column("outbox", "parked_reason", schema=schema)
    op.drop_column("outbox", "parked_at", schema=schema)


def add_outbox_forgetting(schema: str) -> None:
    """``outbox.forget_after_publish``: a row an erasure found still unpublished is deleted once sent."""
    op.add_column("outbox", sa.Column("forget_after_publish", sa.Boolean, nullable=False,
                                      server_default=sa.false()), schema=schema)


def drop_outbox_forgetting(schema: str) -> None:
    op.drop_column("outbox", "forget_after_publish", schema=schema)


def create_history_watch(schema: str) -> None:
    """``broker_watch`` of ``shared.db.tables.history_watch_table`` (the broker history watch)."""
    op.create_table(
        "broker_watch",
        sa.Column("topic", sa.Text, primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("cluster_id", sa.Text, nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )


def drop_history_watch(schema: str) -> None:
    op.drop_table("broker_watch", schema=schema)
