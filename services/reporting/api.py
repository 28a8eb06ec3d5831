"""Reporting's HTTP API (JSON; OpenAPI at /docs): the views of DOMAIN.md §6 for any month or
quarter and any org level. No personal data exists here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from services.reporting import queries
from shared.clock import Clock
from shared.db import UnitOfWork, UnitOfWorkFactory

Period = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="month, YYYY-MM")]
Quarter = Annotated[str, Query(pattern=r"^\d{4}-Q[1-4]$", description="quarter, YYYY-Qn")]
OrgPathParam = Annotated[str, Query(min_length=1, max_length=200, description="'G', 'G/S' or 'G/S/P'")]


def build_router(*, uow_factory: UnitOfWorkFactory, clock: Clock) -> APIRouter:
    router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

    async def read(view: Callable[[UnitOfWork], Awaitable[Any]]) -> Any:
        try:
            async with uow_factory() as uow:
                return await view(uow)
        except queries.BadFilter as exc:
            raise HTTPException(422, {"error": "validation_failed",
                                      "fields": [{"field": exc.field, "reason": exc.reason}]}) from exc

    @router.get("/complaint-counts")
    async def complaint_counts(period: Period, org: OrgPathParam) -> dict[str, Any]:
        counts = await read(lambda uow: queries.complaint_counts(periods=[period], org=org, uow=uow))
        by_class = {str(c): counts.get(c, 0) for c in (1, 2, 3)}
        return {"period": period, "org": org, "by_class": by_class, "total": sum(by_class.values())}

    @router.get("/monthly-summary", summary="Monthly complaint summary per department and org unit")
    async def monthly_summary(period: Period, org: OrgPathParam) -> dict[str, Any]:
        return await read(lambda uow: queries.monthly_summary(period=period, org=org, now=clock(), uow=uow))

    @router.get("/pareto", summary="Quarterly complaint categories, largest first (排列图)")
    async def pareto(quarter: Quarter, org: OrgPathParam) -> dict[str, Any]:
        return await read(lambda uow: queries.pareto(quarter=quarter, org=org, uow=uow))

    @router.get("/deadline-compliance")
    async def deadline_compliance(period: Period, org: OrgPathParam) -> dict[str, Any]:
        compliance = await read(lambda uow: queries.deadline_compliance(periods=[period], org=org, now=clock(), uow=uow))
        return {"period": period, "org": org, "deadlines": compliance}

    @router.get("/open-cases", summary="Open cases and their overdue deadlines (no personal data)")
    async def open_cases(org: OrgPathParam, overdue_only: bool = False) -> dict[str, Any]:
        cases = await read(lambda uow: queries.open_cases(org=org, now=clock(), uow=uow))
        if overdue_only:
            cases = [c for c in cases if c["overdue"]]
        return {"org": org, "cases": cases, "count": len(cases)}

    @router.get("/satisfaction", summary="Satisfaction per item and overall against the 96 % mark")
    async def satisfaction(period: Period, org: OrgPathParam, template_id: str | None = None) -> dict[str, Any]:
        return await read(lambda uow: queries.satisfaction(period=period, org=org, template_id=template_id, uow=uow))

    @router.get("/survey-counts")
    async def survey_counts(period: Period, org: OrgPathParam) -> dict[str, Any]:
        counts = await read(lambda uow: queries.survey_counts(period=period, org=org, uow=uow))
        return {"period": period, "org": org, "by_scheme": counts, "total": sum(counts.values())}

    return router
