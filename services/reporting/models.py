"""Reporting's read views, in schema ``reporting``: one fact row per case, deadline and survey
answer, projected from the topics. No personal data is ever stored here.

Every projection is an idempotent upsert guarded by the time of the fact it carries, so events
may arrive twice, late or out of order (each topic is ordered only by its own key), and a replay
from the beginning rebuilds the same rows.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.calendar_store import holiday_schedules_table
from shared.db.tables import messaging_tables

metadata = sa.MetaData(schema="reporting")
outbox, inbox = messaging_tables(metadata)
#: Holiday schedules loaded (HolidayScheduleLoaded; shared/calendar_store.py).
holiday_schedules = holiday_schedules_table(metadata)


class Base(DeclarativeBase):
    metadata = metadata


class CaseFact(Base):
    __tablename__ = "case_facts"
    __table_args__ = (sa.Index("ix_case_facts_period_org", "period", "org_group", "org_subsidiary", "org_project"),
                      sa.Index("ix_case_facts_open", "received_at", "case_id",
                               postgresql_where=sa.text("state NOT IN ('closed', 'handed_over')")),
                      # the open cases per org unit, read from the index alone
                      sa.Index("ix_case_facts_open_org", "org_group", "org_subsidiary", "org_project", "case_id",
                               postgresql_where=sa.text("state NOT IN ('closed', 'handed_over')")))

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
    # What the classifier said first (ComplaintClassified by the classifier, not by a person), kept
    # whatever staff change afterwards: the classifier's accuracy against the corrections.
    machine_category: Mapped[str | None] = mapped_column(sa.Text)
    machine_class: Mapped[int | None] = mapped_column(sa.SmallInteger)
    classifier_version: Mapped[str | None] = mapped_column(sa.Text)
    classified_as_of: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    lead_department: Mapped[str | None] = mapped_column(sa.Text)
    assigned_as_of: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    state: Mapped[str | None] = mapped_column(sa.Text)
    state_as_of: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    handed_over: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    return_visit_done: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    escalations: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    #: group / government / media: the complaint also reached that body (counted apart each month).
    escalated_to_body: Mapped[str | None] = mapped_column(sa.Text)


class DeadlineFact(Base):
    __tablename__ = "deadline_facts"
    __table_args__ = (
        sa.Index("ix_deadline_facts_period_org", "period", "org_group", "org_subsidiary", "org_project"),
        sa.Index("ix_deadline_facts_unmet", "case_id", "due_at", postgresql_where=sa.text("met_at IS NULL")),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    period: Mapped[str | None] = mapped_column(
        sa.Text, comment="its case's month (Asia/Shanghai), when the schedule said; else None: see case_facts")
    due_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    scheduled_as_of: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    met_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    breached_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    escalated_to: Mapped[str | None] = mapped_column(sa.Text)
    #: Counted over a year with no official holiday schedule yet (as the latest plan said).
    provisional: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())


class SurveyFact(Base):
    __tablename__ = "survey_facts"
    __table_args__ = (sa.Index("ix_survey_facts_period_org", "period", "org_group", "org_subsidiary", "org_project"),)

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
    __table_args__ = (
        sa.Index("ix_survey_item_facts_period_org", "period", "org_group", "org_subsidiary", "org_project"),
    )

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


# --- repairs, campaigns, project evaluations, first-contact owners (projected in operations.py) ---

class RepairFact(Base):
    """One work order: when it was asked for, answered, finished and accepted (docs/domain.md §4)."""

    __tablename__ = "repair_facts"
    __table_args__ = (sa.Index("ix_repair_facts_period_org", "period", "org_group", "org_subsidiary", "org_project"),
                      sa.Index("ix_repair_facts_accepted_org", "accepted_period", "org_group", "org_subsidiary",
                               "org_project"))

    work_order_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    project_id: Mapped[str | None] = mapped_column(sa.Text)
    period: Mapped[str | None] = mapped_column(sa.Text, comment="month requested, Asia/Shanghai")
    origin: Mapped[str | None] = mapped_column(sa.Text)
    defect_kind: Mapped[str | None] = mapped_column(sa.Text)
    in_warranty: Mapped[bool | None] = mapped_column(sa.Boolean)
    chargeable: Mapped[bool | None] = mapped_column(sa.Boolean)
    quoted_fee: Mapped[float | None] = mapped_column(sa.Numeric(12, 2))
    requested_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    respond_by: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    responded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), comment="site investigation")
    finish_by: Mapped[datetime | None] = mapped_column(
        sa.DateTime(timezone=True), comment="the time the customer asked for, else the agreed plan's finish")
    plan_as_of: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    work_done_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), comment="the last completion")
    accepted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    accepted_period: Mapped[str | None] = mapped_column(sa.Text)
    rejections: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    case_count: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    quality_verified: Mapped[bool | None] = mapped_column(sa.Boolean)
    cancelled: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())


class RemediationFact(Base):
    """A company-level remediation of a recurring defect (质量通病), to its acceptance."""

    __tablename__ = "remediation_facts"

    remediation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    project_id: Mapped[str | None] = mapped_column(sa.Text)
    defect_kind: Mapped[str | None] = mapped_column(sa.Text)
    occurrences: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    detected_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    period: Mapped[str | None] = mapped_column(sa.Text, comment="month detected")
    accepted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    effective: Mapped[bool | None] = mapped_column(sa.Boolean)


class CampaignFact(Base):
    """A satisfaction campaign: what the rule required, what was handed out and returned."""

    __tablename__ = "campaign_facts"

    campaign_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    project_id: Mapped[str | None] = mapped_column(sa.Text)
    round_period: Mapped[str | None] = mapped_column(sa.Text, comment="'2026H1', '2026H2' or '2026'")
    round: Mapped[str | None] = mapped_column(sa.Text)
    rule: Mapped[str | None] = mapped_column(sa.Text)
    template_id: Mapped[str | None] = mapped_column(sa.Text)
    scheme: Mapped[str | None] = mapped_column(sa.Text)
    occupied_units: Mapped[int | None] = mapped_column(sa.Integer)
    households: Mapped[int | None] = mapped_column(sa.Integer)
    required: Mapped[int | None] = mapped_column(sa.Integer)
    drawn: Mapped[int | None] = mapped_column(sa.Integer)
    return_target_percent: Mapped[float | None] = mapped_column(sa.Float)
    collect_by: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    distributed: Mapped[int | None] = mapped_column(sa.Integer)
    returned: Mapped[int | None] = mapped_column(sa.Integer)
    refused: Mapped[int | None] = mapped_column(sa.Integer)
    return_rate: Mapped[float | None] = mapped_column(sa.Float)
    return_ok: Mapped[bool | None] = mapped_column(sa.Boolean)
    distribution_ok: Mapped[bool | None] = mapped_column(sa.Boolean)
    annual_coverage_ok: Mapped[bool | None] = mapped_column(sa.Boolean)
    score: Mapped[float | None] = mapped_column(sa.Float)
    satisfied: Mapped[bool | None] = mapped_column(sa.Boolean)


class EvaluationFact(Base):
    """A project service evaluation (scheme C): due, overdue, recorded with its sheet and project score."""

    __tablename__ = "evaluation_facts"

    evaluation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    project_id: Mapped[str | None] = mapped_column(sa.Text)
    stage: Mapped[str | None] = mapped_column(sa.Text)
    period: Mapped[str | None] = mapped_column(sa.Text, comment="'signing', 'YYYY-MM' or 'YYYYQn'")
    due_on: Mapped[date | None] = mapped_column(sa.Date)
    overdue: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    evaluated_on: Mapped[date | None] = mapped_column(sa.Date)
    sheet_score: Mapped[float | None] = mapped_column(sa.Float)
    sheet_grade: Mapped[str | None] = mapped_column(sa.Text)
    project_score: Mapped[float | None] = mapped_column(sa.Float)
    project_grade: Mapped[str | None] = mapped_column(sa.Text)
    satisfaction_project: Mapped[bool | None] = mapped_column(sa.Boolean)


class ProjectFlagFact(Base):
    """A project flagged for an unsatisfactory score, or its manager flagged (docs/domain.md §5 C)."""

    __tablename__ = "project_flag_facts"

    flag_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    project_id: Mapped[str] = mapped_column(sa.Text)
    flag: Mapped[str] = mapped_column(sa.Text)
    source: Mapped[str] = mapped_column(sa.Text)
    score: Mapped[float | None] = mapped_column(sa.Float)
    threshold: Mapped[float | None] = mapped_column(sa.Float)
    flagged_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    period: Mapped[str] = mapped_column(sa.Text, comment="month flagged")


class CaseOwnerFact(Base):
    """Who first received each case (首问负责人): a staff id, never a customer's details. The
    customer-manager scorecards are cut by it."""

    __tablename__ = "case_owner_facts"

    case_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    owner: Mapped[str] = mapped_column(sa.Text)


class ComplaintListFact(Base):
    """What the complaint list (客诉清单) adds to a case's fact: its corrective action and the quality
    department's verification, the customer's acceptance, its publication (projected in
    complaint_list.py). Staff ids and customers are not kept; the corrective action's text has phone
    numbers and e-mail addresses masked."""

    __tablename__ = "complaint_list_facts"

    case_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str | None] = mapped_column(sa.Text)
    org_project: Mapped[str | None] = mapped_column(sa.Text)
    corrective_action_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), comment="the newest action")
    corrective_department: Mapped[str | None] = mapped_column(sa.Text)
    corrective_description: Mapped[str | None] = mapped_column(sa.Text)
    corrective_recorded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    corrective_verified_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    corrective_effective: Mapped[bool | None] = mapped_column(sa.Boolean)
    corrective_actions: Mapped[int] = mapped_column(sa.Integer, server_default="0", comment="actions recorded")
    corrective_verified: Mapped[int] = mapped_column(sa.Integer, server_default="0", comment="actions verified")
    corrective_waived_at: Mapped[datetime | None] = mapped_column(
        sa.DateTime(timezone=True), comment="quality: no corrective action needed")
    customer_accepted: Mapped[bool | None] = mapped_column(sa.Boolean, comment="the customer's latest answer")
    acceptance_as_of: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    acceptance_rejections: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    published_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    publication_basis: Mapped[str | None] = mapped_column(sa.Text, comment="'important' or 'representative'")
    #: The newest return-visit decision (ReturnVisitDecided): whether the case gets one, and why.
    return_visit_decided: Mapped[bool | None] = mapped_column(sa.Boolean)
    return_visit_basis: Mapped[str | None] = mapped_column(sa.Text)
    return_visit_as_of: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
