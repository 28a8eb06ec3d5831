"""The complaint list (客诉清单): every complaint of a month per org unit, with its class, category,
lead department, whether each deadline was met, its corrective action and the quality department's
verification, the customer's acceptance, the return visit and whether it was published.

Projected from routing's events only, beside the case facts (``case_facts``, ``deadline_facts``):

- ``CorrectiveActionRecorded``: the newest action (by the time it was recorded) with its
  verification, and how many actions were recorded and verified. A verification is taken once per
  action (routing refuses a second one; a redelivered event is dropped by the inbox anyway).
- ``CorrectiveActionWaived``: the quality department recorded that none is needed.
- ``CaseTransitioned`` ``accept_result`` / ``reject_result``: the customer's latest answer, and how
  many times the result was rejected.
- ``ComplaintPublished``: published once, important or representative.

Every event writes every column of the row (those it does not know as NULL or 0), so that a batch's
rows go out as one statement; the upsert merges them column by column, whatever order they come in.

A complaint's corrective action stands as routing's close gate has it: none recorded (``missing``);
an action not yet verified (``awaiting_verification``); every action verified and the newest one not
effective (``ineffective``: a new one is needed) or effective (``effective``); none recorded and the
quality department said why none is needed (``not_needed``).

No personal data: ids of cases only, no customers, no staff; the corrective action's text has phone
numbers and e-mail addresses masked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.reporting.exports import labels, name_of
from services.reporting.models import CaseFact, ComplaintListFact, DeadlineFact
from services.reporting.queries import DEADLINE_KINDS, BadFilter, org_filter
from shared.db import UnitOfWork
from shared.db.uow import ManyRows
from shared.events import OrgPath
from shared.events.cases import (
    CaseTransitioned,
    ComplaintPublished,
    CorrectiveActionRecorded,
    CorrectiveActionWaived,
    ReturnVisitDecided,
)
from shared.logging import redact

Projection = Callable[[Any, UnitOfWork], Awaitable[None]]

LIST = ComplaintListFact.__table__
_new = pg_insert(LIST).excluded
_old = LIST.c

_action_is_newer = sa.and_(_new.corrective_recorded_at.is_not(None), sa.or_(
    _old.corrective_recorded_at.is_(None), _old.corrective_recorded_at < _new.corrective_recorded_at))
_same_action = _old.corrective_action_id == _new.corrective_action_id
_decision_is_newer = sa.and_(_new.return_visit_as_of.is_not(None), sa.or_(
    _old.return_visit_as_of.is_(None), _old.return_visit_as_of <= _new.return_visit_as_of))
_answer_is_newer = sa.and_(_new.acceptance_as_of.is_not(None), sa.or_(
    _old.acceptance_as_of.is_(None), _old.acceptance_as_of <= _new.acceptance_as_of))


def _newest_action(column: str) -> Any:
    return sa.case((_action_is_newer, _new[column]), else_=_old[column])


def _verification(column: str) -> Any:
    """The newest action's verification: from a newer action's event, else kept once set."""
    return sa.case((_action_is_newer, _new[column]),
                   (sa.and_(_same_action, _old.corrective_verified_at.is_(None)), _new[column]),
                   else_=_old[column])


UPSERT = pg_insert(LIST).on_conflict_do_update(index_elements=["case_id"], set_={
    **{c: _newest_action(c) for c in ("corrective_action_id", "corrective_department", "corrective_description",
                                      "corrective_recorded_at")},
    "corrective_verified_at": _verification("corrective_verified_at"),
    "corrective_effective": _verification("corrective_effective"),
    "corrective_actions": _old.corrective_actions + _new.corrective_actions,
    "corrective_verified": _old.corrective_verified + _new.corrective_verified,
    "corrective_waived_at": sa.func.coalesce(_old.corrective_waived_at, _new.corrective_waived_at),
    "customer_accepted": sa.case((_answer_is_newer, _new.customer_accepted), else_=_old.customer_accepted),
    "acceptance_as_of": sa.case((_answer_is_newer, _new.acceptance_as_of), else_=_old.acceptance_as_of),
    "acceptance_rejections": _old.acceptance_rejections + _new.acceptance_rejections,
    "published_at": sa.func.coalesce(_old.published_at, _new.published_at),
    **{c: sa.case((_decision_is_newer, _new[c]), else_=_old[c])
       for c in ("return_visit_decided", "return_visit_basis", "return_visit_as_of")},
    "publication_basis": sa.case((_old.published_at.is_(None), _new.publication_basis),
                                 else_=_old.publication_basis),
})
_STATEMENT = ManyRows(UPSERT)
_BLANK: dict[str, Any] = {c.name: (0 if c.name in ("corrective_actions", "corrective_verified",
                                                   "acceptance_rejections") else None) for c in LIST.columns}


def _row(uow: UnitOfWork, case_id: Any, org: OrgPath, **values: Any) -> None:
    row = {**_BLANK, "case_id": case_id, "org_group": org.group, "org_subsidiary": org.subsidiary,
           "org_project": org.project, **values}
    uow.defer(_STATEMENT, row, row=("complaint_list", case_id))


async def on_corrective_action(event: CorrectiveActionRecorded, uow: UnitOfWork) -> None:
    d = event.data
    verification = bool(d.verified)
    _row(uow, d.case_id, event.org, corrective_action_id=d.action_id, corrective_department=d.department.value,
         corrective_description=redact(d.description),
         # a verification says when its action was recorded; an event of an older producer does not:
         # then the action is known by its own time only when it is the recording
         corrective_recorded_at=d.recorded_at or (None if verification else d.at),
         corrective_verified_at=d.at if verification else None,
         corrective_effective=d.effective if verification else None,
         corrective_actions=0 if verification else 1, corrective_verified=1 if verification else 0)


async def on_corrective_action_waived(event: CorrectiveActionWaived, uow: UnitOfWork) -> None:
    _row(uow, event.data.case_id, event.org, corrective_waived_at=event.data.at)


async def on_complaint_published(event: ComplaintPublished, uow: UnitOfWork) -> None:
    _row(uow, event.data.case_id, event.org, published_at=event.data.at, publication_basis=event.data.basis)


async def on_case_transitioned(event: CaseTransitioned, uow: UnitOfWork) -> None:
    d = event.data
    if d.action not in ("accept_result", "reject_result"):
        return
    accepted = d.action == "accept_result"
    _row(uow, d.case_id, event.org, customer_accepted=accepted, acceptance_as_of=d.at,
         acceptance_rejections=0 if accepted else 1)


async def on_return_visit_decided(event: ReturnVisitDecided, uow: UnitOfWork) -> None:
    d = event.data
    _row(uow, d.case_id, event.org, return_visit_decided=d.return_visit, return_visit_basis=d.basis,
         return_visit_as_of=d.at)


PROJECTIONS: dict[str, Projection] = {
    ReturnVisitDecided.EVENT_TYPE: on_return_visit_decided,
    CorrectiveActionRecorded.EVENT_TYPE: on_corrective_action,
    CorrectiveActionWaived.EVENT_TYPE: on_corrective_action_waived,
    ComplaintPublished.EVENT_TYPE: on_complaint_published,
}

#: Events the case projections already handle that also feed the complaint list.
ALSO: dict[str, Projection] = {CaseTransitioned.EVENT_TYPE: on_case_transitioned}


# --- the view -------------------------------------------------------------------------------------

STOPPED_STATES = ("closed", "handed_over")


def corrective_status(*, actions: int, verified: int, newest_effective: bool | None, waived: bool) -> str:
    """As routing's close gate (services.routing.lifecycle.corrective_status) has it."""
    if actions == 0:
        return "not_needed" if waived else "missing"
    if verified < actions:
        return "awaiting_verification"
    return "effective" if newest_effective else "ineffective"


def deadline_outcome(*, due_at: datetime | None, met_at: datetime | None, now: datetime,
                     stopped_at: datetime | None) -> str:
    """``on_time`` / ``late`` once met; unmet: ``stopped`` when the case was closed or handed over
    before it fell due (it no longer runs), ``missed`` once due, else ``pending``."""
    if met_at is not None:
        return "on_time" if due_at is None or met_at <= due_at else "late"
    if due_at is None:
        return "pending"
    if stopped_at is not None and stopped_at <= due_at:
        return "stopped"
    return "missed" if due_at <= now else "pending"


def deadline_summary(outcomes: dict[str, str]) -> str:
    """One phrase for the list: which deadlines were missed (met late or not at all), else whether all
    were met; empty when the complaint has none."""
    missed = [kind for kind, outcome in outcomes.items() if outcome in ("late", "missed")]
    if missed:
        return "有超时：" + "、".join(name_of("deadline", kind) for kind in missed)
    if not outcomes:
        return ""
    return "全部按时" if all(o in ("on_time", "stopped") for o in outcomes.values()) else "进行中，未超时"


def return_visit(*, done: bool, important: bool | None, decided: bool | None = None) -> str:
    """``done``; else ``required`` when routing decided on one (ReturnVisitDecided: important, the
    quality department's choice or the rule), or, before any decision, for an important complaint."""
    if done:
        return "done"
    if decided is not None:
        return "required" if decided else "none"
    return "required" if important else "none"


def acceptance(customer_accepted: bool | None) -> str:
    if customer_accepted is None:
        return "pending"
    return "accepted" if customer_accepted else "rejected"


def _check(field: str, value: str | None, vocabulary: str) -> None:
    if value is not None and value not in labels()[vocabulary]:
        raise BadFilter(field, f"未知的取值 {value!r}；可选：{', '.join(labels()[vocabulary])}")


async def complaint_list(*, period: str, org: str, now: datetime, uow: UnitOfWork,
                         complaint_class: int | None = None, category: str | None = None,
                         department: str | None = None, state: str | None = None) -> dict[str, Any]:
    """Every complaint received in the month under ``org``, per org unit, oldest first."""
    _check("category", category, "category")
    _check("department", department, "department")
    _check("state", state, "state")
    c, x, d = CaseFact.__table__, LIST, DeadlineFact.__table__
    where = [c.c.period == period, c.c.kind == "complaint", *org_filter(c, org)]
    if complaint_class is not None:
        where.append(c.c.complaint_class == complaint_class)
    if category is not None:
        where.append(c.c.category == category)
    if department is not None:
        where.append(c.c.lead_department == department)
    if state is not None:
        where.append(c.c.state == state)
    rows = (await uow.session.execute(
        sa.select(c, *[x.c[k] for k in x.c.keys() if k not in ("case_id", "org_group", "org_subsidiary",
                                                               "org_project")])
        .select_from(c.outerjoin(x, x.c.case_id == c.c.case_id))
        .where(*where)
        .order_by(c.c.org_group, c.c.org_subsidiary.nulls_first(), c.c.org_project.nulls_first(), c.c.received_at,
                  c.c.case_id)
    )).mappings().all()
    deadlines: dict[Any, dict[str, Any]] = {}
    if rows:
        for r in (await uow.session.execute(
                sa.select(d.c.case_id, d.c.kind, d.c.due_at, d.c.met_at)
                .select_from(d.join(c, c.c.case_id == d.c.case_id)).where(*where))).all():
            deadlines.setdefault(r.case_id, {})[r.kind] = r
    complaints = [_complaint(r, deadlines.get(r["case_id"], {}), now) for r in rows]
    return {"period": period, "org": org, "filters": {
        "complaint_class": complaint_class, "category": category, "department": department, "state": state},
        "count": len(complaints), "deadline_kinds": list(DEADLINE_KINDS), "complaints": complaints}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _complaint(r: Any, deadlines: dict[str, Any], now: datetime) -> dict[str, Any]:
    stopped_at = r["state_as_of"] if r["state"] in STOPPED_STATES else None
    outcomes = {kind: deadline_outcome(due_at=dl.due_at, met_at=dl.met_at, now=now, stopped_at=stopped_at)
                for kind, dl in sorted(deadlines.items())}
    status = corrective_status(actions=r["corrective_actions"] or 0, verified=r["corrective_verified"] or 0,
                               newest_effective=r["corrective_effective"], waived=r["corrective_waived_at"] is not None)
    visit = return_visit(done=bool(r["return_visit_done"]), important=r["important"],
                         decided=r["return_visit_decided"])
    answer = acceptance(r["customer_accepted"])
    valid = r["valid"]
    missed = [k for k, o in outcomes.items() if o in ("late", "missed")]
    return {
        "case_id": str(r["case_id"]),
        "org": "/".join(p for p in (r["org_group"], r["org_subsidiary"], r["org_project"]) if p),
        "period": r["period"], "received_at": _iso(r["received_at"]), "closed_at": _iso(r["closed_at"]),
        "complaint_class": r["complaint_class"], "complaint_class_name": name_of("complaint_class", r["complaint_class"]),
        "category": r["category"], "category_name": name_of("category", r["category"]),
        # valid or invalid is a class-1 distinction (our own service); classes 2 and 3 are neither
        "valid": valid, "validity_name": "" if valid is None else (
            name_of("validity", str(valid).lower()) if valid or r["complaint_class"] == 1 else "不适用"),
        "important": r["important"], "important_name": name_of("yes_no", str(bool(r["important"])).lower()),
        "lead_department": r["lead_department"], "lead_department_name": name_of("department", r["lead_department"]),
        "state": r["state"], "state_name": name_of("state", r["state"]),
        "deadlines": outcomes,
        "deadline_names": {k: name_of("deadline_outcome", o) for k, o in outcomes.items()},
        "deadlines_missed": missed,
        "deadlines_summary_name": deadline_summary(outcomes),
        "corrective_action_status": status,
        "corrective_action_status_name": name_of("corrective_status", status),
        "corrective_department": r["corrective_department"],
        "corrective_department_name": name_of("department", r["corrective_department"]),
        "corrective_description": r["corrective_description"],
        "corrective_recorded_at": _iso(r["corrective_recorded_at"]),
        "corrective_actions": r["corrective_actions"] or 0,
        "corrective_verified_at": _iso(r["corrective_verified_at"]),
        "verification_name": "" if r["corrective_verified_at"] is None
        else name_of("verification", str(bool(r["corrective_effective"])).lower()),
        "customer_acceptance": answer, "customer_acceptance_name": name_of("acceptance", answer),
        "acceptance_rejections": r["acceptance_rejections"] or 0,
        "return_visit": visit, "return_visit_name": name_of("return_visit", visit),
        "corrective_effective": r["corrective_effective"] if r["corrective_verified_at"] else None,
        "published": r["published_at"] is not None, "published_at": _iso(r["published_at"]),
        "publication_basis": r["publication_basis"],
        "publication_name": name_of("publication_basis", r["publication_basis"]) if r["published_at"] else "未发布",
    }
