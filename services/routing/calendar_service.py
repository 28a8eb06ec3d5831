"""Routing's calendar use cases: load a year's official holiday schedule, count open deadlines again.

Loading a schedule (HTTP or ``careloop calendar load``) stores it in routing's schema, counts every
open deadline that touches its year again on the new calendar, and records a
``HolidayScheduleLoaded`` event (intake and reporting keep it too) in the same transaction. A
deadline whose due time or provisional mark changed is said again in one ``DeadlinesScheduled``
each (``rescheduled_by`` names the load); a repeated load of the same schedule changes nothing.

Each replica's refresher (shared/calendar_store.py) swaps the stored schedules into its live
calendar and counts again the deadlines that are still provisional: those another replica counted
on the old calendar while the load was committing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from services.routing.models import Case, DeadlineRecord, holiday_schedules
from services.routing.service import PRODUCER, Collaborators
from shared.calendar import BusinessCalendar
from shared.calendar_store import LiveCalendar, store_schedule, stored_schedules
from shared.db import UnitOfWork
from shared.events import OrgPath
from shared.events.calendar import (
    NATIONAL_GROUP,
    HolidayScheduleLoaded,
    HolidayScheduleLoadedData,
    ScheduledHoliday,
    schedule_aggregate_id,
)
from shared.events.cases import Deadline, DeadlinesScheduled, DeadlinesScheduledData
from shared.national_calendar import HolidaySchedule

#: How many open deadlines one transaction counts again (a load of a busy year takes several).
RECOMPUTE_BATCH = 500


@dataclass(frozen=True)
class ScheduleLoad:
    year: int
    digest: str
    #: False when the same schedule was already loaded: nothing changed, no event.
    changed: bool
    previous_digest: str | None
    deadlines_recomputed: int


def live_calendar(deps: Collaborators) -> LiveCalendar:
    calendar = getattr(deps.planner, "calendar", None)
    if not isinstance(calendar, LiveCalendar):
        raise TypeError("routing's planner must count on a LiveCalendar to load holiday schedules")
    return calendar


async def load_holiday_schedule(
    schedule: HolidaySchedule, *, loaded_by: str, uow: UnitOfWork, deps: Collaborators
) -> ScheduleLoad:
    """Store ``schedule`` as its year's, count that year's open deadlines again, say so once."""
    now = deps.clock()
    changed, previous = await store_schedule(uow.session, holiday_schedules, schedule,
                                             loaded_by=loaded_by, loaded_at=now)
    if not changed:
        return ScheduleLoad(schedule.year, schedule.digest, False, previous, 0)
    calendar = live_calendar(deps).with_loaded(await stored_schedules(uow.session, holiday_schedules))
    reason = f"holiday-schedule:{schedule.year}:{schedule.digest}"
    recomputed, after = 0, None
    while True:
        batch = await recompute_open_deadlines(uow, deps, calendar, year=schedule.year, reason=reason, now=now,
                                               after_id=after)
        recomputed += batch.changed
        if batch.examined == 0:
            break
        after = batch.last_id
    document = schedule.as_document()
    uow.publish(HolidayScheduleLoaded.create(
        data=HolidayScheduleLoadedData(
            year=schedule.year, digest=schedule.digest, notice=schedule.notice, previous_digest=previous,
            loaded_by=loaded_by, loaded_at=now, deadlines_recomputed=recomputed,
            holidays=tuple(ScheduledHoliday(**holiday) for holiday in document["holidays"]),
        ),
        org=OrgPath(group=NATIONAL_GROUP), aggregate_id=schedule_aggregate_id(schedule.year), occurred_at=now,
        producer=PRODUCER,
    ))
    return ScheduleLoad(schedule.year, schedule.digest, True, previous, recomputed)


@dataclass(frozen=True)
class RecomputeBatch:
    examined: int
    changed: int
    last_id: int | None


async def recompute_open_deadlines(
    uow: UnitOfWork, deps: Collaborators, calendar: BusinessCalendar | LiveCalendar, *, reason: str,
    now: datetime, year: int | None = None, after_id: int | None = None, limit: int = RECOMPUTE_BATCH,
) -> RecomputeBatch:
    """Count open deadlines again on ``calendar``: those touching ``year``, or (no year) every one
    still provisional. Rows another transaction holds are skipped (it is counting them)."""
    d, c = DeadlineRecord, Case
    kinds = tuple(getattr(deps.planner, "kinds", ()))
    query = (
        sa.select(d, c.org_group, c.org_subsidiary, c.org_project, c.correlation_id, c.received_at, c.important)
        .join(c, c.id == d.case_id)
        .where(d.met_at.is_(None), d.breached_at.is_(None), d.cancelled_at.is_(None), d.kind.in_(kinds))
        .order_by(d.id).limit(limit).with_for_update(of=d, skip_locked=True)
    )
    if year is not None:
        # A count that starts in the year or runs into it (from the December before: a holiday can
        # reach back, 元旦 2024 began on 30 Dec 2023).
        query = query.where(d.starts_at < datetime(year + 1, 1, 1, tzinfo=UTC),
                            d.due_at >= datetime(year - 1, 12, 1, tzinfo=UTC))
    else:
        query = query.where(d.provisional.is_(True))
    if after_id is not None:
        query = query.where(d.id > after_id)
    rows = (await uow.session.execute(query)).all()
    changed = 0
    for record, group, subsidiary, project, correlation_id, received_at, important in rows:
        org_path = "/".join(part for part in (group, subsidiary, project) if part)
        planned = deps.planner.plan_on(calendar, record.kind, record.starts_at, org_path)  # type: ignore[attr-defined]
        same = planned.due_at == record.due_at and planned.provisional == record.provisional
        record.explanation, record.explanation_en = planned.explanation, planned.explanation_en
        record.calendar_version = planned.calendar_version
        if same:
            continue
        record.due_at, record.provisional = planned.due_at, planned.provisional
        changed += 1
        case = SimpleNamespace(id=record.case_id, org_group=group, org_subsidiary=subsidiary, org_project=project,
                               correlation_id=correlation_id)
        uow.publish(DeadlinesScheduled.create(
            data=DeadlinesScheduledData(
                case_id=record.case_id, calendar_version=planned.calendar_version, case_received_at=received_at,
                complaint_important=bool(important), rescheduled_by=reason,
                deadlines=(Deadline(kind=record.kind, due_at=planned.due_at,  # type: ignore[arg-type]
                                    explanation=planned.explanation, explanation_en=planned.explanation_en,
                                    provisional=planned.provisional),),
            ),
            org=OrgPath(group=case.org_group, subsidiary=case.org_subsidiary, project=case.org_project),
            aggregate_id=case.id, occurred_at=now, producer=PRODUCER, correlation_id=case.correlation_id,
        ))
    return RecomputeBatch(len(rows), changed, rows[-1][0].id if rows else None)


async def recompute_provisional(*, uow_factory: Any, deps: Collaborators) -> int:
    """Every open deadline still provisional, counted again on this replica's live calendar (after
    its refresher swapped in new schedules). Idempotent: a deadline already counted on the new
    calendar is no longer provisional, or comes out the same, and says nothing."""
    live = live_calendar(deps)
    reason = f"holiday-schedules:{live.calendar_version}"
    total, after = 0, None
    while True:
        async with uow_factory() as uow:
            batch = await recompute_open_deadlines(uow, deps, live.current, reason=reason, now=deps.clock(),
                                                   after_id=after)
            await uow.commit()
        total += batch.changed
        if batch.examined == 0:
            return total
        after = batch.last_id


__all__ = ["ScheduleLoad", "load_holiday_schedule", "live_calendar", "recompute_open_deadlines",
           "recompute_provisional"]
