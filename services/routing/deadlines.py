"""A complaint's deadlines (docs/domain.md §3), each with its due time and an explanation a person can
check by hand: which moment it counts from, in which kind of time, and which days it skipped.

Pure: the case's timestamps and the business calendar come in, deadlines come out. Each rule is a
setting in ``DeadlinePolicy``; the defaults are the stricter values of the seed procedures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.calendar import (
    WEEKDAY_NAMES,
    BusinessCalendar,
    CalendarDay,
    UnitCalendar,
    WorkingTimeSpan,
)
from shared.events.cases import DeadlineKind
from shared.i18n import WEEKDAYS_ZH
from shared.national_calendar import holiday_name_zh


@dataclass(frozen=True)
class DeadlinePolicy:
    """How long each step may take. Working-day rules scale with the unit's working-day length."""

    #: Received in working time: first response within this much working time (seed 002).
    first_response_in_working_time: timedelta = timedelta(hours=8)
    #: Received outside working time: within this much calendar time (seed 002).
    first_response_outside_working_time: timedelta = timedelta(hours=24)
    #: Optional upper bound in calendar time for every first response: seed 004's "24 hours".
    #: Off by default, as docs/domain.md takes seed 002's rule as the stricter one; set it to 24h to
    #: make a Friday-afternoon complaint due on Saturday rather than on Monday.
    first_response_calendar_cap: timedelta | None = None
    #: A difficult class-1 complaint reaches the quality department and the executive (seed 002).
    difficult_escalation_working_days: float = 0.5
    #: A department that receives a forwarded complaint reports its measures (seed 002).
    measures_report_working_days: float = 1.0
    #: The result goes back to the customer after handling ends, in calendar time (seeds 000, 004).
    result_delivery: timedelta = timedelta(hours=48)

    def __post_init__(self) -> None:
        spans = (
            self.first_response_in_working_time,
            self.first_response_outside_working_time,
            self.result_delivery,
        )
        if any(span <= timedelta() for span in spans) or (
            self.first_response_calendar_cap is not None and self.first_response_calendar_cap <= timedelta()
        ):
            raise ValueError("deadline durations must be positive")
        if self.difficult_escalation_working_days <= 0 or self.measures_report_working_days <= 0:
            raise ValueError("deadline working days must be positive")


DEFAULT_POLICY = DeadlinePolicy()


@dataclass(frozen=True)
class CaseTimeline:
    """The moments of a case that start a deadline; a missing one means its deadline has not begun."""

    received_at: datetime
    #: When the superior found it cannot be solved at once and marked it difficult.
    marked_difficult_at: datetime | None = None
    #: When the handling department received the forwarded complaint.
    assigned_at: datetime | None = None
    #: When handling ended (the case was resolved).
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class Deadline:
    kind: DeadlineKind
    #: The moment the deadline counts from (the triggering fact, not the first working moment).
    starts_at: datetime
    #: In the org unit's local time.
    due_at: datetime
    explanation: str
    #: True when counted in working time, False when in calendar time.
    in_working_time: bool
    calendar_version: str
    #: True when the count depended on a day whose year has no official holiday schedule yet
    #: (statutory holidays by rule only): recomputed when that year's schedule is loaded.
    provisional: bool = False
    #: The explanation in English (``explanation`` is Chinese, what people read by default).
    explanation_en: str | None = None


@dataclass(frozen=True)
class DeadlineSchedule:
    org_path: str
    #: The org unit whose working hours applied, or 'default'.
    hours_from: str
    calendar_version: str
    deadlines: tuple[Deadline, ...]

    def get(self, kind: DeadlineKind) -> Deadline | None:
        return next((deadline for deadline in self.deadlines if deadline.kind == kind), None)


def first_response_deadline(
    received_at: datetime, unit: UnitCalendar, policy: DeadlinePolicy = DEFAULT_POLICY
) -> Deadline:
    """8 working hours when received in working time, else 24 calendar hours (seed 002)."""
    received = unit.local(received_at)
    if not unit.is_working_time(received):
        due = unit.add_calendar_time(received, policy.first_response_outside_working_time)
        # Whether the day was a working one decided the rule: provisional if that day is.
        received_day = unit.day(received.date())
        span = policy.first_response_outside_working_time

        def outside(zh: bool) -> str:
            if zh:
                return (f"{_stamp(received, zh)} 收到，非工作时间；{_calendar_text(span, zh)} → {_stamp(due, zh)} 到期"
                        f"{_provisional_note((received_day,), zh)}；{_hours_note(unit, zh)}")
            return (f"received {_stamp(received, zh)} outside working time; {_calendar_text(span, zh)} → due "
                    f"{_stamp(due, zh)}{_provisional_note((received_day,), zh)}; {_hours_note(unit, zh)}")

        return Deadline("first_response", received, due, outside(True), False, unit.calendar_version,
                        received_day.provisional, outside(False))

    span = unit.count_working_time(received, policy.first_response_in_working_time)
    amount = policy.first_response_in_working_time
    cap = policy.first_response_calendar_cap
    if cap is not None and (capped := unit.add_calendar_time(received, cap)) < span.due:
        def capped_text(zh: bool) -> str:
            if zh:
                return (f"{_stamp(received, zh)} 收到，在工作时间内；{_working_text(amount, zh)}本应于 "
                        f"{_stamp(span.due, zh)} 到期，但 {_calendar_text(cap, zh)}的上限更早 → {_stamp(capped, zh)} 到期；"
                        f"{_hours_note(unit, zh)}")
            return (f"received {_stamp(received, zh)} in working time; {_working_text(amount, zh)} would end "
                    f"{_stamp(span.due, zh)}, but the cap of {_calendar_text(cap, zh)} ends earlier → due "
                    f"{_stamp(capped, zh)}; {_hours_note(unit, zh)}")

        return Deadline("first_response", received, capped, capped_text(True), False, unit.calendar_version,
                        bool(span.provisional_days), capped_text(False))
    return Deadline("first_response", received, span.due,
                    _working_explanation("received", span, lambda zh: _working_text(amount, zh), unit, True),
                    True, unit.calendar_version, bool(span.provisional_days),
                    _working_explanation("received", span, lambda zh: _working_text(amount, zh), unit, False))


def difficult_escalation_deadline(
    marked_difficult_at: datetime, unit: UnitCalendar, policy: DeadlinePolicy = DEFAULT_POLICY
) -> Deadline:
    """Half a working day of the unit's own length (3h45m on 08:30-12:00 + 13:30-17:30)."""
    return _working_days_deadline(
        "difficult_escalation", "marked difficult", marked_difficult_at,
        policy.difficult_escalation_working_days, unit,
    )


def measures_report_deadline(
    assigned_at: datetime, unit: UnitCalendar, policy: DeadlinePolicy = DEFAULT_POLICY
) -> Deadline:
    """One working day of the unit's own length after the department received the complaint."""
    return _working_days_deadline(
        "measures_report", "assigned", assigned_at, policy.measures_report_working_days, unit
    )


def result_delivery_deadline(
    resolved_at: datetime, unit: UnitCalendar, policy: DeadlinePolicy = DEFAULT_POLICY
) -> Deadline:
    """48 calendar hours after handling ended: nights, weekends and holidays count (seeds 000, 004)."""
    resolved = unit.local(resolved_at)
    due = unit.add_calendar_time(resolved, policy.result_delivery)
    span = policy.result_delivery

    def text(zh: bool) -> str:
        if zh:
            return f"{_stamp(resolved, zh)} 处理结束；{_calendar_text(span, zh)}（节假日照算）→ {_stamp(due, zh)} 到期"
        return f"handling ended {_stamp(resolved, zh)}; {_calendar_text(span, zh)} (holidays included) → due {_stamp(due, zh)}"

    return Deadline("result_delivery", resolved, due, text(True), False, unit.calendar_version,
                    explanation_en=text(False))


def compute_deadlines(
    timeline: CaseTimeline,
    *,
    org_path: str,
    calendar: BusinessCalendar,
    complaint_class: int | None = None,
    policy: DeadlinePolicy = DEFAULT_POLICY,
) -> DeadlineSchedule:
    """Every deadline the case's moments have started so far, on the org unit's calendar.

    The escalation deadline applies only to a class-1 complaint marked difficult (seed 002).
    """
    unit = calendar.for_unit(org_path)
    deadlines = [first_response_deadline(timeline.received_at, unit, policy)]
    if timeline.marked_difficult_at is not None and complaint_class == 1:
        deadlines.append(difficult_escalation_deadline(timeline.marked_difficult_at, unit, policy))
    if timeline.assigned_at is not None:
        deadlines.append(measures_report_deadline(timeline.assigned_at, unit, policy))
    if timeline.resolved_at is not None:
        deadlines.append(result_delivery_deadline(timeline.resolved_at, unit, policy))
    return DeadlineSchedule(
        org_path=unit.org_path,
        hours_from=unit.hours_from,
        calendar_version=unit.calendar_version,
        deadlines=tuple(deadlines),
    )


def _working_days_deadline(
    kind: DeadlineKind, event: str, start: datetime, working_days: float, unit: UnitCalendar
) -> Deadline:
    amount = unit.working_day_length * working_days
    span = unit.count_working_time(unit.local(start), amount)

    def rule(zh: bool) -> str:
        if zh:
            return f"{_working_days_text(working_days, zh)}（{_duration(amount, zh)}工作时间）"
        return f"{_working_days_text(working_days, zh)} ({_duration(amount, zh)} of working time)"

    return Deadline(kind, span.start, span.due, _working_explanation(event, span, rule, unit, True), True,
                    unit.calendar_version, bool(span.provisional_days),
                    _working_explanation(event, span, rule, unit, False))


_EVENTS_ZH = {"received": "收到", "marked difficult": "列为疑难", "assigned": "分派"}


def _working_explanation(event: str, span: WorkingTimeSpan, rule: Callable[[bool], str], unit: UnitCalendar,
                         zh: bool) -> str:
    inside = span.counting_from == span.start
    if zh:
        text = f"{_stamp(span.start, zh)} {_EVENTS_ZH[event]}，{'在工作时间内' if inside else '非工作时间'}"
        if not inside:
            text += f"，自 {_stamp(span.counting_from, zh)} 起算"
        text += f"；{rule(zh)} → {_stamp(span.due, zh)} 到期"
    else:
        text = f"{event} {_stamp(span.start, zh)} {'in' if inside else 'outside'} working time"
        if not inside:
            text += f", counting from {_stamp(span.counting_from, zh)}"
        text += f"; {rule(zh)} → due {_stamp(span.due, zh)}"
    notes = [("跳过 " if zh else "skipped ") + run for run in _runs(span.skipped, zh)]
    notes += [(f"{_day(day, zh)}上班：{_label(day.label, zh)}" if zh else f"worked {_day(day, zh)}: {day.label}")
              for day in span.adjusted_working_days]
    if fallback := span.by_weekday_rules:
        notes.append(
            f"{unit.holidays.version} 没有 {_date_range(fallback, zh)} 的节假日数据：按星期规则计算，其间的节假日未知"
            if zh else
            f"no holiday data in {unit.holidays.version} for {_date_range(fallback, zh)}: weekday rules used, "
            "public holidays there are not known"
        )
    if notes:
        text += f"（{'；'.join(notes)}）" if zh else f" ({'; '.join(notes)})"
    return f"{text}{_provisional_note(span.provisional_days, zh)}{'；' if zh else '; '}{_hours_note(unit, zh)}"


def _provisional_note(days: tuple[CalendarDay, ...], zh: bool) -> str:
    """Says which years were counted on the statutory rules only, and what will change that."""
    years = sorted({day.date.year for day in days if day.provisional})
    if not years:
        return ""
    if zh:
        return (f"；暂定：{'、'.join(str(year) for year in years)} 年国务院节假日安排尚未载入，按法定节假日规则计算，"
                "载入后将重新计算")
    listed = ", ".join(str(year) for year in years)
    return (f"; PROVISIONAL (暂定): no official holiday schedule for {listed} is loaded, statutory holidays "
            "by rule were used; recomputed when the State Council's schedule is loaded")


_LABELS_ZH = {"weekend": "周末", "rest day": "休息日", "local rest day": "本单位休息日",
              "public holiday": "法定节假日", "day off": "休息日", "adjusted working day": "调休上班日"}


def _label(label: str | None, zh: bool) -> str:
    """A calendar day's reason as a person reads it: '周末', '春节', '调休上班日（国庆节）'."""
    text = label or "day off"
    if not zh:
        return text
    if text.startswith("adjusted working day (") and text.endswith(")"):
        return f"调休上班日（{holiday_name_zh(text[len('adjusted working day ('):-1])}）"
    return _LABELS_ZH.get(text) or holiday_name_zh(text) or text


def _runs(days: tuple[CalendarDay, ...], zh: bool) -> list[str]:
    """Consecutive skipped days as one range with their reasons: 'Sat 2026-05-30 to Sun 2026-05-31: weekend'."""
    groups: list[list[CalendarDay]] = []
    for day in days:
        if groups and (day.date - groups[-1][-1].date).days == 1:
            groups[-1].append(day)
        else:
            groups.append([day])
    out = []
    for group in groups:
        reasons = list(dict.fromkeys(_label(day.label, zh) for day in group))
        out.append(f"{_date_range(group, zh)}{'：' if zh else ': '}{('、' if zh else ', ').join(reasons)}")
    return out


def _date_range(days: tuple[CalendarDay, ...] | list[CalendarDay], zh: bool) -> str:
    first, last = days[0], days[-1]
    if first.date == last.date:
        return _day(first, zh)
    return f"{_day(first, zh)}{'至' if zh else ' to '}{_day(last, zh)}"


def _day(day: CalendarDay, zh: bool) -> str:
    # Weekday names from our own tables: strftime's %a follows the process locale.
    if zh:
        return f"{day.date.isoformat()}（{WEEKDAYS_ZH[day.date.weekday()]}）"
    return f"{WEEKDAY_NAMES[day.date.weekday()]} {day.date.isoformat()}"


def _stamp(moment: datetime, zh: bool) -> str:
    """'Fri 2026-05-29 17:55' ('2026-05-29（周五）17:55') in the moment's own (the unit's) zone;
    seconds only when there are some."""
    clock = f"{moment:%H:%M:%S}" if moment.second or moment.microsecond else f"{moment:%H:%M}"
    if zh:
        return f"{moment:%Y-%m-%d}（{WEEKDAYS_ZH[moment.weekday()]}）{clock}"
    return f"{WEEKDAY_NAMES[moment.weekday()]} {moment:%Y-%m-%d} {clock}"


def _duration(span: timedelta, zh: bool = False) -> str:
    """'8h', '3h45m', '45m' ('8小时', '3小时45分'): hours and minutes, seconds only when there are some."""
    seconds = int(span.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    units = ("小时", "分", "秒") if zh else ("h", "m", "s")
    parts = [f"{value}{unit}" for value, unit in zip((hours, minutes, seconds), units, strict=True) if value]
    return "".join(parts) or ("0分" if zh else "0m")


def _working_text(span: timedelta, zh: bool) -> str:
    hours, rest = divmod(span, timedelta(hours=1))
    if zh:
        return f"{hours} 个工作小时" if not rest else f"{_duration(span, zh)}工作时间"
    return f"{hours} working hours" if not rest else f"{_duration(span)} of working time"


def _calendar_text(span: timedelta, zh: bool) -> str:
    hours, rest = divmod(span, timedelta(hours=1))
    if zh:
        return f"{hours} 小时" if not rest else f"{_duration(span, zh)}（自然时间）"
    return f"{hours} hours" if not rest else f"{_duration(span)} (calendar time)"


def _working_days_text(days: float, zh: bool) -> str:
    if zh:
        return "半个工作日" if days == 0.5 else f"{days:g} 个工作日"
    if days == 0.5:
        return "half a working day"
    if days == 1:
        return "1 working day"
    return f"{days:g} working days"


def _hours_note(unit: UnitCalendar, zh: bool) -> str:
    if zh:
        whose = "默认工作时间" if unit.hours_from == "default" else f"{unit.hours_from} 的工作时间"
        return f"{whose}：{_hours_zh(unit)}"
    return f"hours of {unit.hours_from}: {unit.hours.describe()}"


def _hours_zh(unit: UnitCalendar) -> str:
    described = unit.hours.describe()  # 'Mon-Fri 08:30-12:00, 13:30-17:30 Asia/Shanghai'
    for index, name in enumerate(WEEKDAY_NAMES):
        described = described.replace(name, WEEKDAYS_ZH[index])
    return described.replace("-", "至", 1) if described[:2] in WEEKDAYS_ZH else described


__all__ = [
    "DEFAULT_POLICY",
    "CaseTimeline",
    "Deadline",
    "DeadlinePolicy",
    "DeadlineSchedule",
    "compute_deadlines",
    "difficult_escalation_deadline",
    "first_response_deadline",
    "measures_report_deadline",
    "result_delivery_deadline",
]
