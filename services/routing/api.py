"""Routing's HTTP routes: the handlers' workbench (my cases, overdue cases, every lifecycle step)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.routing import service
from services.routing.classification.model import explain
from services.routing.lifecycle import Action, CaseState, TransitionRefused, allowed_actions
from services.routing.models import (
    Case,
    CaseStepRecord,
    ComplaintPublication,
    CorrectiveAction,
    CorrectiveActionWaiver,
    DeadlineRecord,
)
from services.routing.notifications.service import notifications_of
from shared.auth import Principal, Role, current_access, require
from shared.auth.scoping import org_columns_clause
from shared.db import UnitOfWork, UnitOfWorkFactory
from shared.events.cases import StaffText
from shared.events.vocabulary import ComplaintCategory, Department
from shared.i18n import pick
from shared.labels import name_of
from shared.pagination import Page

Actor = Field(min_length=1, max_length=64, description="staff id of the person acting")


class DeadlineOut(BaseModel):
    kind: str
    kind_name: str = ""
    starts_at: datetime
    due_at: datetime
    explanation: str
    calendar_version: str
    met_at: datetime | None
    breached_at: datetime | None
    cancelled_at: datetime | None
    escalated_to: str | None
    #: Counted over a year with no official holiday schedule yet: may move when it is loaded.
    provisional: bool = False


class StepOut(BaseModel):
    action: str
    previous_state: str
    state: str
    actor: str
    at: datetime
    note: StaffText | None  # staff wrote it; it may quote the customer (masked by the one detector)


class CaseOut(BaseModel):
    case_id: uuid.UUID
    feedback_id: uuid.UUID
    kind: str
    state: str
    version: int
    category: str | None
    complaint_class: int | None
    valid: bool | None
    important: bool | None
    confidence: float | None
    rules_fired: list[str]
    rules_version: str | None
    classification_explanation: str | None = Field(
        default=None, description="为什么这样分类：模型起作用最大的词和规则（中文）")
    lead_department: str | None
    assisting_departments: list[str]
    handler: str | None
    first_contact_owner: str
    difficult: bool
    handed_over_to: str | None
    return_visit_done: bool
    org_path: str
    project_id: str | None
    unit: str | None
    incident_group_id: uuid.UUID | None
    received_at: datetime
    in_working_time: bool | None
    closed_at: datetime | None
    correlation_id: uuid.UUID
    allowed_actions: list[str]
    # What people read beside the codes: Chinese by default, English on request (shared/labels.json).
    state_name: str = ""
    kind_name: str = ""
    category_name: str = ""
    complaint_class_name: str = ""
    valid_name: str = ""
    important_name: str = ""
    lead_department_name: str = ""
    assisting_department_names: list[str] = Field(default_factory=list)
    allowed_action_names: list[str] = Field(default_factory=list)
    # A difficult complaint's report (seed 002): both must have been told.
    quality_notified_at: datetime | None = None
    executive_notified_at: datetime | None = None
    escalated_to_body: str | None = Field(default=None, description="group / government / media")
    claim_kind: str | None = Field(default=None, description="compensation / return_exchange")
    claim_amount_yuan: Decimal | None = None
    claim_decision: str | None = Field(default=None, description="who handles the claim, and why")
    # Return visits: the quality department's choice for the case (None: not decided), the basis of
    # the decision in force, and once the result is accepted whether a visit is due before closing.
    return_visit_choice: bool | None = None
    return_visit_basis: str | None = Field(default=None, description="important / rule / quality_department / none")
    return_visit_required: bool | None = None
    follow_up_of: uuid.UUID | None = Field(default=None, description="the case this one follows up")


class CorrectiveActionOut(BaseModel):
    action_id: uuid.UUID
    department: str
    description: StaffText
    recorded_by: str
    recorded_at: datetime
    verified_by: str | None
    verified_at: datetime | None
    effective: bool | None
    verification_note: StaffText | None = None


class WaiverOut(BaseModel):
    reason: StaffText
    recorded_by: str
    recorded_at: datetime


class PublicationOut(BaseModel):
    basis: str
    summary: StaffText
    published_by: str
    published_at: datetime


class NotificationOut(BaseModel):
    """A message to a person or chat about the case (the address itself is not shown)."""

    reason: str = Field(description="escalation / deadline_warning / deadline_breached")
    deadline_kind: str | None
    recipient_role: str
    recipient: str
    channel: str
    created_at: datetime
    attempts: int
    sent_at: datetime | None
    failed_at: datetime | None
    last_error: str | None


class CaseDetailOut(CaseOut):
    deadlines: list[DeadlineOut]
    history: list[StepOut]
    corrective_action_status: str = Field(
        description="missing, awaiting_verification, ineffective, effective or not_needed: a valid complaint "
                    "closes only when effective or not_needed")
    corrective_actions: list[CorrectiveActionOut] = Field(default_factory=list)
    corrective_action_waiver: WaiverOut | None = None
    publication: PublicationOut | None = None
    notifications: list[NotificationOut] = Field(default_factory=list)


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Actor
    note: str | None = Field(default=None, max_length=4000)
    expected_version: int | None = Field(default=None, ge=1, description="refuse if the case changed since")


class MeasuresIn(StepIn):
    note: str = Field(min_length=1, max_length=4000, description="the measures the department takes")


class ResolveIn(StepIn):
    note: str = Field(min_length=1, max_length=4000, description="how it was handled")


class AcceptanceIn(StepIn):
    accepted: bool = Field(description="whether the customer accepts the result")


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Actor
    lead_department: Department
    assisting_departments: list[Department] = Field(default_factory=list)
    handler: str | None = Field(default=None, max_length=64)


class ClassificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Actor
    category: ComplaintCategory
    complaint_class: int = Field(ge=1, le=3)
    valid: bool
    important: bool = False


class ReclassifyIn(ClassificationIn):
    reason: str = Field(min_length=1, max_length=2000)


class QualityDeadlineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Actor
    due_at: AwareDatetime = Field(description="by when the handling must end, with its UTC offset")
    note: str | None = Field(default=None, max_length=4000)


class ExternalBodyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Actor
    body: Literal["group", "government", "media"] = Field(description="集团公司 / 政府部门 / 媒体")
    note: str | None = Field(default=None, max_length=4000)


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Actor
    kind: Literal["compensation", "return_exchange"] = Field(description="索赔 / 入伙后退（换）房")
    amount_yuan: Decimal | None = Field(default=None, gt=0, max_digits=14, decimal_places=2,
                                        description="the amount claimed, yuan (for compensation)")
    developer_involved: bool = Field(default=False, description="the loss involves the developer")
    note: str | None = Field(default=None, max_length=4000)


class PartyReportIn(StepIn):
    note: str = Field(min_length=1, max_length=4000,
                      description="the special report: to which party, what was asked; or the result published")


class EscalateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Actor
    to: str = Field(min_length=1, max_length=64, examples=["quality_department", "executive", "group"])
    reason: str = Field(min_length=1, max_length=2000)


class HandOverIn(StepIn):
    to: str = Field(default="developer", min_length=1, max_length=64)
    note: str = Field(min_length=1, max_length=4000, description="why it exceeds our authority")


class ScopeDecisionIn(StepIn):
    confirmed: bool
    chargeable: bool = False
    note: str = Field(min_length=1, max_length=4000, description="what was agreed, or the written reason")


class CorrectiveActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Actor
    department: Department
    description: str = Field(min_length=1, max_length=4000)


class VerificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Actor
    effective: bool
    note: str | None = Field(default=None, max_length=4000, description="what the verification found")


class WaiverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Actor
    reason: str = Field(min_length=1, max_length=2000, description="why no corrective action is needed")


class ReturnVisitChoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Actor
    return_visit: bool = Field(description="whether the case gets a return visit (回访)")
    reason: str | None = Field(default=None, max_length=2000, description="why (kept in the case's history)")


class PublicationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Actor
    basis: Literal["important", "representative"] = Field(description="why it is published")
    summary: str = Field(min_length=1, max_length=4000,
                         description="the text published on the internal network (phones and e-mails are masked)")


def case_out(case: Case) -> dict[str, Any]:
    return dict(
        case_id=case.id, feedback_id=case.feedback_id, kind=case.kind, state=case.status, version=case.version,
        category=case.category, complaint_class=case.complaint_class, valid=case.valid, important=case.important,
        confidence=case.confidence, rules_fired=list(case.rules_fired or []), rules_version=case.rules_version,
        classification_explanation=explain(case.rules_fired or []),
        lead_department=case.lead_department, assisting_departments=list(case.assisting_departments or []),
        handler=case.handler, first_contact_owner=case.first_contact_owner, difficult=case.difficult,
        handed_over_to=case.handed_over_to, return_visit_done=case.return_visit_done,
        org_path=service.case_org_path(case), project_id=case.project_id, unit=case.unit,
        incident_group_id=case.incident_group_id, received_at=case.received_at,
        in_working_time=case.in_working_time, closed_at=case.closed_at, correlation_id=case.correlation_id,
        allowed_actions=[a.value for a in allowed_actions(CaseState(case.status))],
        quality_notified_at=case.quality_notified_at, executive_notified_at=case.executive_notified_at,
        escalated_to_body=case.escalated_to_body, claim_kind=case.claim_kind,
        claim_amount_yuan=case.claim_amount_yuan, claim_decision=case.claim_decision,
        return_visit_choice=case.return_visit_choice, return_visit_basis=case.return_visit_basis,
        return_visit_required=case.return_visit_required, follow_up_of=case.follow_up_of,
        state_name=name_of("state", case.status), kind_name=name_of("kind", case.kind),
        category_name=name_of("category", case.category), complaint_class_name=name_of("complaint_class", case.complaint_class),
        valid_name=name_of("validity", case.valid), important_name=name_of("yes_no", case.important),
        lead_department_name=name_of("department", case.lead_department),
        assisting_department_names=[name_of("department", d) for d in case.assisting_departments or []],
        allowed_action_names=[name_of("action", a.value) for a in allowed_actions(CaseState(case.status))],
    )


def _deadline_out(d: DeadlineRecord) -> DeadlineOut:
    # Chinese by default; English on request (?lang=en or Accept-Language: en)
    return DeadlineOut(kind=d.kind, kind_name=name_of("deadline", d.kind), starts_at=d.starts_at, due_at=d.due_at, explanation=pick(d.explanation, d.explanation_en),
                       calendar_version=d.calendar_version, met_at=d.met_at, breached_at=d.breached_at,
                       cancelled_at=d.cancelled_at, escalated_to=d.escalated_to, provisional=bool(d.provisional))


def _step_out(s: CaseStepRecord) -> StepOut:
    return StepOut(action=s.action, previous_state=s.previous_state, state=s.state, actor=s.actor, at=s.at,
                   note=s.note)


def _action_out(a: CorrectiveAction) -> CorrectiveActionOut:
    return CorrectiveActionOut(action_id=a.id, department=a.department, description=a.description,
                               recorded_by=a.recorded_by, recorded_at=a.recorded_at, verified_by=a.verified_by,
                               verified_at=a.verified_at, effective=a.effective,
                               verification_note=a.verification_note)


# Who may do what to a case (docs/domain.md §3). Everyone acts only on cases inside their org units.
READ = require(Role.CUSTOMER_SERVICE, Role.HANDLER, Role.QUALITY, Role.SITE_TEAM, Role.CUSTOMER_MANAGER,
               Role.EXECUTIVE, Role.ADMINISTRATOR)
# The lifecycle: customer service (first contact, answers), handlers (measures, resolution), quality
# (tracking), administrators (corrections).
HANDLE = require(Role.CUSTOMER_SERVICE, Role.HANDLER, Role.QUALITY, Role.ADMINISTRATOR)
# Classification, naming the responsible department, and escalation are triage decisions.
TRIAGE = require(Role.CUSTOMER_SERVICE, Role.QUALITY, Role.ADMINISTRATOR)
ESCALATE = require(Role.CUSTOMER_SERVICE, Role.HANDLER, Role.QUALITY, Role.ADMINISTRATOR)
# Corrective actions come from the responsible department; only quality verifies their effect.
CORRECT = require(Role.HANDLER, Role.QUALITY, Role.ADMINISTRATOR)
VERIFY = require(Role.QUALITY, Role.ADMINISTRATOR)
# Deciding that no corrective action is needed, and publishing a complaint, are the quality department's.
QUALITY_DECIDES = require(Role.QUALITY, Role.ADMINISTRATOR)


def caller_sees(case: Case) -> bool:
    """Whether the caller of this request may see the case (unknown caller: no)."""
    access = current_access()
    return access is not None and access.principal.may_see_org(case.org_group, case.org_subsidiary, case.org_project)


def build_router(*, uow_factory: UnitOfWorkFactory, deps: service.Collaborators) -> APIRouter:
    router = APIRouter(prefix="/api/v1/cases", tags=["cases"])

    def not_found(case_id: uuid.UUID) -> HTTPException:
        return HTTPException(404, {"error": "not_found", "case_id": str(case_id)})

    async def detail(uow: UnitOfWork, case: Case) -> CaseDetailOut:
        waiver = await uow.session.get(CorrectiveActionWaiver, case.id)
        publication = await uow.session.get(ComplaintPublication, case.id)
        return CaseDetailOut(
            **case_out(case),
            deadlines=[_deadline_out(d) for d in await service.deadlines(case.id, uow=uow)],
            history=[_step_out(s) for s in await service.history(case.id, uow=uow)],
            corrective_action_status=(await service.corrective_action_status(uow, case.id)).value,
            corrective_actions=[_action_out(a) for a in await service.corrective_actions(case.id, uow=uow)],
            corrective_action_waiver=WaiverOut(reason=waiver.reason, recorded_by=waiver.recorded_by,
                                               recorded_at=waiver.recorded_at) if waiver else None,
            publication=PublicationOut(basis=publication.basis, summary=publication.summary,
                                       published_by=publication.published_by,
                                       published_at=publication.published_at) if publication else None,
            notifications=[NotificationOut(
                reason=n.reason, deadline_kind=n.deadline_kind, recipient_role=n.recipient_role,
                recipient=n.recipient, channel=n.channel, created_at=n.created_at, attempts=n.attempts,
                sent_at=n.sent_at, failed_at=n.failed_at, last_error=n.last_error,
            ) for n in await notifications_of(case.id, uow=uow)],
        )

    async def run(case_id: uuid.UUID, use_case: Callable[[UnitOfWork], Awaitable[Any]]) -> CaseDetailOut:
        """One use case in one transaction; 404 for an unknown case (or one outside the caller's org
        units), 409 for a wrong transition."""
        try:
            async with uow_factory() as uow:
                visible = await service.get_case(case_id, uow=uow)
                if visible is None or not caller_sees(visible):
                    raise not_found(case_id)
                await use_case(uow)
                await uow.commit()
            async with uow_factory() as uow:
                case = await service.get_case(case_id, uow=uow)
                assert case is not None
                return await detail(uow, case)
        except service.CaseNotFound as exc:
            raise HTTPException(404, {"error": "not_found", "case_id": str(case_id), "detail": str(exc)}) from exc
        except TransitionRefused as exc:
            raise HTTPException(409, {
                "error": "invalid_transition", "action": exc.action.value, "state": exc.state.value,
                "reason": exc.reason_for_people(), "state_name": name_of("state", exc.state.value),
                "allowed_actions": [a.value for a in allowed_actions(exc.state)],
                "allowed_action_names": [name_of("action", a.value) for a in allowed_actions(exc.state)],
            }) from exc
        except service.InvalidInput as exc:
            raise HTTPException(422, {"error": "validation_failed", "fields": [
                {"field": exc.field, "reason": exc.reason, "type": "value_error"}]}) from exc
        except service.StepRefused as exc:
            raise HTTPException(409, {"error": "refused", "case_id": str(case_id), "reason": exc.reason}) from exc

    def step(action: Action) -> Callable[..., Awaitable[CaseDetailOut]]:
        async def endpoint(case_id: uuid.UUID, body: StepIn) -> CaseDetailOut:
            return await run(case_id, lambda uow: service.act(
                case_id, action, actor=body.actor, note=body.note, uow=uow, deps=deps,
                expected_version=body.expected_version))
        return endpoint

    @router.get("", response_model=list[CaseOut])
    async def find(caller: Annotated[Principal, Depends(READ)], page: Annotated[Page, Depends()],
                   handler: str | None = None,
                   department: Department | None = None, state: CaseState | None = None,
                   feedback_id: uuid.UUID | None = None) -> list[CaseOut]:
        """My cases (``?handler=``), a department's (``?department=``), by state or by feedback; only
        inside the caller's org units."""
        async with uow_factory() as uow:
            cases = await service.find_cases(uow=uow, handler=handler, department=department.value if department else None,
                                             state=state.value if state else None, feedback_id=feedback_id,
                                             visible=org_columns_clause(caller, Case.org_group, Case.org_subsidiary, Case.org_project))
        return [CaseOut(**case_out(c)) for c in page.of(cases)]

    @router.get("/overdue", response_model=list[CaseOut])
    async def overdue(caller: Annotated[Principal, Depends(READ)], page: Annotated[Page, Depends()]) -> list[CaseOut]:
        """Open cases with a deadline past due and not met, inside the caller's org units."""
        async with uow_factory() as uow:
            cases = await service.find_cases(uow=uow, overdue_at=deps.clock(),
                                             visible=org_columns_clause(caller, Case.org_group, Case.org_subsidiary, Case.org_project))
        return [CaseOut(**case_out(c)) for c in page.of(cases)]

    @router.get("/{case_id}", response_model=CaseDetailOut, dependencies=[Depends(READ)])
    async def get(case_id: uuid.UUID) -> CaseDetailOut:
        async with uow_factory() as uow:
            case = await service.get_case(case_id, uow=uow)
            if case is None or not caller_sees(case):
                raise not_found(case_id)
            return await detail(uow, case)

    router.add_api_route("/{case_id}/acknowledge", step(Action.ACKNOWLEDGE), methods=["POST"], dependencies=[Depends(HANDLE)],
                         response_model=CaseDetailOut, summary="Acknowledge (the first response)")
    router.add_api_route("/{case_id}/deliver-result", step(Action.DELIVER_RESULT), methods=["POST"], dependencies=[Depends(HANDLE)],
                         response_model=CaseDetailOut, summary="The result went back to the customer")
    router.add_api_route("/{case_id}/request-scope-confirmation", step(Action.REQUEST_SCOPE_CONFIRMATION),
                         methods=["POST"], dependencies=[Depends(HANDLE)], response_model=CaseDetailOut,
                         summary="Out of contract scope: ask the customer to confirm (may be charged)")
    router.add_api_route("/{case_id}/explain-invalid", step(Action.EXPLAIN_INVALID), methods=["POST"], dependencies=[Depends(HANDLE)],
                         response_model=CaseDetailOut, summary="An invalid complaint got its reasoned answer")
    router.add_api_route("/{case_id}/close", step(Action.CLOSE), methods=["POST"], dependencies=[Depends(HANDLE)], response_model=CaseDetailOut)

    @router.post("/{case_id}/measures", dependencies=[Depends(HANDLE)], response_model=CaseDetailOut, summary="Report the department's measures")
    async def measures(case_id: uuid.UUID, body: MeasuresIn) -> CaseDetailOut:
        return await run(case_id, lambda uow: service.act(case_id, Action.REPORT_MEASURES, actor=body.actor,
                                                          note=body.note, uow=uow, deps=deps,
                                                          expected_version=body.expected_version))

    @router.post("/{case_id}/resolve", dependencies=[Depends(HANDLE)], response_model=CaseDetailOut)
    async def resolve(case_id: uuid.UUID, body: ResolveIn) -> CaseDetailOut:
        return await run(case_id, lambda uow: service.act(case_id, Action.RESOLVE, actor=body.actor, note=body.note,
                                                          uow=uow, deps=deps, expected_version=body.expected_version))

    @router.post("/{case_id}/customer-acceptance", dependencies=[Depends(HANDLE)], response_model=CaseDetailOut,
                 summary="Record whether the customer accepts the result")
    async def acceptance(case_id: uuid.UUID, body: AcceptanceIn) -> CaseDetailOut:
        action = Action.ACCEPT_RESULT if body.accepted else Action.REJECT_RESULT
        return await run(case_id, lambda uow: service.act(case_id, action, actor=body.actor, note=body.note,
                                                          uow=uow, deps=deps, expected_version=body.expected_version))

    @router.post("/{case_id}/scope-decision", dependencies=[Depends(HANDLE)], response_model=CaseDetailOut)
    async def scope_decision(case_id: uuid.UUID, body: ScopeDecisionIn) -> CaseDetailOut:
        action = Action.CONFIRM_SCOPE if body.confirmed else Action.DECLINE_SCOPE
        return await run(case_id, lambda uow: service.act(
            case_id, action, actor=body.actor, note=body.note, uow=uow, deps=deps,
            expected_version=body.expected_version, chargeable=body.chargeable if body.confirmed else None))

    @router.post("/{case_id}/hand-over", dependencies=[Depends(HANDLE)], response_model=CaseDetailOut,
                 summary="Hand a claim beyond our authority to the developer")
    async def hand_over(case_id: uuid.UUID, body: HandOverIn) -> CaseDetailOut:
        return await run(case_id, lambda uow: service.act(
            case_id, Action.HAND_OVER, actor=body.actor, note=body.note, uow=uow, deps=deps,
            expected_version=body.expected_version, handed_over_to=body.to))

    @router.post("/{case_id}/assign", dependencies=[Depends(TRIAGE)], response_model=CaseDetailOut)
    async def assign(case_id: uuid.UUID, body: AssignIn) -> CaseDetailOut:
        return await run(case_id, lambda uow: service.assign(
            case_id, lead=body.lead_department, assisting=body.assisting_departments, handler=body.handler,
            actor=body.actor, uow=uow, deps=deps))

    @router.post("/{case_id}/classify", dependencies=[Depends(TRIAGE)], response_model=CaseDetailOut, summary="Classify a case from triage")
    async def classify(case_id: uuid.UUID, body: ClassificationIn) -> CaseDetailOut:
        return await run(case_id, lambda uow: service.classify_from_triage(
            case_id, category=body.category, complaint_class=body.complaint_class, valid=body.valid,
            important=body.important, actor=body.actor, uow=uow, deps=deps))

    @router.post("/{case_id}/reclassify", dependencies=[Depends(TRIAGE)], response_model=CaseDetailOut)
    async def reclassify(case_id: uuid.UUID, body: ReclassifyIn) -> CaseDetailOut:
        return await run(case_id, lambda uow: service.reclassify(
            case_id, category=body.category, complaint_class=body.complaint_class, valid=body.valid,
            important=body.important, reason=body.reason, actor=body.actor, uow=uow, deps=deps))

    @router.post("/{case_id}/difficult", dependencies=[Depends(ESCALATE)], response_model=CaseDetailOut,
                 summary="Cannot be solved at once: report to quality and the executive within half a day")
    async def difficult(case_id: uuid.UUID, body: StepIn) -> CaseDetailOut:
        return await run(case_id, lambda uow: service.mark_difficult(case_id, actor=body.actor, note=body.note,
                                                                     uow=uow, deps=deps))

    @router.post("/{case_id}/quality-deadline", dependencies=[Depends(VERIFY)], response_model=CaseDetailOut,
                 summary="The quality department's own deadline for a difficult complaint (met when resolved)")
    async def quality_deadline(case_id: uuid.UUID, body: QualityDeadlineIn) -> CaseDetailOut:
        return await run(case_id, lambda uow: service.set_quality_deadline(
            case_id, due_at=body.due_at, note=body.note, actor=body.actor, uow=uow, deps=deps))

    @router.post("/{case_id}/external-body", dependencies=[Depends(READ)], response_model=CaseDetailOut,
                 summary="The complaint also reached the group, a government office or the media")
    async def external_body(case_id: uuid.UUID, body: ExternalBodyIn) -> CaseDetailOut:
        return await run(case_id, lambda uow: service.record_external_body(
            case_id, body=body.body, note=body.note, actor=body.actor, uow=uow, deps=deps))

    @router.post("/{case_id}/claim", dependencies=[Depends(HANDLE)], response_model=CaseDetailOut,
                 summary="A claim for compensation or a return / exchange: the developer's beyond our authority")
    async def claim(case_id: uuid.UUID, body: ClaimIn) -> CaseDetailOut:
        return await run(case_id, lambda uow: service.record_claim(
            case_id, kind=body.kind, amount_yuan=body.amount_yuan, developer_involved=body.developer_involved,
            note=body.note, actor=body.actor, uow=uow, deps=deps))

    def party_step(action: Action) -> Callable[..., Awaitable[CaseDetailOut]]:
        async def endpoint(case_id: uuid.UUID, body: PartyReportIn) -> CaseDetailOut:
            return await run(case_id, lambda uow: service.act(
                case_id, action, actor=body.actor, note=body.note, uow=uow, deps=deps,
                expected_version=body.expected_version))
        return endpoint

    router.add_api_route("/{case_id}/party-report", party_step(Action.REPORT_TO_PARTY), methods=["POST"],
                         dependencies=[Depends(HANDLE)], response_model=CaseDetailOut,
                         summary="Class 3: the special report to the party responsible")
    router.add_api_route("/{case_id}/result-publication", party_step(Action.PUBLISH_RESULT), methods=["POST"],
                         dependencies=[Depends(HANDLE)], response_model=CaseDetailOut,
                         summary="Class 3: that party's result published to the customers concerned")

    @router.post("/{case_id}/escalate", dependencies=[Depends(ESCALATE)], response_model=CaseDetailOut)
    async def escalate(case_id: uuid.UUID, body: EscalateIn) -> CaseDetailOut:
        return await run(case_id, lambda uow: service.escalate(case_id, to=body.to, reason=body.reason,
                                                               actor=body.actor, uow=uow, deps=deps))

    @router.post("/{case_id}/corrective-actions", dependencies=[Depends(CORRECT)], response_model=CorrectiveActionOut, status_code=201)
    async def corrective_action(case_id: uuid.UUID, body: CorrectiveActionIn) -> CorrectiveActionOut:
        recorded: list[CorrectiveAction] = []

        async def use_case(uow: UnitOfWork) -> None:
            recorded.append(await service.record_corrective_action(
                case_id, department=body.department, description=body.description, actor=body.actor, uow=uow,
                deps=deps))

        await run(case_id, use_case)
        return _action_out(recorded[0])

    @router.post("/{case_id}/corrective-actions/{action_id}/verification", dependencies=[Depends(VERIFY)], response_model=CorrectiveActionOut)
    async def verify(case_id: uuid.UUID, action_id: uuid.UUID, body: VerificationIn) -> CorrectiveActionOut:
        verified: list[CorrectiveAction] = []

        async def use_case(uow: UnitOfWork) -> None:
            verified.append(await service.verify_corrective_action(
                case_id, action_id, effective=body.effective, actor=body.actor, note=body.note, uow=uow, deps=deps))

        await run(case_id, use_case)
        return _action_out(verified[0])

    @router.post("/{case_id}/corrective-action-waiver", dependencies=[Depends(QUALITY_DECIDES)],
                 response_model=CaseDetailOut, status_code=201,
                 summary="Quality: this complaint needs no corrective action, and why (recorded once)")
    async def waive(case_id: uuid.UUID, body: WaiverIn) -> CaseDetailOut:
        return await run(case_id, lambda uow: service.waive_corrective_action(
            case_id, reason=body.reason, actor=body.actor, uow=uow, deps=deps))

    @router.post("/{case_id}/publication", dependencies=[Depends(QUALITY_DECIDES)], response_model=CaseDetailOut,
                 status_code=201, summary="Quality: publish an important or representative complaint (once)")
    async def publish(case_id: uuid.UUID, body: PublicationIn) -> CaseDetailOut:
        return await run(case_id, lambda uow: service.publish_complaint(
            case_id, basis=body.basis, summary=body.summary, actor=body.actor, uow=uow, deps=deps))

    @router.post("/{case_id}/return-visit-decision", dependencies=[Depends(QUALITY_DECIDES)],
                 response_model=CaseDetailOut,
                 summary="Quality: whether this case gets a return visit (important complaints always do)")
    async def choose_return_visit(case_id: uuid.UUID, body: ReturnVisitChoiceIn) -> CaseDetailOut:
        return await run(case_id, lambda uow: service.choose_return_visit(
            case_id, return_visit=body.return_visit, reason=body.reason, actor=body.actor, uow=uow, deps=deps))

    return router
