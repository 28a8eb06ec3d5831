"""The ``routing.notifications`` table (migration 0008): one message to one person or chat group."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.routing.models import Base


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), sa.ForeignKey("routing.cases.id"), index=True)
    #: What, for which case and deadline, to whom, by which channel: a fact queues its messages once.
    dedupe_key: Mapped[str] = mapped_column(sa.Text, unique=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    deadline_kind: Mapped[str | None] = mapped_column(sa.Text)
    recipient_role: Mapped[str] = mapped_column(sa.Text)
    recipient: Mapped[str] = mapped_column(sa.Text)
    channel: Mapped[str] = mapped_column(sa.Text)
    #: A staff e-mail address or a robot's webhook URL: never logged, never in an event.
    address: Mapped[str] = mapped_column(sa.Text)
    mentions: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    subject: Mapped[str] = mapped_column(sa.Text)
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    next_attempt_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    failed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
