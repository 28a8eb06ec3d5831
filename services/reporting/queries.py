"""Reporting's views (docs/domain.md §6), computed from the fact tables for any period and org level.

Cutting by org level is a filter on the org path columns, so every view rolls up from project to
subsidiary to group by construction. No view contains personal data.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa

from services.reporting.models import (
    CampaignFact,
    CaseFact,
    CaseOwnerFact,
    DeadlineFact,
    EvaluationFact,
    ProjectFlagFact,
    RemediationFact,
    RepairFact,
    SurveyFact,
    SurveyItemFact,
)
from shared.db import UnitOfWork

DEADLINE_KINDS = ("first_response", "difficult_escalation", "measures_report", "result_delivery",
                  "quality_department")
# Where a complaint also went besides the company (logged in routing); the summary counts each.
EXTERNAL_BODIES = ("group", "government", "media")
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
    """Complaints received in the month (docs/domain.md §6): by class, category and department, their
    outcome so far, and compliance with every deadline."""
    return await summary(periods=[period], label=period, org=org, now=now, uow=uow)


async def summary(*, periods: list[str], label: str, org: str, now: datetime, uow: UnitOfWork) -> dict[str, Any]:
    """The complaint summary over one or more months (a month, a quarter, a half-year)."""
    period = label
    c = CaseFact.__table__
    where = [c.c.period.in_(periods), c.c.kind == "complaint", *org_filter(c, org)]
    # One pass over the month's complaints, grouped four ways at once: the totals (), per class,
    # per category, per department and class. GROUPING() tells the sets apart (a bit set for each
    # column the row is not grouped by), so that a NULL class or category is never mistaken for one.
    cls, category, department = c.c.complaint_class, c.c.category, c.c.lead_department
    rows = (await uow.session.execute(
        sa.select(
            sa.func.grouping(cls, category, department), cls, category, department,
            sa.func.count(),
            sa.func.count().filter(c.c.valid.is_(True)),
            sa.func.count().filter(c.c.important.is_(True)),
            sa.func.count().filter(c.c.state == "closed"),
            sa.func.count().filter(c.c.handed_over.is_(True)),
            sa.func.count().filter(c.c.state == "triage"),
            sa.func.count().filter(c.c.reclassified.is_(True)),
            sa.func.count().filter(c.c.return_visit_done.is_(True)),
            *(sa.func.count().filter(c.c.escalated_to_body == body) for body in EXTERNAL_BODIES),
        )
        .where(*where)
        .group_by(sa.func.grouping_sets(sa.text("()"), sa.tuple_(cls), sa.tuple_(category),
                                        sa.tuple_(department, cls)))
    )).all()
    totals: tuple[Any, ...] = (0,) * (8 + len(EXTERNAL_BODIES))
    by_class = {str(k): 0 for k in (1, 2, 3)}
    by_category: dict[str, int] = {}
    by_department: dict[str, dict[str, int]] = {}
    for grouping, row_class, row_category, dept, *counts in rows:
        n = int(counts[0])
        if grouping == 0b111:
            totals = tuple(counts)
        elif grouping == 0b011 and row_class is not None:
            by_class[str(row_class)] = n
        elif grouping == 0b101 and row_category is not None:
            by_category[str(row_category)] = n
        elif grouping == 0b010 and dept is not None:
            row = by_department.setdefault(str(dept), {"total": 0, "1": 0, "2": 0, "3": 0})
            row["total"] += n
            if row_class is not None:
                row[str(row_class)] += n
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
        # complaints that also reached the group company, a government office or the media
        "reached_external_body": {body: int(n) for body, n in zip(EXTERNAL_BODIES, totals[8:], strict=True)},
        "by_class": by_class,
        "by_category": dict(sorted(by_category.items(), key=lambda kv: (-kv[1], kv[0]))),
        "by_department": dict(sorted(by_department.items())),
        "deadlines": await deadline_compliance(periods=periods, org=org, now=now, uow=uow),
    }


def in_periods(d: Any, periods: list[str]) -> Any:
    """A deadline fact of a case received in ``periods``, by its own month (indexed), or one that
    does not know it (its schedule has not been projected yet, or did not say): the join to the
    case's fact decides. Used beside ``case_facts.period IN periods``."""
    return sa.or_(d.c.period.in_(periods), d.c.period.is_(None))


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
        .where(c.c.period.in_(periods), in_periods(d, periods), *org_filter(d, org),
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
        # literal states, so that the planner can use the partial index of open cases
        .where(c.c.state.not_in(sa.bindparam("done", ["closed", "handed_over"], expanding=True,
                                             literal_execute=True)), *org_filter(c, org))
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


async def classifier_accuracy(*, until: str, months: int, org: str, uow: UnitOfWork) -> dict[str, Any]:
    """The classifier against the staff's corrections, per month received and per subject the
    classifier chose: how many complaints it classified by itself, how many of those a person
    reclassified to another subject or class, and the share it got right (accuracy). Complaints it
    sent to triage are not its answers and are counted apart."""
    periods = months_ending(until, months)
    c = CaseFact.__table__
    corrected_subject = sa.and_(c.c.reclassified.is_(True), c.c.category.is_distinct_from(c.c.machine_category))
    corrected_class = sa.and_(c.c.reclassified.is_(True), c.c.complaint_class.is_distinct_from(c.c.machine_class))
    rows = (await uow.session.execute(
        sa.select(c.c.period, c.c.machine_category, sa.func.count(),
                  sa.func.count().filter(corrected_subject), sa.func.count().filter(corrected_class),
                  sa.func.count().filter(sa.or_(corrected_subject, corrected_class)))
        .where(c.c.period.in_(periods), c.c.kind == "complaint", c.c.machine_category.is_not(None),
               *org_filter(c, org))
        .group_by(c.c.period, c.c.machine_category)
    )).all()
    triaged = dict((await uow.session.execute(
        sa.select(c.c.period, sa.func.count())
        .where(c.c.period.in_(periods), c.c.kind == "complaint", c.c.machine_category.is_(None),
               c.c.category.is_not(None), *org_filter(c, org))
        .group_by(c.c.period))).all())
    versions = {(p, v): int(n) for p, v, n in (await uow.session.execute(
        sa.select(c.c.period, c.c.classifier_version, sa.func.count())
        .where(c.c.period.in_(periods), c.c.machine_category.is_not(None), *org_filter(c, org))
        .group_by(c.c.period, c.c.classifier_version))).all()}
    by_month: dict[str, dict[str, Any]] = {
        p: {"period": p, "classified": 0, "corrected": 0, "accuracy": None, "by_category": [],
            "classified_by_people": int(triaged.get(p, 0)),
            "classifier_versions": {v: n for (pp, v), n in versions.items() if pp == p}} for p in periods}
    for period, category, n, subject, klass, either in sorted(rows, key=lambda r: (r[0], r[1])):
        month = by_month[str(period)]
        month["classified"] += int(n)
        month["corrected"] += int(either)
        month["by_category"].append({
            "category": category, "classified": int(n), "corrected_subject": int(subject),
            "corrected_class": int(klass), "corrected": int(either), "accuracy": percent(int(n) - int(either), int(n))})
    for month in by_month.values():
        month["accuracy"] = percent(month["classified"] - month["corrected"], month["classified"])
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
    past_due = sa.exists().where(d.c.case_id == c.c.case_id, d.c.met_at.is_(None), d.c.due_at <= now)
    for code, n in (await uow.session.execute(
            sa.select(key, sa.func.count())
            # literal states, so that the planner can use the partial index of open cases
            .where(c.c.state.not_in(sa.bindparam("done", ["closed", "handed_over"], expanding=True,
                                                 literal_execute=True)), past_due, *org_filter(c, org))
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


# --- repairs, campaigns, project evaluations, customer managers ----------------------------------

REPAIR_DEADLINE_KINDS = ("repair_response", "repair_finish")


def _tally(total: int, on_time: int, late: int, overdue: int, pending: int) -> dict[str, Any]:
    return {"total": total, "met_on_time": on_time, "met_late": late, "overdue_open": overdue, "pending": pending,
            "on_time_rate": percent(on_time, on_time + late + overdue)}


async def repair_deadlines(*, periods: list[str], org: str, now: datetime, uow: UnitOfWork) -> dict[str, Any]:
    """docs/domain.md §4 for work orders requested in the periods: the 24-hour service's site response
    in warranty (due ``respond_by``, met by the site investigation) and the work finished by the
    time the customer asked for (else the agreed plan's finish; met by the last completion)."""
    r = RepairFact.__table__
    out: dict[str, Any] = {}
    for kind, due, met in (("repair_response", r.c.respond_by, r.c.responded_at),
                           ("repair_finish", r.c.finish_by, r.c.work_done_at)):
        running = sa.and_(met.is_(None), r.c.cancelled.is_(False), r.c.accepted_at.is_(None))
        row = (await uow.session.execute(
            sa.select(sa.func.count(), sa.func.count().filter(met <= due), sa.func.count().filter(met > due),
                      sa.func.count().filter(running, due <= now), sa.func.count().filter(running, due > now))
            .where(r.c.period.in_(periods), due.is_not(None), *org_filter(r, org))
            # a cancelled order's unmet deadline no longer runs
            .where(sa.or_(met.is_not(None), r.c.cancelled.is_(False)))
        )).one()
        out[kind] = _tally(*(int(v) for v in row))
    return out


def _hours(seconds: Any) -> float | None:
    return None if seconds is None else float(Decimal(seconds / 3600).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


async def repairs(*, period: str, org: str, now: datetime, uow: UnitOfWork) -> dict[str, Any]:
    """Repairs (docs/domain.md §6): work orders requested and accepted in the month, time from request to
    the signed joint acceptance, rejected acceptances, the §4 deadlines, defect kinds, and the
    recurring defects detected in the month or still awaiting their remediation's acceptance."""
    r, m = RepairFact.__table__, RemediationFact.__table__
    opened = (await uow.session.execute(
        sa.select(sa.func.count(), sa.func.count().filter(r.c.in_warranty.is_(True)),
                  sa.func.count().filter(r.c.chargeable.is_(True)), sa.func.count().filter(r.c.origin == "complaint"),
                  sa.func.coalesce(sa.func.sum(r.c.case_count), 0))
        .where(r.c.period == period, *org_filter(r, org))
    )).one()
    took = sa.func.extract("epoch", r.c.accepted_at - r.c.requested_at)
    accepted = (await uow.session.execute(
        sa.select(sa.func.count(), sa.func.avg(took), sa.func.percentile_cont(0.5).within_group(took),
                  sa.func.max(took), sa.func.count().filter(r.c.rejections == 0),
                  sa.func.coalesce(sa.func.sum(r.c.rejections), 0),
                  sa.func.count().filter(r.c.quality_verified.is_(True)))
        .where(r.c.accepted_period == period, *org_filter(r, org))
    )).one()
    still_open = (await uow.session.execute(
        sa.select(sa.func.count()).where(r.c.accepted_at.is_(None), r.c.cancelled.is_(False), r.c.period <= period,
                                         *org_filter(r, org))
    )).scalar_one()
    kinds = await uow.session.execute(
        sa.select(r.c.defect_kind, sa.func.count()).where(r.c.period == period, *org_filter(r, org))
        .group_by(r.c.defect_kind).order_by(sa.func.count().desc(), r.c.defect_kind))
    recurring = await uow.session.execute(
        sa.select(m.c.remediation_id, m.c.project_id, m.c.defect_kind, m.c.occurrences, m.c.detected_at,
                  m.c.accepted_at, m.c.effective)
        .where(sa.or_(m.c.period == period, sa.and_(m.c.accepted_at.is_(None), m.c.period <= period)),
               *org_filter(m, org))
        .order_by(m.c.detected_at, m.c.remediation_id))
    count, mean_s, median_s, max_s, first_time, rejections, verified = accepted
    return {
        "period": period, "org": org,
        "requested": int(opened[0]), "in_warranty": int(opened[1]), "chargeable": int(opened[2]),
        "from_complaints": int(opened[3]), "households": int(opened[4]),
        "accepted": int(count), "accepted_first_time": int(first_time), "rejected_acceptances": int(rejections),
        "quality_verified": int(verified), "open": int(still_open),
        "hours_to_acceptance": {"mean": _hours(mean_s), "median": _hours(median_s), "max": _hours(max_s)},
        "deadlines": await repair_deadlines(periods=[period], org=org, now=now, uow=uow),
        "by_defect_kind": {str(k): int(n) for k, n in kinds.all()},
        "recurring_defects": [
            {"remediation_id": str(x.remediation_id), "project_id": x.project_id, "defect_kind": x.defect_kind,
             "occurrences": x.occurrences, "detected_at": x.detected_at.isoformat() if x.detected_at else None,
             "accepted_at": x.accepted_at.isoformat() if x.accepted_at else None, "effective": x.effective}
            for x in recurring.all()],
    }


def _org_of(row: Any) -> str:
    return "/".join(p for p in (row.org_group, row.org_subsidiary, row.org_project) if p)


async def distribution(*, round_period: str, org: str, uow: UnitOfWork) -> dict[str, Any]:
    """Satisfaction campaigns of a round ('2026H1', '2026H2', '2026'): forms the distribution rule
    required, handed out and returned, against the targets (docs/domain.md §5 B)."""
    f = CampaignFact.__table__
    rows = (await uow.session.execute(
        sa.select(f).where(f.c.round_period == round_period, *org_filter(f, org))
        .order_by(f.c.org_group, f.c.org_subsidiary, f.c.org_project, f.c.project_id, f.c.campaign_id)
    )).all()
    campaigns = [{
        "campaign_id": str(x.campaign_id), "org": _org_of(x), "project_id": x.project_id, "round": x.round,
        "rule": x.rule, "scheme": x.scheme, "households": x.households, "occupied_units": x.occupied_units,
        "required": x.required, "drawn": x.drawn, "distributed": x.distributed, "returned": x.returned,
        "refused": x.refused, "return_rate": x.return_rate, "return_target": x.return_target_percent,
        "return_ok": x.return_ok, "distribution_ok": x.distribution_ok, "annual_coverage_ok": x.annual_coverage_ok,
        "score": x.score, "satisfied": x.satisfied, "closed": x.closed_at is not None,
    } for x in rows]
    closed = [c for c in campaigns if c["closed"]]
    distributed = sum(c["distributed"] or 0 for c in closed)
    returned = sum(c["returned"] or 0 for c in closed)
    return {
        "round_period": round_period, "org": org, "campaigns": campaigns,
        "totals": {
            "campaigns": len(campaigns), "closed": len(closed), "required": sum(c["required"] or 0 for c in campaigns),
            "distributed": distributed, "returned": returned, "return_rate": percent(returned, distributed),
            "meeting_return_target": sum(1 for c in closed if c["return_ok"]),
            "meeting_distribution_rule": sum(1 for c in closed if c["distribution_ok"]),
            "satisfied": sum(1 for c in closed if c["satisfied"]),
        },
    }


async def project_scores(*, year: str, org: str, uow: UnitOfWork) -> dict[str, Any]:
    """Project service scores (scheme C) recorded in the year: each project's latest sheets, its
    latest 20/50/30 project score and grade, evaluations gone overdue, and the year's flags, the
    flagged project managers among them."""
    e, g = EvaluationFact.__table__, ProjectFlagFact.__table__
    evaluations = (await uow.session.execute(
        sa.select(e).where(sa.or_(sa.func.extract("year", e.c.evaluated_on) == int(year),
                                  sa.and_(e.c.evaluated_on.is_(None), sa.func.extract("year", e.c.due_on) == int(year))),
                           *org_filter(e, org))
        .order_by(e.c.project_id, e.c.evaluated_on.nulls_last(), e.c.evaluation_id)
    )).all()
    projects: dict[str, dict[str, Any]] = {}
    for x in evaluations:
        p = projects.setdefault(x.project_id, {
            "project_id": x.project_id, "org": _org_of(x), "evaluations": 0, "overdue": 0, "sheets": {},
            "project_score": None, "project_grade": None, "satisfaction_project": None, "flags": []})
        p["overdue"] += int(bool(x.overdue))
        if x.evaluated_on is None:
            continue
        p["evaluations"] += 1
        p["sheets"][x.stage] = {"period": x.period, "score": x.sheet_score, "grade": x.sheet_grade,
                                "evaluated_on": x.evaluated_on.isoformat()}
        if x.project_score is not None:
            p["project_score"], p["project_grade"] = x.project_score, x.project_grade
            p["satisfaction_project"] = x.satisfaction_project
    flags = (await uow.session.execute(
        sa.select(g).where(g.c.period.like(f"{year}-%"), *org_filter(g, org)).order_by(g.c.flagged_at, g.c.flag_id)
    )).all()
    for x in flags:
        p = projects.setdefault(x.project_id, {
            "project_id": x.project_id, "org": _org_of(x), "evaluations": 0, "overdue": 0, "sheets": {},
            "project_score": None, "project_grade": None, "satisfaction_project": None, "flags": []})
        p["flags"].append({"flag": x.flag, "source": x.source, "score": x.score, "threshold": x.threshold,
                           "flagged_at": x.flagged_at.isoformat()})
    rows = sorted(projects.values(), key=lambda p: (p["org"], p["project_id"]))
    grades = [p["project_grade"] for p in rows if p["project_grade"]]
    return {
        "year": year, "org": org, "projects": rows,
        "grades": {grade: grades.count(grade) for grade in ("excellent", "qualified", "fail")},
        "flagged_managers": [p["project_id"] for p in rows
                             if any(f["flag"] in ("manager", "manager_strong") for f in p["flags"])],
    }


async def customer_managers(*, period: str, org: str, now: datetime, uow: UnitOfWork) -> dict[str, Any]:
    """Customer-manager scorecards (seed 004 §6.3: tied to satisfaction and complaint handling): per
    first-contact owner (a staff id), the cases received in the month, complaints among them, those
    closed, the first-response and result-delivery deadlines met on time of those that fell due,
    return visits done, and the satisfaction of the answered survey items on their cases."""
    c, o, d = CaseFact.__table__, CaseOwnerFact.__table__, DeadlineFact.__table__
    s, i = SurveyFact.__table__, SurveyItemFact.__table__
    cases = (await uow.session.execute(
        sa.select(o.c.owner, sa.func.count(), sa.func.count().filter(c.c.kind == "complaint"),
                  sa.func.count().filter(c.c.state == "closed"), sa.func.count().filter(c.c.return_visit_done))
        .select_from(c.join(o, o.c.case_id == c.c.case_id))
        .where(c.c.period == period, *org_filter(c, org)).group_by(o.c.owner)
    )).all()
    cards: dict[str, dict[str, Any]] = {
        owner: {"owner": owner, "cases": int(n), "complaints": int(k), "closed": int(closed),
                "return_visits_done": int(visits), "deadlines": {}, "satisfied_items": 0, "answered_items": 0,
                "satisfaction_rate": None}
        for owner, n, k, closed, visits in cases}
    fell_due = sa.or_(d.c.met_at.is_not(None), d.c.due_at <= now)
    running = sa.or_(d.c.met_at.is_not(None), c.c.state.not_in(["closed", "handed_over"]), c.c.state_as_of > d.c.due_at)
    deadlines = (await uow.session.execute(
        sa.select(o.c.owner, d.c.kind, sa.func.count().filter(fell_due, running),
                  sa.func.count().filter(d.c.met_at <= d.c.due_at))
        .select_from(d.join(c, c.c.case_id == d.c.case_id).join(o, o.c.case_id == d.c.case_id))
        .where(c.c.period == period, in_periods(d, [period]), d.c.kind.in_(["first_response", "result_delivery"]),
               *org_filter(c, org))
        .group_by(o.c.owner, d.c.kind)
    )).all()
    for owner, kind, due, on_time in deadlines:
        if owner in cards:
            cards[owner]["deadlines"][kind] = {"fell_due": int(due), "met_on_time": int(on_time),
                                               "on_time_rate": percent(int(on_time), int(due))}
    answers = (await uow.session.execute(
        sa.select(o.c.owner, sa.func.count().filter(i.c.satisfied.is_(True)), sa.func.count())
        .select_from(i.join(s, s.c.response_id == i.c.response_id).join(o, o.c.case_id == s.c.case_id)
                     .join(c, c.c.case_id == s.c.case_id))
        .where(c.c.period == period, i.c.satisfied.is_not(None), *org_filter(c, org)).group_by(o.c.owner)
    )).all()
    for owner, satisfied, answered in answers:
        if owner in cards:
            cards[owner].update(satisfied_items=int(satisfied), answered_items=int(answered),
                                satisfaction_rate=percent(int(satisfied), int(answered)))
    for card in cards.values():
        for kind in ("first_response", "result_delivery"):
            card["deadlines"].setdefault(kind, {"fell_due": 0, "met_on_time": 0, "on_time_rate": None})
    return {"period": period, "org": org, "managers": [cards[k] for k in sorted(cards)]}
