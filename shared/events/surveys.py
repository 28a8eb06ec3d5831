"""Survey events (docs/domain.md §5), produced by the survey service.

SurveyReturned, the mission's event, lives in ``shared.events.catalog``; the invitation, reminder,
campaign, evaluation and flag events are here. What other survey tools send on the inbound topic
``inbound.survey-answers`` (:class:`InboundSurveyAnswers`) is a request, not one of our facts, and
is not registered as an event.

Personal data never travels here: households are referred to by customer id. A one-time link is
a credential: a notification system may send it to the household but must not log it.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.catalog import Payload
from shared.events.envelope import CODE_PATTERN, Event, OrgPath
from shared.events.upcasting import upcaster
from shared.events.vocabulary import ProjectStage

InvitationPurpose = Literal["complaint_return_visit", "repair_return_visit", "campaign"]
CampaignRound = Literal["semiannual", "annual"]
DistributionRule = Literal["occupancy", "age"]
Grade = Literal["fail", "qualified", "excellent"]


# --- invitations ------------------------------------------------------------------------------


class SurveyInvitationIssuedData(Payload):
    invitation_id: UUID
    purpose: InvitationPurpose
    template_id: str = Field(min_length=1, max_length=64)
    template_version: int = Field(ge=1)
    expires_at: AwareDatetime
    delivery: Literal["link", "paper"] = Field(
        default="link", description="'paper': staff hand out a printed form carrying the invitation id"
    )
    case_id: UUID | None = Field(default=None, description="the complaint case a return visit is about")
    work_order_id: UUID | None = Field(default=None, description="the repair a return visit is about")
    campaign_id: UUID | None = None
    project_id: str | None = Field(default=None, max_length=64)
    unit_id: UUID | None = None
    household_id: UUID | None = Field(default=None, description="the household customer, by id only")


class SurveyInvitationIssued(Event):
    """A household is asked to answer. The one-time link is a credential and is not on the event
    (v1 carried it in clear as ``data.link``; v2 dropped it, the upcaster removes it from v1 events):
    the delivery channel, a SYSTEM client of the invitation's org, asks survey for it with
    ``GET /api/v1/invitations/{invitation_id}/link`` (audited) and sends it."""

    EVENT_TYPE = "SurveyInvitationIssued"
    SCHEMA_VERSION = 2
    event_type: Literal["SurveyInvitationIssued"] = "SurveyInvitationIssued"
    schema_version: Literal[2] = 2
    data: SurveyInvitationIssuedData


@upcaster("SurveyInvitationIssued", 1)
def _invitation_issued_v1_v2(raw: dict[str, Any]) -> dict[str, Any]:
    """v1 carried the one-time link in clear; v2 leaves it out (nothing else changed)."""
    data = {k: v for k, v in (raw.get("data") or {}).items() if k != "link"}
    return {**raw, "data": data, "schema_version": 2}


class SurveyReminderDueData(Payload):
    reminder_id: UUID
    kind: Literal["answer", "hand_out"] = Field(
        description="'answer': remind a household (resend the invitation's link); "
        "'hand_out': remind staff that paper forms are still to be handed out"
    )
    sequence: int = Field(ge=1, description="first, second… reminder of its kind")
    due_by: AwareDatetime = Field(description="the deadline the reminder is about")
    invitation_id: UUID | None = None
    campaign_id: UUID | None = None
    case_id: UUID | None = None
    project_id: str | None = Field(default=None, max_length=64)
    household_id: UUID | None = None
    outstanding: int | None = Field(default=None, ge=0, description="for 'hand_out': forms not yet handed out")


class SurveyReminderDue(Event):
    EVENT_TYPE = "SurveyReminderDue"
    SCHEMA_VERSION = 1
    event_type: Literal["SurveyReminderDue"] = "SurveyReminderDue"
    schema_version: Literal[1] = 1
    data: SurveyReminderDueData


# --- campaigns --------------------------------------------------------------------------------


class BuildingDraw(Payload):
    building: str = Field(min_length=1, max_length=32)
    occupied_units: int = Field(ge=0)
    drawn: int = Field(ge=0)


class SurveyCampaignPlannedData(Payload):
    campaign_id: UUID
    project_id: str = Field(min_length=1, max_length=64)
    round: CampaignRound
    rule: DistributionRule = Field(description="'occupancy': ≥ 85 % per round, 100 % a year (≤ 300: 100 %); "
                                               "'age': 30 % under five years since move-in, else 15 %")
    period: str = Field(min_length=4, max_length=16, description="'2026H1', '2026H2' or '2026'")
    template_id: str = Field(min_length=1, max_length=64)
    template_version: int = Field(ge=1)
    seed: str = Field(min_length=1, max_length=128, description="the draw is reproducible from this seed")
    occupied_units: int = Field(ge=0)
    households: int = Field(ge=0, description="households of the estate (registered units)")
    required: int = Field(ge=0, description="forms the rule asks to hand out")
    carried_over: int = Field(ge=0, description="units no earlier round of the year reached, drawn first")
    drawn: int = Field(ge=0)
    buildings: tuple[BuildingDraw, ...] = ()
    hand_out_by: AwareDatetime
    collect_by: AwareDatetime
    return_target_percent: float = Field(ge=0, le=100)


class SurveyCampaignPlanned(Event):
    EVENT_TYPE = "SurveyCampaignPlanned"
    SCHEMA_VERSION = 1
    event_type: Literal["SurveyCampaignPlanned"] = "SurveyCampaignPlanned"
    schema_version: Literal[1] = 1
    data: SurveyCampaignPlannedData


class ItemFigure(Payload):
    item_id: str = Field(min_length=1, max_length=64)
    figure: float | None = Field(description="the item's rate (B, D) or mean points (A); None: nobody answered")
    answered: int = Field(ge=0)


class SurveyCampaignClosedData(Payload):
    campaign_id: UUID
    project_id: str = Field(min_length=1, max_length=64)
    period: str
    round: CampaignRound
    rule: DistributionRule
    scheme: Literal["A", "B", "C", "D"]
    closed_at: AwareDatetime
    distributed: int = Field(ge=0)
    returned: int = Field(ge=0)
    refused: int = Field(ge=0, description="answers refused (invalid forms) for this campaign")
    return_rate: float | None = Field(description="percent, two decimals; None when nothing was handed out")
    return_target_percent: float
    return_ok: bool | None
    distribution_required: int = Field(ge=0)
    distribution_ok: bool
    annual_coverage_ok: bool | None = Field(
        default=None, description="every occupied unit reached by a round of the year (occupancy rule, last round)"
    )
    score: float | None = Field(description="the scheme's overall figure over the returned forms")
    satisfied: bool | None = Field(description="the overall figure reaches the pass mark")
    items: tuple[ItemFigure, ...] = ()


class SurveyCampaignClosed(Event):
    EVENT_TYPE = "SurveyCampaignClosed"
    SCHEMA_VERSION = 1
    event_type: Literal["SurveyCampaignClosed"] = "SurveyCampaignClosed"
    schema_version: Literal[1] = 1
    data: SurveyCampaignClosedData


# --- project service evaluations (scheme C) ---------------------------------------------------


class ProjectEvaluationScheduleData(Payload):
    evaluation_id: UUID
    project_id: str = Field(min_length=1, max_length=64)
    stage: ProjectStage
    period: str = Field(description="'signing' (pre-construction), '2026-05' (process), '2026Q2' (post-completion)")
    opens_on: date
    due_on: date
    template_id: str = Field(min_length=1, max_length=64)


class ProjectEvaluationDue(Event):
    """A project service evaluation's window has opened (docs/domain.md §5 C, timing)."""

    EVENT_TYPE = "ProjectEvaluationDue"
    SCHEMA_VERSION = 1
    event_type: Literal["ProjectEvaluationDue"] = "ProjectEvaluationDue"
    schema_version: Literal[1] = 1
    data: ProjectEvaluationScheduleData


class ProjectEvaluationOverdue(Event):
    """A project service evaluation was not recorded by its due date."""

    EVENT_TYPE = "ProjectEvaluationOverdue"
    SCHEMA_VERSION = 1
    event_type: Literal["ProjectEvaluationOverdue"] = "ProjectEvaluationOverdue"
    schema_version: Literal[1] = 1
    data: ProjectEvaluationScheduleData


class StageScore(Payload):
    stage: ProjectStage
    score: float


class ProjectEvaluationRecordedData(Payload):
    evaluation_id: UUID
    project_id: str = Field(min_length=1, max_length=64)
    stage: ProjectStage
    period: str
    response_id: UUID
    evaluated_on: date
    sheet_score: float = Field(description="the sheet's score out of 100 (may be below 0 with hazards)")
    sheet_grade: Grade
    sheet_scores: tuple[StageScore, ...] = Field(default=(), description="the latest sheet of each stage")
    project_score: float | None = Field(default=None, description="20/50/30-weighted, once all three sheets exist")
    project_grade: Grade | None = None
    satisfaction_project: bool | None = Field(default=None, description="顾客服务满意工程项目: ≥ 90 and no sheet < 80")


class ProjectEvaluationRecorded(Event):
    EVENT_TYPE = "ProjectEvaluationRecorded"
    SCHEMA_VERSION = 1
    event_type: Literal["ProjectEvaluationRecorded"] = "ProjectEvaluationRecorded"
    schema_version: Literal[1] = 1
    data: ProjectEvaluationRecordedData


class ProjectFlaggedData(Payload):
    flag_id: UUID
    project_id: str = Field(min_length=1, max_length=64)
    flag: Literal["unsatisfactory_score", "manager", "manager_strong"] = Field(
        description="'manager': two fails in a row or two in a year; 'manager_strong': three in a row"
    )
    reasons: tuple[str, ...] = Field(min_length=1)
    source: Literal["campaign", "evaluation"]
    campaign_id: UUID | None = None
    evaluation_id: UUID | None = None
    score: float | None = None
    threshold: float | None = None
    flagged_at: AwareDatetime


class ProjectFlagged(Event):
    """A project's satisfaction or service score is unsatisfactory, or its manager is flagged."""

    EVENT_TYPE = "ProjectFlagged"
    SCHEMA_VERSION = 1
    event_type: Literal["ProjectFlagged"] = "ProjectFlagged"
    schema_version: Literal[1] = 1
    data: ProjectFlaggedData


SURVEY_EVENT_CLASSES: tuple[type[Event], ...] = (
    SurveyInvitationIssued,
    SurveyReminderDue,
    SurveyCampaignPlanned,
    SurveyCampaignClosed,
    ProjectEvaluationDue,
    ProjectEvaluationOverdue,
    ProjectEvaluationRecorded,
    ProjectFlagged,
)


# --- inbound: answers from other survey tools -------------------------------------------------

ANSWERS_NAMESPACE = uuid.UUID("3d0f7f5e-9c55-4d3e-8f7a-5b1a0e2c6d41")


class AnswerSubmission(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    item_id: str = Field(min_length=1, max_length=64)
    level: str | None = Field(default=None, max_length=32, description="None for an unanswered item")
    deduction: Decimal | None = Field(
        default=None, description="scheme C, level 'hazard': 5–10 points below zero on the item"
    )
    remark: str | None = Field(default=None, max_length=2000, description="the respondent's own words")


class InboundSurveyAnswers(BaseModel):
    """One returned form from another survey tool, on ``inbound.survey-answers``.

    Validated exactly as the paper-form HTTP route validates; the source must be on survey's
    allow-list. ``(source_system, external_id)`` makes a resend harmless.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    message_type: Literal["SurveyAnswers"] = "SurveyAnswers"
    schema_version: Literal[1] = 1
    source_system: str = Field(pattern=CODE_PATTERN)
    external_id: str = Field(min_length=1, max_length=128)
    correlation_id: uuid.UUID | None = None
    template_id: str = Field(min_length=1, max_length=64)
    template_version: int | None = Field(default=None, ge=1, description="the current version when left out")
    org: OrgPath
    project_id: str | None = Field(default=None, pattern=CODE_PATTERN)
    unit_id: UUID | None = None
    household_id: UUID | None = None
    campaign_id: UUID | None = None
    case_id: UUID | None = None
    returned_at: AwareDatetime | None = None
    hazard_deduction: Decimal | None = Field(default=None, description="scheme C: 5–20 off the sheet's total")
    answers: tuple[AnswerSubmission, ...] = Field(min_length=1, max_length=200)

    # The consumer's inbox and the dead-letter path treat it like an event.
    @property
    def event_id(self) -> uuid.UUID:
        return uuid.uuid5(ANSWERS_NAMESPACE, f"{self.source_system}\x1f{self.external_id}")

    @property
    def event_type(self) -> str:
        return self.message_type
