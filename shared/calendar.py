"""The business calendar deadlines are counted on (docs/domain.md §3): working hours per org unit,
Chinese public holidays and adjusted working days (调休), in the unit's local time.

Pure: no clock, no I/O. Every moment is passed in as an aware datetime and every answer is an
aware datetime in the unit's time zone, so that due times read as the staff's wall time.

Working hours are set per org path ("hx/east/lakeside") and inherited from the nearest ancestor
("hx/east" → "hx") or the default. The holiday source is injectable; by default it is the
national calendar of :mod:`shared.national_calendar`: official State Council schedules (built in
for the years ``chinesecalendar`` ships, loaded by an operator for a new year) over the statutory
holidays by rule for any year. A day known by rule only is *provisional*, and so is every count
that crosses one. A unit may add its own days off (a property office's local rest days).
A source without data for a date (raising HolidayDataUnavailable) leaves the unit's plain weekday
rules to decide, and says so, instead of failing a case.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import chinese_calendar

from shared.national_calendar import NationalCalendar

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

#: How far a count may run before the calendar is taken to have no working time at all (a bad
#: configuration or holiday source), rather than looping for ever.
MAX_DAYS_SCANNED = 3700


class HolidayDataUnavailable(LookupError):
    """The holiday source has no data for this date; the calendar then uses weekday rules."""


@runtime_checkable
class HolidaySource(Protocol):
    """The national calendar: which days people work, and what a day off or a swapped day is for."""

    @property
    def version(self) -> str:
        """Names the data, so a deadline can say which calendar it was counted on."""
        ...

    def is_workday(self, day: date) -> bool:
        """Whether the national calendar makes this a working day (调休 weekends included).

        Raises HolidayDataUnavailable for a date the source has no data for.
        """
        ...

    def holiday_name(self, day: date) -> str | None:
        """The public holiday a day off or an adjusted working day belongs to; None otherwise.

        Raises HolidayDataUnavailable for a date the source has no data for.
        """
        ...


class ChineseCalendarHolidays:
    """Holidays and adjusted working days from the ``chinesecalendar`` package (State Council
    schedules, updated by the package each year)."""

    @property
    def version(self) -> str:
        return f"chinese_calendar-{chinese_calendar.__version__}"

    def is_workday(self, day: date) -> bool:
        try:
            return _national_day(day)[0]
        except NotImplementedError as exc:  # the package's word for "year not covered"
            raise HolidayDataUnavailable(str(exc)) from exc

    def holiday_name(self, day: date) -> str | None:
        try:
            return _national_day(day)[1]
        except NotImplementedError as exc:
            raise HolidayDataUnavailable(str(exc)) from exc


# Every piece of feedback and every deadline asks about the same few days: the package's answers
# (fixed for an installed version) are remembered. A year it does not cover raises, uncached.
@functools.lru_cache(maxsize=4096)
def _national_day(day: date) -> tuple[bool, str | None]:
    workday = bool(chinese_calendar.is_workday(day))
    _, name = chinese_calendar.get_holiday_detail(day)
    return workday, name if isinstance(name, str) else None


# Asked for every piece of feedback and every deadline, about the same few days.
@functools.lru_cache(maxsize=4096)
def _utc_periods(day: date, periods: tuple[tuple[time, time], ...], timezone: str) -> tuple[tuple[datetime, datetime], ...]:
    zone = ZoneInfo(timezone)
    return tuple(
        (datetime.combine(day, start, zone).astimezone(UTC), datetime.combine(day, end, zone).astimezone(UTC))
        for start, end in periods
    )


def _parse_clock(text: str) -> time:
    hours, minutes = text.strip().split(":")
    return time(int(hours), int(minutes))


def _parse_weekdays(text: str) -> frozenset[int]:
    """'Mon-Fri', 'Mon-Sat' or 'Mon,Wed,Fri' → weekday numbers (Monday = 0)."""
    days: set[int] = set()
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        start = WEEKDAY_NAMES.index(first.strip().title())
        end = WEEKDAY_NAMES.index(last.strip().title()) if last else start
        if end < start:
            raise ValueError(f"weekday range {part!r} runs backwards")
        days.update(range(start, end + 1))
    return frozenset(days)


def _weekdays_text(weekdays: frozenset[int]) -> str:
    """Compact weekday text for explanations: 'Mon-Fri', 'Mon-Sat', 'Mon, Wed, Fri'."""
    ordered = sorted(weekdays)
    runs: list[list[int]] = []
    for day in ordered:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(
        WEEKDAY_NAMES[run[0]] if len(run) == 1 else f"{WEEKDAY_NAMES[run[0]]}-{WEEKDAY_NAMES[run[-1]]}"
        for run in runs
    )


@dataclass(frozen=True)
class WorkingHours:
    """One org unit's working week: the periods of a working day, the weekdays it works in a
    normal week, and its time zone. Public holidays and 调休 days come from the holiday source."""

    periods: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))
    weekdays: frozenset[int] = frozenset(range(5))
    timezone: str = "Asia/Shanghai"
    #: The unit's own days off on top of the national calendar (local rest days).
    days_off: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not self.periods:
            raise ValueError("working hours need at least one period")
        previous_end: time | None = None
        for start, end in self.periods:
            if not start < end:
                raise ValueError(f"working period {start:%H:%M}-{end:%H:%M} must end after it starts")
            if previous_end is not None and start < previous_end:
                raise ValueError("working periods must be in order and must not overlap")
            previous_end = end
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            raise ValueError("working weekdays must be a non-empty set of 0 (Mon) to 6 (Sun)")
        ZoneInfo(self.timezone)  # fail at configuration time, not at the first deadline

    @classmethod
    def from_text(
        cls, periods: str, *, weekdays: str = "Mon-Fri", timezone: str = "Asia/Shanghai",
        days_off: Iterable[date] = (),
    ) -> WorkingHours:
        """Hours as a settings file writes them: ``"08:30-12:00, 13:30-17:30"``."""
        parsed = tuple(
            (_parse_clock(start), _parse_clock(end))
            for start, end in (chunk.split("-") for chunk in periods.split(","))
        )
        return cls(periods=parsed, weekdays=_parse_weekdays(weekdays), timezone=timezone, days_off=frozenset(days_off))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def day_length(self) -> timedelta:
        """Working time in one full working day (wall-clock; the periods never span midnight)."""
        return sum(
            (datetime.combine(date.min, end) - datetime.combine(date.min, start) for start, end in self.periods),
            timedelta(),
        )

    def describe(self) -> str:
        """For explanations: 'Mon-Fri 08:30-12:00, 13:30-17:30 Asia/Shanghai'."""
        spans = ", ".join(f"{start:%H:%M}-{end:%H:%M}" for start, end in self.periods)
        return f"{_weekdays_text(self.weekdays)} {spans} {self.timezone}"

    def canonical(self) -> str:
        """Exact, order-stable text of the configuration, for the calendar version hash."""
        spans = ",".join(f"{start.isoformat()}-{end.isoformat()}" for start, end in self.periods)
        days = ",".join(str(day) for day in sorted(self.weekdays))
        text = f"weekdays={days};periods={spans};tz={self.timezone}"
        if self.days_off:
            text += ";off=" + ",".join(day.isoformat() for day in sorted(self.days_off))
        return text


DEFAULT_HOURS = WorkingHours()


@dataclass(frozen=True)
class CalendarDay:
    """What one local date is for one org unit, and why: the material of an explanation."""

    date: date
    working: bool
    #: 'weekend', 'rest day', a holiday's name, 'adjusted working day (National Day)', or None
    #: for an ordinary working day.
    label: str | None
    #: True when the holiday source had no data and only the unit's weekdays decided.
    by_weekday_rules: bool = False
    #: True when the day's year has no official schedule: known by the statutory rules only.
    provisional: bool = False


@dataclass(frozen=True)
class WorkingTimeSpan:
    """The result of counting working time forward, with the days it crossed for explanations."""

    start: datetime
    #: The first working moment at or after ``start``: where the count really began.
    counting_from: datetime
    due: datetime
    #: Every local date from the start's to the due time's, in order.
    days: tuple[CalendarDay, ...]

    @property
    def skipped(self) -> tuple[CalendarDay, ...]:
        return tuple(day for day in self.days if not day.working)

    @property
    def adjusted_working_days(self) -> tuple[CalendarDay, ...]:
        """Weekend days the count ran through because they were 调休 working days."""
        return tuple(day for day in self.days if day.working and day.date.weekday() >= 5 and day.label)

    @property
    def by_weekday_rules(self) -> tuple[CalendarDay, ...]:
        return tuple(day for day in self.days if day.by_weekday_rules)

    @property
    def provisional_days(self) -> tuple[CalendarDay, ...]:
        """Days of the count known by rule only (no official schedule for their year yet)."""
        return tuple(day for day in self.days if day.provisional)


def _require_aware(moment: datetime, name: str) -> None:
    # A naive time would silently be read in the server's zone; deadlines must never guess.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")


def _dates(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


@dataclass(frozen=True)
class UnitCalendar:
    """The business calendar as one org unit sees it: its hours, the national holidays."""

    org_path: str
    #: The org path whose hours apply ('hx/east' for 'hx/east/lakeside'), or 'default'.
    hours_from: str
    hours: WorkingHours
    holidays: HolidaySource
    calendar_version: str

    @property
    def zone(self) -> ZoneInfo:
        return self.hours.zone

    @property
    def working_day_length(self) -> timedelta:
        return self.hours.day_length

    def local(self, moment: datetime) -> datetime:
        """A moment as the unit's wall time."""
        _require_aware(moment, "moment")
        return moment.astimezone(self.zone)

    def day(self, day: date) -> CalendarDay:
        """Whether the unit works on a local date, by the national calendar and its own week.

        The national calendar decides public holidays (off even on a unit's working weekend day)
        and 调休 days (weekend days everyone works). Ordinary weekdays and weekend days follow the
        unit's own week, so a property office that works Saturdays is open on a normal Saturday.
        """
        weekday = day.weekday()
        in_week = weekday in self.hours.weekdays
        try:
            national_workday = self.holidays.is_workday(day)
            name = self.holidays.holiday_name(day)
        except HolidayDataUnavailable:
            if day in self.hours.days_off:
                return CalendarDay(day, False, "local rest day", by_weekday_rules=True)
            if in_week:
                return CalendarDay(day, True, None, by_weekday_rules=True)
            return CalendarDay(day, False, "weekend" if weekday >= 5 else "rest day", by_weekday_rules=True)
        is_official = getattr(self.holidays, "is_official", None)
        provisional = is_official is not None and not is_official(day)
        if day in self.hours.days_off:
            return CalendarDay(day, False, "local rest day", provisional=provisional)
        if weekday < 5:
            if not national_workday:
                return CalendarDay(day, False, name or "public holiday", provisional=provisional)
            if in_week:
                return CalendarDay(day, True, None, provisional=provisional)
            return CalendarDay(day, False, "rest day", provisional=provisional)
        if national_workday:
            label = f"adjusted working day ({name})" if name else "adjusted working day"
            return CalendarDay(day, True, label, provisional=provisional)
        if in_week and name is None:
            return CalendarDay(day, True, None, provisional=provisional)
        return CalendarDay(day, False, name or "weekend", provisional=provisional)

    def is_working_day(self, day: date) -> bool:
        return self.day(day).working

    def _periods(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's working periods as UTC instants, so durations are real elapsed time."""
        return _utc_periods(day, self.hours.periods, self.hours.timezone)

    def is_working_time(self, moment: datetime) -> bool:
        """Inside a working period of a working day; a period's end is already outside it."""
        local = self.local(moment)
        if not self.is_working_day(local.date()):
            return False
        instant = moment.astimezone(UTC)
        return any(start <= instant < end for start, end in self._periods(local.date()))

    def count_working_time(self, start: datetime, duration: timedelta) -> WorkingTimeSpan:
        """Where ``duration`` of working time, counted from ``start``, runs out; with the days crossed.

        A start outside working time begins counting at the next working moment. A count that
        ends exactly at a period's end is due at that end, not at the next period's start.
        """
        _require_aware(start, "start")
        if duration < timedelta():
            raise ValueError("a duration of working time cannot be negative")
        zone = self.zone
        cursor = start.astimezone(UTC)
        remaining = duration
        counting_from: datetime | None = None
        days: list[CalendarDay] = []
        day = start.astimezone(zone).date()
        for _ in range(MAX_DAYS_SCANNED):
            calendar_day = self.day(day)
            days.append(calendar_day)
            if calendar_day.working:
                for period_start, period_end in self._periods(day):
                    if period_end <= cursor:
                        continue
                    begin = max(cursor, period_start)
                    if counting_from is None:
                        counting_from = begin
                    available = period_end - begin
                    if remaining <= available:
                        return WorkingTimeSpan(
                            start=start.astimezone(zone),
                            counting_from=counting_from.astimezone(zone),
                            due=(begin + remaining).astimezone(zone),
                            days=tuple(days),
                        )
                    remaining -= available
                    cursor = period_end
            day += timedelta(days=1)
        raise ValueError(f"no working time for {self.org_path!r} within {MAX_DAYS_SCANNED} days")

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """The moment ``duration`` of working time after ``start``, in the unit's local time."""
        return self.count_working_time(start, duration).due

    def next_working_moment(self, moment: datetime) -> datetime:
        """``moment`` itself if it is working time, else the start of the next working period."""
        return self.count_working_time(moment, timedelta()).due

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from ``a`` to ``b``; negative when ``b`` is before ``a`` (time overdue)."""
        _require_aware(a, "a")
        _require_aware(b, "b")
        if b < a:
            return -self.working_time_between(b, a)
        begin, end = a.astimezone(UTC), b.astimezone(UTC)
        total = timedelta()
        for day in _dates(a.astimezone(self.zone).date(), b.astimezone(self.zone).date()):
            if not self.is_working_day(day):
                continue
            for period_start, period_end in self._periods(day):
                overlap = min(end, period_end) - max(begin, period_start)
                if overlap > timedelta():
                    total += overlap
        return total

    def add_calendar_time(self, start: datetime, duration: timedelta) -> datetime:
        """Plain elapsed time (holidays and nights included), as the unit's wall time."""
        _require_aware(start, "start")
        return (start.astimezone(UTC) + duration).astimezone(self.zone)


def _normalise_path(org_path: str) -> str:
    return "/".join(part for part in org_path.strip().split("/") if part)


class BusinessCalendar:
    """Working hours for every org unit over one holiday source, under one version string.

    ``calendar_version`` names the holiday data and a hash of every unit's hours, so a stored
    deadline can be recomputed on the same calendar, or found stale when either changes.
    """

    def __init__(
        self,
        hours: Mapping[str, WorkingHours] | None = None,
        *,
        default: WorkingHours = DEFAULT_HOURS,
        holidays: HolidaySource | None = None,
    ) -> None:
        self._hours = {_normalise_path(path): unit_hours for path, unit_hours in (hours or {}).items()}
        if "" in self._hours:
            raise ValueError("set the default hours with default=, not with an empty org path")
        self._default = default
        self._holidays: HolidaySource = holidays if holidays is not None else NationalCalendar()
        config = "\n".join(
            [f"default:{default.canonical()}"]
            + [f"{path}:{self._hours[path].canonical()}" for path in sorted(self._hours)]
        )
        digest = hashlib.sha256(config.encode()).hexdigest()[:12]
        self._version = f"{self._holidays.version}+hours-{digest}"
        # Hours never change in a calendar's life: each unit's calendar is made once (a submission
        # asks for its unit's working time on the hot path).
        self._units: dict[str, UnitCalendar] = {}

    @property
    def calendar_version(self) -> str:
        return self._version

    @property
    def holidays(self) -> HolidaySource:
        return self._holidays

    def with_holidays(self, holidays: HolidaySource) -> BusinessCalendar:
        """The same units' hours over another national calendar (a new year's schedule loaded)."""
        return BusinessCalendar(self._hours, default=self._default, holidays=holidays)

    def hours_for(self, org_path: str) -> tuple[str, WorkingHours]:
        """The hours of the nearest configured unit on the path, and which unit that was."""
        parts = _normalise_path(org_path).split("/")
        for depth in range(len(parts), 0, -1):
            candidate = "/".join(parts[:depth])
            if candidate in self._hours:
                return candidate, self._hours[candidate]
        return "default", self._default

    def for_unit(self, org_path: str) -> UnitCalendar:
        unit = self._units.get(org_path)
        if unit is None:
            hours_from, unit_hours = self.hours_for(org_path)
            unit = UnitCalendar(
                org_path=_normalise_path(org_path),
                hours_from=hours_from,
                hours=unit_hours,
                holidays=self._holidays,
                calendar_version=self._version,
            )
            if len(self._units) >= 65_536:  # org paths are few; anything else is not worth keeping
                self._units.clear()
            self._units[org_path] = unit
        return unit

    def is_working_time(self, moment: datetime, org_path: str) -> bool:
        """Shaped like intake's ``WorkingTime`` callable: (moment, org path) → in working time."""
        return self.for_unit(org_path).is_working_time(moment)


__all__ = [
    "DEFAULT_HOURS",
    "BusinessCalendar",
    "CalendarDay",
    "ChineseCalendarHolidays",
    "HolidayDataUnavailable",
    "HolidaySource",
    "UnitCalendar",
    "WorkingHours",
    "WorkingTimeSpan",
]


def calendar_from_settings(
    working_hours: Mapping[str, Any], *, holidays: HolidaySource | None = None
) -> BusinessCalendar:
    """The business calendar of ``Settings.working_hours`` (org path -> periods, weekdays, zone,
    local days off)."""
    hours: dict[str, WorkingHours] = {}
    default = DEFAULT_HOURS
    for path, setting in working_hours.items():
        unit_hours = WorkingHours.from_text(
            setting.periods, weekdays=setting.weekdays, timezone=setting.timezone,
            days_off=getattr(setting, "days_off", ()),
        )
        if path in ("", "default"):
            default = unit_hours
        else:
            hours[path] = unit_hours
    return BusinessCalendar(hours, default=default, holidays=holidays)
