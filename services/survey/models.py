"""Survey's tables, in schema ``survey``.

Projects, units and households are survey's own copies of intake's registry (from its events):
ids and counts only, never contact details. Cases hold what routing told us about complaints.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.tables import messaging_tables

metadata = sa.MetaData(schema="survey")
outbox, inbox = messaging_tables(metadata)

_UUID = UUID(as_uuid=True)
_TS = sa.DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = metadata


class SurveyTemplate(Base):
    __tablename__ = "templates"

    template_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    scheme: Mapped[str] = mapped_column(sa.Text)
    purpose: Mapped[str] = mapped_column(sa.Text)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    builtin: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    created_by: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(_TS)


class SurveyResponse(Base):
    __tablename__ = "responses"

    id: Mapped[uuid.UUID] = mapped_column(_UUID, primary_key=True)
    template_id: Mapped[str] = mapped_column(sa.Text)
    template_version: Mapped[int] = mapped_column(sa.Integer)
    template_registered: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true())
    scheme: Mapped[str] = mapped_column(sa.Text)
    channel: Mapped[str] = mapped_column(sa.Text)
    project_id: Mapped[str | None] = mapped_column(sa.Text)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    answers: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    score: Mapped[float | None] = mapped_column(sa.Float)
    satisfied: Mapped[bool | None] = mapped_column(sa.Boolean)
    hazard_deduction: Mapped[Decimal | None] = mapped_column(sa.Numeric(6, 2))
    household_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    unit_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    case_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    invitation_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    evaluation_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    source_system: Mapped[str | None] = mapped_column(sa.Text)
    external_id: Mapped[str | None] = mapped_column(sa.Text)
    entered_by: Mapped[str | None] = mapped_column(sa.Text)
    returned_at: Mapped[datetime] = mapped_column(_TS)
    correlation_id: Mapped[uuid.UUID] = mapped_column(_UUID)
    created_at: Mapped[datetime] = mapped_column(_TS, server_default=sa.func.now())


class RefusedAnswers(Base):
    """Every form survey refused, with the reason: kept for audit, never counted."""

    __tablename__ = "refused_answers"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    refused_at: Mapped[datetime] = mapped_column(_TS)
    channel: Mapped[str] = mapped_column(sa.Text)
    reason_code: Mapped[str] = mapped_column(sa.Text)
    reason: Mapped[str] = mapped_column(sa.Text)
    problems: Mapped[list[dict[str, str]]] = mapped_column(JSONB)
    template_id: Mapped[str | None] = mapped_column(sa.Text)
    template_version: Mapped[int | None] = mapped_column(sa.Integer)
    invitation_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    case_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    household_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    project_id: Mapped[str | None] = mapped_column(sa.Text)
    source_system: Mapped[str | None] = mapped_column(sa.Text)
    external_id: Mapped[str | None] = mapped_column(sa.Text)
    answers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    correlation_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)


class Invitation(Base):
    """A one-time link (or a numbered paper form): only the token's SHA-256 is kept."""

    __tablename__ = "invitations"

    id: Mapped[uuid.UUID] = mapped_column(_UUID, primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.Text, unique=True)
    purpose: Mapped[str] = mapped_column(sa.Text)
    template_id: Mapped[str] = mapped_column(sa.Text)
    template_version: Mapped[int] = mapped_column(sa.Integer)
    delivery: Mapped[str] = mapped_column(sa.Text, server_default="link")
    case_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    work_order_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    project_id: Mapped[str | None] = mapped_column(sa.Text)
    unit_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    household_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    issued_at: Mapped[datetime] = mapped_column(_TS)
    expires_at: Mapped[datetime] = mapped_column(_TS)
    handed_out_at: Mapped[datetime | None] = mapped_column(_TS)
    used_at: Mapped[datetime | None] = mapped_column(_TS)
    response_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    reminders_sent: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    next_reminder_at: Mapped[datetime | None] = mapped_column(_TS)
    correlation_id: Mapped[uuid.UUID] = mapped_column(_UUID)


class CaseRecord(Base):
    """What routing told us about a complaint case: enough to decide its return visit."""

    __tablename__ = "cases"

    case_id: Mapped[uuid.UUID] = mapped_column(_UUID, primary_key=True)
    important: Mapped[bool | None] = mapped_column(sa.Boolean)
    project_id: Mapped[str | None] = mapped_column(sa.Text)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    accepted_at: Mapped[datetime | None] = mapped_column(_TS)
    # important | decided (routing's decision) | none (routing: no visit) | repair; earlier rows may
    # say sampled / not_sampled (the random sample this replaced)
    decision: Mapped[str | None] = mapped_column(sa.Text)
    correlation_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    updated_at: Mapped[datetime] = mapped_column(_TS)


class ProjectCopy(Base):
    __tablename__ = "projects"

    project_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    stage: Mapped[str] = mapped_column(sa.Text)
    stage_since: Mapped[date] = mapped_column(sa.Date)
    first_seen: Mapped[date] = mapped_column(sa.Date)
    signed_on: Mapped[date | None] = mapped_column(sa.Date)
    completion_date: Mapped[date | None] = mapped_column(sa.Date)
    warranty_end: Mapped[date | None] = mapped_column(sa.Date)
    households: Mapped[int | None] = mapped_column(sa.Integer)
    occupied_units: Mapped[int | None] = mapped_column(sa.Integer)
    occupancy_start: Mapped[date | None] = mapped_column(sa.Date)
    buildings: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    revision: Mapped[int] = mapped_column(sa.Integer)


class UnitCopy(Base):
    __tablename__ = "units"

    unit_id: Mapped[uuid.UUID] = mapped_column(_UUID, primary_key=True)
    project_id: Mapped[str] = mapped_column(sa.Text)
    building: Mapped[str] = mapped_column(sa.Text)
    label: Mapped[str] = mapped_column(sa.Text)
    occupied: Mapped[bool] = mapped_column(sa.Boolean)
    household_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)


class Household(Base):
    """A household customer, by id: whether it can be reached, never how."""

    __tablename__ = "households"

    customer_id: Mapped[uuid.UUID] = mapped_column(_UUID, primary_key=True)
    customer_kind: Mapped[str | None] = mapped_column(sa.Text)
    project_ids: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    unit_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(_UUID), server_default="{}")
    has_phone: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    has_email: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    revision: Mapped[int] = mapped_column(sa.Integer)
    erased_at: Mapped[datetime | None] = mapped_column(_TS)


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[uuid.UUID] = mapped_column(_UUID, primary_key=True)
    project_id: Mapped[str] = mapped_column(sa.Text)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    round: Mapped[str] = mapped_column(sa.Text)
    rule: Mapped[str] = mapped_column(sa.Text)
    period: Mapped[str] = mapped_column(sa.Text)
    template_id: Mapped[str] = mapped_column(sa.Text)
    template_version: Mapped[int] = mapped_column(sa.Integer)
    delivery: Mapped[str] = mapped_column(sa.Text)
    seed: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.Text)  # open | closed
    starts_at: Mapped[datetime] = mapped_column(_TS)
    hand_out_by: Mapped[datetime] = mapped_column(_TS)
    collect_by: Mapped[datetime] = mapped_column(_TS)
    occupied_units: Mapped[int] = mapped_column(sa.Integer)
    households: Mapped[int] = mapped_column(sa.Integer)
    required: Mapped[int] = mapped_column(sa.Integer)
    carried_over: Mapped[int] = mapped_column(sa.Integer)
    drawn: Mapped[int] = mapped_column(sa.Integer)
    return_target: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2))
    per_building: Mapped[dict[str, list[int]]] = mapped_column(JSONB)
    hand_out_reminded_at: Mapped[datetime | None] = mapped_column(_TS)
    closed_at: Mapped[datetime | None] = mapped_column(_TS)
    results: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    correlation_id: Mapped[uuid.UUID] = mapped_column(_UUID)


class Evaluation(Base):
    """One project service evaluation (a scheme C sheet) that is due, done or overdue."""

    __tablename__ = "evaluations"

    id: Mapped[uuid.UUID] = mapped_column(_UUID, primary_key=True)
    project_id: Mapped[str] = mapped_column(sa.Text)
    stage: Mapped[str] = mapped_column(sa.Text)
    period: Mapped[str] = mapped_column(sa.Text)
    opens_on: Mapped[date] = mapped_column(sa.Date)
    due_on: Mapped[date] = mapped_column(sa.Date)
    template_id: Mapped[str] = mapped_column(sa.Text)
    due_notified_at: Mapped[datetime | None] = mapped_column(_TS)
    overdue_notified_at: Mapped[datetime | None] = mapped_column(_TS)
    recorded_at: Mapped[datetime | None] = mapped_column(_TS)
    evaluated_on: Mapped[date | None] = mapped_column(sa.Date)
    response_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    sheet_score: Mapped[Decimal | None] = mapped_column(sa.Numeric(7, 2))
    grade: Mapped[str | None] = mapped_column(sa.Text)


class ProjectFlagRecord(Base):
    __tablename__ = "project_flags"

    id: Mapped[uuid.UUID] = mapped_column(_UUID, primary_key=True)
    project_id: Mapped[str] = mapped_column(sa.Text)
    flag: Mapped[str] = mapped_column(sa.Text)
    reasons: Mapped[list[str]] = mapped_column(ARRAY(sa.Text))
    source: Mapped[str] = mapped_column(sa.Text)
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    evaluation_id: Mapped[uuid.UUID | None] = mapped_column(_UUID)
    score: Mapped[float | None] = mapped_column(sa.Float)
    flagged_at: Mapped[datetime] = mapped_column(_TS)
