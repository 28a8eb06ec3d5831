"""Routing's use cases: open, classify, route and move cases; schedule and watch deadlines.

They change state and queue events through the unit of work; the caller commits (the consumer
after a batch, the HTTP route after the request).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.routing.claims import DEFAULT_AUTHORITY_YUAN, ClaimKind, decide_claim
from services.routing.classification.classifier import LEAD_ALONE, route_for_class
from services.routing.lifecycle import (
    Action,
    CaseFacts,
    CaseState,
    CorrectiveStatus,
    TransitionRefused,
    corrective_status,
    next_state,
)
from services.routing.models import (
    Case,
    CaseStepRecord,
    ComplaintPublication,
    CorrectiveAction,
    CorrectiveActionWaiver,
    DeadlineRecord,
)
from services.routing.models import outbox as routing_outbox
from services.routing import return_visits as rv
from services.routing.return_visits import ReturnVisitRule
from shared.clock import CHINA, Clock
from shared.db import UnitOfWork
from shared.db.uow import ManyRows
from shared.erasure import clear_published_events
from shared.events import ComplaintClassified, ComplaintClassifiedData, FeedbackReceived, OrgPath
from shared.events.cases import (
    CaseAssigned,
    CaseAssignedData,
    CaseEscalated,
    CaseEscalatedData,
    CaseOpened,
    CaseOpenedData,
    CaseTransitioned,
    CaseTransitionedData,
    ComplaintPublished,
    ComplaintPublishedData,
    ComplaintReclassified,
    ComplaintReclassifiedData,
    CorrectiveActionData,
    CorrectiveActionRecorded,
    CorrectiveActionWaived,
    CorrectiveActionWaivedData,
    Deadline,
    DeadlineBreached,
    DeadlineMet,
    DeadlineOutcomeData,
    DeadlinesScheduled,
    DeadlinesScheduledData,
    ReturnVisitDecided,
    ReturnVisitDecidedData,
)
from shared.events.vocabulary import ComplaintCategory, Department, FeedbackKind
from shared.logging import redact
from shared.pii_detect import names_marked

PRODUCER = "routing"
SYSTEM = "system"

# Who hears of a breach (docs/domain.md §3): the superior for a late first response, the quality
# department for late measures or a late result, the executive for a difficult complaint.
ESCALATE_TO = {
    "first_response": "customer_service_supervisor",
    "difficult_escalation": "executive",
    "measures_report": "quality_department",
    "result_delivery": "quality_department",
    # The quality department's own deadline for a difficult complaint: the executive hears of it.
    "quality_department": "executive",
}

# The action that meets each deadline.
MET_BY = {
    Action.ACKNOWLEDGE: "first_response",
    Action.EXPLAIN_INVALID: "first_response",
    Action.REPORT_MEASURES: "measures_report",
    Action.DELIVER_RESULT: "result_delivery",
    # The quality department's deadline for a difficult complaint is for its handling to end.
    Action.RESOLVE: "quality_department",
}

# A difficult class-1 complaint is reported to both of these (seed 002): its escalation deadline
# is met when the second of them has been told.
DIFFICULT_REPORTED_TO = ("quality_department", "executive")


# --- ports ------------------------------------------------------------------------------------


class ClassificationResult(Protocol):
    category: ComplaintCategory
    complaint_class: int
    valid: bool
    important: bool
    confidence: float
    rules_fired: tuple[str, ...]
    rules_version: str
    needs_triage: bool
    lead_department: Department
    assisting_departments: tuple[Department, ...]


class Classifier(Protocol):
    def classify(
        self, text: str, *, kind: str, channel: str, project_stage: str | None, org_path: str
    ) -> ClassificationResult: ...

    def route(self, category: ComplaintCategory, org_path: str) -> tuple[Department, tuple[Department, ...]]: ...


class PlannedDeadline(Protocol):
    kind: str
    starts_at: datetime
    due_at: datetime
    explanation: str


class DeadlinePlanner(Protocol):
    """Due times on the business calendar of the case's org unit (services.routing.adapters)."""

    @property
    def calendar_version(self) -> str: ...

    def in_working_time(self, moment: datetime, org_path: str) -> bool: ...

    def plan(self, kind: str, start: datetime, org_path: str) -> PlannedDeadline: ...


@dataclass(frozen=True)
class Collaborators:
    """What the use cases need besides the unit of work (wired in app.py)."""

    clock: Clock
    classifier: Classifier
    planner: DeadlinePlanner
    #: Notifications to people (services.routing.notifications.service.Notices); None: none.
    notices: Any = None
    #: The company's authority for claims, in yuan: above it a claim goes to the developer.
    claim_authority_yuan: Decimal = DEFAULT_AUTHORITY_YUAN
    #: Which cases get a return visit besides the important ones (services.routing.return_visits).
    return_visit_rule: ReturnVisitRule = ReturnVisitRule.IMPORTANT_ONLY


class CaseNotFound(LookupError):
    pass


class StepRefused(Exception):
    """A corrective-action or publication step that is not possible now; ``reason`` says why (HTTP 409)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- opening and classifying ------------------------------------------------------------------


def _org(case: Case) -> OrgPath:
    return OrgPath(group=case.org_group, subsidiary=case.org_subsidiary, project=case.org_project)


def _emit(uow: UnitOfWork, event_cls: Any, case: Case, data: Any, now: datetime, *, caused_by: Any = None) -> None:
    data = with_names_masked(data, case.customer_name_marks)
    uow.publish(
        event_cls.create(
            data=data, org=_org(case), aggregate_id=case.id, occurred_at=now, producer=PRODUCER,
            correlation_id=case.correlation_id, caused_by=caused_by,
        )
    )


def with_names_masked(data: Any, marks: Any) -> Any:
    """``data`` validated again with the customer's names of ``marks`` looked for in its staff text
    (a note may name the customer: "已与业主张三约定周五上门")."""
    if not marks:
        return data
    with names_marked(marks):
        return type(data).model_validate(data.model_dump())


async def open_case(event: FeedbackReceived, *, uow: UnitOfWork, deps: Collaborators) -> uuid.UUID | None:
    """A case for every piece of feedback; a complaint is classified, routed and timed at once.

    Returns the case id, or None when the feedback has a case already.

    The new case is worked out in memory first (classified, sent to triage or assigned: the same
    transitions and events as a handler's), then written as one row in the state it ends in; its
    history and deadlines go out with the unit of work's deferred writes. Nothing is queued unless
    the row was inserted.
    """
    now = deps.clock()
    data = event.data
    org_path = event.org.as_path()
    in_working_time = data.in_working_time
    if in_working_time is None:
        in_working_time = deps.planner.in_working_time(data.received_at, org_path)
    owner = data.received_by
    if data.follow_up_of is not None:
        owner = await first_contact_owner_of(data.follow_up_of, uow=uow) or owner
    case = _NewCase(
        id=uuid.uuid4(), feedback_id=data.feedback_id, kind=data.kind.value, status=CaseState.RECEIVED.value,
        first_contact_owner=owner, follow_up_of=data.follow_up_of, customer_id=data.customer_id,
        customer_name_marks=list(data.customer_name_marks), project_id=data.project_id,
        project_stage=data.project_stage.value if data.project_stage else None, channel=data.channel.value,
        unit=data.unit, incident_group_id=data.incident_group_id, in_working_time=in_working_time,
        org_group=event.org.group, org_subsidiary=event.org.subsidiary, org_project=event.org.project,
        received_at=data.received_at, correlation_id=event.correlation_id,
    )  # not an ORM object: the row is inserted below, as it ends up
    opened = CaseOpenedData(
        case_id=case.id, feedback_id=data.feedback_id, kind=data.kind, received_at=data.received_at,
        in_working_time=in_working_time, first_contact_owner=owner, customer_id=data.customer_id,
        project_id=data.project_id, incident_group_id=data.incident_group_id, duplicate_of=data.duplicate_of,
        follow_up_of=data.follow_up_of,
    )
    if data.kind is not FeedbackKind.COMPLAINT:
        if not await _insert_case(uow, case):
            return None
        _emit(uow, CaseOpened, case, opened, now, caused_by=event)
        return case.id

    first_response = deps.planner.plan("first_response", data.received_at, org_path)
    result = deps.classifier.classify(
        data.text, kind=data.kind.value, channel=data.channel.value,
        project_stage=data.project_stage.value if data.project_stage else None, org_path=org_path,
    )
    _apply_classification(case, result)
    if result.needs_triage:
        triage = _transition(case, Action.SEND_TO_TRIAGE, actor=SYSTEM, now=now,
                             note=f"confidence {result.confidence:.2f} below the triage threshold")
    else:
        classify = _transition(case, Action.CLASSIFY, actor=SYSTEM, now=now)
        lead, assisting = route_for_class(result.complaint_class, result.lead_department,
                                          tuple(result.assisting_departments))
        assign = _assignment(case, now, lead=lead, assisting=assisting,
                             handler=None, actor=SYSTEM)
        measures = deps.planner.plan("measures_report", now, org_path)
    if not await _insert_case(uow, case):
        return None
    _emit(uow, CaseOpened, case, opened, now, caused_by=event)
    # scheduled as the case opened, before it was classified: not (yet) an important complaint
    await _schedule(uow, case, deps, now, [first_response], caused_by=event, defer=True, important=False)
    if result.needs_triage:
        _record(uow, case, triage, now=now, caused_by=event, defer=True)
        return case.id
    _record(uow, case, classify, now=now, emit=False, defer=True)
    _emit(uow, ComplaintClassified, case, ComplaintClassifiedData(
        case_id=case.id, feedback_id=data.feedback_id, category=result.category,
        complaint_class=result.complaint_class,  # type: ignore[arg-type]
        valid=result.valid, important=result.important, confidence=result.confidence,
        rules_fired=tuple(result.rules_fired), rules_version=result.rules_version,
        lead_department=assign.lead, assisting_departments=assign.assisting,
        received_at=data.received_at, needs_triage=result.needs_triage,
    ), now, caused_by=event)
    _record_assignment(uow, case, assign, now=now, caused_by=event, defer=True)
    await _schedule(uow, case, deps, now, [measures], caused_by=event, defer=True)
    return case.id


async def first_contact_owner_of(case_id: uuid.UUID, *, uow: UnitOfWork) -> str | None:
    """A follow-up case (a dissatisfied answer on a case's return visit) stays with the first-contact
    owner of the case it follows up (首问负责制), not with whoever passed it on (the survey system)."""
    return (await uow.session.execute(
        sa.select(Case.first_contact_owner).where(Case.id == case_id))).scalar_one_or_none()


_CASES = Case.__table__


class _NewCase(SimpleNamespace):
    """A case being opened, worked out in memory with the same attributes as ``Case`` (every column,
    unset ones None) before its row is written: the ORM's attribute machinery is not needed for an
    object that is never added to a session, and it cost more than the rest of opening a case."""

    def __init__(self, **values: Any) -> None:
        super().__init__(**(_UNSET_CASE | values))


_UNSET_CASE = dict.fromkeys(_CASES.c.keys())


# Every column a new case can have (those left None are written as NULL; the database's defaults
# for the rest), so that the statement is compiled once.
_NEW_CASE_COLUMNS = tuple(c.key for c in _CASES.c if c.key not in ("version", "created_at", "difficult",
                                                                       "handed_over_to", "difficult_at",
                                                                       "resolved_at", "closed_at"))
_INSERT_CASE = (
    pg_insert(_CASES)
    .values({key: sa.bindparam(key, type_=_CASES.c[key].type) for key in _NEW_CASE_COLUMNS})
    .on_conflict_do_nothing(index_elements=["feedback_id"])
    .returning(_CASES.c.id)
)
_STEP_ROWS = ManyRows(pg_insert(CaseStepRecord.__table__))


async def _insert_case(uow: UnitOfWork, case: Case) -> bool:
    """Insert the new case's row; False when its feedback has a case already."""
    values = {key: getattr(case, key) for key in _NEW_CASE_COLUMNS}
    values["rules_fired"] = values["rules_fired"] or []
    values["assisting_departments"] = values["assisting_departments"] or []
    values["customer_name_marks"] = values["customer_name_marks"] or []
    values["return_visit_done"] = bool(values["return_visit_done"])
    # Straight to the driver in the unit of work's transaction: no ORM flush on this path (nothing
    # here depends on the session's pending objects, and the case row depends on none of them).
    return bool(await uow.fetch(_INSERT_CASE, values))


def _apply_classification(case: Case, result: ClassificationResult) -> None:
    case.category = result.category.value
    case.complaint_class = result.complaint_class
    case.valid = result.valid
    case.important = result.important
    case.confidence = result.confidence
    case.rules_fired = list(result.rules_fired)
    case.rules_version = result.rules_version


# --- moving a case ----------------------------------------------------------------------------


async def _load(uow: UnitOfWork, case_id: uuid.UUID, *, for_update: bool = False) -> Case:
    query = sa.select(Case).where(Case.id == case_id)
    if for_update:
        # FOR NO KEY UPDATE: the case is changed, never its key, so rows that merely reference it
        # (steps, deadlines' breaches written by the watcher) are not blocked. A plain FOR UPDATE
        # here deadlocked with the deadline watcher: it holds a deadline and inserts a step
        # referencing the case while a handler holds the case and updates that deadline.
        query = query.with_for_update(key_share=True)
    case = (await uow.session.execute(query)).scalar_one_or_none()
    if case is None:
        raise CaseNotFound(str(case_id))
    return case


def _facts(case: Case, *, corrective: CorrectiveStatus = CorrectiveStatus.MISSING) -> CaseFacts:
    """``corrective``: the case's corrective action as looked up (:func:`corrective_action_status`);
    only closing asks, and an action that closes must look it up first."""
    return CaseFacts(state=CaseState(case.status), is_complaint=case.kind == FeedbackKind.COMPLAINT.value,
                     important=bool(case.important), valid=case.valid,
                     return_visit_done=case.return_visit_done, corrective_action=corrective,
                     complaint_class=case.complaint_class, difficult=bool(case.difficult),
                     return_visit_required=bool(case.return_visit_required))


@dataclass(frozen=True)
class _Step:
    """A transition worked out on a case in memory, to be recorded (history row, event)."""

    action: Action
    previous: CaseState
    state: CaseState
    actor: str
    note: str | None


@dataclass(frozen=True)
class _Assignment:
    step: _Step
    lead: Department
    assisting: tuple[Department, ...]
    handler: str | None


def _transition(case: Case, action: Action, *, actor: str, now: datetime, note: str | None = None,
                corrective: CorrectiveStatus = CorrectiveStatus.MISSING) -> _Step:
    """Move the case (in memory) by ``action``; raises TransitionRefused."""
    previous = CaseState(case.status)
    state = next_state(action, _facts(case, corrective=corrective))
    case.status = state.value
    if state is CaseState.CLOSED:
        case.closed_at = now
    return _Step(action, previous, state, actor, note)


def _record(uow: UnitOfWork, case: Case, step: _Step, *, now: datetime, emit: bool = True, caused_by: Any = None,
            defer: bool = False, **details: Any) -> None:
    """The step's history row and event. ``defer``: the row goes out with the unit of work's
    deferred writes, for a case whose whole history so far is deferred (a case being opened), so
    that its rows keep their order."""
    row = {"case_id": case.id, "action": step.action.value, "previous_state": step.previous.value,
           "state": step.state.value, "actor": step.actor, "at": now, "note": step.note}
    if defer:
        uow.defer(_STEP_ROWS, row, row=("step", case.id, step.action.value, now))
    else:
        uow.session.add(CaseStepRecord(**row))
    if emit:
        _emit(uow, CaseTransitioned, case, CaseTransitionedData(
            case_id=case.id, previous_state=step.previous.value, state=step.state.value, actor=step.actor, at=now,
            note=step.note, action=step.action.value, **details,
        ), now, caused_by=caused_by)


async def _step(
    uow: UnitOfWork, case: Case, action: Action, *, actor: str, now: datetime, note: str | None = None,
    emit: bool = True, caused_by: Any = None, corrective: CorrectiveStatus = CorrectiveStatus.MISSING, **details: Any,
) -> CaseState:
    step = _transition(case, action, actor=actor, now=now, note=note, corrective=corrective)
    _record(uow, case, step, now=now, emit=emit, caused_by=caused_by, **details)
    return step.state


def _assignment(case: Case, now: datetime, *, lead: Department, assisting: tuple[Department, ...],
                handler: str | None, actor: str) -> _Assignment:
    step = _transition(case, Action.ASSIGN, actor=actor, now=now,
                       note=f"lead {lead.value}" + (f", handler {handler}" if handler else ""))
    case.lead_department = lead.value
    case.assisting_departments = [d.value for d in assisting]
    case.handler = handler
    case.assigned_at = now
    return _Assignment(step, lead, assisting, handler)


def _record_assignment(uow: UnitOfWork, case: Case, assignment: _Assignment, *, now: datetime,
                       caused_by: Any = None, defer: bool = False) -> None:
    step = assignment.step
    _record(uow, case, step, now=now, emit=False, defer=defer)
    _emit(uow, CaseAssigned, case, CaseAssignedData(
        case_id=case.id, previous_state=step.previous.value, state=step.state.value, actor=step.actor, at=now,
        lead_department=assignment.lead, assisting_departments=assignment.assisting, handler=assignment.handler,
    ), now, caused_by=caused_by)


async def _assign(
    uow: UnitOfWork, case: Case, deps: Collaborators, now: datetime, *, lead: Department,
    assisting: tuple[Department, ...], handler: str | None, actor: str, caused_by: Any = None,
) -> None:
    _record_assignment(uow, case, _assignment(case, now, lead=lead, assisting=assisting, handler=handler, actor=actor),
                       now=now, caused_by=caused_by)
    # The receiving department reports its measures within 1 working day of the assignment.
    await _schedule(uow, case, deps, now, [deps.planner.plan("measures_report", now, case_org_path(case))],
                    caused_by=caused_by)


def case_org_path(case: Case) -> str:
    return _org(case).as_path()


async def act(
    case_id: uuid.UUID, action: Action, *, actor: str, note: str | None, uow: UnitOfWork, deps: Collaborators,
    expected_version: int | None = None, **details: Any,
) -> Case:
    """Apply one lifecycle action; meets, schedules or cancels deadlines as the action implies."""
    now = deps.clock()
    case = await _load(uow, case_id, for_update=True)
    if expected_version is not None and case.version != expected_version:
        raise TransitionRefused(action, CaseState(case.status),
                                f"案件已被他人修改（您看到的是第 {expected_version} 版，现在是第 {case.version} 版），请刷新后再操作",
                                f"the case changed since version {expected_version} (now {case.version})")
    if action is Action.ACCEPT_RESULT or action is Action.REJECT_RESULT:
        details["accepted"] = action is Action.ACCEPT_RESULT
    corrective = await corrective_action_status(uow, case.id) if action is Action.CLOSE else CorrectiveStatus.MISSING
    state = await _step(uow, case, action, actor=actor, now=now, note=note, corrective=corrective, **details)
    if action is Action.HAND_OVER:
        case.handed_over_to = details.get("handed_over_to")
    if action is Action.COMPLETE_RETURN_VISIT:
        case.return_visit_done = True
    if action is Action.RESOLVE:
        case.resolved_at = now
        # The result goes back to the customer within 48 hours of the handling ending.
        await _schedule(uow, case, deps, now, [deps.planner.plan("result_delivery", now, case_org_path(case))])
    if action in MET_BY:
        await _meet(uow, case, MET_BY[action], now)
    if action is Action.REJECT_RESULT:
        case.resolved_at = None
    if action is Action.ACCEPT_RESULT:
        # The return-visit decision in force now is the one that counts; the survey service issues it.
        _decide_return_visit(uow, case, deps, now, actor=SYSTEM, note=None)
        if case.return_visit_done:  # the visit came back before the result was accepted
            await _step(uow, case, Action.COMPLETE_RETURN_VISIT, actor=SYSTEM, now=now,
                        note="回访结果已在顾客认可处理结果前返回")
    if state in (CaseState.CLOSED, CaseState.HANDED_OVER, CaseState.INVALID_EXPLAINED):
        await _cancel_pending(uow, case, now)
    return case


async def assign(
    case_id: uuid.UUID, *, lead: Department, assisting: Sequence[Department], handler: str | None, actor: str,
    uow: UnitOfWork, deps: Collaborators,
) -> Case:
    case = await _load(uow, case_id, for_update=True)
    alone = LEAD_ALONE.get(ComplaintCategory(case.category)) if case.category else None
    if alone is not None and lead not in alone:  # service attitude: customer service or general affairs
        raise InvalidInput("lead_department", "服务态度、服务提供类投诉由客户服务部或综合部牵头")
    if alone is not None and assisting:
        raise InvalidInput("assisting_departments", "服务态度、服务提供类投诉不设协办部门")
    await _assign(uow, case, deps, deps.clock(), lead=lead, assisting=tuple(assisting), handler=handler, actor=actor)
    return case


async def classify_from_triage(
    case_id: uuid.UUID, *, category: ComplaintCategory, complaint_class: int, valid: bool, important: bool,
    actor: str, uow: UnitOfWork, deps: Collaborators,
) -> Case:
    """A person confirms the classification of a complaint that was sent to triage."""
    now = deps.clock()
    case = await _load(uow, case_id, for_update=True)
    if CaseState(case.status) is not CaseState.TRIAGE:
        raise TransitionRefused(Action.CLASSIFY, CaseState(case.status))
    lead, assisting = route_for_class(complaint_class, *deps.classifier.route(category, case_org_path(case)))
    case.category, case.complaint_class, case.valid, case.important = category.value, complaint_class, valid, important
    case.confidence, case.rules_version = 1.0, f"manual:{actor}"
    await _step(uow, case, Action.CLASSIFY, actor=actor, now=now, emit=False)
    _emit(uow, ComplaintClassified, case, ComplaintClassifiedData(
        case_id=case.id, feedback_id=case.feedback_id, category=category,
        complaint_class=complaint_class,  # type: ignore[arg-type]
        valid=valid, important=important, confidence=1.0, rules_version=f"manual:{actor}",
        lead_department=lead, assisting_departments=assisting, received_at=case.received_at, classified_by=actor,
    ), now)
    await _assign(uow, case, deps, now, lead=lead, assisting=assisting, handler=None, actor=actor)
    return case


async def reclassify(
    case_id: uuid.UUID, *, category: ComplaintCategory, complaint_class: int, valid: bool, important: bool,
    reason: str, actor: str, uow: UnitOfWork, deps: Collaborators,
) -> Case:
    """Staff correct a classification: an event, a new route, and the measures deadline again."""
    now = deps.clock()
    case = await _load(uow, case_id, for_update=True)
    next_state(Action.RECLASSIFY, _facts(case))  # refuses after resolution
    previous_category = ComplaintCategory(case.category) if case.category else None
    previous_class = case.complaint_class
    lead, assisting = route_for_class(complaint_class, *deps.classifier.route(category, case_org_path(case)))
    case.category, case.complaint_class, case.valid, case.important = category.value, complaint_class, valid, important
    case.rules_version = f"manual:{actor}"
    uow.session.add(CaseStepRecord(case_id=case.id, action=Action.RECLASSIFY.value, previous_state=case.status,
                                   state=case.status, actor=actor, at=now, note=reason))
    _emit(uow, ComplaintReclassified, case, ComplaintReclassifiedData(
        case_id=case.id, feedback_id=case.feedback_id, category=category,
        complaint_class=complaint_class,  # type: ignore[arg-type]
        valid=valid, important=important, confidence=1.0, rules_version=f"manual:{actor}", lead_department=lead,
        assisting_departments=assisting, received_at=case.received_at, classified_by=actor,
        previous_category=previous_category, previous_class=previous_class,  # type: ignore[arg-type]
        reason=reason,
    ), now)
    if case.lead_department != lead.value or CaseState(case.status) is CaseState.CLASSIFIED:
        await _assign(uow, case, deps, now, lead=lead, assisting=assisting, handler=None, actor=actor)
    return case


async def mark_difficult(case_id: uuid.UUID, *, actor: str, note: str | None, uow: UnitOfWork,
                         deps: Collaborators) -> Case:
    """Cannot be solved at once: the quality department and the executive must hear within half a
    working day (seed 002)."""
    now = deps.clock()
    case = await _load(uow, case_id, for_update=True)
    if CaseState(case.status) not in (CaseState.ASSIGNED, CaseState.ACKNOWLEDGED, CaseState.MEASURES_REPORTED):
        raise TransitionRefused(Action.ASSIGN, CaseState(case.status), "只有已分派、未结束的案件才能标记为疑难",
                                "only an assigned, open case can be marked difficult")
    case.difficult, case.difficult_at = True, now
    uow.session.add(CaseStepRecord(case_id=case.id, action="mark_difficult", previous_state=case.status,
                                   state=case.status, actor=actor, at=now, note=note))
    if case.complaint_class == 1:  # seed 002 times the report for difficult class-1 complaints
        await _schedule(uow, case, deps, now, [deps.planner.plan("difficult_escalation", now, case_org_path(case))])
    return case


async def escalate(case_id: uuid.UUID, *, to: str, reason: str, actor: str, uow: UnitOfWork,
                   deps: Collaborators) -> Case:
    now = deps.clock()
    case = await _load(uow, case_id, for_update=True)
    if CaseState(case.status) is CaseState.CLOSED:
        raise TransitionRefused(Action.ASSIGN, CaseState.CLOSED, "已关闭的案件不能再上报",
                                "a closed case cannot be escalated")
    uow.session.add(CaseStepRecord(case_id=case.id, action="escalate", previous_state=case.status,
                                   state=case.status, actor=actor, at=now, note=f"to {to}: {reason}"))
    _emit(uow, CaseEscalated, case, CaseEscalatedData(
        case_id=case.id, previous_state=case.status, state=case.status, actor=actor, at=now, to=to, reason=reason,
    ), now)
    if to == "quality_department" and case.quality_notified_at is None:
        case.quality_notified_at = now
    if to == "executive" and case.executive_notified_at is None:
        case.executive_notified_at = now
    # Seed 002: the quality department AND the responsible executive; one of them is not enough.
    if to in DIFFICULT_REPORTED_TO and case.quality_notified_at and case.executive_notified_at:
        await _meet(uow, case, "difficult_escalation", now)
    if deps.notices is not None:
        await deps.notices.escalated(uow, case, to, now=now)
    return case


class InvalidInput(ValueError):
    """Bad input that the request schema cannot see (HTTP 422 with the field and the reason)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


async def set_quality_deadline(case_id: uuid.UUID, *, due_at: datetime, note: str | None, actor: str,
                               uow: UnitOfWork, deps: Collaborators) -> Case:
    """The quality department's own deadline for a difficult complaint (seed 002: after the report
    it "sets a deadline and tracks it"): by when the handling must end. Shown and counted with the
    other deadlines, met when the case is resolved, breached and escalated to the executive by the
    deadline watcher when it passes first. Setting it again moves it (until it is met)."""
    now = deps.clock()
    case = await _load(uow, case_id, for_update=True)
    next_state(Action.SET_QUALITY_DEADLINE, _facts(case))
    if due_at <= now:
        raise InvalidInput("due_at", "到期时间须晚于当前时间")
    unit_due = due_at  # as the quality department gave it, with its offset
    explanation = (f"质量部（{actor}）于 {now.astimezone(unit_due.tzinfo):%Y-%m-%d %H:%M} 设定的跟踪期限："
                   f"须于 {unit_due:%Y-%m-%d %H:%M} 前处理结束（案件办结“resolve”一步即满足）")
    explanation_en = (f"set by the quality department ({actor}) on {now.astimezone(unit_due.tzinfo):%Y-%m-%d %H:%M}: "
                      f"handling must end by {unit_due:%Y-%m-%d %H:%M} (met when the case is resolved)")
    planned = SimpleNamespace(kind="quality_department", starts_at=now, due_at=unit_due, explanation=explanation,
                              explanation_en=explanation_en, in_working_time=False,
                              calendar_version=deps.planner.calendar_version, provisional=False)
    uow.session.add(CaseStepRecord(case_id=case.id, action=Action.SET_QUALITY_DEADLINE.value,
                                   previous_state=case.status, state=case.status, actor=actor, at=now,
                                   note=f"due {unit_due.isoformat()}" + (f": {note}" if note else "")))
    await _schedule(uow, case, deps, now, [planned])
    return case


EXTERNAL_BODIES = ("group", "government", "media")


async def record_external_body(case_id: uuid.UUID, *, body: str, note: str | None, actor: str, uow: UnitOfWork,
                               deps: Collaborators) -> Case:
    """The complaint also reached the group company, a government office or the media: whoever
    received it logs it here, and the quality department tracks it (it is told, as in an
    escalation). The monthly summary counts these complaints separately."""
    if body not in EXTERNAL_BODIES:
        raise InvalidInput("body", "须为 group（集团公司）、government（政府部门）或 media（媒体）")
    now = deps.clock()
    case = await _load(uow, case_id, for_update=True)
    case.escalated_to_body = body
    uow.session.add(CaseStepRecord(case_id=case.id, action="reached_external_body", previous_state=case.status,
                                   state=case.status, actor=actor, at=now, note=f"{body}" + (f": {note}" if note else "")))
    _emit(uow, CaseEscalated, case, CaseEscalatedData(
        case_id=case.id, previous_state=case.status, state=case.status, actor=actor, at=now,
        to="quality_department", reason=f"complaint reached {body}", external_body=body,  # type: ignore[arg-type]
    ), now)
    if deps.notices is not None:
        await deps.notices.escalated(uow, case, "quality_department", now=now)
    return case


async def record_claim(case_id: uuid.UUID, *, kind: ClaimKind, amount_yuan: Decimal | None, developer_involved: bool,
                       note: str | None, actor: str, uow: UnitOfWork, deps: Collaborators) -> Case:
    """A claim for compensation, or a request to return or exchange a home after move-in, is
    recorded on the case and decided (services.routing.claims): handed to the developer when the
    loss involves it or the amount exceeds the company's authority (a setting) and always for a
    return or exchange; otherwise the company settles it and handling goes on."""
    if kind == "compensation" and amount_yuan is None:
        raise InvalidInput("amount_yuan", "索赔须填写金额（元）")
    decision = decide_claim(kind, amount_yuan=amount_yuan, developer_involved=developer_involved,
                            authority_yuan=deps.claim_authority_yuan)
    now = deps.clock()
    case = await _load(uow, case_id, for_update=True)
    if decision.to_developer:
        next_state(Action.HAND_OVER, _facts(case))  # refuses once handling has ended
    case.claim_kind, case.claim_amount_yuan, case.claim_decision = kind, amount_yuan, decision.reason
    uow.session.add(CaseStepRecord(case_id=case.id, action="claim", previous_state=case.status, state=case.status,
                                   actor=actor, at=now, note=decision.reason + (f"；{note}" if note else "")))
    if decision.to_developer:
        await act(case_id, Action.HAND_OVER, actor=actor, note=decision.reason, uow=uow, deps=deps,
                  handed_over_to="developer")
    return case


async def corrective_action_status(uow: UnitOfWork, case_id: uuid.UUID) -> CorrectiveStatus:
    """Where the case's corrective action stands (services.routing.lifecycle.corrective_status)."""
    actions = (await uow.session.execute(
        sa.select(CorrectiveAction.verified_at.is_not(None), CorrectiveAction.effective)
        .where(CorrectiveAction.case_id == case_id)
        .order_by(CorrectiveAction.recorded_at, CorrectiveAction.id))).all()
    waived = await uow.session.get(CorrectiveActionWaiver, case_id) is not None
    return corrective_status([(bool(verified), effective) for verified, effective in actions], waived=waived)


async def record_corrective_action(
    case_id: uuid.UUID, *, department: Department, description: str, actor: str, uow: UnitOfWork, deps: Collaborators,
) -> CorrectiveAction:
    """The responsible department records what it changes so that the complaint does not recur."""
    now = deps.clock()
    case = await _load(uow, case_id, for_update=True)  # serialised with closing and verifying
    responsible = {case.lead_department, *(case.assisting_departments or [])} - {None}
    if responsible and department.value not in responsible:
        raise StepRefused("纠正措施须由该投诉的责任部门（牵头或协办部门）记录")
    action = CorrectiveAction(id=uuid.uuid4(), case_id=case.id, department=department.value,
                              description=description, recorded_by=actor, recorded_at=now)
    uow.session.add(action)
    uow.session.add(CaseStepRecord(case_id=case.id, action="record_corrective_action", previous_state=case.status,
                                   state=case.status, actor=actor, at=now, note=description))
    _emit(uow, CorrectiveActionRecorded, case, CorrectiveActionData(
        case_id=case.id, action_id=action.id, department=department, description=description, actor=actor, at=now,
        recorded_at=now,
    ), now)
    return action


async def verify_corrective_action(
    case_id: uuid.UUID, action_id: uuid.UUID, *, effective: bool, actor: str, uow: UnitOfWork, deps: Collaborators,
    note: str | None = None,
) -> CorrectiveAction:
    """The quality department verifies the action's effect on the complaint list (客诉清单), once. An
    action found not effective leaves the case needing a new one before it can close."""
    now = deps.clock()
    case = await _load(uow, case_id, for_update=True)
    action = await uow.session.get(CorrectiveAction, action_id, with_for_update=True)
    if action is None or action.case_id != case.id:
        raise CaseNotFound(f"corrective action {action_id}")
    if action.verified_at is not None:
        verdict = "有效" if action.effective else "无效"
        when = action.verified_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
        raise StepRefused(f"该纠正措施已于 {when}（北京时间）由 {action.verified_by} 验证（{verdict}），"
                          "验证只记录一次；如措施无效，请由责任部门记录新的纠正措施")
    action.verified_by, action.verified_at, action.effective = actor, now, effective
    action.verification_note = note
    uow.session.add(CaseStepRecord(case_id=case.id, action="verify_corrective_action", previous_state=case.status,
                                   state=case.status, actor=actor, at=now,
                                   note=("effective" if effective else "not effective") + (f": {note}" if note else "")))
    _emit(uow, CorrectiveActionRecorded, case, CorrectiveActionData(
        case_id=case.id, action_id=action.id, department=Department(action.department),
        description=action.description, actor=actor, at=now, verified=True, effective=effective,
        recorded_at=action.recorded_at, verification_note=note,
    ), now)
    return action


async def waive_corrective_action(
    case_id: uuid.UUID, *, reason: str, actor: str, uow: UnitOfWork, deps: Collaborators,
) -> CorrectiveActionWaiver:
    """The quality department records that the complaint needs no corrective action, and why (once;
    not once an action is recorded: that one is verified instead)."""
    now = deps.clock()
    case = await _load(uow, case_id, for_update=True)
    if CaseState(case.status) is CaseState.CLOSED:
        raise StepRefused("案件已关闭，不能再记录无需纠正措施")
    if await uow.session.get(CorrectiveActionWaiver, case.id) is not None:
        raise StepRefused("已记录过无需纠正措施的理由，只记录一次")
    recorded = await uow.session.scalar(
        sa.select(sa.func.count()).select_from(CorrectiveAction).where(CorrectiveAction.case_id == case.id))
    if recorded:
        raise StepRefused("该投诉已记录纠正措施，请验证其效果，而不是记录无需纠正措施")
    waiver = CorrectiveActionWaiver(case_id=case.id, reason=reason, recorded_by=actor, recorded_at=now)
    uow.session.add(waiver)
    uow.session.add(CaseStepRecord(case_id=case.id, action="waive_corrective_action", previous_state=case.status,
                                   state=case.status, actor=actor, at=now, note=reason))
    _emit(uow, CorrectiveActionWaived, case, CorrectiveActionWaivedData(
        case_id=case.id, reason=reason, actor=actor, at=now), now)
    return waiver


async def publish_complaint(
    case_id: uuid.UUID, *, basis: str, summary: str, actor: str, uow: UnitOfWork, deps: Collaborators,
) -> ComplaintPublication:
    """The quality department publishes an important or representative complaint on the company's
    internal network (once per case). ``basis`` 'important' needs a complaint classified as important;
    any classified complaint may be published as representative. Phone numbers and e-mail addresses in
    the summary are masked: it goes out on an event."""
    now = deps.clock()
    case = await _load(uow, case_id, for_update=True)
    if case.kind != FeedbackKind.COMPLAINT.value or case.complaint_class is None:
        raise StepRefused("只有已分类的投诉才能发布")
    if basis == "important" and not case.important:
        raise StepRefused("该投诉未认定为重要投诉，可作为代表性投诉发布")
    if await uow.session.get(ComplaintPublication, case.id) is not None:
        raise StepRefused("该投诉已发布，只发布一次")
    published = ComplaintPublication(case_id=case.id, basis=basis, summary=redact(summary), published_by=actor,
                                     published_at=now)
    uow.session.add(published)
    uow.session.add(CaseStepRecord(case_id=case.id, action="publish_complaint", previous_state=case.status,
                                   state=case.status, actor=actor, at=now, note=basis))
    _emit(uow, ComplaintPublished, case, ComplaintPublishedData(
        case_id=case.id, basis=basis, summary=published.summary, actor=actor, at=now),  # type: ignore[arg-type]
        now)
    return published


async def corrective_actions(case_id: uuid.UUID, *, uow: UnitOfWork) -> list[CorrectiveAction]:
    rows = await uow.session.execute(sa.select(CorrectiveAction).where(CorrectiveAction.case_id == case_id)
                                     .order_by(CorrectiveAction.recorded_at, CorrectiveAction.id))
    return list(rows.scalars())


class ReturnVisitRefused(StepRefused):
    """The quality department's return-visit decision cannot be taken now (HTTP 409)."""

    def __init__(self, state: CaseState, reason: str) -> None:
        super().__init__(reason)
        self.state = state


#: States in which a return-visit decision for the case can still be taken or changed.
RETURN_VISIT_DECIDABLE = frozenset(CaseState) - {CaseState.RETURN_VISITED, CaseState.CLOSED}


def _return_visit_facts(case: Case) -> rv.ReturnVisitFacts:
    return rv.ReturnVisitFacts(is_complaint=case.kind == FeedbackKind.COMPLAINT.value, important=bool(case.important),
                               complaint_class=case.complaint_class, valid=case.valid, chosen=case.return_visit_choice)


def _decide_return_visit(uow: UnitOfWork, case: Case, deps: Collaborators, now: datetime, *, actor: str,
                         note: str | None) -> rv.Decision:
    """Work out the case's return visit under the rule in force, record it (history, event); once the
    result is accepted it is what the close guard asks for."""
    decision = rv.decide(_return_visit_facts(case), deps.return_visit_rule)
    accepted = CaseState(case.status) is CaseState.ACCEPTED
    if accepted:
        case.return_visit_required = decision.return_visit
    case.return_visit_basis = decision.basis.value
    uow.session.add(CaseStepRecord(case_id=case.id, action="decide_return_visit", previous_state=case.status,
                                   state=case.status, actor=actor, at=now,
                                   note=decision.label + (f"。{note}" if note else "")))
    _emit(uow, ReturnVisitDecided, case, ReturnVisitDecidedData(
        case_id=case.id, return_visit=decision.return_visit, basis=decision.basis.value,  # type: ignore[arg-type]
        rule=deps.return_visit_rule.value, result_accepted=accepted, actor=actor, at=now, note=note,
    ), now)
    return decision


async def choose_return_visit(case_id: uuid.UUID, *, return_visit: bool, reason: str | None, actor: str,
                              uow: UnitOfWork, deps: Collaborators) -> Case:
    """The quality department decides whether this case gets a return visit (回访). An important
    complaint always gets one; once the visit is issued (the result accepted with a visit due) or
    done, or the case closed, the decision stands."""
    now = deps.clock()
    case = await _load(uow, case_id, for_update=True)
    state = CaseState(case.status)
    if state not in RETURN_VISIT_DECIDABLE:
        raise ReturnVisitRefused(state, "案件已回访或已关闭，回访决定不能再改")
    if not return_visit and case.kind == FeedbackKind.COMPLAINT.value and case.important:
        raise ReturnVisitRefused(state, rv.IMPORTANT_ALWAYS)
    if not return_visit and state is CaseState.ACCEPTED and case.return_visit_required:
        raise ReturnVisitRefused(state, "回访已安排（顾客已认可处理结果），不能改为不回访")
    case.return_visit_choice = return_visit
    _decide_return_visit(uow, case, deps, now, actor=actor, note=reason)
    return case


async def return_visit_done(case_id: uuid.UUID, *, uow: UnitOfWork, deps: Collaborators, caused_by: Any) -> bool:
    """The survey service returned the case's return visit; record it once the result is accepted."""
    case = (await uow.session.execute(
        sa.select(Case).where(Case.id == case_id).with_for_update(key_share=True))).scalar_one_or_none()
    if case is None:
        return False
    state = CaseState(case.status)
    if state is CaseState.ACCEPTED:
        await _step(uow, case, Action.COMPLETE_RETURN_VISIT, actor="survey", now=deps.clock(), caused_by=caused_by)
        case.return_visit_done = True
        return True
    if state in (CaseState.CLOSED, CaseState.RETURN_VISITED) or case.return_visit_done:
        return False
    # Back before the customer accepted the result (a repair's return visit after the joint
    # acceptance): remembered, and the step is taken when the result is accepted, so that a case
    # due a return visit is not left waiting for one that already happened.
    case.return_visit_done = True
    uow.session.add(CaseStepRecord(case_id=case.id, action="return_visit_returned", previous_state=case.status,
                                   state=case.status, actor="survey", at=deps.clock(),
                                   note="回访结果已返回，待顾客认可处理结果后记为已回访"))
    return True


async def forget_customer(customer_id: uuid.UUID, *, uow: UnitOfWork) -> int:
    """Honour an erasure: cases keep their history but no longer point at the person, and the
    published case events in routing's outbox that name them or their cases go (staff notes may
    quote the person)."""
    case_ids = (await uow.session.execute(sa.select(Case.id).where(Case.customer_id == customer_id))).scalars().all()
    await clear_published_events(uow.session, routing_outbox, [str(customer_id), *map(str, case_ids)])
    result = await uow.session.execute(
        sa.update(Case).where(Case.customer_id == customer_id).values(customer_id=None, customer_name_marks=[])
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


# --- deadlines --------------------------------------------------------------------------------


_DEADLINES = DeadlineRecord.__table__
_DEADLINE_INSERT = pg_insert(_DEADLINES)
# _schedule's upsert for UnitOfWork.defer: the same statement, with the new values from EXCLUDED
_DEFERRED_SCHEDULE = ManyRows(_DEADLINE_INSERT.on_conflict_do_update(
    constraint="uq_deadline_case_kind",
    set_={"starts_at": _DEADLINE_INSERT.excluded.starts_at, "due_at": _DEADLINE_INSERT.excluded.due_at,
          "explanation": _DEADLINE_INSERT.excluded.explanation,
          "calendar_version": _DEADLINE_INSERT.excluded.calendar_version,
          "provisional": _DEADLINE_INSERT.excluded.provisional,
          "explanation_en": _DEADLINE_INSERT.excluded.explanation_en,
          "met_at": None, "breached_at": None, "cancelled_at": None, "escalated_to": None},
    where=_DEADLINES.c.met_at.is_(None),
))


async def _schedule(uow: UnitOfWork, case: Case, deps: Collaborators, now: datetime,
                    planned: list[PlannedDeadline], *, caused_by: Any = None, defer: bool = False,
                    important: bool | None = None) -> None:
    """Write the planned deadlines and say so. ``defer``: the rows go out with the unit of work's
    deferred writes (one statement for a batch of cases); whoever reads deadlines later in the same
    unit of work must flush it first (routing's handlers do). ``important``: as the event says
    (default: the case's classification)."""
    for deadline in planned:
        if defer:
            uow.defer(_DEFERRED_SCHEDULE, {
                "case_id": case.id, "kind": deadline.kind, "starts_at": deadline.starts_at,
                "due_at": deadline.due_at, "explanation": deadline.explanation,
                "calendar_version": deps.planner.calendar_version,
                "provisional": bool(getattr(deadline, "provisional", False)),
                "explanation_en": getattr(deadline, "explanation_en", None),
            }, row=("deadline", case.id, deadline.kind))
            continue
        await uow.session.execute(
            pg_insert(DeadlineRecord)
            .values(case_id=case.id, kind=deadline.kind, starts_at=deadline.starts_at, due_at=deadline.due_at,
                    explanation=deadline.explanation, calendar_version=deps.planner.calendar_version,
                    provisional=bool(getattr(deadline, "provisional", False)),
                    explanation_en=getattr(deadline, "explanation_en", None))
            .on_conflict_do_update(
                constraint="uq_deadline_case_kind",
                set_={"starts_at": deadline.starts_at, "due_at": deadline.due_at,
                      "explanation": deadline.explanation, "calendar_version": deps.planner.calendar_version,
                      "provisional": bool(getattr(deadline, "provisional", False)),
                      "explanation_en": getattr(deadline, "explanation_en", None),
                      "met_at": None, "breached_at": None, "cancelled_at": None, "escalated_to": None},
                where=DeadlineRecord.met_at.is_(None),
            )
        )
    _emit(uow, DeadlinesScheduled, case, DeadlinesScheduledData(
        case_id=case.id, calendar_version=deps.planner.calendar_version, case_received_at=case.received_at,
        complaint_important=bool(case.important if important is None else important),
        deadlines=tuple(Deadline(kind=d.kind, due_at=d.due_at, explanation=d.explanation,  # type: ignore[arg-type]
                                 provisional=bool(getattr(d, "provisional", False)),
                                 explanation_en=getattr(d, "explanation_en", None))
                        for d in planned),
    ), now, caused_by=caused_by)


async def _meet(uow: UnitOfWork, case: Case, kind: str, now: datetime) -> None:
    met = await uow.session.execute(
        sa.update(DeadlineRecord)
        .where(DeadlineRecord.case_id == case.id, DeadlineRecord.kind == kind,
               DeadlineRecord.met_at.is_(None), DeadlineRecord.cancelled_at.is_(None))
        .values(met_at=now)
        .returning(DeadlineRecord.due_at, DeadlineRecord.breached_at)
    )
    row = met.first()
    if row is not None:
        _emit(uow, DeadlineMet, case, DeadlineOutcomeData(
            case_id=case.id, kind=kind,  # type: ignore[arg-type]
            due_at=row.due_at, met_at=now, breached_at=row.breached_at,
        ), now)


async def _cancel_pending(uow: UnitOfWork, case: Case, now: datetime) -> None:
    await uow.session.execute(
        sa.update(DeadlineRecord)
        .where(DeadlineRecord.case_id == case.id, DeadlineRecord.met_at.is_(None),
               DeadlineRecord.breached_at.is_(None), DeadlineRecord.cancelled_at.is_(None))
        .values(cancelled_at=now)
    )


async def fire_due_deadlines(*, uow: UnitOfWork, clock: Clock, limit: int = 100, notices: Any = None) -> int:
    """Mark every due, unmet deadline breached and escalate it — once, whatever the number of
    routing replicas: each claims rows with SKIP LOCKED and the breach is written in the same
    transaction as its events (and, with ``notices``, its messages to the people named)."""
    now = clock()
    d = DeadlineRecord
    rows = (
        await uow.session.execute(
            sa.select(d)
            .where(d.due_at <= now, d.met_at.is_(None), d.breached_at.is_(None), d.cancelled_at.is_(None))
            .order_by(d.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).scalars().all()
    for deadline in rows:
        case = await _load(uow, deadline.case_id)
        level = ESCALATE_TO[deadline.kind]
        deadline.breached_at, deadline.escalated_to = now, level
        _emit(uow, DeadlineBreached, case, DeadlineOutcomeData(
            case_id=case.id, kind=deadline.kind,  # type: ignore[arg-type]
            due_at=deadline.due_at, breached_at=now, escalated_to=level,
        ), now)
        _emit(uow, CaseEscalated, case, CaseEscalatedData(
            case_id=case.id, previous_state=case.status, state=case.status, actor=SYSTEM, at=now, to=level,
            reason=f"{deadline.kind} deadline passed at {deadline.due_at.isoformat()}: {deadline.explanation}",
        ), now)
        uow.session.add(CaseStepRecord(case_id=case.id, action="deadline_breached", previous_state=case.status,
                                       state=case.status, actor=SYSTEM, at=now,
                                       note=f"{deadline.kind} due {deadline.due_at.isoformat()}, escalated to {level}"))
        if notices is not None:
            await notices.breached(uow, case, deadline, level, now=now)
    return len(rows)


# --- queries ----------------------------------------------------------------------------------


async def get_case(case_id: uuid.UUID, *, uow: UnitOfWork) -> Case | None:
    return await uow.session.get(Case, case_id)


async def case_for_feedback(feedback_id: uuid.UUID, *, uow: UnitOfWork) -> Case | None:
    return (await uow.session.execute(sa.select(Case).where(Case.feedback_id == feedback_id))).scalar_one_or_none()


async def history(case_id: uuid.UUID, *, uow: UnitOfWork) -> list[CaseStepRecord]:
    rows = await uow.session.execute(
        sa.select(CaseStepRecord).where(CaseStepRecord.case_id == case_id).order_by(CaseStepRecord.id))
    return list(rows.scalars())


async def deadlines(case_id: uuid.UUID, *, uow: UnitOfWork) -> list[DeadlineRecord]:
    rows = await uow.session.execute(
        sa.select(DeadlineRecord).where(DeadlineRecord.case_id == case_id).order_by(DeadlineRecord.due_at))
    return list(rows.scalars())


async def find_cases(
    *, uow: UnitOfWork, handler: str | None = None, department: str | None = None, state: str | None = None,
    overdue_at: datetime | None = None, feedback_id: uuid.UUID | None = None, limit: int = 200,
    visible: Any | None = None,
) -> list[Case]:
    """``visible``: a condition on ``Case.org_path`` limiting the caller to their org units."""
    query = sa.select(Case).order_by(Case.received_at.desc()).limit(limit)
    if visible is not None:
        query = query.where(visible)
    if handler:
        query = query.where(Case.handler == handler)
    if department:
        query = query.where(Case.lead_department == department)
    if state:
        query = query.where(Case.status == state)
    if feedback_id:
        query = query.where(Case.feedback_id == feedback_id)
    if overdue_at is not None:
        overdue = sa.select(DeadlineRecord.case_id).where(
            DeadlineRecord.met_at.is_(None), DeadlineRecord.cancelled_at.is_(None), DeadlineRecord.due_at <= overdue_at)
        query = query.where(Case.id.in_(overdue), Case.status != CaseState.CLOSED.value)
    return list((await uow.session.execute(query)).scalars())
