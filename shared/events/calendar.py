"""The national calendar's events: a year's official holiday schedule loaded by an operator.

Keyed by the year, so one year's loads stay in order on one partition; a later load of the same
year replaces the earlier one. Every service that counts working time (intake, routing) stores
the schedule and counts on it; reporting shows which years are official and which provisional.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field

from shared.events.catalog import Payload
from shared.events.envelope import Event

#: Calendar events have no org unit of their own: they hold for every group.
NATIONAL_GROUP = "national"


def schedule_aggregate_id(year: int) -> uuid.UUID:
    """The Kafka key of a year's schedule (the same for every load of that year)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"urn:careloop:holiday-schedule:{year}")


class ScheduledHoliday(Payload):
    name: str = Field(description="the holiday (canonical English name, e.g. 'Spring Festival')")
    days_off: tuple[date, ...] = Field(description="every day off of the holiday, weekends included")
    working_days: tuple[date, ...] = Field(default=(), description="weekend days worked instead (调休)")


class HolidayScheduleLoadedData(Payload):
    year: int = Field(ge=2000, le=2100)
    holidays: tuple[ScheduledHoliday, ...]
    digest: str = Field(description="hash of the days: the same schedule loaded twice has the same digest")
    notice: str | None = Field(default=None, description="the State Council notice it comes from (通知文号)")
    previous_digest: str | None = Field(default=None, description="the loaded schedule this one replaces, if any")
    loaded_by: str = Field(description="staff id of the operator, or 'cli:<user>'")
    loaded_at: AwareDatetime
    deadlines_recomputed: int = Field(default=0, ge=0, description="open deadlines whose due time or status changed")


class HolidayScheduleLoaded(Event):
    EVENT_TYPE = "HolidayScheduleLoaded"
    SCHEMA_VERSION = 1
    event_type: Literal["HolidayScheduleLoaded"] = "HolidayScheduleLoaded"
    schema_version: Literal[1] = 1
    data: HolidayScheduleLoadedData


CALENDAR_EVENT_CLASSES: tuple[type[Event], ...] = (HolidayScheduleLoaded,)

__all__ = [
    "CALENDAR_EVENT_CLASSES",
    "NATIONAL_GROUP",
    "HolidayScheduleLoaded",
    "HolidayScheduleLoadedData",
    "ScheduledHoliday",
    "schedule_aggregate_id",
]
