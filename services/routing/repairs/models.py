"""The repairs module's tables, in routing's schema (revision 0003_repairs; 0009 the link scores).

- ``repair_projects``: routing's own copy of intake's projects (ProjectRegistered), for the warranty;
- ``repair_reports``: what each household's case says about a defect (kind, place; never the text);
- ``work_orders`` and ``work_order_cases``: one work order per defect, many cases on it;
- ``work_order_steps`` and ``work_order_photos``: who did what and when, with photo references;
- ``remediation_items`` and ``remediation_steps``: recurring defects (质量通病) and their remediation;
- ``repair_requests``: idempotency keys of site teams' posts and the response each one got.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.routing.models import Base


class RepairProject(Base):
    __tablename__ = "repair_projects"

    project_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text)
    stage: Mapped[str] = mapped_column(sa.Text)
    completion_date: Mapped[date | None] = mapped_column(sa.Date)
    warranty_end: Mapped[date | None] = mapped_column(sa.Date)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    revision: Mapped[int] = mapped_column(sa.Integer)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class RepairReport(Base):
    __tablename__ = "repair_reports"

    case_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), sa.ForeignKey("routing.cases.id"),
                                               primary_key=True)
    feedback_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[str] = mapped_column(sa.Text)
    project_id: Mapped[str] = mapped_column(sa.Text)
    unit: Mapped[str | None] = mapped_column(sa.Text)
    building: Mapped[str | None] = mapped_column(sa.Text)
    entrance: Mapped[str | None] = mapped_column(sa.Text)
    floor: Mapped[int | None] = mapped_column(sa.Integer)
    room: Mapped[str | None] = mapped_column(sa.Text)
    shared_part: Mapped[str | None] = mapped_column(sa.Text, comment="services.routing.repairs.domain.SharedPart key")
    defect_kind: Mapped[str] = mapped_column(sa.Text)
    defect_phrases: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    vocabulary_version: Mapped[str] = mapped_column(sa.Text)
    incident_group_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    attachments: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    correlation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))


class WorkOrder(Base):
    __tablename__ = "work_orders"
    __table_args__ = (sa.Index("ix_work_orders_project_kind", "project_id", "defect_kind", "requested_at"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    status: Mapped[str] = mapped_column(sa.Text, index=True, comment="services.routing.repairs.domain.WorkOrderState")
    origin: Mapped[str] = mapped_column(sa.Text)
    project_id: Mapped[str] = mapped_column(sa.Text)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    defect_kind: Mapped[str] = mapped_column(sa.Text)
    vocabulary_version: Mapped[str] = mapped_column(sa.Text)
    # the marks of the names of its cases' customers (never the names), to mask them in staff notes
    customer_name_marks: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    building: Mapped[str | None] = mapped_column(sa.Text)
    unit: Mapped[str | None] = mapped_column(sa.Text)
    requested_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    warranty_status: Mapped[str] = mapped_column(sa.Text)
    warranty_end: Mapped[date | None] = mapped_column(sa.Date)
    warranty_explanation: Mapped[str] = mapped_column(sa.Text)
    in_warranty: Mapped[bool] = mapped_column(sa.Boolean)
    in_scope: Mapped[bool | None] = mapped_column(sa.Boolean)
    chargeable: Mapped[bool] = mapped_column(sa.Boolean)
    respond_by: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    responded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    customer_requested_by: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    assignee: Mapped[str | None] = mapped_column(sa.Text, index=True)
    investigation: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    quoted_fee: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 2))
    fee_confirmed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    fee_decided_by: Mapped[str | None] = mapped_column(sa.Text)
    work_done_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    self_inspected_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    self_inspected_by: Mapped[str | None] = mapped_column(sa.Text)
    rework_count: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    last_rejection_reason: Mapped[str | None] = mapped_column(sa.Text)
    accepted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    owner_signature_ref: Mapped[str | None] = mapped_column(sa.Text)
    owner_signer_role: Mapped[str | None] = mapped_column(sa.Text)
    owner_signer_customer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    contractor_signature_ref: Mapped[str | None] = mapped_column(sa.Text)
    contractor_signer: Mapped[str | None] = mapped_column(sa.Text)
    archived_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    quality_verified_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    quality_verified_by: Mapped[str | None] = mapped_column(sa.Text)
    quality_verification_passed: Mapped[bool | None] = mapped_column(sa.Boolean)
    remediation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    correlation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    opened_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    version: Mapped[int] = mapped_column(sa.Integer, server_default="1")

    __mapper_args__ = {"version_id_col": version}


class WorkOrderCase(Base):
    """A case on a work order; a case is on at most one."""

    __tablename__ = "work_order_cases"

    case_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), sa.ForeignKey("routing.cases.id"),
                                               primary_key=True)
    work_order_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), sa.ForeignKey("routing.work_orders.id"),
                                                     index=True)
    link_reason: Mapped[str] = mapped_column(sa.Text, comment="opened, incident_group or same_area")
    link_score: Mapped[float | None] = mapped_column(sa.Float, comment="0..1, domain.score_link; none when opened")
    link_explanation: Mapped[str | None] = mapped_column(sa.Text, comment="the score's reason, in Chinese")
    linked_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class WorkOrderStep(Base):
    __tablename__ = "work_order_steps"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    work_order_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), sa.ForeignKey("routing.work_orders.id"),
                                                     index=True)
    step: Mapped[str] = mapped_column(sa.Text)
    previous_state: Mapped[str] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.Text)
    actor: Mapped[str] = mapped_column(sa.Text)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(sa.Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sa.text("'{}'::jsonb"))
    client_step_id: Mapped[str | None] = mapped_column(sa.Text)


class WorkOrderPhoto(Base):
    __tablename__ = "work_order_photos"
    __table_args__ = (sa.UniqueConstraint("work_order_id", "ref", name="uq_work_order_photo"),)

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    work_order_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), sa.ForeignKey("routing.work_orders.id"))
    step_id: Mapped[int | None] = mapped_column(sa.BigInteger, sa.ForeignKey("routing.work_order_steps.id"))
    ref: Mapped[str] = mapped_column(sa.Text, comment="object key or URL, never the picture")
    added_by: Mapped[str] = mapped_column(sa.Text)
    added_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class RemediationItem(Base):
    __tablename__ = "remediation_items"
    __table_args__ = (
        # One open remediation per recurring defect of a project.
        sa.Index("uq_remediation_open", "project_id", "defect_kind", unique=True,
                 postgresql_where=sa.text("status <> 'accepted'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    status: Mapped[str] = mapped_column(sa.Text)
    project_id: Mapped[str] = mapped_column(sa.Text)
    defect_kind: Mapped[str] = mapped_column(sa.Text)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    occurrences: Mapped[int] = mapped_column(sa.Integer)
    threshold: Mapped[int] = mapped_column(sa.Integer)
    window_days: Mapped[int] = mapped_column(sa.Integer)
    detected_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    plan: Mapped[str | None] = mapped_column(sa.Text)
    responsible_department: Mapped[str | None] = mapped_column(sa.Text)
    due_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    implemented_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    representative_role: Mapped[str | None] = mapped_column(sa.Text)
    representative_customer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    signature_ref: Mapped[str | None] = mapped_column(sa.Text)
    evaluation: Mapped[str | None] = mapped_column(sa.Text)
    effective: Mapped[bool | None] = mapped_column(sa.Boolean)
    correlation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    version: Mapped[int] = mapped_column(sa.Integer, server_default="1")

    __mapper_args__ = {"version_id_col": version}


class RemediationStepRecord(Base):
    __tablename__ = "remediation_steps"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    remediation_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("routing.remediation_items.id"), index=True)
    step: Mapped[str] = mapped_column(sa.Text)
    previous_state: Mapped[str] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.Text)
    actor: Mapped[str] = mapped_column(sa.Text)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(sa.Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sa.text("'{}'::jsonb"))


class RepairRequest(Base):
    """A site team's post under an idempotency key: a retry gets the stored response, not a second step."""

    __tablename__ = "repair_requests"

    scope: Mapped[str] = mapped_column(sa.Text, primary_key=True, comment="'work_order:<id>' or 'remediation:<id>'")
    key: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(sa.Text, comment="hash of the endpoint and body")
    status_code: Mapped[int | None] = mapped_column(sa.Integer)
    response: Mapped[Any | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
