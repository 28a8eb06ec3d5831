"""Routing's calendar routes: load a year's official holiday schedule, see which years are official.

``POST /api/v1/calendar/schedules`` takes the schedule file (JSON or TOML, as the body or as
form field ``file``; ``?dry_run=true`` checks it and counts what would change without keeping it).
``GET /api/v1/calendar`` says which years are official, which are counted by rule, and what is
missing; ``GET /api/v1/calendar/days`` shows each day of a range as a unit's calendar counts it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel
from starlette.datastructures import UploadFile

from services.routing import calendar_service
from services.routing.models import holiday_schedules
from services.routing.service import Collaborators
from shared.auth import Principal, Role, require
from shared.calendar_store import stored_schedules
from shared.db import UnitOfWorkFactory
from shared.national_calendar import BUILTIN_VERSION, RULES_VERSION, HolidaySchedule, ScheduleInvalid, holiday_name_zh

#: A year's schedule is a few hundred bytes; anything near this is not one.
MAX_SCHEDULE_BYTES = 64 * 1024

# Loading the national calendar changes every org unit's deadlines: administrators and the quality
# department (which tracks deadlines) only. Everyone who reads cases may read the calendar.
LOAD = require(Role.ADMINISTRATOR, Role.QUALITY)
READ = require(Role.CUSTOMER_SERVICE, Role.HANDLER, Role.QUALITY, Role.SITE_TEAM, Role.CUSTOMER_MANAGER,
               Role.EXECUTIVE, Role.ADMINISTRATOR, Role.SYSTEM)


class ScheduleLoadOut(BaseModel):
    year: int
    digest: str
    changed: bool
    previous_digest: str | None
    deadlines_recomputed: int
    dry_run: bool
    message: str


class CalendarDayOut(BaseModel):
    date: date
    working: bool
    label: str | None
    holiday_zh: str | None
    provisional: bool


async def _schedule_file(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_SCHEDULE_BYTES:
        raise HTTPException(413, {"error": "too_large", "reason": f"节假日安排文件最多 {MAX_SCHEDULE_BYTES} 字节"})
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=5) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise HTTPException(422, {"error": "validation_failed",
                                          "fields": [{"field": "file", "reason": "请以表单字段 file 上传安排文件"}]})
            content = await upload.read(MAX_SCHEDULE_BYTES + 1)
    else:
        content = await request.body()
    if len(content) > MAX_SCHEDULE_BYTES:
        raise HTTPException(413, {"error": "too_large", "reason": f"节假日安排文件最多 {MAX_SCHEDULE_BYTES} 字节"})
    if not content.strip():
        raise HTTPException(422, {"error": "validation_failed",
                                  "fields": [{"field": "(body)", "reason": "没有收到节假日安排文件"}]})
    return content


def build_router(*, uow_factory: UnitOfWorkFactory, deps: Collaborators) -> APIRouter:
    router = APIRouter(prefix="/api/v1/calendar", tags=["calendar"])
    live = calendar_service.live_calendar(deps)

    @router.post("/schedules", response_model=ScheduleLoadOut, status_code=201)
    async def load(request: Request, response: Response, caller: Annotated[Principal, Depends(LOAD)],
                   dry_run: bool = False) -> ScheduleLoadOut:
        """Load a year's State Council schedule: every open deadline touching the year is counted again."""
        try:
            schedule = HolidaySchedule.from_text(await _schedule_file(request))
        except ScheduleInvalid as exc:
            raise HTTPException(422, {"error": "validation_failed", "fields": exc.errors}) from exc
        async with uow_factory() as uow:
            result = await calendar_service.load_holiday_schedule(schedule, loaded_by=caller.subject, uow=uow,
                                                                  deps=deps)
            if not dry_run:
                await uow.commit()
                live.use(await stored_schedules(uow.session, holiday_schedules))
        if not result.changed or dry_run:
            response.status_code = 200
        return _load_out(result, dry_run=dry_run)

    @router.get("")
    async def status(caller: Annotated[Principal, Depends(READ)]) -> dict[str, Any]:
        """Which years are official (built in, loaded), which need loading, and the version in use."""
        national = live.national
        today = deps.clock().date()
        builtin = sorted(year for year, s in national.schedules.items() if s.source == BUILTIN_VERSION)
        return {
            "calendar_version": live.calendar_version,
            "built_in": {"source": BUILTIN_VERSION, "years": [builtin[0], builtin[-1]] if builtin else []},
            "loaded": [{"year": s.year, "digest": s.digest, "notice": s.notice}
                       for s in sorted(national.loaded, key=lambda s: s.year)],
            "statutory_rules": RULES_VERSION,
            **live.readiness_note(today),
        }

    @router.get("/days", response_model=list[CalendarDayOut])
    async def days(caller: Annotated[Principal, Depends(READ)], start: Annotated[date, Query(alias="from")],
                   end: Annotated[date, Query(alias="to")], org: str = "default") -> list[CalendarDayOut]:
        """Each day from ``from`` to ``to`` (at most 400) as the unit's calendar counts it."""
        if end < start or (end - start).days > 400:
            raise HTTPException(422, {"error": "validation_failed",
                                      "fields": [{"field": "to", "reason": "应不早于 from，且范围不超过 400 天"}]})
        unit = live.for_unit(org)
        out = []
        for n in range((end - start).days + 1):
            day = unit.day(start + timedelta(days=n))
            name = live.national.holiday_name(day.date)
            out.append(CalendarDayOut(date=day.date, working=day.working, label=day.label,
                                      holiday_zh=holiday_name_zh(name), provisional=day.provisional))
        return out

    return router


def _load_out(result: calendar_service.ScheduleLoad, *, dry_run: bool) -> ScheduleLoadOut:
    if not result.changed:
        message = f"{result.year} 年的这份安排已载入，未作改动"
    elif dry_run:
        message = f"检查通过（未保存）：载入后将重新计算 {result.deadlines_recomputed} 个未完成期限"
    else:
        message = f"已载入 {result.year} 年节假日安排，重新计算了 {result.deadlines_recomputed} 个未完成期限"
    return ScheduleLoadOut(year=result.year, digest=result.digest, changed=result.changed,
                           previous_digest=result.previous_digest, deadlines_recomputed=result.deadlines_recomputed,
                           dry_run=dry_run, message=message)


__all__ = ["MAX_SCHEDULE_BYTES", "build_router"]
