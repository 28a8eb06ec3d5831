"""Intake's tables, in schema ``intake``. The only place contact details are stored."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.calendar_store import holiday_schedules_table
from shared.db.tables import messaging_tables

metadata = sa.MetaData(schema="intake")
outbox, inbox = messaging_tables(metadata)
#: The holiday schedules operators loaded, one row per year (shared/calendar_store.py).
holiday_schedules = holiday_schedules_table(metadata)


class Base(DeclarativeBase):
    metadata = metadata


class FeedbackRecord(Base):
    __tablename__ = "feedback"
    __table_args__ = (
        sa.UniqueConstraint("source_system", "external_id", name="uq_feedback_source_external"),
        sa.Index("ix_feedback_project_received", "project_id", "received_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.Text)
    channel: Mapped[str] = mapped_column(sa.Text)
    text: Mapped[str] = mapped_column(sa.Text)
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    received_by: Mapped[str] = mapped_column(sa.Text)
    in_working_time: Mapped[bool | None] = mapped_column(sa.Boolean)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    project_id: Mapped[str | None] = mapped_column(sa.Text)
    project_stage: Mapped[str | None] = mapped_column(sa.Text)
    unit: Mapped[str | None] = mapped_column(sa.Text)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    attachments: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    source_system: Mapped[str | None] = mapped_column(sa.Text)
    external_id: Mapped[str | None] = mapped_column(sa.Text)
    duplicate_of: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    incident_group_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    correlation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class Submission(Base):
    """An idempotency key and the feedback it created; a retry returns the same feedback id."""

    __tablename__ = "submissions"

    idempotency_key: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    request_hash: Mapped[str] = mapped_column(sa.Text)
    feedback_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class Customer(Base):
    """A customer (顾客): owner / developer, household, agent. Personal data lives here only."""

    __tablename__ = "customers"
    __table_args__ = (
        sa.Index("ix_customers_phones", "phones", postgresql_using="gin"),
        sa.Index("ix_customers_emails", "emails", postgresql_using="gin"),
        sa.Index("ix_customers_org_path", "org_path"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    customer_kind: Mapped[str] = mapped_column(sa.Text)
    name: Mapped[str | None] = mapped_column(sa.Text)
    company: Mapped[str | None] = mapped_column(sa.Text)
    phones: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    emails: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    key_customer: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    project_ids: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    unit_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), server_default="{}")
    # The org unit that registered the customer ('G', 'G/S', 'G/S/P'): its scope while the customer
    # has no project. NULL only for rows kept before it was recorded (revision 0006).
    org_path: Mapped[str | None] = mapped_column(sa.Text)
    revision: Mapped[int] = mapped_column(sa.Integer, server_default="1")
    erased_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
