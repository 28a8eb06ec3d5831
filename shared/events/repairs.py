"""Warranty repair events (docs/domain.md §4), produced by routing's repairs module.

RepairAccepted, the mission's event, lives in ``shared.events.catalog``; the events of the other
steps are here. Repair events are keyed by the work order id, remediation events by the
remediation item id, so that each one's history stays in order on one partition.

No personal data travels here: households are referred to by case id, signers by role, customer
id or staff id, photos by object key or URL.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from shared.events.cases import StaffText
from shared.events.catalog import Payload
from shared.events.envelope import Event
from shared.events.vocabulary import Department

WarrantyStatus = Literal["in_warranty", "expired", "unknown"]
Responsibility = Literal[
    "construction", "design", "material", "developer", "household", "third_party", "undetermined"
]
SignerRole = Literal["owner", "household", "developer_representative", "property_manager", "agent"]

# --- WorkOrderOpened -------------------------------------------------------------------------


class WorkOrderOpenedData(Payload):
    work_order_id: UUID
    project_id: str = Field(min_length=1, max_length=64)
    origin: Literal["repair_request", "complaint"] = Field(
        description="a repair request (报修) or a class-2 complaint (二类投诉) opened it"
    )
    case_ids: tuple[UUID, ...] = Field(description="the cases linked so far (one at opening)")
    defect_kind: str = Field(min_length=1, max_length=64, description="from the defect vocabulary, e.g. 'leak'")
    defect_vocabulary_version: str = Field(min_length=1, max_length=64)
    building: str | None = Field(default=None, max_length=32)
    unit: str | None = Field(default=None, max_length=64, description="building / unit, e.g. '3-2-1201'")
    incident_group_id: UUID | None = None
    requested_at: AwareDatetime = Field(description="when the first household reported it")
    warranty_status: WarrantyStatus
    in_warranty: bool = Field(description="served free and round the clock; 'unknown' is served as in warranty")
    warranty_end: date | None = None
    chargeable: bool = Field(description="out of warranty: a quoted fee must be confirmed before any work")
    respond_by: AwareDatetime | None = Field(
        default=None, description="in warranty: the 24-hour service's latest site response"
    )


class WorkOrderOpened(Event):
    EVENT_TYPE = "WorkOrderOpened"
    SCHEMA_VERSION = 1
    event_type: Literal["WorkOrderOpened"] = "WorkOrderOpened"
    schema_version: Literal[1] = 1
    data: WorkOrderOpenedData


# --- WorkOrderCaseLinked ----------------------------------------------------------------------


class WorkOrderCaseLinkedData(Payload):
    work_order_id: UUID
    case_id: UUID
    link_reason: Literal["incident_group", "same_area"] = Field(
        description="intake's incident group, or the same defect kind in the same building and floors"
    )
    case_count: int = Field(ge=1, description="cases on the work order after this one")
    at: AwareDatetime
    link_score: float | None = Field(
        default=None, ge=0, le=1,
        description="how likely the case is about the order's defect (place and defect kind), 0..1")
    link_explanation: str | None = Field(
        default=None, max_length=500,
        description="the score's reason a person can check, in Chinese, e.g. 同一楼栋（3号楼）、同类缺陷（渗漏）、楼层相距 1 层：0.85")


class WorkOrderCaseLinked(Event):
    """Another household's case joined an open work order about the same defect."""

    EVENT_TYPE = "WorkOrderCaseLinked"
    SCHEMA_VERSION = 1
    event_type: Literal["WorkOrderCaseLinked"] = "WorkOrderCaseLinked"
    schema_version: Literal[1] = 1
    data: WorkOrderCaseLinkedData


# --- RepairStepRecorded -----------------------------------------------------------------------


class SiteInvestigation(Payload):
    nature: StaffText = Field(min_length=1, max_length=2000, description="what the defect is (性质)")
    cause: StaffText = Field(min_length=1, max_length=2000, description="why it happened (原因)")
    responsibility: Responsibility = Field(description="who is responsible (责任)")
    in_scope: bool = Field(description="within the warranty's scope; household damage is not")


class RepairPlanDetails(Payload):
    scope: StaffText = Field(min_length=1, max_length=4000)
    duration_hours: float = Field(gt=0)
    cost: Decimal | None = Field(default=None, ge=0, description="estimated cost of the repair, CNY")
    resources: StaffText = Field(min_length=1, max_length=2000, description="people, materials, equipment")
    planned_finish: AwareDatetime
    customer_requested_by: AwareDatetime | None = Field(
        default=None, description="the time the customer asked for; in warranty the work finishes by it"
    )
    chargeable: bool
    quoted_fee: Decimal | None = Field(default=None, ge=0, description="what the customer pays, CNY")
    agreed_with: SignerRole = Field(description="who agreed the plan on the customer's side")


class FeeDecision(Payload):
    confirmed: bool
    quoted_fee: Decimal = Field(ge=0)
    decided_by: SignerRole
    reason: StaffText | None = Field(default=None, max_length=2000, description="why the customer declined")


class Inspection(Payload):
    passed: bool
    findings: StaffText | None = Field(default=None, max_length=4000)


class QualityVerification(Payload):
    passed: bool
    department: Department = Department.ENGINEERING_QUALITY
    findings: StaffText | None = Field(default=None, max_length=4000)


class RepairStepRecordedData(Payload):
    """One step of a work order (joint acceptance excepted: RepairAccepted / RepairAcceptanceRejected)."""

    work_order_id: UUID
    step: str = Field(description="investigate, agree_plan, confirm_fee, decline_fee, complete_work, "
                                  "self_inspect, fail_self_inspection, archive, verify_quality, assign, "
                                  "attach_photos, detach_case, cancel")
    previous_state: str
    state: str
    actor: str = Field(min_length=1, max_length=64, description="staff id, or 'system'")
    at: AwareDatetime
    note: StaffText | None = Field(default=None, max_length=4000)
    client_step_id: str | None = Field(default=None, max_length=128, description="the caller's idempotency key")
    photos: tuple[str, ...] = Field(default=(), description="object keys or URLs, never blobs")
    assignee: str | None = Field(default=None, max_length=64)
    case_id: UUID | None = Field(default=None, description="for detach_case")
    investigation: SiteInvestigation | None = None
    plan: RepairPlanDetails | None = None
    fee_decision: FeeDecision | None = None
    inspection: Inspection | None = None
    verification: QualityVerification | None = None


class RepairStepRecorded(Event):
    EVENT_TYPE = "RepairStepRecorded"
    SCHEMA_VERSION = 1
    event_type: Literal["RepairStepRecorded"] = "RepairStepRecorded"
    schema_version: Literal[1] = 1
    data: RepairStepRecordedData


# --- RepairAcceptanceRejected -----------------------------------------------------------------


class RepairAcceptanceRejectedData(Payload):
    work_order_id: UUID
    project_id: str = Field(min_length=1, max_length=64)
    case_ids: tuple[UUID, ...]
    reason: StaffText = Field(min_length=1, max_length=4000, description="why the owner refused: the rework's brief")
    actor: str = Field(min_length=1, max_length=64)
    at: AwareDatetime
    rework_count: int = Field(ge=1)
    photos: tuple[str, ...] = ()


class RepairAcceptanceRejected(Event):
    """The joint acceptance failed: the work order goes back to rework with the reason."""

    EVENT_TYPE = "RepairAcceptanceRejected"
    SCHEMA_VERSION = 1
    event_type: Literal["RepairAcceptanceRejected"] = "RepairAcceptanceRejected"
    schema_version: Literal[1] = 1
    data: RepairAcceptanceRejectedData


# --- Recurring defects (质量通病) and their remediation -----------------------------------------


class RecurringDefectDetectedData(Payload):
    remediation_id: UUID
    project_id: str = Field(min_length=1, max_length=64)
    defect_kind: str = Field(min_length=1, max_length=64)
    work_order_ids: tuple[UUID, ...] = Field(description="the repairs that make the defect recurrent")
    occurrences: int = Field(ge=1)
    threshold: int = Field(ge=1)
    window_days: int = Field(ge=1)
    detected_at: AwareDatetime


class RecurringDefectDetected(Event):
    """The same defect kind recurred across repairs of one project: a company-level remediation
    item (质量通病整改) is raised and tracked to its acceptance with the customer's representative."""

    EVENT_TYPE = "RecurringDefectDetected"
    SCHEMA_VERSION = 1
    event_type: Literal["RecurringDefectDetected"] = "RecurringDefectDetected"
    schema_version: Literal[1] = 1
    data: RecurringDefectDetectedData


class RemediationStepRecordedData(Payload):
    remediation_id: UUID
    project_id: str = Field(min_length=1, max_length=64)
    defect_kind: str = Field(min_length=1, max_length=64)
    step: str = Field(description="plan, complete, reject, add_occurrence")
    previous_state: str
    state: str
    actor: str = Field(min_length=1, max_length=64)
    at: AwareDatetime
    note: StaffText | None = Field(default=None, max_length=4000)
    plan: StaffText | None = Field(default=None, max_length=4000)
    responsible_department: Department | None = None
    due_at: AwareDatetime | None = None
    work_order_id: UUID | None = Field(default=None, description="for add_occurrence")


class RemediationStepRecorded(Event):
    EVENT_TYPE = "RemediationStepRecorded"
    SCHEMA_VERSION = 1
    event_type: Literal["RemediationStepRecorded"] = "RemediationStepRecorded"
    schema_version: Literal[1] = 1
    data: RemediationStepRecordedData


class RemediationAcceptedData(Payload):
    remediation_id: UUID
    project_id: str = Field(min_length=1, max_length=64)
    defect_kind: str = Field(min_length=1, max_length=64)
    work_order_ids: tuple[UUID, ...]
    accepted_at: AwareDatetime
    actor: str = Field(min_length=1, max_length=64)
    representative_role: SignerRole = Field(description="the customer's representative who accepted it")
    representative_customer_id: UUID | None = None
    signature_ref: str = Field(min_length=1, max_length=512)
    evaluation: StaffText = Field(min_length=1, max_length=4000, description="the joint evaluation of its effect")
    effective: bool


class RemediationAccepted(Event):
    EVENT_TYPE = "RemediationAccepted"
    SCHEMA_VERSION = 1
    event_type: Literal["RemediationAccepted"] = "RemediationAccepted"
    schema_version: Literal[1] = 1
    data: RemediationAcceptedData


REPAIR_EVENT_CLASSES: tuple[type[Event], ...] = (
    WorkOrderOpened,
    WorkOrderCaseLinked,
    RepairStepRecorded,
    RepairAcceptanceRejected,
    RecurringDefectDetected,
    RemediationStepRecorded,
    RemediationAccepted,
)
