"""Every Kafka topic name CareLoop uses, in one module.

One topic per event type; the event's aggregate id is the record key so that all events of one
case (or feedback, repair, survey response) stay in order on one partition. A deployment may put
a prefix in front of every name (``CARELOOP_TOPIC_PREFIX``), for example to share a cluster.
"""

from __future__ import annotations

FEEDBACK_RECEIVED = "feedback.received"
COMPLAINT_CLASSIFIED = "complaint.classified"
REPAIR_ACCEPTED = "repair.accepted"
SURVEY_RETURNED = "survey.returned"
ORG_UNIT_REGISTERED = "registry.org-unit"
PROJECT_REGISTERED = "registry.project"
UNITS_REGISTERED = "registry.units"
CUSTOMER_REGISTERED = "registry.customer"
CUSTOMER_ERASED = "customer.erased"

REPORT_PUBLISHED = "report.published"
HOLIDAY_SCHEDULE_LOADED = "calendar.holiday-schedule"
CASE_OPENED = "case.opened"
COMPLAINT_RECLASSIFIED = "complaint.reclassified"
CASE_ASSIGNED = "case.assigned"
CASE_TRANSITIONED = "case.transitioned"
DEADLINES_SCHEDULED = "case.deadlines-scheduled"
DEADLINE_MET = "case.deadline-met"
DEADLINE_BREACHED = "case.deadline-breached"
CASE_ESCALATED = "case.escalated"
CORRECTIVE_ACTION_RECORDED = "case.corrective-action"
CORRECTIVE_ACTION_WAIVED = "case.corrective-action-waived"
COMPLAINT_PUBLISHED = "case.complaint-published"
RETURN_VISIT_DECIDED = "case.return-visit-decided"

#: Where other enterprise systems (call centre, ERP, property systems) submit feedback.
INBOUND_FEEDBACK = "inbound.feedback"
#: Where other survey tools submit returned forms.
INBOUND_SURVEY_ANSWERS = "inbound.survey-answers"

#: event type -> topic, for every integration event in ``shared.events``.
EVENT_TOPICS: dict[str, str] = {
    "FeedbackReceived": FEEDBACK_RECEIVED,
    "ComplaintClassified": COMPLAINT_CLASSIFIED,
    "RepairAccepted": REPAIR_ACCEPTED,
    "SurveyReturned": SURVEY_RETURNED,
    "OrgUnitRegistered": ORG_UNIT_REGISTERED,
    "ProjectRegistered": PROJECT_REGISTERED,
    "UnitsRegistered": UNITS_REGISTERED,
    "CustomerRegistered": CUSTOMER_REGISTERED,
    "CustomerErased": CUSTOMER_ERASED,
    "CaseOpened": CASE_OPENED,
    "ComplaintReclassified": COMPLAINT_RECLASSIFIED,
    "CaseAssigned": CASE_ASSIGNED,
    "CaseTransitioned": CASE_TRANSITIONED,
    "DeadlinesScheduled": DEADLINES_SCHEDULED,
    "DeadlineMet": DEADLINE_MET,
    "DeadlineBreached": DEADLINE_BREACHED,
    "CaseEscalated": CASE_ESCALATED,
    "CorrectiveActionRecorded": CORRECTIVE_ACTION_RECORDED,
    "CorrectiveActionWaived": CORRECTIVE_ACTION_WAIVED,
    "ComplaintPublished": COMPLAINT_PUBLISHED,
    "ReturnVisitDecided": RETURN_VISIT_DECIDED,
    # --- repairs (shared/events/repairs.py): "repair.<step>" ---
    "WorkOrderOpened": "repair.opened",
    "WorkOrderCaseLinked": "repair.case-linked",
    "RepairStepRecorded": "repair.step-recorded",
    "RepairAcceptanceRejected": "repair.acceptance-rejected",
    "RecurringDefectDetected": "repair.recurring-defect",
    "RemediationStepRecorded": "repair.remediation-step",
    "RemediationAccepted": "repair.remediation-accepted",
    # --- surveys (shared/events/surveys.py): "survey.<fact>" ---
    "SurveyInvitationIssued": "survey.invitation-issued",
    "SurveyReminderDue": "survey.reminder-due",
    "SurveyCampaignPlanned": "survey.campaign-planned",
    "SurveyCampaignClosed": "survey.campaign-closed",
    "ProjectEvaluationDue": "survey.evaluation-due",
    "ProjectEvaluationOverdue": "survey.evaluation-overdue",
    "ProjectEvaluationRecorded": "survey.evaluation-recorded",
    "ProjectFlagged": "survey.project-flagged",
    # --- reports (shared/events/reports.py): "report.<fact>" ---
    "ReportPublished": REPORT_PUBLISHED,
    # --- the national calendar (shared/events/calendar.py) ---
    "HolidayScheduleLoaded": HOLIDAY_SCHEDULE_LOADED,
}

#: Topics other systems write to; CareLoop consumes them and never produces to them.
INBOUND_TOPICS: tuple[str, ...] = (INBOUND_FEEDBACK, INBOUND_SURVEY_ANSWERS)

DLQ_SUFFIX = ".dlq"


def topic_for(event_type: str) -> str:
    try:
        return EVENT_TOPICS[event_type]
    except KeyError:
        raise KeyError(f"no topic is registered for event type {event_type!r}") from None


def prefixed(name: str, prefix: str = "") -> str:
    return f"{prefix}{name}"


def dead_letter(topic: str) -> str:
    """The dead-letter topic of a (possibly prefixed) topic: ``<topic>.dlq``."""
    return f"{topic}{DLQ_SUFFIX}"


def all_topics(prefix: str = "") -> list[str]:
    """Every topic CareLoop creates, dead-letter topics included."""
    names = sorted(set(EVENT_TOPICS.values()) | set(INBOUND_TOPICS))
    return [prefixed(n, prefix) for n in names] + [dead_letter(prefixed(n, prefix)) for n in names]
