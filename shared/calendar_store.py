"""Loaded holiday schedules as a service keeps them, and the live calendar its replicas count on.

Intake and routing both count working time. Each keeps the schedules operators load in its own
schema (``holiday_schedules``, one row per year: the latest load), and each replica of either
re-reads that table every ``calendar_refresh_interval_s``, so a replica that did not handle the
``HolidayScheduleLoaded`` event itself counts on the new year within that time (docs/domain.md §3).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared.calendar import BusinessCalendar, UnitCalendar
from shared.events.calendar import HolidayScheduleLoaded

from shared.national_calendar import HolidaySchedule, NationalCalendar, schedules_from_documents
from shared.runtime import repeat

log = logging.getLogger(__name__)


def _columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("digest", sa.Text, nullable=False),
        sa.Column("document", JSONB, nullable=False),
        sa.Column("notice", sa.Text),
        sa.Column("loaded_by", sa.Text, nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    ]


def holiday_schedules_table(metadata: sa.MetaData) -> sa.Table:
    """``holiday_schedules`` in a service's metadata (whose ``schema`` is the service's)."""
    return sa.Table("holiday_schedules", metadata, *_columns(), extend_existing=True)


def create_holiday_schedules(schema: str) -> None:
    """The table, for a service's migration."""
    from alembic import op

    op.create_table("holiday_schedules", *_columns(), schema=schema)


async def store_schedule(
    session: Any, table: sa.Table, schedule: HolidaySchedule, *, loaded_by: str, loaded_at: datetime
) -> tuple[bool, str | None]:
    """Keep ``schedule`` as its year's; (changed, digest it replaced). The same digest again changes
    nothing, so a redelivered or repeated load is a no-op; so does an older load arriving after a
    newer one of the same year (a replayed event)."""
    row = (await session.execute(
        sa.select(table.c.digest, table.c.loaded_at).where(table.c.year == schedule.year).with_for_update()
    )).first()
    previous = row.digest if row is not None else None
    if previous == schedule.digest or (row is not None and row.loaded_at > loaded_at):
        return False, previous
    values = {"year": schedule.year, "digest": schedule.digest, "document": schedule.as_document(),
              "notice": schedule.notice, "loaded_by": loaded_by, "loaded_at": loaded_at}
    statement = pg_insert(table).values(values)
    await session.execute(statement.on_conflict_do_update(
        index_elements=[table.c.year], set_={k: statement.excluded[k] for k in values if k != "year"}))
    return True, previous


async def stored_schedules(session: Any, table: sa.Table) -> tuple[HolidaySchedule, ...]:
    rows = (await session.execute(sa.select(table.c.document).order_by(table.c.year))).scalars().all()
    return schedules_from_documents(rows)


async def stored_digests(session: Any, table: sa.Table) -> dict[int, str]:
    return {year: digest for year, digest in (await session.execute(sa.select(table.c.year, table.c.digest))).all()}


def schedule_of_event(event: HolidayScheduleLoaded) -> HolidaySchedule:
    """The schedule an event carries (as accepted by the service that loaded it)."""
    data = event.data
    return HolidaySchedule.from_document({
        "year": data.year, "notice": data.notice,
        "holidays": [{"name": h.name, "days_off": [d.isoformat() for d in h.days_off],
                      "working_days": [d.isoformat() for d in h.working_days]} for h in data.holidays],
    }, strict=False)


class LiveCalendar:
    """The business calendar a replica counts on now; swapped whole when a schedule is loaded.

    Shaped like :class:`BusinessCalendar` for its users (``for_unit``, ``is_working_time``,
    ``calendar_version``, ``holidays``).
    """

    def __init__(self, calendar: BusinessCalendar) -> None:
        if not isinstance(calendar.holidays, NationalCalendar):
            raise TypeError("a live calendar needs the national calendar as its holiday source")
        self._calendar = calendar
        self._base: NationalCalendar = calendar.holidays

    @property
    def current(self) -> BusinessCalendar:
        return self._calendar

    @property
    def national(self) -> NationalCalendar:
        holidays = self._calendar.holidays
        assert isinstance(holidays, NationalCalendar)
        return holidays

    def with_loaded(self, schedules: tuple[HolidaySchedule, ...]) -> BusinessCalendar:
        """The calendar these loaded schedules make (over the built-in data), without swapping."""
        national = self._base
        for schedule in schedules:
            national = national.with_schedule(schedule)
        return self._calendar.with_holidays(national)

    def use(self, schedules: tuple[HolidaySchedule, ...]) -> bool:
        """Count on these loaded schedules from now on; False when they are the ones in use."""
        calendar = self.with_loaded(schedules)
        if calendar.calendar_version == self._calendar.calendar_version:
            return False
        self._calendar = calendar
        return True

    @property
    def calendar_version(self) -> str:
        return self._calendar.calendar_version

    @property
    def holidays(self) -> NationalCalendar:
        return self.national

    def for_unit(self, org_path: str) -> UnitCalendar:
        return self._calendar.for_unit(org_path)

    def is_working_time(self, moment: datetime, org_path: str) -> bool:
        return self._calendar.for_unit(org_path).is_working_time(moment)

    def readiness_note(self, today: date) -> dict[str, Any]:
        """What readiness says of the calendar: the years that need an official schedule now."""
        missing = self.national.missing_years(today)
        note: dict[str, Any] = {"calendar_version": self.calendar_version,
                                "official_years_loaded": sorted(s.year for s in self.national.loaded),
                                "missing_official_schedule": missing}
        if missing:
            years = "、".join(str(year) for year in missing)
            note["warning"] = (f"缺少 {years} 年国务院节假日安排：相关期限按法定节假日规则暂定计算，"
                               "请用 careloop calendar load 载入")
        return note


class CalendarRefresher:
    """Re-reads the service's stored schedules on an interval and swaps them into the live calendar.

    ``on_change`` runs after a swap (routing counts provisional deadlines again there).
    """

    def __init__(
        self, *, live: LiveCalendar, uow_factory: Any, table: sa.Table, interval_s: float,
        on_change: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.live = live
        self.uow_factory = uow_factory
        self.table = table
        self.interval_s = interval_s
        self.on_change = on_change
        self._digests: Mapping[int, str] | None = None

    async def refresh_once(self) -> bool:
        async with self.uow_factory() as uow:
            digests = await stored_digests(uow.session, self.table)
            if digests == self._digests:
                return False
            schedules = await stored_schedules(uow.session, self.table)
        changed = self.live.use(schedules)
        self._digests = digests
        if changed and self.on_change is not None:
            await self.on_change()
        return changed

    async def run(self) -> None:
        async def once() -> None:
            if await self.refresh_once():
                log.info("holiday schedules changed", extra={"calendar_version": self.live.calendar_version})

        await repeat(once, interval_s=self.interval_s, failure="holiday schedule refresh failed; will retry",
                     logger=log)


__all__ = [
    "CalendarRefresher",
    "LiveCalendar",
    "create_holiday_schedules",
    "holiday_schedules_table",
    "schedule_of_event",
    "store_schedule",
    "stored_digests",
    "stored_schedules",
]
