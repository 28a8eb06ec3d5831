"""Reporting's HTTP API: counts per month and org unit (no personal data exists here)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from services.reporting import service
from shared.db import UnitOfWorkFactory

Period = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="month, YYYY-MM")]
OrgPathParam = Annotated[str, Query(min_length=1, max_length=200, description="'G', 'G/S' or 'G/S/P'")]


class ComplaintCountsOut(BaseModel):
    period: str
    org: str
    by_class: dict[str, int]
    total: int


class SurveyCountsOut(BaseModel):
    period: str
    org: str
    by_scheme: dict[str, int]
    total: int


def build_router(*, uow_factory: UnitOfWorkFactory) -> APIRouter:
    router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

    @router.get("/complaint-counts", response_model=ComplaintCountsOut)
    async def complaint_counts(period: Period, org: OrgPathParam) -> ComplaintCountsOut:
        async with uow_factory() as uow:
            counts = await service.complaint_counts(period=period, org_path=org, uow=uow)
        by_class = {str(c): counts.get(c, 0) for c in (1, 2, 3)}
        return ComplaintCountsOut(period=period, org=org, by_class=by_class, total=sum(by_class.values()))

    @router.get("/survey-counts", response_model=SurveyCountsOut)
    async def survey_counts(period: Period, org: OrgPathParam) -> SurveyCountsOut:
        async with uow_factory() as uow:
            counts = await service.survey_counts(period=period, org_path=org, uow=uow)
        return SurveyCountsOut(period=period, org=org, by_scheme=counts, total=sum(counts.values()))

    return router
