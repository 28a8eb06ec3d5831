"""The integration events on Kafka, one class per event type (past tense: facts).

Personal data never travels here: customers are referred to by id; contact details stay in intake.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
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
    duplicate_of: UUID | None = Field(default=None, description="earlier feedback this one likely repeats")
    incident_group_id: UUID | None = Field(
        default=None, description="feedback from several households about one defect share this id"
    )
    attachments: tuple[str, ...] = Field(default=(), description="object keys or URLs, never blobs")
    follow_up_of: UUID | None = Field(
        default=None, description="the case this feedback follows up: the new case keeps its first-contact owner"
    )
    # Added in place (schema version 1): keyed digests of the customer's registered names, never the
    # names, so that routing can find them in the staff notes of the case (shared.pii_detect).
    customer_name_marks: tuple[str, ...] = Field(
        default=(), description="marks of the customer's names (HMAC under CARELOOP_PII_NAME_KEY), not the names")


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
    complaint_class: Literal[1, 2, 3] = Field(description="一类 / 二类 / 三类 (docs/domain.md §3)")
    valid: bool = Field(description="a class-1 complaint caused by our own service is valid (有效投诉)")
    important: bool = Field(description="important complaints always get a return visit")
    confidence: float = Field(ge=0, le=1)
    rules_fired: tuple[str, ...] = ()
    rules_version: str = Field(min_length=1)
    lead_department: Department
    assisting_departments: tuple[Department, ...] = ()
    received_at: AwareDatetime = Field(description="when the feedback arrived; reports count by it")
    classified_by: str = Field(default="rules", description="'rules' or the staff id that reclassified")
    needs_triage: bool = Field(default=False, description="confidence too low: a person must confirm")
    handed_over_to: str | None = Field(
        default=None, description="'developer' when a claim exceeds our authority (seed 002)"
    )


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
    # Optional additions (repairs module): who signed, by role and id only, and on what terms.
    owner_signer_role: str | None = Field(
        default=None, max_length=32, description="owner, household, developer_representative, …"
    )
    owner_signer_customer_id: UUID | None = None
    contractor_signer: str | None = Field(default=None, max_length=64, description="staff id")
    warranty_status: Literal["in_warranty", "expired", "unknown"] | None = None
    chargeable: bool | None = None
    quoted_fee: Decimal | None = Field(default=None, ge=0, description="CNY, when chargeable")
    rework_count: int | None = Field(default=None, ge=0, description="rejected acceptances before this one")


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


# --- Registry (owned by intake; other services keep their own copies) -------------------------


class OrgUnitRegisteredData(Payload):
    path: str = Field(min_length=1, max_length=200, description="'G', 'G/S' or 'G/S/P'")
    level: Literal["group", "subsidiary", "project"]
    name: str = Field(min_length=1, max_length=200)
    unit_type: Literal["group", "subsidiary", "project_department", "property_office"]
    revision: int = Field(ge=1, description="increases with every change; apply only a newer one")


class OrgUnitRegistered(Event):
    EVENT_TYPE = "OrgUnitRegistered"
    SCHEMA_VERSION = 1
    event_type: Literal["OrgUnitRegistered"] = "OrgUnitRegistered"
    schema_version: Literal[1] = 1
    data: OrgUnitRegisteredData


class ProjectRegisteredData(Payload):
    project_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    contract_number: str | None = Field(default=None, max_length=64)
    stage: ProjectStage
    completion_date: date | None = None
    warranty_end: date | None = None
    households: int | None = Field(default=None, ge=0)
    occupied_units: int | None = Field(default=None, ge=0)
    occupancy_start: date | None = None
    buildings: tuple[str, ...] = ()
    revision: int = Field(ge=1)


class ProjectRegistered(Event):
    EVENT_TYPE = "ProjectRegistered"
    SCHEMA_VERSION = 1
    event_type: Literal["ProjectRegistered"] = "ProjectRegistered"
    schema_version: Literal[1] = 1
    data: ProjectRegisteredData


class UnitRecord(Payload):
    unit_id: UUID
    building: str = Field(min_length=1, max_length=32)
    label: str = Field(min_length=1, max_length=64, description="e.g. '2-1201' (unit-room)")
    occupied: bool
    household_id: UUID | None = Field(default=None, description="the household customer, by id only")


class UnitsRegisteredData(Payload):
    project_id: str = Field(min_length=1, max_length=64)
    units: tuple[UnitRecord, ...] = Field(min_length=1)


class UnitsRegistered(Event):
    EVENT_TYPE = "UnitsRegistered"
    SCHEMA_VERSION = 1
    event_type: Literal["UnitsRegistered"] = "UnitsRegistered"
    schema_version: Literal[1] = 1
    data: UnitsRegisteredData


class CustomerRegisteredData(Payload):
    customer_id: UUID
    customer_kind: Literal["owner", "household", "agent", "company", "person"]
    key_customer: bool = False
    project_ids: tuple[str, ...] = ()
    unit_ids: tuple[UUID, ...] = ()
    has_phone: bool = Field(default=False, description="reachable by phone (the number stays in intake)")
    has_email: bool = False
    revision: int = Field(ge=1)


class CustomerRegistered(Event):
    EVENT_TYPE = "CustomerRegistered"
    SCHEMA_VERSION = 1
    event_type: Literal["CustomerRegistered"] = "CustomerRegistered"
    schema_version: Literal[1] = 1
    data: CustomerRegisteredData


class CustomerErasedData(Payload):
    customer_id: UUID
    erased_at: AwareDatetime
    reason: Literal["customer_request", "retention_expired", "other"] = "customer_request"


class CustomerErased(Event):
    """Every service removes or anonymises what it holds about this customer."""

    EVENT_TYPE = "CustomerErased"
    SCHEMA_VERSION = 1
    event_type: Literal["CustomerErased"] = "CustomerErased"
    schema_version: Literal[1] = 1
    data: CustomerErasedData


EVENT_CLASSES: tuple[type[Event], ...] = (
    FeedbackReceived,
    ComplaintClassified,
    RepairAccepted,
    SurveyReturned,
    OrgUnitRegistered,
    ProjectRegistered,
    UnitsRegistered,
    CustomerRegistered,
    CustomerErased,
)
