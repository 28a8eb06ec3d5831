"""Projections: each event becomes an idempotent, order-tolerant upsert of a fact row.

A fact that several events may set (a case's classification, state, lead department, a deadline's
due time) carries the time it was true "as of" and is only overwritten by a newer one; facts set
once (when a case was received) are filled in by whichever event arrives first. The inbox in the
consumer's transaction makes a redelivered event a no-op.

The statements are built once, at import, and take the event's values as parameters; every value
an update uses comes from the row the event would insert (``excluded``). A projection only queues
its rows (:meth:`UnitOfWork.defer`): each statement touches the one row it names and reads nothing
else, so the unit of work sends a batch's rows as a few statements at commit (one per run of rows,
``INSERT … SELECT … FROM unnest(…)``, see :class:`ManyRows`), the rows of one fact in the order
their events came.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.reporting.models import CaseFact, DeadlineFact, SurveyFact, SurveyItemFact
from shared.clock import month_of
from shared.db import UnitOfWork
from shared.db.uow import ManyRows
from shared.events import ComplaintClassified, Event, OrgPath, SurveyReturned
from shared.events.cases import (
    CaseAssigned,
    CaseEscalated,
    CaseOpened,
    CaseTransitioned,
    ComplaintReclassified,
    DeadlineBreached,
    DeadlineMet,
    DeadlinesScheduled,
)

Projection = Callable[[Any, UnitOfWork], Awaitable[None]]

CASES = CaseFact.__table__
DEADLINES = DeadlineFact.__table__
SURVEYS = SurveyFact.__table__
SURVEY_ITEMS = SurveyItemFact.__table__
_case = pg_insert(CASES).excluded
_deadline = pg_insert(DEADLINES).excluded

# set when the case was received, by whichever event comes first
RECEIVED = ("feedback_id", "kind", "received_at", "period")
CLASSIFICATION = ("category", "complaint_class", "valid", "important", "needs_triage", "classified_as_of")


def _org(org: OrgPath) -> dict[str, Any]:
    return {"org_group": org.group, "org_subsidiary": org.subsidiary, "org_project": org.project}


def _upsert_case(set_: dict[str, Any]) -> ManyRows:
    return ManyRows(pg_insert(CASES).on_conflict_do_update(index_elements=["case_id"], set_=set_))


def _once(columns: tuple[str, ...]) -> dict[str, Any]:
    return {c: sa.func.coalesce(CASES.c[c], _case[c]) for c in columns}


def _if_newer(as_of: str, columns: tuple[str, ...]) -> dict[str, Any]:
    newer = sa.or_(CASES.c[as_of].is_(None), CASES.c[as_of] <= _case[as_of])
    return {c: sa.case((newer, _case[c]), else_=CASES.c[c]) for c in columns}


STATE = _if_newer("state_as_of", ("state", "state_as_of"))

CASE_OPENED = _upsert_case(_once(RECEIVED))
#: what the classifier said first (a ComplaintClassified by a person carries None here)
MACHINE = ("machine_category", "machine_class", "classifier_version")
CASE_CLASSIFIED = _upsert_case({**_once(RECEIVED), **_if_newer("classified_as_of", CLASSIFICATION),
                                **_once(MACHINE)})
CASE_RECLASSIFIED = _upsert_case({**_once(RECEIVED), **_if_newer("classified_as_of", CLASSIFICATION),
                                  "reclassified": sa.true()})
CASE_ASSIGNED = _upsert_case({**STATE, **_if_newer("assigned_as_of", ("lead_department", "assigned_as_of"))})
CASE_ESCALATED = _upsert_case({"escalations": CASES.c.escalations + 1})
CASE_REACHED_BODY = _upsert_case({"escalations": CASES.c.escalations + 1, "escalated_to_body": _case.escalated_to_body})


@cache
def _case_transitioned(closed: bool, action: str | None) -> ManyRows:
    """One statement per shape of transition (closing, and the actions that set a flag)."""
    set_: dict[str, Any] = dict(STATE)
    if closed:
        set_["closed_at"] = _case.closed_at
    if action == "hand_over":
        set_["handed_over"] = sa.true()
    if action == "complete_return_visit":
        set_["return_visit_done"] = sa.true()
    if action == "reject_result":  # a reopened case is not closed, whatever came before
        set_["closed_at"] = sa.case((CASES.c.state_as_of <= _case.state_as_of, None), else_=CASES.c.closed_at)
    return _upsert_case(set_)


_newer_plan = sa.or_(DEADLINES.c.scheduled_as_of.is_(None), DEADLINES.c.scheduled_as_of <= _deadline.scheduled_as_of)
DEADLINE_SCHEDULED = ManyRows(pg_insert(DEADLINES).on_conflict_do_update(
    index_elements=["case_id", "kind"],
    set_={
        "due_at": sa.case((_newer_plan, _deadline.due_at), else_=DEADLINES.c.due_at),
        "period": sa.func.coalesce(DEADLINES.c.period, _deadline.period),  # a case's month never changes
        "scheduled_as_of": sa.case((_newer_plan, _deadline.scheduled_as_of), else_=DEADLINES.c.scheduled_as_of),
        "provisional": sa.case((_newer_plan, _deadline.provisional), else_=DEADLINES.c.provisional),
        # a rescheduled deadline starts afresh unless it was met or breached after the new plan
        "met_at": sa.case((sa.and_(_newer_plan, DEADLINES.c.met_at < _deadline.scheduled_as_of), None),
                          else_=DEADLINES.c.met_at),
        "breached_at": sa.case((sa.and_(_newer_plan, DEADLINES.c.breached_at < _deadline.scheduled_as_of), None),
                               else_=DEADLINES.c.breached_at),
    },
))


@cache
def _deadline_outcome_statement(met: bool, breached: bool) -> ManyRows:
    set_: dict[str, Any] = {"due_at": sa.func.coalesce(DEADLINES.c.due_at, _deadline.due_at)}
    if met:
        set_["met_at"] = _deadline.met_at
    if breached:
        set_["breached_at"] = _deadline.breached_at
        set_["escalated_to"] = _deadline.escalated_to
    return ManyRows(pg_insert(DEADLINES).on_conflict_do_update(index_elements=["case_id", "kind"], set_=set_))


SURVEY_RETURNED = ManyRows(pg_insert(SURVEYS).on_conflict_do_nothing())
SURVEY_ITEM = ManyRows(pg_insert(SURVEY_ITEMS).on_conflict_do_nothing())


def _case_row(uow: UnitOfWork, statement: ManyRows, values: dict[str, Any]) -> None:
    uow.defer(statement, values, row=("case", values["case_id"]))


async def on_case_opened(event: CaseOpened, uow: UnitOfWork) -> None:
    d = event.data
    _case_row(uow, CASE_OPENED, {
        "case_id": d.case_id, **_org(event.org), "feedback_id": d.feedback_id, "kind": d.kind.value,
        "received_at": d.received_at, "period": month_of(d.received_at), "state": "received"})


def _classification(event: ComplaintClassified | ComplaintReclassified, uow: UnitOfWork, statement: ManyRows,
                    *, reclassified: bool) -> None:
    d = event.data
    _case_row(uow, statement, {
        "case_id": d.case_id, **_org(event.org),
        "kind": "complaint", "received_at": d.received_at, "period": month_of(d.received_at),
        "feedback_id": d.feedback_id,
        "category": d.category.value, "complaint_class": d.complaint_class, "valid": d.valid,
        "important": d.important, "needs_triage": d.needs_triage, "classified_as_of": event.occurred_at,
        "reclassified": reclassified, **_machine(d, reclassified)})


def _machine(d: Any, reclassified: bool) -> dict[str, Any]:
    """The classifier's own first answer; nothing when a person classified (triage, correction)."""
    by_machine = not reclassified and d.classified_by == "rules"
    return {"machine_category": d.category.value if by_machine else None,
            "machine_class": d.complaint_class if by_machine else None,
            "classifier_version": d.rules_version if by_machine else None}


async def on_complaint_classified(event: ComplaintClassified, uow: UnitOfWork) -> None:
    _classification(event, uow, CASE_CLASSIFIED, reclassified=False)


async def on_complaint_reclassified(event: ComplaintReclassified, uow: UnitOfWork) -> None:
    _classification(event, uow, CASE_RECLASSIFIED, reclassified=True)


async def on_case_assigned(event: CaseAssigned, uow: UnitOfWork) -> None:
    d = event.data
    _case_row(uow, CASE_ASSIGNED, {
        "case_id": d.case_id, **_org(event.org), "state": d.state, "state_as_of": d.at,
        "lead_department": d.lead_department.value, "assigned_as_of": d.at})


async def on_case_transitioned(event: CaseTransitioned, uow: UnitOfWork) -> None:
    d = event.data
    values: dict[str, Any] = {"case_id": d.case_id, **_org(event.org), "state": d.state, "state_as_of": d.at}
    closed = d.state == "closed"
    if closed:
        values["closed_at"] = d.at
    if d.action == "hand_over":
        values["handed_over"] = True
    if d.action == "complete_return_visit":
        values["return_visit_done"] = True
    flagged = d.action if d.action in ("hand_over", "complete_return_visit", "reject_result") else None
    _case_row(uow, _case_transitioned(closed, flagged), values)


async def on_case_escalated(event: CaseEscalated, uow: UnitOfWork) -> None:
    values = {"case_id": event.data.case_id, **_org(event.org), "escalations": 1}
    if event.data.external_body is not None:  # the complaint reached the group, a government office, the media
        _case_row(uow, CASE_REACHED_BODY, {**values, "escalated_to_body": event.data.external_body})
        return
    _case_row(uow, CASE_ESCALATED, values)


async def on_deadlines_scheduled(event: DeadlinesScheduled, uow: UnitOfWork) -> None:
    org = _org(event.org)
    received_at = event.data.case_received_at
    period = month_of(received_at) if received_at is not None else None
    for deadline in event.data.deadlines:
        uow.defer(DEADLINE_SCHEDULED, {
            "case_id": event.data.case_id, "kind": deadline.kind, **org, "period": period, "due_at": deadline.due_at,
            "scheduled_as_of": event.occurred_at, "provisional": deadline.provisional},
            row=("deadline", event.data.case_id, deadline.kind))


async def _deadline_outcome(event: DeadlineMet | DeadlineBreached, uow: UnitOfWork) -> None:
    d = event.data
    values: dict[str, Any] = {"case_id": d.case_id, "kind": d.kind, **_org(event.org), "due_at": d.due_at}
    if d.met_at is not None:
        values["met_at"] = d.met_at
    if d.breached_at is not None:
        values["breached_at"] = d.breached_at
        values["escalated_to"] = d.escalated_to
    statement = _deadline_outcome_statement(d.met_at is not None, d.breached_at is not None)
    uow.defer(statement, values, row=("deadline", d.case_id, d.kind))


async def on_deadline_met(event: DeadlineMet, uow: UnitOfWork) -> None:
    await _deadline_outcome(event, uow)


async def on_deadline_breached(event: DeadlineBreached, uow: UnitOfWork) -> None:
    await _deadline_outcome(event, uow)


async def on_survey_returned(event: SurveyReturned, uow: UnitOfWork) -> None:
    d = event.data
    period = month_of(d.returned_at)
    org = _org(event.org)
    uow.defer(SURVEY_RETURNED, {
        "response_id": d.response_id, **org, "period": period, "template_id": d.template_id,
        "scheme": d.scheme.value, "channel": d.channel, "case_id": d.case_id, "campaign_id": d.campaign_id,
        "score": d.score, "satisfied": d.satisfied, "returned_at": d.returned_at,
    }, row=("survey", d.response_id))
    for a in d.answers:
        uow.defer(SURVEY_ITEM, {
            "response_id": d.response_id, "item_id": a.item_id, **org, "period": period,
            "template_id": d.template_id, "level": a.level, "satisfied": a.satisfied,
        }, row=("survey_item", d.response_id, a.item_id))


PROJECTIONS: dict[str, Projection] = {
    CaseOpened.EVENT_TYPE: on_case_opened,
    ComplaintClassified.EVENT_TYPE: on_complaint_classified,
    ComplaintReclassified.EVENT_TYPE: on_complaint_reclassified,
    CaseAssigned.EVENT_TYPE: on_case_assigned,
    CaseTransitioned.EVENT_TYPE: on_case_transitioned,
    CaseEscalated.EVENT_TYPE: on_case_escalated,
    DeadlinesScheduled.EVENT_TYPE: on_deadlines_scheduled,
    DeadlineMet.EVENT_TYPE: on_deadline_met,
    DeadlineBreached.EVENT_TYPE: on_deadline_breached,
    SurveyReturned.EVENT_TYPE: on_survey_returned,
}


async def project(event: Event, uow: UnitOfWork) -> None:
    await PROJECTIONS[event.event_type](event, uow)
