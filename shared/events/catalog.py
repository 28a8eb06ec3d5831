"""The integration events on Kafka, one class per event type (past tense: facts).

Personal data never travels here: customers are referred to by id; contact details stay in intake.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.envelope import Event
from shared.events.vocabulary import (
    Channel,
    ComplaintCategory,
    Department,
    FeedbackKind,
    ProjectStage,
    SurveyScheme,
)


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


# --- FeedbackReceived -------------------------------------------------------------------------


class FeedbackReceivedData(Payload):
    feedback_id: UUID
    kind: FeedbackKind
    channel: Channel
    text: str = Field(min_length=1, max_length=10_000, description="what the customer said")
    received_at: AwareDatetime
    received_by: str = Field(
        min_length=1, max_length=64, description="staff id of the first-contact owner (首问负责人)"
    )
    customer_id: UUID | None = None
    project_id: str | None = Field(default=None, max_length=64)
    project_stage: ProjectStage | None = None
    unit: str | None = Field(default=None, max_length=64, description="building / unit, e.g. '3-2-1201'")
    in_working_time: bool | None = Field(
        default=None, description="whether it arrived in the receiving unit's working time"
    )
    source_system: str | None = Field(default=None, max_length=64)
    external_id: str | None = Field(default=None, max_length=128)
    duplicate_of: UUID | None = None
    attachments: tuple[str, ...] = Field(default=(), description="object keys or URLs, never blobs")


class FeedbackReceived(Event):
    EVENT_TYPE = "FeedbackReceived"
    SCHEMA_VERSION = 1
    event_type: Literal["FeedbackReceived"] = "FeedbackReceived"
    schema_version: Literal[1] = 1
    data: FeedbackReceivedData


# --- ComplaintClassified ----------------------------------------------------------------------


class ComplaintClassifiedData(Payload):
    case_id: UUID
    feedback_id: UUID
    category: ComplaintCategory
    complaint_class: Literal[1, 2, 3] = Field(description="一类 / 二类 / 三类 (DOMAIN.md §3)")
    valid: bool = Field(description="a class-1 complaint caused by our own service is valid (有效投诉)")
    important: bool = Field(description="important complaints always get a return visit")
    confidence: float = Field(ge=0, le=1)
    rules_fired: tuple[str, ...] = ()
    rules_version: str = Field(min_length=1)
    lead_department: Department
    assisting_departments: tuple[Department, ...] = ()
    received_at: AwareDatetime = Field(description="when the feedback arrived; reports count by it")
    classified_by: str = Field(default="rules", description="'rules' or the staff id that reclassified")


class ComplaintClassified(Event):
    EVENT_TYPE = "ComplaintClassified"
    SCHEMA_VERSION = 1
    event_type: Literal["ComplaintClassified"] = "ComplaintClassified"
    schema_version: Literal[1] = 1
    data: ComplaintClassifiedData


# --- RepairAccepted ---------------------------------------------------------------------------


class RepairAcceptedData(Payload):
    work_order_id: UUID
    project_id: str = Field(min_length=1, max_length=64)
    case_ids: tuple[UUID, ...] = Field(default=(), description="every complaint case the repair closes")
    defect_kind: str = Field(min_length=1, max_length=64)
    in_warranty: bool
    requested_at: AwareDatetime
    accepted_at: AwareDatetime
    owner_signature_ref: str = Field(min_length=1, description="reference to the owner's signature (会签)")
    contractor_signature_ref: str = Field(min_length=1)


class RepairAccepted(Event):
    EVENT_TYPE = "RepairAccepted"
    SCHEMA_VERSION = 1
    event_type: Literal["RepairAccepted"] = "RepairAccepted"
    schema_version: Literal[1] = 1
    data: RepairAcceptedData


# --- SurveyReturned ---------------------------------------------------------------------------


class ItemAnswer(Payload):
    item_id: str = Field(min_length=1, max_length=64)
    level: str | None = Field(default=None, description="the chosen level; None when unanswered")
    points: float | None = Field(default=None, description="points the level earns under the scheme")
    satisfied: bool | None = Field(default=None, description="None when unanswered or not applicable")


class SurveyReturnedData(Payload):
    response_id: UUID
    template_id: str = Field(min_length=1, max_length=64)
    template_version: int = Field(ge=1)
    scheme: SurveyScheme
    campaign_id: UUID | None = None
    project_id: str | None = Field(default=None, max_length=64)
    household_id: UUID | None = None
    case_id: UUID | None = Field(default=None, description="set for a return visit on a case")
    channel: Literal["web", "paper", "inbound", "phone"] = "web"
    returned_at: AwareDatetime
    answers: tuple[ItemAnswer, ...]
    score: float | None = Field(default=None, description="the scheme's overall figure for this form")
    satisfied: bool | None = Field(default=None, description="whether the form as a whole passes")


class SurveyReturned(Event):
    EVENT_TYPE = "SurveyReturned"
    SCHEMA_VERSION = 1
    event_type: Literal["SurveyReturned"] = "SurveyReturned"
    schema_version: Literal[1] = 1
    data: SurveyReturnedData


EVENT_CLASSES: tuple[type[Event], ...] = (
    FeedbackReceived,
    ComplaintClassified,
    RepairAccepted,
    SurveyReturned,
)
