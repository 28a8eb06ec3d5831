"""The national calendar deadlines are counted on: China's public holidays and adjusted working days.

Two kinds of data, in this order (docs/domain.md §3, "The business calendar"):

1. **Official schedules** (国务院办公厅 yearly notice: the days off of each holiday and the weekend
   days worked instead, 调休). One :class:`HolidaySchedule` per year. Built in: the years the
   ``chinesecalendar`` package ships. Loaded by an operator for a new year (``careloop calendar
   load``, ``POST /api/v1/calendar/schedules``): a loaded schedule replaces the built-in one of its
   year, and is recorded as a ``HolidayScheduleLoaded`` event so that every service and replica counts
   on the same days.
2. **Statutory rules** for a year without an official schedule: the days the law gives (元旦, 春节
   除夕-初三, 清明, 劳动节 1-2 May, 端午, 中秋, 国庆 1-3 Oct, and a weekday in lieu of one that falls
   on a weekend), the lunar dates computed by the ``holidays`` package. Such a day is *provisional*:
   the official schedule usually moves days around them, and a deadline counted over it says so
   until its year's schedule is loaded.

Pure: no clock, no I/O beyond the two packages' data.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import Any

import chinese_calendar
import holidays as holiday_rules
from chinese_calendar.constants import Holiday

#: Canonical holiday names (as chinesecalendar names them), with their Chinese names.
HOLIDAY_NAMES_ZH: dict[str, str] = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "Mid-autumn Festival": "中秋节",
    "National Day": "国庆节",
}

# Names a schedule file may use for each holiday (Chinese first, as the State Council writes them).
_ALIASES: dict[str, str] = {alias: canonical for canonical, zh in HOLIDAY_NAMES_ZH.items()
                            for alias in (canonical, canonical.lower(), zh, zh.removesuffix("节"))}
_ALIASES |= {"春节": "Spring Festival", "清明": "Tomb-sweeping Day", "Tomb-Sweeping Day": "Tomb-sweeping Day",
             "Labor Day": "Labour Day", "Mid-Autumn Festival": "Mid-autumn Festival", "国庆": "National Day",
             "New Year": "New Year's Day"}

# The holidays package's English names for the statutory days, to the canonical names. Anything
# else it lists (days off it knows from an official schedule) is left out: a year counted by rule
# is counted on the law alone, whatever that package's version happens to know.
_RULE_NAMES: dict[str, str] = {
    "New Year's Day": "New Year's Day",
    "Chinese New Year's Eve": "Spring Festival",
    "Chinese New Year (Spring Festival)": "Spring Festival",
    "Tomb-Sweeping Day": "Tomb-sweeping Day",
    "Labor Day": "Labour Day",
    "Dragon Boat Festival": "Dragon Boat Festival",
    "Mid-Autumn Festival": "Mid-autumn Festival",
    "National Day": "National Day",
}

RULES_VERSION = f"holidays-{holiday_rules.__version__}"
BUILTIN_VERSION = f"chinese_calendar-{chinese_calendar.__version__}"


def holiday_name_zh(name: str | None) -> str | None:
    """The Chinese name of a canonical holiday name (unknown names as they are)."""
    return None if name is None else HOLIDAY_NAMES_ZH.get(name, name)


class ScheduleInvalid(ValueError):
    """A schedule file that cannot be loaded; ``errors`` name each field and say why, in Chinese."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['reason']}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class NationalDay:
    """What the national calendar says of one date."""

    workday: bool
    #: The holiday a day off or an adjusted working day belongs to (canonical name), else None.
    holiday: str | None
    #: False when the date's year has no official schedule: the day is known by rule only.
    official: bool


@dataclass(frozen=True)
class HolidaySchedule:
    """One year's official schedule: the days off of each holiday and the weekend days worked instead."""

    year: int
    #: date -> holiday (canonical name); weekends inside a holiday are listed too.
    days_off: Mapping[date, str]
    #: date -> holiday: weekend days worked instead (调休).
    working_days: Mapping[date, str]
    #: 'chinese_calendar-1.11.0' for built-in data, 'loaded' for an operator's file.
    source: str
    #: The notice the schedule comes from (国办发明电〔2026〕N号), when given.
    notice: str | None = None

    @cached_property
    def digest(self) -> str:
        """A short hash of the days themselves: the same schedule loaded twice has the same digest."""
        text = json.dumps(self.as_document(with_meta=False), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def as_document(self, *, with_meta: bool = True) -> dict[str, Any]:
        """The schedule as the file (and the event) writes it: holidays with their days."""
        by_holiday: dict[str, dict[str, list[str]]] = {}
        for days, key in ((self.days_off, "days_off"), (self.working_days, "working_days")):
            for day, name in sorted(days.items()):
                by_holiday.setdefault(name, {"days_off": [], "working_days": []})[key].append(day.isoformat())
        document: dict[str, Any] = {
            "year": self.year,
            "holidays": [{"name": name, **days} for name, days in sorted(by_holiday.items())],
        }
        if with_meta and self.notice:
            document["notice"] = self.notice
        return document

    @classmethod
    def from_document(
        cls, document: Mapping[str, Any], *, source: str = "loaded", strict: bool = True
    ) -> HolidaySchedule:
        """A schedule from a parsed file; ScheduleInvalid with every problem at once otherwise.

        ``strict`` also checks that every statutory day is a day off (for a file being loaded; a
        schedule already accepted is read back without it, whatever the rules' package says now).
        """
        return _parse(document, source, strict)

    @classmethod
    def from_text(cls, text: str | bytes, *, source: str = "loaded") -> HolidaySchedule:
        """A schedule file's text: JSON or TOML (see deploy/calendar/ for an example)."""
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise ScheduleInvalid([{"field": "(file)", "reason": "文件不是 UTF-8 文本"}]) from None
        try:
            document: Any = json.loads(text)
        except ValueError:
            try:
                document = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise ScheduleInvalid([{"field": "(file)", "reason": f"既不是 JSON 也不是 TOML：{exc}"}]) from None
        if not isinstance(document, dict):
            raise ScheduleInvalid([{"field": "(file)", "reason": "应为一个对象（year, holidays）"}])
        return cls.from_document(document, source=source)


def _dates_of(value: Any, field_name: str, errors: list[dict[str, str]]) -> list[date]:
    """'2027-02-05', '2027-02-05..2027-02-11' (a range, both ends included), or a list of them."""
    items = value if isinstance(value, list) else [value]
    out: list[date] = []
    for item in items:
        if isinstance(item, date):
            out.append(item)
            continue
        if not isinstance(item, str):
            errors.append({"field": field_name, "reason": f"{item!r} 不是日期（YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD）"})
            continue
        first, sep, last = item.partition("..")
        try:
            start = date.fromisoformat(first.strip())
            end = date.fromisoformat(last.strip()) if sep else start
        except ValueError:
            errors.append({"field": field_name, "reason": f"{item!r} 不是日期（YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD）"})
            continue
        if end < start or (end - start).days > 31:
            errors.append({"field": field_name, "reason": f"{item!r} 的日期范围不对（结束早于开始，或超过 31 天）"})
            continue
        out.extend(start + timedelta(days=n) for n in range((end - start).days + 1))
    return out


def _parse(document: Mapping[str, Any], source: str, strict: bool) -> HolidaySchedule:
    errors: list[dict[str, str]] = []
    year = document.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
        raise ScheduleInvalid([{"field": "year", "reason": "应为 2000 至 2100 之间的年份"}])
    notice = document.get("notice")
    if notice is not None and (not isinstance(notice, str) or len(notice) > 200):
        errors.append({"field": "notice", "reason": "应为不超过 200 字的文本（通知文号）"})
        notice = None
    entries = document.get("holidays")
    if not isinstance(entries, list) or not entries:
        raise ScheduleInvalid([{"field": "holidays", "reason": "至少列出一个节日及其放假日期"}])
    unknown = sorted(set(document) - {"year", "notice", "holidays"})
    if unknown:
        errors.append({"field": ", ".join(unknown), "reason": "未知字段"})
    # A holiday may reach into the year before (元旦 2024 was 30 Dec 2023 to 1 Jan 2024).
    earliest, latest = date(year - 1, 12, 1), date(year, 12, 31)
    days_off: dict[date, str] = {}
    working_days: dict[date, str] = {}
    for index, entry in enumerate(entries):
        where = f"holidays[{index}]"
        if not isinstance(entry, Mapping):
            errors.append({"field": where, "reason": "应为 {name, days_off, working_days}"})
            continue
        name = _ALIASES.get(str(entry.get("name", "")).strip())
        if name is None:
            errors.append({"field": f"{where}.name",
                           "reason": f"未知节日 {entry.get('name')!r}（可用：{'、'.join(HOLIDAY_NAMES_ZH.values())}）"})
            continue
        off = _dates_of(entry.get("days_off", []), f"{where}.days_off", errors)
        work = _dates_of(entry.get("working_days", []), f"{where}.working_days", errors)
        if not off:
            errors.append({"field": f"{where}.days_off", "reason": f"{HOLIDAY_NAMES_ZH[name]}没有放假日期"})
        for day in off + work:
            if not earliest <= day <= latest:
                errors.append({"field": where, "reason": f"{day} 不在 {year} 年的安排之内"})
        for day in work:
            if day.weekday() < 5:
                errors.append({"field": f"{where}.working_days",
                               "reason": f"{day} 是工作日本身：调休上班日应为周六或周日"})
        for day in off:
            if day in days_off and days_off[day] != name:
                errors.append({"field": f"{where}.days_off", "reason": f"{day} 已列为{HOLIDAY_NAMES_ZH[days_off[day]]}放假"})
            days_off[day] = name
        for day in work:
            working_days[day] = name
    for day in sorted(set(days_off) & set(working_days)):
        errors.append({"field": "holidays", "reason": f"{day} 既是放假日又是上班日"})
    # The law's days must be days off in any official schedule: a file that misses one is a typo.
    for day, name in sorted(statutory_days(year).items()) if strict else ():
        if day not in days_off and not name.endswith("(in lieu)"):
            errors.append({"field": "holidays",
                           "reason": f"{day} 是法定节假日（{HOLIDAY_NAMES_ZH[name]}），安排中却未放假"})
    if errors:
        raise ScheduleInvalid(errors)
    return HolidaySchedule(year=year, days_off=days_off, working_days=working_days, source=source, notice=notice)


def statutory_days(year: int) -> dict[date, str]:
    """The law's days off of ``year`` by rule, with '(in lieu)' on a weekday given for a weekend one."""
    days: dict[date, str] = {}
    for day, names in holiday_rules.China(years=year, language="en_US").items():  # type: ignore[attr-defined]
        for label in str(names).split("; "):
            observed = label.endswith(" (observed)")
            canonical = _RULE_NAMES.get(label.removesuffix(" (observed)"))
            if canonical is not None:
                days[day] = f"{canonical} (in lieu)" if observed else canonical
    return days


def _builtin_schedules() -> dict[int, HolidaySchedule]:
    """chinesecalendar's State Council schedules, one per year it covers."""
    off: dict[int, dict[date, str]] = {}
    work: dict[int, dict[date, str]] = {}
    for day, holiday in chinese_calendar.holidays.items():
        off.setdefault(day.year, {})[day] = holiday.value if isinstance(holiday, Holiday) else str(holiday)
    for day, holiday in chinese_calendar.workdays.items():
        if day.weekday() >= 5:  # the package lists every working day; the 调休 ones are weekends
            work.setdefault(day.year, {})[day] = holiday.value if isinstance(holiday, Holiday) else str(holiday)
    return {
        year: HolidaySchedule(year=year, days_off=off[year], working_days=work.get(year, {}), source=BUILTIN_VERSION)
        for year in sorted(off)
    }


_BUILTIN = _builtin_schedules()


@dataclass(frozen=True)
class NationalCalendar:
    """Official schedules over the statutory rules (a :class:`shared.calendar.HolidaySource`)."""

    loaded: tuple[HolidaySchedule, ...] = ()
    #: Whether chinesecalendar's years count as official (tests switch it off to stand in a year
    #: the package does not cover, whatever version is installed).
    builtin: bool = True
    _days: dict[date, NationalDay] = field(default_factory=dict, init=False, repr=False, compare=False)

    @cached_property
    def schedules(self) -> dict[int, HolidaySchedule]:
        """The official schedule of each year: loaded ones over the built-in ones."""
        schedules = dict(_BUILTIN) if self.builtin else {}
        for schedule in self.loaded:
            schedules[schedule.year] = schedule
        return schedules

    @cached_property
    def _official(self) -> tuple[dict[date, str], dict[date, str]]:
        off: dict[date, str] = {}
        work: dict[date, str] = {}
        # Years in order, so a schedule that reaches into the year before overrides it there.
        for year in sorted(self.schedules):
            schedule = self.schedules[year]
            for day in list(off):
                if day.year == year and schedule.source != BUILTIN_VERSION:
                    del off[day]
            for day in list(work):
                if day.year == year and schedule.source != BUILTIN_VERSION:
                    del work[day]
            for day, name in schedule.days_off.items():
                work.pop(day, None)
                off[day] = name
            for day, name in schedule.working_days.items():
                off.pop(day, None)
                work[day] = name
        return off, work

    @cached_property
    def version(self) -> str:
        """Names the data: the built-in package, each loaded year's digest, the rules' package."""
        parts = [BUILTIN_VERSION if self.builtin else "no-builtin"]
        parts += [f"{s.year}:{s.digest}" for s in sorted(self.loaded, key=lambda s: s.year)]
        parts.append(RULES_VERSION)
        return "+".join(parts)

    @property
    def official_years(self) -> list[int]:
        return sorted(self.schedules)

    def has_official(self, year: int) -> bool:
        return year in self.schedules

    def national_day(self, day: date) -> NationalDay:
        known = self._days.get(day)
        if known is None:
            known = self._work_out(day)
            if len(self._days) > 20_000:
                self._days.clear()
            self._days[day] = known
        return known

    def _work_out(self, day: date) -> NationalDay:
        off, work = self._official
        if self.has_official(day.year):
            if day in off:
                return NationalDay(False, off[day], True)
            if day in work:
                return NationalDay(True, work[day], True)
            return NationalDay(day.weekday() < 5, None, True)
        if day in off or day in work:  # a following year's schedule reaching back into this one
            return NationalDay(day not in off, (off.get(day) or work.get(day)), True)
        name = _statutory(day.year).get(day)
        if name is not None:
            return NationalDay(False, name.removesuffix(" (in lieu)"), False)
        return NationalDay(day.weekday() < 5, None, False)

    # --- HolidaySource ---
    def is_workday(self, day: date) -> bool:
        return self.national_day(day).workday

    def holiday_name(self, day: date) -> str | None:
        return self.national_day(day).holiday

    def is_official(self, day: date) -> bool:
        return self.national_day(day).official

    def with_schedule(self, schedule: HolidaySchedule) -> NationalCalendar:
        """This calendar with ``schedule`` loaded (replacing a loaded one of the same year)."""
        others = tuple(s for s in self.loaded if s.year != schedule.year)
        return NationalCalendar(loaded=(*others, schedule), builtin=self.builtin)

    def missing_years(self, today: date) -> list[int]:
        """Years that need an official schedule by ``today``: this one, and from 1 November the next."""
        wanted = [today.year] + ([today.year + 1] if today >= date(today.year, 11, 1) else [])
        return [year for year in wanted if not self.has_official(year)]


_STATUTORY: dict[int, dict[date, str]] = {}


def _statutory(year: int) -> dict[date, str]:
    days = _STATUTORY.get(year)
    if days is None:
        days = _STATUTORY[year] = statutory_days(year)
    return days


def iter_days(schedule: HolidaySchedule) -> Iterator[tuple[date, bool, str]]:
    """Every date the schedule names: (date, worked, holiday)."""
    for day, name in schedule.days_off.items():
        yield day, False, name
    for day, name in schedule.working_days.items():
        yield day, True, name


def schedules_from_documents(documents: Iterable[Mapping[str, Any]]) -> tuple[HolidaySchedule, ...]:
    """Loaded schedules back from their stored documents (a service's table, an event)."""
    return tuple(HolidaySchedule.from_document(document, strict=False) for document in documents)


__all__ = [
    "BUILTIN_VERSION",
    "HOLIDAY_NAMES_ZH",
    "RULES_VERSION",
    "HolidaySchedule",
    "NationalCalendar",
    "NationalDay",
    "ScheduleInvalid",
    "holiday_name_zh",
    "iter_days",
    "schedules_from_documents",
    "statutory_days",
]
