"""Reporting's views (DOMAIN.md §6), computed from the fact tables for any period and org level.

Cutting by org level is a filter on the org path columns, so every view rolls up from project to
subsidiary to group by construction. No view contains personal data.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa

from services.reporting.models import CaseFact, DeadlineFact, SurveyFact, SurveyItemFact
from shared.db import UnitOfWork

DEADLINE_KINDS = ("first_response", "difficult_escalation", "measures_report", "result_delivery")
SATISFACTION_PASS = Decimal(96)


class BadFilter(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def org_filter(table: Any, org: str) -> list[Any]:
    parts = [p for p in org.strip("/").split("/") if p]
    if not 1 <= len(parts) <= 3:
        raise BadFilter("org", "give 'group', 'group/subsidiary' or 'group/subsidiary/project'")
    columns = [table.c.org_group, table.c.org_subsidiary, table.c.org_project]
    return [column == part for column, part in zip(columns, parts, strict=False)]


def months_of_quarter(quarter: str) -> list[str]:
    year, q = quarter.split("-Q")
    first = (int(q) - 1) * 3 + 1
    return [f"{year}-{m:02d}" for m in range(first, first + 3)]


def months_of_half(half: str) -> list[str]:
    year, h = half.split("-H")
    first = 1 if h == "1" else 7
    return [f"{year}-{m:02d}" for m in range(first, first + 6)]


async def org_paths(*, uow: UnitOfWork, periods: list[str]) -> list[str]:
    """Every org unit, at every level, that has facts in the periods."""
    c, s = CaseFact.__table__, SurveyFact.__table__
    paths: set[str] = set()
    for table in (c, s):
        rows = await uow.session.execute(
            sa.select(table.c.org_group, table.c.org_subsidiary, table.c.org_project).distinct()
            .where(table.c.period.in_(periods)))
        for group, subsidiary, project in rows.all():
            paths.add(group)
            if subsidiary:
                paths.add(f"{group}/{subsidiary}")
                if project:
                    paths.add(f"{group}/{subsidiary}/{project}")
    return sorted(paths)


def percent(part: int, whole: int) -> float | None:
    if whole == 0:
        return None
    return float((Decimal(100) * part / whole).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


async def complaint_counts(*, periods: list[str], org: str, uow: UnitOfWork) -> dict[int, int]:
    c = CaseFact.__table__
    rows = await uow.session.execute(
        sa.select(c.c.complaint_class, sa.func.count())
        .where(c.c.period.in_(periods), c.c.complaint_class.is_not(None), *org_filter(c, org))
        .group_by(c.c.complaint_class)
    )
    return {int(k): int(n) for k, n in rows.all()}


async def monthly_summary(*, period: str, org: str, now: datetime, uow: UnitOfWork) -> dict[str, Any]:
    """Complaints received in the month (DOMAIN.md §6): by class, category and department, their
    outcome so far, and compliance with every deadline."""
    return await summary(periods=[period], label=period, org=org, now=now, uow=uow)


async def summary(*, periods: list[str], label: str, org: str, now: datetime, uow: UnitOfWork) -> dict[str, Any]:
    """The complaint summary over one or more months (a month, a quarter, a half-year)."""
    period = label
    c = CaseFact.__table__
    where = [c.c.period.in_(periods), c.c.kind == "complaint", *org_filter(c, org)]
    totals = (await uow.session.execute(sa.select(
        sa.func.count(),
        sa.func.count().filter(c.c.valid.is_(True)),
        sa.func.count().filter(c.c.important.is_(True)),
        sa.func.count().filter(c.c.state == "closed"),
        sa.func.count().filter(c.c.handed_over.is_(True)),
        sa.func.count().filter(c.c.state == "triage"),
        sa.func.count().filter(c.c.reclassified.is_(True)),
        sa.func.count().filter(c.c.return_visit_done.is_(True)),
    ).where(*where))).one()
    by_class = {str(k): 0 for k in (1, 2, 3)}
    for cls, n in (await uow.session.execute(
            sa.select(c.c.complaint_class, sa.func.count()).where(*where, c.c.complaint_class.is_not(None))
            .group_by(c.c.complaint_class))).all():
        by_class[str(cls)] = int(n)
    by_category = {str(k): int(n) for k, n in (await uow.session.execute(
        sa.select(c.c.category, sa.func.count()).where(*where, c.c.category.is_not(None))
        .group_by(c.c.category).order_by(c.c.category))).all()}
    by_department: dict[str, dict[str, int]] = {}
    for dept, cls, n in (await uow.session.execute(
            sa.select(c.c.lead_department, c.c.complaint_class, sa.func.count())
            .where(*where, c.c.lead_department.is_not(None))
            .group_by(c.c.lead_department, c.c.complaint_class))).all():
        row = by_department.setdefault(str(dept), {"total": 0, "1": 0, "2": 0, "3": 0})
        row["total"] += int(n)
        if cls is not None:
            row[str(cls)] += int(n)
    complaints = int(totals[0])
    return {
        "period": period,
        "org": org,
        "complaints": complaints,
        "valid": int(totals[1]),
        "important": int(totals[2]),
        "closed": int(totals[3]),
        "open": complaints - int(totals[3]),
        "handed_over": int(totals[4]),
        "in_triage": int(totals[5]),
        "reclassified": int(totals[6]),
        "return_visits_done": int(totals[7]),
        "by_class": by_class,
        "by_category": dict(sorted(by_category.items(), key=lambda kv: (-kv[1], kv[0]))),
        "by_department": dict(sorted(by_department.items())),
        "deadlines": await deadline_compliance(periods=periods, org=org, now=now, uow=uow),
    }


async def deadline_compliance(*, periods: list[str], org: str, now: datetime, uow: UnitOfWork) -> dict[str, Any]:
    """Per deadline kind, for cases received in the periods: met on time, met late, breached and
    still open, pending (not yet due), and the on-time rate over those that fell due."""
    d, c = DeadlineFact.__table__, CaseFact.__table__
    on_time = sa.and_(d.c.met_at.is_not(None), d.c.met_at <= d.c.due_at)
    late = sa.and_(d.c.met_at.is_not(None), d.c.met_at > d.c.due_at)
    overdue = sa.and_(d.c.met_at.is_(None), d.c.due_at <= now)
    pending = sa.and_(d.c.met_at.is_(None), d.c.due_at > now)
    rows = await uow.session.execute(
        sa.select(d.c.kind, sa.func.count(), sa.func.count().filter(on_time), sa.func.count().filter(late),
                  sa.func.count().filter(overdue), sa.func.count().filter(pending))
        .select_from(d.join(c, c.c.case_id == d.c.case_id))
        .where(c.c.period.in_(periods), *org_filter(d, org),
               # an unmet deadline of a case closed or handed over before it fell due no longer runs
               sa.or_(d.c.met_at.is_not(None), c.c.state.is_(None), c.c.state.not_in(["closed", "handed_over"]),
                      c.c.state_as_of > d.c.due_at))
        .group_by(d.c.kind)
    )
    out: dict[str, Any] = {}
    for kind, total, met_on_time, met_late, open_overdue, not_due in rows.all():
        fell_due = int(met_on_time) + int(met_late) + int(open_overdue)
        out[str(kind)] = {
            "total": int(total), "met_on_time": int(met_on_time), "met_late": int(met_late),
            "overdue_open": int(open_overdue), "pending": int(not_due),
            "on_time_rate": percent(int(met_on_time), fell_due),
        }
    return {kind: out.get(kind, {"total": 0, "met_on_time": 0, "met_late": 0, "overdue_open": 0, "pending": 0,
                                 "on_time_rate": None}) for kind in DEADLINE_KINDS}


async def pareto(*, quarter: str, org: str, uow: UnitOfWork) -> dict[str, Any]:
    """The quarter's complaint categories, largest first, with cumulative shares (排列图)."""
    result = await pareto_over(months=months_of_quarter(quarter), label=quarter, org=org, uow=uow)
    return {"quarter": quarter, **{k: v for k, v in result.items() if k != "period"}}


async def pareto_over(*, months: list[str], label: str, org: str, uow: UnitOfWork) -> dict[str, Any]:
    c = CaseFact.__table__
    rows = (await uow.session.execute(
        sa.select(c.c.category, sa.func.count())
        .where(c.c.period.in_(months), c.c.kind == "complaint", c.c.category.is_not(None),
               *org_filter(c, org))
        .group_by(c.c.category)
    )).all()
    ordered = sorted(((str(k), int(n)) for k, n in rows), key=lambda kv: (-kv[1], kv[0]))
    total = sum(n for _, n in ordered)
    running, bars = 0, []
    for category, n in ordered:
        running += n
        bars.append({"category": category, "complaints": n, "share": percent(n, total),
                     "cumulative_share": percent(running, total)})
    return {"period": label, "org": org, "complaints": total, "categories": bars}


async def open_cases(*, org: str, now: datetime, uow: UnitOfWork, limit: int = 500) -> list[dict[str, Any]]:
    """Open cases with their overdue deadlines: ids, classes and states only, no personal data."""
    c, d = CaseFact.__table__, DeadlineFact.__table__
    overdue = (
        sa.select(sa.func.array_agg(d.c.kind))
        .where(d.c.case_id == c.c.case_id, d.c.met_at.is_(None), d.c.due_at <= now)
        .scalar_subquery()
    )
    rows = await uow.session.execute(
        sa.select(c.c.case_id, c.c.kind, c.c.org_group, c.c.org_subsidiary, c.c.org_project, c.c.period,
                  c.c.received_at, c.c.category, c.c.complaint_class, c.c.lead_department, c.c.state,
                  overdue.label("overdue"))
        .where(c.c.state.not_in(["closed", "handed_over"]), *org_filter(c, org))
        .order_by(c.c.received_at, c.c.case_id)
        .limit(limit)
    )
    return [
        {"case_id": str(r.case_id), "kind": r.kind,
         "org": "/".join(p for p in (r.org_group, r.org_subsidiary, r.org_project) if p),
         "period": r.period, "received_at": r.received_at.isoformat() if r.received_at else None,
         "category": r.category, "complaint_class": r.complaint_class, "lead_department": r.lead_department,
         "state": r.state, "overdue": sorted(r.overdue or [])}
        for r in rows.all()
    ]


async def satisfaction(*, period: str, org: str, uow: UnitOfWork, template_id: str | None = None) -> dict[str, Any]:
    """Scheme B (seed 002): per item satisfied ÷ (satisfied + dissatisfied), unanswered left out;
    overall = mean of the item rates; 96 % is qualified service."""
    i = SurveyItemFact.__table__
    where = [i.c.period == period, i.c.satisfied.is_not(None), *org_filter(i, org)]
    if template_id:
        where.append(i.c.template_id == template_id)
    rows = (await uow.session.execute(
        sa.select(i.c.item_id, sa.func.count().filter(i.c.satisfied.is_(True)), sa.func.count())
        .where(*where).group_by(i.c.item_id).order_by(i.c.item_id)
    )).all()
    items = []
    exact_rates: list[Decimal] = []
    for item_id, satisfied, answered in rows:
        rate = Decimal(100) * int(satisfied) / int(answered)
        exact_rates.append(rate)
        items.append({"item_id": item_id, "satisfied": int(satisfied), "dissatisfied": int(answered) - int(satisfied),
                      "rate": float(rate.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))})
    overall = sum(exact_rates, Decimal(0)) / len(exact_rates) if exact_rates else None
    s = SurveyFact.__table__
    responses = (await uow.session.execute(
        sa.select(sa.func.count()).where(s.c.period == period, *org_filter(s, org),
                                         *([s.c.template_id == template_id] if template_id else []))
    )).scalar_one()
    return {
        "period": period, "org": org, "template_id": template_id, "responses": int(responses), "items": items,
        "overall_rate": float(overall.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)) if overall is not None else None,
        "pass_mark": float(SATISFACTION_PASS),
        "qualified": (overall >= SATISFACTION_PASS) if overall is not None else None,
    }


async def survey_counts(*, period: str, org: str, uow: UnitOfWork) -> dict[str, int]:
    s = SurveyFact.__table__
    rows = await uow.session.execute(
        sa.select(s.c.scheme, sa.func.count()).where(s.c.period == period, *org_filter(s, org)).group_by(s.c.scheme))
    return {str(k): int(n) for k, n in rows.all()}


def months_ending(until: str, count: int) -> list[str]:
    """``count`` months up to and including ``until`` ('YYYY-MM'), oldest first."""
    year, month = (int(part) for part in until.split("-"))
    months = []
    for _ in range(count):
        months.append(f"{year}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months[::-1]


async def trend(*, until: str, months: int, org: str, uow: UnitOfWork) -> dict[str, Any]:
    """Complaints received per month, by class, over the ``months`` months ending with ``until``."""
    periods = months_ending(until, months)
    c = CaseFact.__table__
    rows = await uow.session.execute(
        sa.select(c.c.period, c.c.complaint_class, sa.func.count())
        .where(c.c.period.in_(periods), c.c.kind == "complaint", *org_filter(c, org))
        .group_by(c.c.period, c.c.complaint_class)
    )
    by_month = {p: {"period": p, "complaints": 0, "by_class": {"1": 0, "2": 0, "3": 0}} for p in periods}
    for period, cls, n in rows.all():
        month = by_month[str(period)]
        month["complaints"] += int(n)
        if cls is not None:
            month["by_class"][str(cls)] += int(n)
    return {"org": org, "until": until, "months": list(by_month.values())}


async def org_units(*, period: str, org: str, now: datetime, uow: UnitOfWork) -> dict[str, Any]:
    """The month's figures for each org unit one level below ``org`` (the dashboard's drill-down):
    complaints received and still open, cases now past a deadline (any month), satisfaction.

    Facts recorded on ``org`` itself rather than on a unit below it form a row with ``unit`` None,
    so the rows always add up to ``org``'s own figures; a project has no units below it, only
    that row.
    """
    level = len(org_filter(CaseFact.__table__, org))
    c, d, i = CaseFact.__table__, DeadlineFact.__table__, SurveyItemFact.__table__

    def below(table: Any) -> Any:
        return [table.c.org_subsidiary, table.c.org_project, sa.cast(sa.null(), sa.Text)][level - 1].label("unit")

    units: dict[str | None, dict[str, Any]] = {}

    def unit(code: str | None) -> dict[str, Any]:
        return units.setdefault(code, {
            "unit": code, "org": f"{org.strip('/')}/{code}" if code else org.strip("/"), "complaints": 0,
            "by_class": {"1": 0, "2": 0, "3": 0}, "closed": 0, "open": 0, "overdue": 0,
            "satisfaction_rate": None, "qualified": None})

    key = below(c)
    for code, cls, n, closed in (await uow.session.execute(
            sa.select(key, c.c.complaint_class, sa.func.count(), sa.func.count().filter(c.c.state == "closed"))
            .where(c.c.period == period, c.c.kind == "complaint", *org_filter(c, org))
            .group_by(key, c.c.complaint_class))).all():
        row = unit(code)
        row["complaints"] += int(n)
        row["closed"] += int(closed)
        row["open"] += int(n) - int(closed)
        if cls is not None:
            row["by_class"][str(cls)] += int(n)
    # the same definition as open_cases(): an open case with a deadline unmet and past due
    for code, n in (await uow.session.execute(
            sa.select(key, sa.func.count(sa.distinct(c.c.case_id)))
            .select_from(c.join(d, d.c.case_id == c.c.case_id))
            .where(c.c.state.not_in(["closed", "handed_over"]), d.c.met_at.is_(None), d.c.due_at <= now,
                   *org_filter(c, org))
            .group_by(key))).all():
        unit(code)["overdue"] = int(n)
    item_key = below(i)
    rates: dict[str | None, list[Decimal]] = {}
    for code, _item, satisfied, answered in (await uow.session.execute(
            sa.select(item_key, i.c.item_id, sa.func.count().filter(i.c.satisfied.is_(True)), sa.func.count())
            .where(i.c.period == period, i.c.satisfied.is_not(None), *org_filter(i, org))
            .group_by(item_key, i.c.item_id))).all():
        rates.setdefault(code, []).append(Decimal(100) * int(satisfied) / int(answered))
    for code, item_rates in rates.items():
        overall = sum(item_rates, Decimal(0)) / len(item_rates)  # as satisfaction(): mean of item rates
        row = unit(code)
        row["satisfaction_rate"] = float(overall.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
        row["qualified"] = overall >= SATISFACTION_PASS
    ordered = sorted(units.values(), key=lambda r: (r["unit"] is None, r["unit"] or ""))
    return {"period": period, "org": org, "level": ["group", "subsidiary", "project"][level - 1],
            "units": ordered if level < 3 else [],
            "totals": {
                "complaints": sum(r["complaints"] for r in ordered), "closed": sum(r["closed"] for r in ordered),
                "open": sum(r["open"] for r in ordered), "overdue": sum(r["overdue"] for r in ordered),
                "by_class": {k: sum(r["by_class"][k] for r in ordered) for k in ("1", "2", "3")},
            }}
