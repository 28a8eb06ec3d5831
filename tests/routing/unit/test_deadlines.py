"""A complaint's deadlines (docs/domain.md §3), each due time worked out by hand in the comment above it.

Hours used: default Mon-Fri 08:30-12:00, 13:30-17:30 (a 7h30m day, so half a day is 3h45m);
"hx" Mon-Fri 08:30-12:00, 13:30-18:00 (8h, half a day 4h); "hx/east/lakeside" Mon-Sat
09:00-12:00, 13:00-18:00 (8h). Holidays as chinesecalendar 1.11.0 knows them (see
test_calendar.test_the_holiday_data_the_hand_worked_values_rely_on).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.calendar import BusinessCalendar, ChineseCalendarHolidays, UnitCalendar, WorkingHours
from services.routing.deadlines import (
    CaseTimeline,
    DeadlinePolicy,
    compute_deadlines,
    difficult_escalation_deadline,
    first_response_deadline,
    measures_report_deadline,
    result_delivery_deadline,
)

SH = ZoneInfo("Asia/Shanghai")
CALENDAR = BusinessCalendar({
    "hx": WorkingHours.from_text("08:30-12:00, 13:30-18:00"),
    "hx/east/lakeside": WorkingHours.from_text("09:00-12:00, 13:00-18:00", weekdays="Mon-Sat"),
})
DEFAULT = CALENDAR.for_unit("zz")
HX = CALENDAR.for_unit("hx/east")


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


# --- first response ---------------------------------------------------------------------------

def test_friday_1755_in_working_time_is_due_monday_after_five_minutes_on_friday() -> None:
    # hx's day ends 18:00, so Fri 17:55 is working time: 5m on Friday, 7h55m left.
    # Sat 30 May, Sun 31 May off. Mon 1 Jun 08:30-12:00 is 3h30m, 4h25m left; 13:30 + 4h25m = 17:55.
    deadline = first_response_deadline(at(2026, 5, 29, 17, 55), HX)
    assert deadline.due_at == at(2026, 6, 1, 17, 55)
    assert deadline.in_working_time
    assert deadline.explanation_en == (
        "received Fri 2026-05-29 17:55 in working time; 8 working hours → due Mon 2026-06-01 17:55 "
        "(skipped Sat 2026-05-30 to Sun 2026-05-31: weekend); "
        "hours of hx: Mon-Fri 08:30-12:00, 13:30-18:00 Asia/Shanghai"
    )


def test_friday_1755_outside_working_time_is_due_24_calendar_hours_later() -> None:
    # The default day ends 17:30, so 17:55 is outside: 24 hours → Sat 30 May 17:55, a rest day or not.
    deadline = first_response_deadline(at(2026, 5, 29, 17, 55), DEFAULT)
    assert deadline.due_at == at(2026, 5, 30, 17, 55)
    assert not deadline.in_working_time
    assert deadline.explanation_en.startswith(
        "received Fri 2026-05-29 17:55 outside working time; 24 hours → due Sat 2026-05-30 17:55"
    )


def test_a_complaint_received_on_national_day_is_due_24_hours_later() -> None:
    # Thu 1 Oct 2026 is a public holiday, so outside working time: 24 hours → Fri 2 Oct 10:00.
    deadline = first_response_deadline(at(2026, 10, 1, 10), DEFAULT)
    assert deadline.due_at == at(2026, 10, 2, 10)
    assert not deadline.in_working_time


def test_a_complaint_on_an_adjusted_working_saturday_counts_from_receipt() -> None:
    # Sat 11 Oct 2025 is a 调休 working day: 10:00-12:00 2h, 13:30-17:30 4h, 2h left.
    # Sun 12 Oct off. Mon 13 Oct 08:30 + 2h = 10:30.
    deadline = first_response_deadline(at(2025, 10, 11, 10), DEFAULT)
    assert deadline.due_at == at(2025, 10, 13, 10, 30)
    assert deadline.in_working_time
    assert "worked Sat 2025-10-11: adjusted working day (National Day)" in deadline.explanation_en
    # what people read by default: the same, in Chinese
    assert deadline.explanation == (
        "2025-10-11（周六）10:00 收到，在工作时间内；8 个工作小时 → 2025-10-13（周一）10:30 到期"
        "（跳过 2025-10-12（周日）：周末；2025-10-11（周六）上班：调休上班日（国庆节））；"
        "默认工作时间：周一至周五 08:30-12:00, 13:30-17:30 Asia/Shanghai"
    )
    assert "skipped Sun 2025-10-12: weekend" in deadline.explanation_en


def test_a_complaint_on_an_adjusted_working_sunday_counts_from_receipt() -> None:
    # Sun 28 Sep 2025 is a 调休 working day: 09:00-12:00 3h, 13:30-17:30 4h, 1h left.
    # Mon 29 Sep 08:30 + 1h = 09:30.
    assert first_response_deadline(at(2025, 9, 28, 9), DEFAULT).due_at == at(2025, 9, 29, 9, 30)


def test_eight_working_hours_run_over_the_national_day_holiday() -> None:
    # Tue 30 Sep 2025 16:00-17:30 is 1h30m, 6h30m left. 1-8 Oct off (National Day with
    # Mid-autumn Festival). Thu 9 Oct 08:30-12:00 3h30m, 3h left; 13:30 + 3h = 16:30.
    deadline = first_response_deadline(at(2025, 9, 30, 16), DEFAULT)
    assert deadline.due_at == at(2025, 10, 9, 16, 30)
    assert "skipped Wed 2025-10-01 to Wed 2025-10-08: National Day, Mid-autumn Festival" in deadline.explanation_en


def test_seed_004s_24_hours_can_be_set_as_a_cap_on_the_first_response() -> None:
    capped = DeadlinePolicy(first_response_calendar_cap=timedelta(hours=24))
    # Mon 1 Jun 09:00: 09:00-12:00 3h, 13:30-17:30 4h, Tue 08:30 + 1h = 09:30; the cap, Tue 09:00,
    # is earlier and wins.
    deadline = first_response_deadline(at(2026, 6, 1, 9), DEFAULT, capped)
    assert deadline.due_at == at(2026, 6, 2, 9)
    assert "but the cap of 24 hours ends earlier → due Tue 2026-06-02 09:00" in deadline.explanation_en
    # Mon 1 Jun 14:00: 14:00-17:30 3h30m, Tue 08:30 + 4h30m → 08:30-12:00 3h30m, 13:30 + 1h = 14:30.
    # The cap, Tue 14:00, is earlier again.
    assert first_response_deadline(at(2026, 6, 1, 14), DEFAULT, capped).due_at == at(2026, 6, 2, 14)
    # Mon 1 Jun 08:30 with the hx unit: the whole 8h day, due 18:00 the same day, before the cap.
    assert first_response_deadline(at(2026, 6, 1, 8, 30), HX, capped).due_at == at(2026, 6, 1, 18)


# --- difficult class-1 complaint: escalation within half a working day ------------------------

@pytest.mark.parametrize(
    ("unit", "marked", "due"),
    [
        # default, 3h45m: 10:00-12:00 2h, 1h45m left; 13:30 + 1h45m = 15:15
        (DEFAULT, at(2026, 6, 1, 10), at(2026, 6, 1, 15, 15)),
        # hx, 4h: 10:00-12:00 2h, 2h left; 13:30 + 2h = 15:30
        (HX, at(2026, 6, 1, 10), at(2026, 6, 1, 15, 30)),
        # default, Fri 16:30-17:30 1h, 2h45m left; Mon 8 Jun 08:30 + 2h45m = 11:15
        (DEFAULT, at(2026, 6, 5, 16, 30), at(2026, 6, 8, 11, 15)),
        # default, Thu 18 Jun 16:00-17:30 1h30m, 2h15m left; Dragon Boat Fri 19-Sun 21 off;
        # Mon 22 Jun 08:30 + 2h15m = 10:45
        (DEFAULT, at(2026, 6, 18, 16), at(2026, 6, 22, 10, 45)),
    ],
)
def test_a_difficult_complaint_is_escalated_within_half_a_working_day(
    unit: UnitCalendar, marked: datetime, due: datetime
) -> None:
    deadline = difficult_escalation_deadline(marked, unit)
    assert deadline.due_at == due
    assert deadline.kind == "difficult_escalation"


def test_half_a_working_day_is_half_of_the_units_own_day() -> None:
    assert "half a working day (3h45m of working time)" in difficult_escalation_deadline(
        at(2026, 6, 1, 10), DEFAULT
    ).explanation_en
    assert "half a working day (4h of working time)" in difficult_escalation_deadline(
        at(2026, 6, 1, 10), HX
    ).explanation_en


def test_only_a_class_1_complaint_gets_the_escalation_deadline() -> None:
    timeline = CaseTimeline(received_at=at(2026, 6, 1, 9), marked_difficult_at=at(2026, 6, 1, 10))
    class_1 = compute_deadlines(timeline, org_path="zz", calendar=CALENDAR, complaint_class=1)
    class_2 = compute_deadlines(timeline, org_path="zz", calendar=CALENDAR, complaint_class=2)
    assert class_1.get("difficult_escalation") is not None
    assert class_2.get("difficult_escalation") is None


# --- forwarded complaint: measures within one working day -------------------------------------

def test_measures_are_due_one_working_day_later_across_national_day() -> None:
    # Default 7h30m: Wed 30 Sep 2026 15:00-17:30 2h30m, 5h left; 1-7 Oct off;
    # Thu 8 Oct 08:30-12:00 3h30m, 1h30m left; 13:30 + 1h30m = 15:00.
    deadline = measures_report_deadline(at(2026, 9, 30, 15), DEFAULT)
    assert deadline.due_at == at(2026, 10, 8, 15)
    assert deadline.explanation_en == (
        "assigned Wed 2026-09-30 15:00 in working time; 1 working day (7h30m of working time) "
        "→ due Thu 2026-10-08 15:00 (skipped Thu 2026-10-01 to Wed 2026-10-07: National Day); "
        "hours of default: Mon-Fri 08:30-12:00, 13:30-17:30 Asia/Shanghai"
    )


def test_measures_for_a_complaint_assigned_on_a_holiday_count_from_the_next_working_day() -> None:
    # Assigned Thu 1 Oct 2026 (holiday): counting starts Thu 8 Oct 08:30; 7h30m fills the day
    # exactly → due 17:30 that day (the end of the period, not the next morning).
    deadline = measures_report_deadline(at(2026, 10, 1, 10), DEFAULT)
    assert deadline.due_at == at(2026, 10, 8, 17, 30)
    assert deadline.starts_at == at(2026, 10, 1, 10)
    assert (
        "assigned Thu 2026-10-01 10:00 outside working time, counting from Thu 2026-10-08 08:30"
        in deadline.explanation_en
    )


def test_measures_in_an_8_hour_unit_across_national_day_2025() -> None:
    # hx 8h: Tue 30 Sep 2025 11:00-12:00 1h, 13:30-18:00 4h30m, 2h30m left; 1-8 Oct off;
    # Thu 9 Oct 08:30 + 2h30m = 11:00.
    assert measures_report_deadline(at(2025, 9, 30, 11), HX).due_at == at(2025, 10, 9, 11)


# --- result back to the customer: 48 calendar hours -------------------------------------------

def test_the_result_is_due_48_calendar_hours_after_handling_ends_holidays_included() -> None:
    # Thu 24 Sep 2026 15:00 + 48h = Sat 26 Sep 15:00, through the Mid-autumn Festival (Fri 25).
    deadline = result_delivery_deadline(at(2026, 9, 24, 15), DEFAULT)
    assert deadline.due_at == at(2026, 9, 26, 15)
    assert not deadline.in_working_time
    assert deadline.explanation_en == (
        "handling ended Thu 2026-09-24 15:00; 48 hours (holidays included) → due Sat 2026-09-26 15:00"
    )


# --- per-unit hours, time zones, the whole schedule -------------------------------------------

def test_each_org_unit_counts_on_the_hours_it_inherits() -> None:
    timeline = CaseTimeline(received_at=at(2026, 5, 29, 17, 55))
    # lakeside works Saturdays 09:00-12:00, 13:00-18:00: Fri 17:55-18:00 5m, 7h55m left;
    # Sat 30 May 09:00-12:00 3h, 4h55m left; 13:00 + 4h55m = 17:55.
    lakeside = compute_deadlines(timeline, org_path="hx/east/lakeside", calendar=CALENDAR)
    assert lakeside.hours_from == "hx/east/lakeside"
    assert lakeside.get("first_response").due_at == at(2026, 5, 30, 17, 55)  # type: ignore[union-attr]
    # hx/east has no hours of its own: hx's, Monday 17:55 as above.
    east = compute_deadlines(timeline, org_path="hx/east", calendar=CALENDAR)
    assert east.hours_from == "hx"
    assert east.get("first_response").due_at == at(2026, 6, 1, 17, 55)  # type: ignore[union-attr]
    # hxy has none either, nor any ancestor: the default, which ends 17:30 → 24 hours.
    other = compute_deadlines(timeline, org_path="hxy", calendar=CALENDAR)
    assert other.hours_from == "default"
    assert other.get("first_response").due_at == at(2026, 5, 30, 17, 55)  # type: ignore[union-attr]


def test_a_receipt_time_in_utc_gives_due_times_in_shanghai_wall_time() -> None:
    # 09:55 UTC is 17:55 in Shanghai: the Friday 17:55 case on hx → Mon 1 Jun 17:55 local.
    deadline = first_response_deadline(datetime(2026, 5, 29, 9, 55, tzinfo=UTC), HX)
    assert deadline.due_at == at(2026, 6, 1, 17, 55)
    assert deadline.due_at.tzinfo == SH
    assert (deadline.due_at.hour, deadline.due_at.minute) == (17, 55)
    assert deadline.starts_at.hour == 17
    assert deadline.explanation_en.startswith("received Fri 2026-05-29 17:55 in working time")
    # 00:00 UTC is 08:00 in Shanghai, before the day starts: 24 hours → Sat 30 May 08:00 local.
    early = first_response_deadline(datetime(2026, 5, 29, 0, 0, tzinfo=UTC), HX)
    assert not early.in_working_time
    assert (early.due_at.day, early.due_at.hour) == (30, 8)


def test_a_naive_receipt_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        first_response_deadline(datetime(2026, 5, 29, 17, 55), HX)


def test_the_schedule_holds_every_started_deadline_and_the_calendar_version() -> None:
    timeline = CaseTimeline(
        received_at=at(2026, 6, 1, 9),
        marked_difficult_at=at(2026, 6, 1, 10),
        assigned_at=at(2026, 6, 1, 11),
        resolved_at=at(2026, 6, 3, 16),
    )
    schedule = compute_deadlines(timeline, org_path="zz", calendar=CALENDAR, complaint_class=1)
    assert [d.kind for d in schedule.deadlines] == [
        "first_response", "difficult_escalation", "measures_report", "result_delivery",
    ]
    assert {d.calendar_version for d in schedule.deadlines} == {CALENDAR.calendar_version}
    assert schedule.calendar_version.startswith("chinese_calendar-1.11.0+holidays-")
    due = {d.kind: d.due_at for d in schedule.deadlines}
    # 09:00-12:00 3h, 13:30-17:30 4h, Tue 08:30 + 1h = 09:30
    assert due["first_response"] == at(2026, 6, 2, 9, 30)
    # 10:00-12:00 2h, 13:30 + 1h45m = 15:15
    assert due["difficult_escalation"] == at(2026, 6, 1, 15, 15)
    # 11:00-12:00 1h, 13:30-17:30 4h, 2h30m left; Tue 08:30 + 2h30m = 11:00
    assert due["measures_report"] == at(2026, 6, 2, 11)
    # Wed 3 Jun 16:00 + 48h = Fri 5 Jun 16:00
    assert due["result_delivery"] == at(2026, 6, 5, 16)


def test_only_received_means_only_the_first_response_deadline() -> None:
    schedule = compute_deadlines(CaseTimeline(received_at=at(2026, 6, 1, 9)), org_path="hx", calendar=CALENDAR)
    assert [d.kind for d in schedule.deadlines] == ["first_response"]
    assert schedule.get("measures_report") is None


def test_a_source_without_data_leaves_weekday_rules_and_says_so() -> None:
    # A holiday source that has no data for 2027 (chinesecalendar 1.11 alone, as before the national
    # calendar): Thu 31 Dec 2026 16:00-17:30 1h30m, 6h30m left; Fri 1 Jan 2027 then counts as a
    # plain Friday: 08:30-12:00 3h30m, 3h left; 13:30 + 3h = 16:30.
    bare = BusinessCalendar(holidays=ChineseCalendarHolidays()).for_unit("zz")
    deadline = first_response_deadline(at(2026, 12, 31, 16), bare)
    assert deadline.due_at == at(2027, 1, 1, 16, 30)
    assert (
        "no holiday data in chinese_calendar-1.11.0 for Fri 2027-01-01: weekday rules used" in deadline.explanation_en
    )


def test_each_rule_is_a_setting() -> None:
    policy = DeadlinePolicy(
        first_response_in_working_time=timedelta(hours=4),
        measures_report_working_days=2,
        result_delivery=timedelta(hours=24),
    )
    # Mon 1 Jun 09:00-12:00 3h, 13:30 + 1h = 14:30
    assert first_response_deadline(at(2026, 6, 1, 9), DEFAULT, policy).due_at == at(2026, 6, 1, 14, 30)
    # 2 x 7h30m = 15h: Mon 09:00-12:00 3h, 13:30-17:30 4h, Tue 7h30m (0h30m left), Wed 08:30 + 30m = 09:00
    assert measures_report_deadline(at(2026, 6, 1, 9), DEFAULT, policy).due_at == at(2026, 6, 3, 9)
    assert result_delivery_deadline(at(2026, 6, 1, 9), DEFAULT, policy).due_at == at(2026, 6, 2, 9)
    with pytest.raises(ValueError):
        DeadlinePolicy(result_delivery=timedelta())
    with pytest.raises(ValueError):
        DeadlinePolicy(difficult_escalation_working_days=0)
