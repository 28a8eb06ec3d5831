"""Survey's tables, in schema ``survey``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.tables import messaging_tables

metadata = sa.MetaData(schema="survey")
outbox, inbox = messaging_tables(metadata)


class Base(DeclarativeBase):
    metadata = metadata


class SurveyResponse(Base):
    __tablename__ = "responses"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    template_id: Mapped[str] = mapped_column(sa.Text)
    template_version: Mapped[int] = mapped_column(sa.Integer)
    scheme: Mapped[str] = mapped_column(sa.Text)
    channel: Mapped[str] = mapped_column(sa.Text)
    project_id: Mapped[str | None] = mapped_column(sa.Text)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    answers: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    score: Mapped[float | None] = mapped_column(sa.Float)
    returned_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    correlation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
