"""A complaint's deadlines (docs/domain.md §3), each with its due time and an explanation a person can
check by hand: which moment it counts from, in which kind of time, and which days it skipped.

Pure: the case's timestamps and the business calendar come in, deadlines come out. Each rule is a
setting in ``DeadlinePolicy``; the defaults are the stricter values of the seed procedures.
"""

from __future__ import annotations

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
    hours = _hours_note(unit)
    if not unit.is_working_time(received):
        due = unit.add_calendar_time(received, policy.first_response_outside_working_time)
        # Whether the day was a working one decided the rule: provisional if that day is.
        received_day = unit.day(received.date())
        explanation = (
            f"received {_stamp(received)} outside working time; "
            f"{_calendar_text(policy.first_response_outside_working_time)} → due {_stamp(due)}"
            f"{_provisional_note((received_day,), unit)}; {hours}"
        )
        return Deadline("first_response", received, due, explanation, False, unit.calendar_version,
                        received_day.provisional)

    span = unit.count_working_time(received, policy.first_response_in_working_time)
    rule = _working_text(policy.first_response_in_working_time)
    cap = policy.first_response_calendar_cap
    if cap is not None and (capped := unit.add_calendar_time(received, cap)) < span.due:
        explanation = (
            f"received {_stamp(received)} in working time; {rule} would end {_stamp(span.due)}, "
            f"but the cap of {_calendar_text(cap)} ends earlier → due {_stamp(capped)}; {hours}"
        )
        return Deadline("first_response", received, capped, explanation, False, unit.calendar_version,
                        bool(span.provisional_days))
    explanation = _working_explanation("received", span, rule, hours, unit)
    return Deadline("first_response", received, span.due, explanation, True, unit.calendar_version,
                    bool(span.provisional_days))


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
    explanation = (
        f"handling ended {_stamp(resolved)}; {_calendar_text(policy.result_delivery)} "
        f"(holidays included) → due {_stamp(due)}"
    )
    return Deadline("result_delivery", resolved, due, explanation, False, unit.calendar_version)


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
    rule = f"{_working_days_text(working_days)} ({_duration(amount)} of working time)"
    explanation = _working_explanation(event, span, rule, _hours_note(unit), unit)
    return Deadline(kind, span.start, span.due, explanation, True, unit.calendar_version, bool(span.provisional_days))


def _working_explanation(event: str, span: WorkingTimeSpan, rule: str, hours: str, unit: UnitCalendar) -> str:
    where = "in" if span.counting_from == span.start else "outside"
    text = f"{event} {_stamp(span.start)} {where} working time"
    if span.counting_from != span.start:
        text += f", counting from {_stamp(span.counting_from)}"
    text += f"; {rule} → due {_stamp(span.due)}"
    notes = [f"skipped {run}" for run in _runs(span.skipped)]
    notes += [f"worked {_day(day)}: {day.label}" for day in span.adjusted_working_days]
    if fallback := span.by_weekday_rules:
        notes.append(
            f"no holiday data in {unit.holidays.version} for {_date_range(fallback)}: weekday rules used, "
            "public holidays there are not known"
        )
    if notes:
        text += f" ({'; '.join(notes)})"
    return f"{text}{_provisional_note(span.provisional_days, unit)}; {hours}"


def _provisional_note(days: tuple[CalendarDay, ...], unit: UnitCalendar) -> str:
    """Says which years were counted on the statutory rules only, and what will change that."""
    years = sorted({day.date.year for day in days if day.provisional})
    if not years:
        return ""
    listed = ", ".join(str(year) for year in years)
    return (f"; PROVISIONAL (暂定): no official holiday schedule for {listed} is loaded, statutory holidays "
            "by rule were used; recomputed when the State Council's schedule is loaded")


def _runs(days: tuple[CalendarDay, ...]) -> list[str]:
    """Consecutive skipped days as one range with their reasons: 'Sat 2026-05-30 to Sun 2026-05-31: weekend'."""
    groups: list[list[CalendarDay]] = []
    for day in days:
        if groups and (day.date - groups[-1][-1].date).days == 1:
            groups[-1].append(day)
        else:
            groups.append([day])
    out = []
    for group in groups:
        reasons = list(dict.fromkeys(day.label or "day off" for day in group))
        out.append(f"{_date_range(group)}: {', '.join(reasons)}")
    return out


def _date_range(days: tuple[CalendarDay, ...] | list[CalendarDay]) -> str:
    first, last = days[0], days[-1]
    return _day(first) if first.date == last.date else f"{_day(first)} to {_day(last)}"


def _day(day: CalendarDay) -> str:
    # Weekday names from our own table: strftime's %a follows the process locale.
    return f"{WEEKDAY_NAMES[day.date.weekday()]} {day.date.isoformat()}"


def _stamp(moment: datetime) -> str:
    """'Fri 2026-05-29 17:55' in the moment's own (the unit's) zone; seconds only when there are some."""
    clock = f"{moment:%H:%M:%S}" if moment.second or moment.microsecond else f"{moment:%H:%M}"
    return f"{WEEKDAY_NAMES[moment.weekday()]} {moment:%Y-%m-%d} {clock}"


def _duration(span: timedelta) -> str:
    """'8h', '3h45m', '45m': hours and minutes, seconds only when there are some."""
    seconds = int(span.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{seconds}s" if seconds else ""]
    return "".join(parts) or "0m"


def _working_text(span: timedelta) -> str:
    hours, rest = divmod(span, timedelta(hours=1))
    return f"{hours} working hours" if not rest else f"{_duration(span)} of working time"


def _calendar_text(span: timedelta) -> str:
    hours, rest = divmod(span, timedelta(hours=1))
    return f"{hours} hours" if not rest else f"{_duration(span)} (calendar time)"


def _working_days_text(days: float) -> str:
    if days == 0.5:
        return "half a working day"
    if days == 1:
        return "1 working day"
    return f"{days:g} working days"


def _hours_note(unit: UnitCalendar) -> str:
    return f"hours of {unit.hours_from}: {unit.hours.describe()}"


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
