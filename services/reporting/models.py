"""Reporting's read views, in schema ``reporting``: one fact row per case, deadline and survey
answer, projected from the topics. No personal data is ever stored here.

Every projection is an idempotent upsert guarded by the time of the fact it carries, so events
may arrive twice, late or out of order (each topic is ordered only by its own key), and a replay
from the beginning rebuilds the same rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.tables import messaging_tables

metadata = sa.MetaData(schema="reporting")
outbox, inbox = messaging_tables(metadata)


class Base(DeclarativeBase):
    metadata = metadata


class CaseFact(Base):
    __tablename__ = "case_facts"
    __table_args__ = (sa.Index("ix_case_facts_period_org", "period", "org_group", "org_subsidiary", "org_project"),)

    case_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    feedback_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[str | None] = mapped_column(sa.Text)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    period: Mapped[str | None] = mapped_column(sa.Text, comment="month received, Asia/Shanghai")
    received_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    category: Mapped[str | None] = mapped_column(sa.Text)
    complaint_class: Mapped[int | None] = mapped_column(sa.SmallInteger)
    valid: Mapped[bool | None] = mapped_column(sa.Boolean)
    important: Mapped[bool | None] = mapped_column(sa.Boolean)
    needs_triage: Mapped[bool | None] = mapped_column(sa.Boolean)
    reclassified: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    classified_as_of: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    lead_department: Mapped[str | None] = mapped_column(sa.Text)
    assigned_as_of: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    state: Mapped[str | None] = mapped_column(sa.Text)
    state_as_of: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    handed_over: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    return_visit_done: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    escalations: Mapped[int] = mapped_column(sa.Integer, server_default="0")


class DeadlineFact(Base):
    __tablename__ = "deadline_facts"

    case_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    due_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    scheduled_as_of: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    met_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    breached_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    escalated_to: Mapped[str | None] = mapped_column(sa.Text)


class SurveyFact(Base):
    __tablename__ = "survey_facts"

    response_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    period: Mapped[str] = mapped_column(sa.Text)
    template_id: Mapped[str] = mapped_column(sa.Text)
    scheme: Mapped[str] = mapped_column(sa.Text)
    channel: Mapped[str] = mapped_column(sa.Text)
    case_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    score: Mapped[float | None] = mapped_column(sa.Float)
    satisfied: Mapped[bool | None] = mapped_column(sa.Boolean)
    returned_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class SurveyItemFact(Base):
    __tablename__ = "survey_item_facts"

    response_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    item_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    period: Mapped[str] = mapped_column(sa.Text)
    template_id: Mapped[str] = mapped_column(sa.Text)
    level: Mapped[str | None] = mapped_column(sa.Text)
    satisfied: Mapped[bool | None] = mapped_column(sa.Boolean)


class PublishedReport(Base):
    """Every revision of every published report, as it was published (a versioned snapshot)."""

    __tablename__ = "published_reports"

    kind: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    period: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    org_path: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    revision: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    report_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    content: Mapped[dict] = mapped_column(JSONB)
    content_sha256: Mapped[str] = mapped_column(sa.Text)
    published_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
