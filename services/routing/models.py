"""Routing's tables, in schema ``routing``: cases, their history, deadlines, corrective actions."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.calendar_store import holiday_schedules_table
from shared.db.tables import messaging_tables

metadata = sa.MetaData(schema="routing")
outbox, inbox = messaging_tables(metadata)
#: The holiday schedules operators loaded, one row per year (shared/calendar_store.py).
holiday_schedules = holiday_schedules_table(metadata)


class Base(DeclarativeBase):
    metadata = metadata


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        sa.Index("ix_cases_follow_up_of", "follow_up_of", postgresql_where=sa.text("follow_up_of IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    feedback_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    kind: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.Text, comment="the lifecycle state (services.routing.lifecycle)")
    category: Mapped[str | None] = mapped_column(sa.Text)
    complaint_class: Mapped[int | None] = mapped_column(sa.SmallInteger)
    valid: Mapped[bool | None] = mapped_column(sa.Boolean)
    important: Mapped[bool | None] = mapped_column(sa.Boolean)
    confidence: Mapped[float | None] = mapped_column(sa.Float)
    rules_fired: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    rules_version: Mapped[str | None] = mapped_column(sa.Text)
    lead_department: Mapped[str | None] = mapped_column(sa.Text)
    assisting_departments: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    handler: Mapped[str | None] = mapped_column(sa.Text)
    first_contact_owner: Mapped[str] = mapped_column(sa.Text)
    difficult: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    handed_over_to: Mapped[str | None] = mapped_column(sa.Text)
    return_visit_done: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    # Return visits (services.routing.return_visits): the quality department's choice for the case,
    # the basis of the decision in force, and, once the result is accepted, whether one is due.
    return_visit_choice: Mapped[bool | None] = mapped_column(sa.Boolean)
    return_visit_basis: Mapped[str | None] = mapped_column(sa.Text)
    return_visit_required: Mapped[bool | None] = mapped_column(sa.Boolean)
    follow_up_of: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), comment="the case this one follows up (a dissatisfied return-visit answer)")
    customer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # the marks of the customer's names (FeedbackReceived), to mask them in staff notes; never the names
    customer_name_marks: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    project_id: Mapped[str | None] = mapped_column(sa.Text)
    project_stage: Mapped[str | None] = mapped_column(sa.Text)
    channel: Mapped[str | None] = mapped_column(sa.Text)
    unit: Mapped[str | None] = mapped_column(sa.Text)
    incident_group_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    in_working_time: Mapped[bool | None] = mapped_column(sa.Boolean)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    assigned_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    difficult_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # A difficult class-1 complaint: when the quality department and the responsible executive
    # were told (its escalation deadline is met only when both were).
    quality_notified_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    executive_notified_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    escalated_to_body: Mapped[str | None] = mapped_column(
        sa.Text, comment="group / government / media: where the complaint also went")
    # A claim for compensation or a return / exchange of the home (services.routing.claims).
    claim_kind: Mapped[str | None] = mapped_column(sa.Text)
    claim_amount_yuan: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))
    claim_decision: Mapped[str | None] = mapped_column(sa.Text)
    correlation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    version: Mapped[int] = mapped_column(sa.Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    __mapper_args__ = {"version_id_col": version}


class CaseStepRecord(Base):
    """Every transition, in order: who did what, when, from which state to which."""

    __tablename__ = "case_history"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), sa.ForeignKey("routing.cases.id"), index=True)
    action: Mapped[str] = mapped_column(sa.Text)
    previous_state: Mapped[str] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.Text)
    actor: Mapped[str] = mapped_column(sa.Text)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(sa.Text)


class DeadlineRecord(Base):
    __tablename__ = "deadlines"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "kind", name="uq_deadline_case_kind"),
        sa.Index("ix_deadlines_pending", "due_at",
                 postgresql_where=sa.text("met_at IS NULL AND breached_at IS NULL AND cancelled_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), sa.ForeignKey("routing.cases.id"))
    kind: Mapped[str] = mapped_column(sa.Text)
    starts_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    explanation: Mapped[str] = mapped_column(sa.Text)
    calendar_version: Mapped[str] = mapped_column(sa.Text)
    met_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    breached_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    escalated_to: Mapped[str | None] = mapped_column(sa.Text)
    #: Counted over a year with no official holiday schedule yet; counted again when it is loaded.
    provisional: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    #: ``explanation`` is Chinese (read by default); this the same in English (``?lang=en``).
    explanation_en: Mapped[str | None] = mapped_column(sa.Text)
    # The "about to be missed" notice (services.routing.notifications): when it is due, for which
    # due time it was worked out, and when it went out.
    warn_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    warn_for_due: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    warned_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class CorrectiveAction(Base):
    __tablename__ = "corrective_actions"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), sa.ForeignKey("routing.cases.id"), index=True)
    department: Mapped[str] = mapped_column(sa.Text)
    description: Mapped[str] = mapped_column(sa.Text)
    recorded_by: Mapped[str] = mapped_column(sa.Text)
    recorded_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    verified_by: Mapped[str | None] = mapped_column(sa.Text)
    verified_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    effective: Mapped[bool | None] = mapped_column(sa.Boolean)
    verification_note: Mapped[str | None] = mapped_column(sa.Text)


class CorrectiveActionWaiver(Base):
    """The quality department's record that a complaint needs no corrective action, and why (once per case)."""

    __tablename__ = "corrective_action_waivers"

    case_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), sa.ForeignKey("routing.cases.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    recorded_by: Mapped[str] = mapped_column(sa.Text)
    recorded_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class ComplaintPublication(Base):
    """An important or representative complaint published by the quality department (once per case)."""

    __tablename__ = "complaint_publications"

    case_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), sa.ForeignKey("routing.cases.id"), primary_key=True)
    basis: Mapped[str] = mapped_column(sa.Text, comment="'important' or 'representative'")
    summary: Mapped[str] = mapped_column(sa.Text, comment="as published: phone numbers and e-mails masked")
    published_by: Mapped[str] = mapped_column(sa.Text)
    published_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
