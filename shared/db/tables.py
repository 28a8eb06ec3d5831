"""The outbox and inbox tables every service keeps in its own schema."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID


def messaging_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """Add ``outbox`` and ``inbox`` to a service's metadata (whose ``schema`` is the service's)."""
    outbox = sa.Table(
        "outbox",
        metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("topic", sa.Text, nullable=False, comment="logical topic; the relay adds the prefix"),
        sa.Column("key", sa.Text, nullable=True),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
        # Set by the relay when the broker refuses the row for good (too large, invalid topic): the
        # row is never sent again by itself and never blocks the rows behind it (``careloop dlq parked``).
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parked_reason", sa.Text, nullable=True),
        # Set by an erasure on a row not yet published that names the erased person: the relay
        # publishes it (others need the event) and then deletes it instead of keeping it for days.
        sa.Column("forget_after_publish", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Index("ix_outbox_unpublished", "id", postgresql_where=sa.text("published_at IS NULL")),
        sa.Index("ix_outbox_published_at", "published_at"),
        sa.Index("ix_outbox_parked", "id", postgresql_where=sa.text("parked_at IS NOT NULL")),
        extend_existing=True,
    )
    inbox = sa.Table(
        "inbox",
        metadata,
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        extend_existing=True,
    )
    history_watch_table(metadata)
    return outbox, inbox


def history_watch_table(metadata: sa.MetaData) -> sa.Table:
    """``broker_watch``: per topic partition, the last record this service published or consumed
    there (its offset and a fingerprint of its value) and the broker's cluster id at the time.
    :mod:`shared.messaging.history` checks that the broker still holds those records; one that is
    gone means the broker lost its history, and the outbox re-publishes what it kept."""
    return sa.Table(
        "broker_watch",
        metadata,
        sa.Column("topic", sa.Text, primary_key=True, comment="full topic name, prefix included"),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False, comment="sha256 of the record's value (hex, 32)"),
        sa.Column("cluster_id", sa.Text, nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        extend_existing=True,
    )
