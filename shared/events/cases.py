"""Routing's case events: every transition of a case's lifecycle is one of these facts.

All share the case id as their key, so one case's history stays in order on one partition.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, Field

from shared.events.catalog import ComplaintClassifiedData, Payload
from shared.events.envelope import Event
from shared.events.vocabulary import ComplaintCategory, Department, FeedbackKind
from shared.pii_detect import mask_staff_text

#: Free text staff wrote (notes, reasons, descriptions): it may quote a customer, so it goes out with
#: the personal data the detector finds (phones, ID-card and card numbers, e-mails) masked, and the
#: customer's names where the producer marks them (``shared.pii_detect.names_marked``).
StaffText = Annotated[str, AfterValidator(mask_staff_text)]

# quality_department (added in place): the deadline the quality department sets for a difficult complaint.
DeadlineKind = Literal["first_response", "difficult_escalation", "measures_report", "result_delivery",
                       "quality_department"]


class CaseStep(Payload):
    """What every transition records: who moved the case from where to where, and when."""

    case_id: UUID
    previous_state: str
    state: str
    actor: str = Field(min_length=1, max_length=64, description="staff id, or 'system'")
    at: AwareDatetime
    note: StaffText | None = Field(default=None, max_length=4000)


class CaseOpenedData(Payload):
    case_id: UUID
    feedback_id: UUID
    kind: FeedbackKind
    received_at: AwareDatetime
    in_working_time: bool | None = None
    first_contact_owner: str
    customer_id: UUID | None = None
    project_id: str | None = None
    incident_group_id: UUID | None = None
    duplicate_of: UUID | None = None
    # Added in place (schema version 1): the case this one follows up (a dissatisfied answer on its
    # return visit); ``first_contact_owner`` is then that case's (首问负责制).
    follow_up_of: UUID | None = None


class CaseOpened(Event):
    EVENT_TYPE = "CaseOpened"
    SCHEMA_VERSION = 1
    event_type: Literal["CaseOpened"] = "CaseOpened"
    schema_version: Literal[1] = 1
    data: CaseOpenedData


class ComplaintReclassifiedData(ComplaintClassifiedData):
    previous_category: ComplaintCategory | None
    previous_class: Literal[1, 2, 3] | None
    reason: StaffText = Field(min_length=1, max_length=2000)


class ComplaintReclassified(Event):
    EVENT_TYPE = "ComplaintReclassified"
    SCHEMA_VERSION = 1
    event_type: Literal["ComplaintReclassified"] = "ComplaintReclassified"
    schema_version: Literal[1] = 1
    data: ComplaintReclassifiedData


class CaseAssignedData(CaseStep):
    lead_department: Department
    assisting_departments: tuple[Department, ...] = ()
    handler: str | None = Field(default=None, max_length=64, description="the person named to handle it")


class CaseAssigned(Event):
    EVENT_TYPE = "CaseAssigned"
    SCHEMA_VERSION = 1
    event_type: Literal["CaseAssigned"] = "CaseAssigned"
    schema_version: Literal[1] = 1
    data: CaseAssignedData


class CaseTransitionedData(CaseStep):
    action: str = Field(description="the lifecycle action: acknowledge, report_measures, resolve, …")
    accepted: bool | None = Field(default=None, description="for the customer's answer to the result")
    chargeable: bool | None = Field(default=None, description="for an out-of-scope request the customer confirmed")
    handed_over_to: str | None = Field(default=None, description="e.g. 'developer' for claims beyond our authority")


class CaseTransitioned(Event):
    """A lifecycle step without a payload of its own (acknowledged, measures reported, resolved,
    result delivered, result accepted or rejected, return visit done, invalid explained, handed
    over, scope confirmed or declined, closed). ``data.action`` says which."""

    EVENT_TYPE = "CaseTransitioned"
    SCHEMA_VERSION = 1
    event_type: Literal["CaseTransitioned"] = "CaseTransitioned"
    schema_version: Literal[1] = 1
    data: CaseTransitionedData


class Deadline(Payload):
    kind: DeadlineKind
    due_at: AwareDatetime
    explanation: str
    # Added in place (schema version 1): counted over a year with no official holiday schedule yet.
    provisional: bool = False
    # Added in place: ``explanation`` is Chinese (what people read by default); this is English.
    explanation_en: str | None = None


class DeadlinesScheduledData(Payload):
    case_id: UUID
    deadlines: tuple[Deadline, ...]
    calendar_version: str
    complaint_important: bool = False
    # When the case was received (added in place, schema version 1): the reports count a deadline
    # in its case's month. Producers that leave it out still work; readers then look the month up.
    case_received_at: AwareDatetime | None = None
    # Added in place: set when open deadlines were counted again because a holiday schedule was
    # loaded ('holiday-schedule:2027:<digest>'); one event per deadline that changed.
    rescheduled_by: str | None = None


class DeadlinesScheduled(Event):
    EVENT_TYPE = "DeadlinesScheduled"
    SCHEMA_VERSION = 1
    event_type: Literal["DeadlinesScheduled"] = "DeadlinesScheduled"
    schema_version: Literal[1] = 1
    data: DeadlinesScheduledData


class DeadlineOutcomeData(Payload):
    case_id: UUID
    kind: DeadlineKind
    due_at: AwareDatetime
    met_at: AwareDatetime | None = None
    breached_at: AwareDatetime | None = None
    escalated_to: str | None = Field(default=None, description="who is notified of a breach")


class DeadlineMet(Event):
    EVENT_TYPE = "DeadlineMet"
    SCHEMA_VERSION = 1
    event_type: Literal["DeadlineMet"] = "DeadlineMet"
    schema_version: Literal[1] = 1
    data: DeadlineOutcomeData


class DeadlineBreached(Event):
    """A deadline passed unmet: the next level is notified (the escalation)."""

    EVENT_TYPE = "DeadlineBreached"
    SCHEMA_VERSION = 1
    event_type: Literal["DeadlineBreached"] = "DeadlineBreached"
    schema_version: Literal[1] = 1
    data: DeadlineOutcomeData


class CaseEscalatedData(CaseStep):
    to: str = Field(min_length=1, max_length=64, description="quality_department, executive, group, …")
    reason: StaffText = Field(min_length=1, max_length=2000)
    # Added in place (schema version 1): the complaint also reached this body, logged by whoever
    # received it; the quality department tracks it and the monthly summary counts it apart.
    external_body: Literal["group", "government", "media"] | None = None


class CaseEscalated(Event):
    EVENT_TYPE = "CaseEscalated"
    SCHEMA_VERSION = 1
    event_type: Literal["CaseEscalated"] = "CaseEscalated"
    schema_version: Literal[1] = 1
    data: CaseEscalatedData


class CorrectiveActionData(Payload):
    case_id: UUID
    action_id: UUID
    department: Department
    description: StaffText = Field(min_length=1, max_length=4000)
    actor: str
    at: AwareDatetime
    verified: bool | None = Field(default=None, description="set by the quality department's verification")
    effective: bool | None = None
    recorded_at: AwareDatetime | None = Field(
        default=None, description="when the action was recorded (on a verification, whose 'at' is its own time)")
    verification_note: StaffText | None = Field(default=None, max_length=4000,
                                          description="what the quality department found when verifying")


class CorrectiveActionRecorded(Event):
    EVENT_TYPE = "CorrectiveActionRecorded"
    SCHEMA_VERSION = 1
    event_type: Literal["CorrectiveActionRecorded"] = "CorrectiveActionRecorded"
    schema_version: Literal[1] = 1
    data: CorrectiveActionData


class CorrectiveActionWaivedData(Payload):
    """The quality department decided that a valid complaint needs no corrective action, and why."""

    case_id: UUID
    reason: StaffText = Field(min_length=1, max_length=2000)
    actor: str = Field(min_length=1, max_length=64)
    at: AwareDatetime


class CorrectiveActionWaived(Event):
    EVENT_TYPE = "CorrectiveActionWaived"
    SCHEMA_VERSION = 1
    event_type: Literal["CorrectiveActionWaived"] = "CorrectiveActionWaived"
    schema_version: Literal[1] = 1
    data: CorrectiveActionWaivedData


class ComplaintPublishedData(Payload):
    """An important or representative complaint published by the quality department on the company's
    internal network. ``summary`` is written for publication; phone numbers and e-mail addresses in it
    are masked before it leaves routing."""

    case_id: UUID
    basis: Literal["important", "representative"]
    summary: StaffText = Field(min_length=1, max_length=4000)
    actor: str = Field(min_length=1, max_length=64)
    at: AwareDatetime


class ComplaintPublished(Event):
    EVENT_TYPE = "ComplaintPublished"
    SCHEMA_VERSION = 1
    event_type: Literal["ComplaintPublished"] = "ComplaintPublished"
    schema_version: Literal[1] = 1
    data: ComplaintPublishedData


ReturnVisitBasis = Literal["important", "rule", "quality_department", "none"]


class ReturnVisitDecidedData(Payload):
    """Whether a case gets a return visit (回访), and why: always for an important complaint; for
    the others the quality department's choice for the case, else routing's rule setting.

    Emitted when the quality department decides for a case (``actor`` is its staff id), and by the
    system when the customer accepts the result (the decision then in force; ``result_accepted``).
    A return visit is due once both hold: ``return_visit`` and ``result_accepted``.
    """

    case_id: UUID
    return_visit: bool
    basis: ReturnVisitBasis = Field(description="important, rule (the setting), quality_department (per case), none")
    rule: str = Field(description="routing's return-visit rule setting at the time")
    result_accepted: bool = Field(description="the customer accepted the result: the visit is due now")
    actor: str = Field(min_length=1, max_length=64, description="staff id, or 'system'")
    at: AwareDatetime
    note: StaffText | None = Field(default=None, max_length=2000)


class ReturnVisitDecided(Event):
    EVENT_TYPE = "ReturnVisitDecided"
    SCHEMA_VERSION = 1
    event_type: Literal["ReturnVisitDecided"] = "ReturnVisitDecided"
    schema_version: Literal[1] = 1
    data: ReturnVisitDecidedData


CASE_EVENT_CLASSES: tuple[type[Event], ...] = (
    CaseOpened,
    ComplaintReclassified,
    CaseAssigned,
    CaseTransitioned,
    DeadlinesScheduled,
    DeadlineMet,
    DeadlineBreached,
    CaseEscalated,
    CorrectiveActionRecorded,
    CorrectiveActionWaived,
    ComplaintPublished,
    ReturnVisitDecided,
)
