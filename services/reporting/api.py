"""Reporting's HTTP API (JSON; OpenAPI at /docs): the views of docs/domain.md §6 for any month or
quarter and any org level, each also as a CSV or XLSX download (``?format=``, see exports.py).
No personal data exists here."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from services.reporting import complaint_list as complaint_list_view
from services.reporting import exports, queries
from shared.auth import Principal, Role, require
from shared.clock import Clock, month_of
from shared.db import UnitOfWork, UnitOfWorkFactory

Period = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="month, YYYY-MM")]
Quarter = Annotated[str, Query(pattern=r"^\d{4}-Q[1-4]$", description="quarter, YYYY-Qn")]
OrgPathParam = Annotated[str, Query(min_length=1, max_length=200, description="'G', 'G/S' or 'G/S/P'")]
RoundPeriod = Annotated[str, Query(pattern=r"^\d{4}(H[12])?$", description="a campaign round: 'YYYYH1', 'YYYYH2' or 'YYYY'")]
Year = Annotated[str, Query(pattern=r"^\d{4}$", description="YYYY")]
Format = Annotated[exports.ExportFormat, Query(alias="format",
                                               description="json (default), csv (UTF-8 with BOM) or xlsx")]
LastMonth = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="the last month, YYYY-MM; "
                                        "default: this month")]
View = dict[str, Any] | Response

log = logging.getLogger(__name__)

# Reports hold no personal data; everyone who answers for complaints or satisfaction reads them,
# and so may integrating systems (e.g. a BI tool) — each only over the org units they may see.
READ_REPORTS = require(Role.QUALITY, Role.EXECUTIVE, Role.CUSTOMER_MANAGER, Role.CUSTOMER_SERVICE, Role.HANDLER,
                       Role.ADMINISTRATOR, Role.SYSTEM)


async def org_in_scope(request: Request, caller: Annotated[Principal, Depends(READ_REPORTS)]) -> Principal:
    """A view rolls up only over what the caller may see: an ``org`` outside their org units (or
    above them: a subsidiary's figures are not the group's) is refused."""
    org = request.query_params.get("org")
    if org is not None and not caller.may_see(org):
        log.warning("forbidden", extra={"subject": caller.subject, "route": request.url.path, "reason": "org scope"})
        raise HTTPException(403, {"error": "out_of_scope", "reason": "this org unit is outside your org units",
                                  "your_org_units": list(caller.scopes)})
    return caller


def visible_paths(caller: Principal, paths: list[str]) -> list[str]:
    return [p for p in paths if caller.may_see(p)]


def build_router(*, uow_factory: UnitOfWorkFactory, clock: Clock) -> APIRouter:
    router = APIRouter(prefix="/api/v1/reports", tags=["reports"], dependencies=[Depends(org_in_scope)])

    async def read(view: Callable[[UnitOfWork], Awaitable[Any]]) -> Any:
        try:
            async with uow_factory() as uow:
                return await view(uow)
        except queries.BadFilter as exc:
            raise HTTPException(422, {"error": "validation_failed",
                                      "fields": [{"field": exc.field, "reason": exc.reason}]}) from exc

    def view(path: str, **options: Any) -> Callable[[Callable[..., Any]], Any]:
        return router.get(path, response_model=None, responses=exports.RESPONSES, **options)

    @view("/complaint-counts")
    async def complaint_counts(period: Period, org: OrgPathParam, export_format: Format = "json") -> View:
        counts = await read(lambda uow: queries.complaint_counts(periods=[period], org=org, uow=uow))
        by_class = {str(c): counts.get(c, 0) for c in (1, 2, 3)}
        return exports.respond("complaint-counts", {"period": period, "org": org, "by_class": by_class,
                                                    "total": sum(by_class.values())}, export_format)

    @view("/monthly-summary", summary="Monthly complaint summary per department and org unit")
    async def monthly_summary(period: Period, org: OrgPathParam, export_format: Format = "json") -> View:
        summary = await read(lambda uow: queries.monthly_summary(period=period, org=org, now=clock(), uow=uow))
        return exports.respond("monthly-summary", summary, export_format)

    @view("/pareto", summary="Quarterly complaint categories, largest first (排列图)")
    async def pareto(quarter: Quarter, org: OrgPathParam, export_format: Format = "json") -> View:
        return exports.respond("pareto", await read(lambda uow: queries.pareto(quarter=quarter, org=org, uow=uow)),
                               export_format)

    @view("/deadline-compliance", summary="Every deadline of docs/domain.md §3 (cases) and §4 (repairs), met on time or not")
    async def deadline_compliance(period: Period, org: OrgPathParam, export_format: Format = "json") -> View:
        async def both(uow: UnitOfWork) -> dict[str, Any]:
            now = clock()
            return {**await queries.deadline_compliance(periods=[period], org=org, now=now, uow=uow),
                    **await queries.repair_deadlines(periods=[period], org=org, now=now, uow=uow)}

        compliance = await read(both)
        return exports.respond("deadline-compliance", {"period": period, "org": org, "deadlines": compliance},
                               export_format)

    @view("/open-cases", summary="Open cases and their overdue deadlines (no personal data)")
    async def open_cases(org: OrgPathParam, overdue_only: bool = False, export_format: Format = "json") -> View:
        cases = await read(lambda uow: queries.open_cases(org=org, now=clock(), uow=uow))
        if overdue_only:
            cases = [c for c in cases if c["overdue"]]
        return exports.respond("open-cases", {"org": org, "cases": cases, "count": len(cases)}, export_format)

    @view("/satisfaction", summary="Satisfaction per item and overall against the 96 % mark")
    async def satisfaction(period: Period, org: OrgPathParam, template_id: str | None = None,
                           export_format: Format = "json") -> View:
        rates = await read(lambda uow: queries.satisfaction(period=period, org=org, template_id=template_id, uow=uow))
        return exports.respond("satisfaction", rates, export_format)

    @view("/survey-counts")
    async def survey_counts(period: Period, org: OrgPathParam, export_format: Format = "json") -> View:
        counts = await read(lambda uow: queries.survey_counts(period=period, org=org, uow=uow))
        return exports.respond("survey-counts", {"period": period, "org": org, "by_scheme": counts,
                                                 "total": sum(counts.values())}, export_format)

    @view("/trend", summary="Complaints per month, by class, over the months ending with `until` (dashboard)")
    async def trend(org: OrgPathParam, until: LastMonth = None, months: Annotated[int, Query(ge=1, le=36)] = 6,
                    export_format: Format = "json") -> View:
        last = until or month_of(clock())
        return exports.respond("trend", await read(lambda uow: queries.trend(until=last, months=months, org=org,
                                                                             uow=uow)), export_format)

    @view("/classifier-accuracy", summary="分类准确率：分类器的结果与人工改判对比，按月、按主题")
    async def classifier_accuracy(org: OrgPathParam, until: LastMonth = None,
                                  months: Annotated[int, Query(ge=1, le=36)] = 6, export_format: Format = "json") -> View:
        last = until or month_of(clock())
        return exports.respond("classifier-accuracy", await read(
            lambda uow: queries.classifier_accuracy(until=last, months=months, org=org, uow=uow)), export_format)

    @view("/org-units", summary="The month's figures per org unit one level down (dashboard drill-down)")
    async def org_units(period: Period, org: OrgPathParam, export_format: Format = "json") -> View:
        units = await read(lambda uow: queries.org_units(period=period, org=org, now=clock(), uow=uow))
        return exports.respond("org-units", units, export_format)

    @view("/repairs", summary="Repairs: requested, accepted, time to acceptance, §4 deadlines, recurring defects")
    async def repairs(period: Period, org: OrgPathParam, export_format: Format = "json") -> View:
        view_ = await read(lambda uow: queries.repairs(period=period, org=org, now=clock(), uow=uow))
        return exports.respond("repairs", view_, export_format)

    @view("/distribution", summary="Satisfaction campaigns of a round: distribution and return rates against targets")
    async def distribution(round_period: RoundPeriod, org: OrgPathParam, export_format: Format = "json") -> View:
        view_ = await read(lambda uow: queries.distribution(round_period=round_period, org=org, uow=uow))
        return exports.respond("distribution", view_, export_format)

    @view("/project-scores", summary="Project service scores and grades (scheme C), flags and flagged managers")
    async def project_scores(year: Year, org: OrgPathParam, export_format: Format = "json") -> View:
        view_ = await read(lambda uow: queries.project_scores(year=year, org=org, uow=uow))
        return exports.respond("project-scores", view_, export_format)

    @view("/customer-managers", summary="Customer-manager scorecards: complaint handling and satisfaction per "
                                        "first-contact owner (staff id)")
    async def customer_managers(period: Period, org: OrgPathParam, export_format: Format = "json") -> View:
        view_ = await read(lambda uow: queries.customer_managers(period=period, org=org, now=clock(), uow=uow))
        return exports.respond("customer-managers", view_, export_format)

    @view("/complaint-list", summary="The complaint list (客诉清单): every complaint of the month per org unit, "
                                     "its deadlines, corrective action and verification, acceptance, return "
                                     "visit and publication; filterable")
    async def complaint_list(
        period: Period, org: OrgPathParam,
        complaint_class: Annotated[int | None, Query(ge=1, le=3, description="投诉类别 1, 2 or 3")] = None,
        category: Annotated[str | None, Query(max_length=64, description="投诉内容分类 (code)")] = None,
        department: Annotated[str | None, Query(max_length=64, description="责任部门 (code)")] = None,
        state: Annotated[str | None, Query(max_length=64, description="案件状态 (code)")] = None,
        export_format: Format = "json",
    ) -> View:
        view_ = await read(lambda uow: complaint_list_view.complaint_list(
            period=period, org=org, now=clock(), uow=uow, complaint_class=complaint_class, category=category,
            department=department, state=state))
        return exports.respond("complaint-list", view_, export_format)

    @router.get("/org-paths", summary="Every org unit with facts in the month (the dashboard's org filter)")
    async def org_paths(period: Period, caller: Annotated[Principal, Depends(READ_REPORTS)]) -> dict[str, Any]:
        orgs = await read(lambda uow: queries.org_paths(periods=[period], uow=uow))
        return {"period": period, "orgs": visible_paths(caller, orgs)}

    return router
