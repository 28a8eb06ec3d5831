"""Routing's tables, in schema ``routing``."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.tables import messaging_tables

metadata = sa.MetaData(schema="routing")
outbox, inbox = messaging_tables(metadata)


class Base(DeclarativeBase):
    metadata = metadata


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    feedback_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    kind: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.Text)
    category: Mapped[str | None] = mapped_column(sa.Text)
    complaint_class: Mapped[int | None] = mapped_column(sa.SmallInteger)
    valid: Mapped[bool | None] = mapped_column(sa.Boolean)
    important: Mapped[bool | None] = mapped_column(sa.Boolean)
    confidence: Mapped[float | None] = mapped_column(sa.Float)
    rules_fired: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    lead_department: Mapped[str | None] = mapped_column(sa.Text)
    assisting_departments: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    first_contact_owner: Mapped[str] = mapped_column(sa.Text)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    correlation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
