"""Item 4: events other systems read carry no personal data in clear.

Every text field of every integration event is either an identifier or code (listed below, each
with why it is not free text) or free text people wrote, which the detector masks as the event is
built (FeedbackReceived's text in intake with the customer's names; staff notes, reasons and
descriptions in the event models). A text field added later fails this test until it is sorted.
Before the fix a note "客户电话13912345671" went out on case.escalated as written."""

from __future__ import annotations

import typing
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from shared.events import ALL_EVENT_CLASSES
from shared.events.cases import CaseEscalatedData, CorrectiveActionData
from shared.events.repairs import RepairAcceptanceRejectedData
from shared.pii import mask_personal_data
from shared.pii_detect import mask_staff_text

MASKERS = (mask_personal_data, mask_staff_text)

#: Text fields that are not free text: ids, codes, staff ids, references, names of org units and
#: projects, texts the system composes.
NOT_FREE_TEXT = {
    "FeedbackReceived": {"received_by", "project_id", "unit", "source_system", "external_id", "attachments",
                         "customer_name_marks"},  # keyed digests, not the names
    "ComplaintClassified": {"rules_fired", "rules_version", "classified_by", "handed_over_to"},
    "RepairAccepted": {"project_id", "defect_kind", "owner_signature_ref", "contractor_signature_ref",
                       "owner_signer_role", "contractor_signer"},
    "SurveyReturned": {"template_id", "project_id", "answers.item_id", "answers.level"},
    "OrgUnitRegistered": {"path", "name"},
    "ProjectRegistered": {"project_id", "name", "contract_number", "buildings"},
    "UnitsRegistered": {"project_id", "units.building", "units.label"},
    "CustomerRegistered": {"project_ids"},
    "CaseOpened": {"first_contact_owner", "project_id"},
    "ComplaintReclassified": {"rules_fired", "rules_version", "classified_by", "handed_over_to"},
    "CaseAssigned": {"previous_state", "state", "actor", "handler"},
    "CaseTransitioned": {"previous_state", "state", "actor", "action", "handed_over_to"},
    "DeadlinesScheduled": {"deadlines.explanation", "deadlines.explanation_en", "calendar_version", "rescheduled_by"},
    "DeadlineMet": {"escalated_to"},
    "DeadlineBreached": {"escalated_to"},
    "CaseEscalated": {"previous_state", "state", "actor", "to"},
    "CorrectiveActionRecorded": {"actor"},
    "CorrectiveActionWaived": {"actor"},
    "ComplaintPublished": {"actor"},
    "ReturnVisitDecided": {"rule", "actor"},
    "WorkOrderOpened": {"project_id", "defect_kind", "defect_vocabulary_version", "building", "unit"},
    "WorkOrderCaseLinked": {"link_explanation"},
    "RepairStepRecorded": {"step", "previous_state", "state", "actor", "client_step_id", "photos", "assignee"},
    "RepairAcceptanceRejected": {"project_id", "actor", "photos"},
    "RecurringDefectDetected": {"project_id", "defect_kind"},
    "RemediationStepRecorded": {"project_id", "defect_kind", "step", "previous_state", "state", "actor"},
    "RemediationAccepted": {"project_id", "defect_kind", "actor", "signature_ref"},
    "SurveyInvitationIssued": {"template_id", "link", "project_id"},
    "SurveyReminderDue": {"project_id"},
    "SurveyCampaignPlanned": {"project_id", "period", "template_id", "seed", "buildings.building"},
    "SurveyCampaignClosed": {"project_id", "period", "items.item_id"},
    "ProjectEvaluationDue": {"project_id", "period", "template_id"},
    "ProjectEvaluationOverdue": {"project_id", "period", "template_id"},
    "ProjectEvaluationRecorded": {"project_id", "period"},
    "ProjectFlagged": {"project_id", "reasons"},
    "ReportPublished": {"period", "org_path", "content", "content_sha256"},
    "HolidayScheduleLoaded": {"holidays.name", "digest", "notice", "previous_digest", "loaded_by"},
}
#: Free text masked elsewhere: FeedbackReceived's text by intake (it needs the customer's names).
MASKED_BY_PRODUCER = {"FeedbackReceived": {"text"}}


def _masked(annotation: object) -> bool:
    if typing.get_origin(annotation) is typing.Annotated:
        return any(getattr(m, "func", None) in MASKERS for m in annotation.__metadata__)
    return any(_masked(a) for a in typing.get_args(annotation))


def _text_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation

        def has_text(t: object) -> bool:
            if t is str:
                return True
            if isinstance(t, type) and issubclass(t, BaseModel):
                out.extend(_text_fields(t, f"{prefix}{name}."))
                return False
            return any(has_text(a) for a in typing.get_args(t) if a is not type(None))

        if has_text(annotation) or prefix + name in {"content"}:
            out.append((prefix + name, _masked(annotation) or any(
                getattr(m, "func", None) in MASKERS for m in field.metadata)))
    return out


@pytest.mark.parametrize("event", ALL_EVENT_CLASSES, ids=lambda e: e.__name__)
def test_every_text_field_of_every_event_is_an_identifier_or_masked(event: type) -> None:
    name = event.__name__
    for path, masked in _text_fields(event.model_fields["data"].annotation):
        if path in NOT_FREE_TEXT.get(name, set()) or path in MASKED_BY_PRODUCER.get(name, set()):
            continue
        assert masked, f"{name}.{path} is free text that goes out unmasked"


def test_staff_notes_quoting_a_customer_go_out_masked() -> None:
    at = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    escalated = CaseEscalatedData(case_id=uuid.uuid4(), previous_state="open", state="escalated", actor="cs-1",
                                  at=at, note="客户电话13912345671", to="quality_department",
                                  reason="客户（身份证11010519491231002X）要求赔偿，邮箱wxm@example.com")
    assert escalated.note == "客户电话[电话]"
    assert escalated.reason == "客户（身份证[身份证号]）要求赔偿，邮箱[邮箱]"
    action = CorrectiveActionData.model_fields["description"]
    assert _masked(action.annotation) or any(getattr(m, "func", None) in MASKERS for m in action.metadata)
    rejected = RepairAcceptanceRejectedData.model_fields["reason"]
    assert _masked(rejected.annotation) or any(getattr(m, "func", None) in MASKERS
                                               for m in rejected.metadata)
