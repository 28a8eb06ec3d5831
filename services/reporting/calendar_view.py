"""Reporting's view of the national calendar: which years' holiday schedules are official, and how
many open deadlines are still counted provisionally (over a year with no official schedule yet).

The schedules come from ``HolidayScheduleLoaded`` (kept as routing and intake keep them); the
provisional mark of each deadline from ``DeadlinesScheduled`` (projections.py).
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends

from services.reporting.api import READ_REPORTS, org_in_scope
from services.reporting.models import DeadlineFact, holiday_schedules
from shared.auth import Principal
from shared.auth.scoping import org_columns_clause
from shared.calendar_store import schedule_of_event, store_schedule, stored_schedules
from shared.clock import Clock
from shared.db import UnitOfWork, UnitOfWorkFactory
from shared.events import Event
from shared.events.calendar import HolidayScheduleLoaded
from shared.national_calendar import NationalCalendar


async def on_holiday_schedule_loaded(event: Event, uow: UnitOfWork) -> None:
    assert isinstance(event, HolidayScheduleLoaded)
    await store_schedule(uow.session, holiday_schedules, schedule_of_event(event),
                         loaded_by=event.data.loaded_by, loaded_at=event.data.loaded_at)


PROJECTIONS = {HolidayScheduleLoaded.EVENT_TYPE: on_holiday_schedule_loaded}


def build_router(*, uow_factory: UnitOfWorkFactory, clock: Clock) -> APIRouter:
    router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

    @router.get("/calendar")
    async def calendar(caller: Annotated[Principal, Depends(org_in_scope)], org: str | None = None) -> dict[str, Any]:
        """Official years (built in and loaded), the years missing now, and open deadlines still
        provisional inside the caller's org units (or ``org``)."""
        d = DeadlineFact
        async with uow_factory() as uow:
            loaded = (await uow.session.execute(
                sa.select(holiday_schedules.c.year, holiday_schedules.c.digest, holiday_schedules.c.notice,
                          holiday_schedules.c.loaded_at).order_by(holiday_schedules.c.year))).all()
            query = (sa.select(d.kind, sa.func.count())
                     .where(d.provisional.is_(True), d.met_at.is_(None), d.breached_at.is_(None)).group_by(d.kind))
            if (visible := org_columns_clause(caller, d.org_group, d.org_subsidiary, d.org_project)) is not None:
                query = query.where(visible)
            if org:
                parts = org.strip("/").split("/")
                for column, value in zip((d.org_group, d.org_subsidiary, d.org_project), parts, strict=False):
                    query = query.where(column == value)
            provisional = dict((await uow.session.execute(query)).all())
            national = NationalCalendar(loaded=await stored_schedules(uow.session, holiday_schedules))
        missing = national.missing_years(clock().date())
        return {
            "loaded": [{"year": r.year, "digest": r.digest, "notice": r.notice, "loaded_at": r.loaded_at} for r in loaded],
            "missing_official_schedule": missing,
            "open_provisional_deadlines": {"total": sum(provisional.values()), "by_kind": provisional},
            "message": (f"缺少 {'、'.join(map(str, missing))} 年国务院节假日安排，相关期限为暂定" if missing
                        else "节假日安排齐全"),
        }

    return router


__all__ = ["PROJECTIONS", "build_router"]
