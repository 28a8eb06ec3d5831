"""Projections: each event becomes an idempotent, order-tolerant upsert of a fact row.

A fact that several events may set (a case's classification, state, lead department, a deadline's
due time) carries the time it was true "as of" and is only overwritten by a newer one; facts set
once (when a case was received) are filled in by whichever event arrives first. The inbox in the
consumer's transaction makes a redelivered event a no-op.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.reporting.models import CaseFact, DeadlineFact, SurveyFact, SurveyItemFact
from shared.clock import month_of
from shared.db import UnitOfWork
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


def _org(org: OrgPath) -> dict[str, Any]:
    return {"org_group": org.group, "org_subsidiary": org.subsidiary, "org_project": org.project}


async def _upsert_case(uow: UnitOfWork, values: dict[str, Any], set_: dict[str, Any],
                       where: Any = None) -> None:
    stmt = pg_insert(CaseFact).values(**values)
    await uow.session.execute(
        stmt.on_conflict_do_update(index_elements=["case_id"], set_=set_, where=where)
    )


def _received(values: dict[str, Any]) -> dict[str, Any]:
    t = CaseFact.__table__
    excluded = pg_insert(t).excluded
    return {c: sa.func.coalesce(getattr(t.c, c), getattr(excluded, c)) for c in values}


async def on_case_opened(event: CaseOpened, uow: UnitOfWork) -> None:
    d = event.data
    once = {"feedback_id": d.feedback_id, "kind": d.kind.value, "received_at": d.received_at,
            "period": month_of(d.received_at)}
    await _upsert_case(uow, {"case_id": d.case_id, **_org(event.org), **once, "state": "received"},
                       _received(once))


async def _classification(event: ComplaintClassified | ComplaintReclassified, uow: UnitOfWork,
                          *, reclassified: bool) -> None:
    d = event.data
    t = CaseFact.__table__
    excluded = pg_insert(t).excluded
    once = {"kind": "complaint", "received_at": d.received_at, "period": month_of(d.received_at),
            "feedback_id": d.feedback_id}
    classification = {"category": d.category.value, "complaint_class": d.complaint_class, "valid": d.valid,
                      "important": d.important, "needs_triage": d.needs_triage,
                      "classified_as_of": event.occurred_at}
    set_: dict[str, Any] = {**_received(once)}
    newer = sa.or_(t.c.classified_as_of.is_(None), t.c.classified_as_of <= excluded.classified_as_of)
    for column in classification:
        set_[column] = sa.case((newer, getattr(excluded, column)), else_=getattr(t.c, column))
    if reclassified:
        set_["reclassified"] = sa.true()
    await _upsert_case(uow, {"case_id": d.case_id, **_org(event.org), **once, **classification,
                             "reclassified": reclassified}, set_)


async def on_complaint_classified(event: ComplaintClassified, uow: UnitOfWork) -> None:
    await _classification(event, uow, reclassified=False)


async def on_complaint_reclassified(event: ComplaintReclassified, uow: UnitOfWork) -> None:
    await _classification(event, uow, reclassified=True)


def _state_update(state: str, at: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    t = CaseFact.__table__
    excluded = pg_insert(t).excluded
    newer = sa.or_(t.c.state_as_of.is_(None), t.c.state_as_of <= excluded.state_as_of)
    values = {"state": state, "state_as_of": at}
    return values, {
        "state": sa.case((newer, excluded.state), else_=t.c.state),
        "state_as_of": sa.case((newer, excluded.state_as_of), else_=t.c.state_as_of),
    }


async def on_case_assigned(event: CaseAssigned, uow: UnitOfWork) -> None:
    d = event.data
    t = CaseFact.__table__
    excluded = pg_insert(t).excluded
    state_values, state_set = _state_update(d.state, d.at)
    newer = sa.or_(t.c.assigned_as_of.is_(None), t.c.assigned_as_of <= excluded.assigned_as_of)
    await _upsert_case(
        uow,
        {"case_id": d.case_id, **_org(event.org), **state_values, "lead_department": d.lead_department.value,
         "assigned_as_of": d.at},
        {**state_set,
         "lead_department": sa.case((newer, excluded.lead_department), else_=t.c.lead_department),
         "assigned_as_of": sa.case((newer, excluded.assigned_as_of), else_=t.c.assigned_as_of)},
    )


async def on_case_transitioned(event: CaseTransitioned, uow: UnitOfWork) -> None:
    d = event.data
    t = CaseFact.__table__
    values, set_ = _state_update(d.state, d.at)
    if d.state == "closed":
        values["closed_at"] = d.at
        set_["closed_at"] = d.at
    if d.action == "hand_over":
        values["handed_over"] = True
        set_["handed_over"] = sa.true()
    if d.action == "complete_return_visit":
        values["return_visit_done"] = True
        set_["return_visit_done"] = sa.true()
    if d.action == "reject_result":  # a reopened case is not closed, whatever came before
        set_["closed_at"] = sa.case((t.c.state_as_of <= d.at, None), else_=t.c.closed_at)
    await _upsert_case(uow, {"case_id": d.case_id, **_org(event.org), **values}, set_)


async def on_case_escalated(event: CaseEscalated, uow: UnitOfWork) -> None:
    t = CaseFact.__table__
    await _upsert_case(uow, {"case_id": event.data.case_id, **_org(event.org), "escalations": 1},
                       {"escalations": t.c.escalations + 1})


async def on_deadlines_scheduled(event: DeadlinesScheduled, uow: UnitOfWork) -> None:
    t = DeadlineFact.__table__
    excluded = pg_insert(t).excluded
    newer = sa.or_(t.c.scheduled_as_of.is_(None), t.c.scheduled_as_of <= excluded.scheduled_as_of)
    for deadline in event.data.deadlines:
        stmt = pg_insert(t).values(case_id=event.data.case_id, kind=deadline.kind, **_org(event.org),
                                   due_at=deadline.due_at, scheduled_as_of=event.occurred_at)
        await uow.session.execute(stmt.on_conflict_do_update(
            index_elements=["case_id", "kind"],
            set_={
                "due_at": sa.case((newer, excluded.due_at), else_=t.c.due_at),
                "scheduled_as_of": sa.case((newer, excluded.scheduled_as_of), else_=t.c.scheduled_as_of),
                # a rescheduled deadline starts afresh unless it was met or breached after the new plan
                "met_at": sa.case((sa.and_(newer, t.c.met_at < excluded.scheduled_as_of), None), else_=t.c.met_at),
                "breached_at": sa.case((sa.and_(newer, t.c.breached_at < excluded.scheduled_as_of), None),
                                       else_=t.c.breached_at),
            },
        ))


async def _deadline_outcome(event: DeadlineMet | DeadlineBreached, uow: UnitOfWork) -> None:
    d = event.data
    t = DeadlineFact.__table__
    values: dict[str, Any] = {"case_id": d.case_id, "kind": d.kind, **_org(event.org), "due_at": d.due_at}
    set_: dict[str, Any] = {"due_at": sa.func.coalesce(t.c.due_at, d.due_at)}
    if d.met_at is not None:
        values["met_at"] = set_["met_at"] = d.met_at
    if d.breached_at is not None:
        values["breached_at"] = set_["breached_at"] = d.breached_at
        values["escalated_to"] = set_["escalated_to"] = d.escalated_to
    await uow.session.execute(pg_insert(t).values(**values).on_conflict_do_update(
        index_elements=["case_id", "kind"], set_=set_))


async def on_deadline_met(event: DeadlineMet, uow: UnitOfWork) -> None:
    await _deadline_outcome(event, uow)


async def on_deadline_breached(event: DeadlineBreached, uow: UnitOfWork) -> None:
    await _deadline_outcome(event, uow)


async def on_survey_returned(event: SurveyReturned, uow: UnitOfWork) -> None:
    d = event.data
    period = month_of(d.returned_at)
    org = _org(event.org)
    await uow.session.execute(pg_insert(SurveyFact).values(
        response_id=d.response_id, **org, period=period, template_id=d.template_id, scheme=d.scheme.value,
        channel=d.channel, case_id=d.case_id, campaign_id=d.campaign_id, score=d.score, satisfied=d.satisfied,
        returned_at=d.returned_at,
    ).on_conflict_do_nothing())
    if d.answers:
        await uow.session.execute(pg_insert(SurveyItemFact).values([
            {"response_id": d.response_id, "item_id": a.item_id, **org, "period": period,
             "template_id": d.template_id, "level": a.level, "satisfied": a.satisfied}
            for a in d.answers
        ]).on_conflict_do_nothing())


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
