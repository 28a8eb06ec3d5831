"""The national calendar past the years a package ships: official schedules over statutory rules.

Every expected time is worked out by hand from the default hours (Mon-Fri 08:30-12:00, 13:30-17:30,
a 7h30m day) and the law's holidays (元旦 1 Jan; 春节 除夕 to 初三; 清明; 劳动节 1-2 May; 端午; 中秋;
国庆 1-3 Oct; a weekday in lieu of each that falls on a weekend). 2027's lunar dates: 除夕 Fri 5 Feb,
初一 Sat 6 Feb, 初三 Mon 8 Feb (so Tue 9 and Wed 10 Feb in lieu of the weekend), 清明 Mon 5 Apr,
端午 Wed 9 Jun, 中秋 Wed 15 Sep.

The calendars here are built on a 2026 schedule entered by hand from the State Council's notice
(tests/shared/data/holiday_schedule_2026.toml) with the built-in package data switched off, so the
answers hold whatever version of chinesecalendar is installed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from shared.calendar import BusinessCalendar, WorkingHours
from services.routing.deadlines import first_response_deadline, result_delivery_deadline
from shared.national_calendar import (
    HolidaySchedule,
    NationalCalendar,
    ScheduleInvalid,
    statutory_days,
)

SH = ZoneInfo("Asia/Shanghai")
DATA = Path(__file__).parent.parent / "data"
OFFICIAL_2026 = HolidaySchedule.from_text((DATA / "holiday_schedule_2026.toml").read_text())
NO_2027 = NationalCalendar(loaded=(OFFICIAL_2026,), builtin=False)

# A made-up 2027 schedule in the State Council's shape (NOT the real one, which is not out as these
# tests are written): Spring Festival Fri 5 to Sat 13 Feb, worked on Sun 31 Jan and Sat 20 Feb.
EXAMPLE_2027 = """
year = 2027
notice = "test example, not an official notice"
[[holidays]]
name = "元旦"
days_off = ["2027-01-01..2027-01-03"]
[[holidays]]
name = "春节"
days_off = ["2027-02-05..2027-02-13"]
working_days = ["2027-01-31", "2027-02-20"]
[[holidays]]
name = "清明节"
days_off = ["2027-04-03..2027-04-05"]
[[holidays]]
name = "劳动节"
days_off = ["2027-05-01..2027-05-05"]
working_days = ["2027-04-25"]
[[holidays]]
name = "端午节"
days_off = ["2027-06-09"]
[[holidays]]
name = "中秋节"
days_off = ["2027-09-15"]
[[holidays]]
name = "国庆节"
days_off = ["2027-10-01..2027-10-07"]
working_days = ["2027-09-26", "2027-10-09"]
"""


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def unit(holidays: NationalCalendar, hours: WorkingHours | None = None):  # type: ignore[no-untyped-def]
    return BusinessCalendar({"hx": hours} if hours else {}, holidays=holidays).for_unit("hx/east/lakeside")


def test_the_built_in_2026_schedule_is_the_state_councils() -> None:
    assert NationalCalendar().schedules[2026].digest == OFFICIAL_2026.digest


def test_new_years_eve_2026_is_due_on_the_first_working_day_of_2027() -> None:
    # Thu 31 Dec 2026 16:00-17:30 1h30m, 6h30m left. Fri 1 Jan 2027 元旦 (by law), Sat 2, Sun 3.
    # Mon 4 Jan 08:30-12:00 3h30m, 3h left; 13:30 + 3h = 16:30.
    deadline = first_response_deadline(at(2026, 12, 31, 16), unit(NO_2027))
    assert deadline.due_at == at(2027, 1, 4, 16, 30)
    assert deadline.provisional
    assert "skipped Fri 2027-01-01 to Sun 2027-01-03: New Year's Day, weekend" in deadline.explanation_en
    assert "PROVISIONAL (暂定): no official holiday schedule for 2027" in deadline.explanation_en
    assert deadline.explanation == (
        "2026-12-31（周四）16:00 收到，在工作时间内；8 个工作小时 → 2027-01-04（周一）16:30 到期"
        "（跳过 2027-01-01（周五）至2027-01-03（周日）：元旦、周末）；暂定：2027 年国务院节假日安排尚未载入，"
        "按法定节假日规则计算，载入后将重新计算；默认工作时间：周一至周五 08:30-12:00, 13:30-17:30 Asia/Shanghai"
    )


def test_whatever_package_is_installed_new_years_day_2027_is_never_worked() -> None:
    default = BusinessCalendar().for_unit("hx")
    assert not default.day(date(2027, 1, 1)).working
    due = first_response_deadline(at(2026, 12, 31, 16), default).due_at
    assert due.date() >= date(2027, 1, 4) and default.day(due.date()).working


def test_spring_festival_2027_is_skipped_by_rule() -> None:
    # Thu 4 Feb 16:00-17:30 1h30m. Fri 5 (除夕) to Mon 8 (初三), Tue 9 and Wed 10 in lieu of the
    # weekend's 初一 and 初二. Thu 11 Feb 08:30-12:00 3h30m, 13:30 + 3h = 16:30.
    lakeside = unit(NO_2027)
    assert [lakeside.day(date(2027, 2, d)).working for d in range(5, 12)] == [False] * 6 + [True]
    deadline = first_response_deadline(at(2027, 2, 4, 16), lakeside)
    assert deadline.due_at == at(2027, 2, 11, 16, 30)
    assert deadline.provisional
    assert lakeside.day(date(2027, 2, 9)).label == "Spring Festival"


def test_every_statutory_day_of_2027_is_a_day_off() -> None:
    lakeside = unit(NO_2027)
    by_hand = [date(2027, 1, 1), date(2027, 2, 5), date(2027, 2, 6), date(2027, 2, 7), date(2027, 2, 8),
               date(2027, 4, 5), date(2027, 5, 1), date(2027, 5, 2), date(2027, 6, 9), date(2027, 9, 15),
               date(2027, 10, 1), date(2027, 10, 2), date(2027, 10, 3)]
    assert all(not lakeside.day(day).working for day in by_hand)
    assert {day for day, name in statutory_days(2027).items() if "in lieu" not in name} == set(by_hand)
    # in lieu: Tue 9, Wed 10 Feb (初一, 初二 on the weekend); Mon 3, Tue 4 May; Mon 4, Tue 5 Oct
    in_lieu = {day for day, name in statutory_days(2027).items() if "in lieu" in name}
    assert in_lieu == {date(2027, 2, 9), date(2027, 2, 10), date(2027, 5, 3), date(2027, 5, 4),
                       date(2027, 10, 4), date(2027, 10, 5)}


def test_a_loaded_schedule_replaces_the_rules_for_its_year() -> None:
    loaded = NO_2027.with_schedule(HolidaySchedule.from_text(EXAMPLE_2027))
    lakeside = unit(loaded)
    # Thu 4 Feb 16:00-17:30 1h30m. Fri 5 to Sat 13 Feb off, Sun 14 a plain Sunday.
    # Mon 15 Feb 08:30-12:00 3h30m, 13:30 + 3h = 16:30.
    deadline = first_response_deadline(at(2027, 2, 4, 16), lakeside)
    assert deadline.due_at == at(2027, 2, 15, 16, 30)
    assert not deadline.provisional
    assert "PROVISIONAL" not in deadline.explanation_en
    # Fri 29 Jan 17:00-17:30 30m; Sat 30 off; Sun 31 Jan worked (调休): 08:30 + 30m = 09:00.
    assert lakeside.add_working_time(at(2027, 1, 29, 17), timedelta(hours=1)) == at(2027, 1, 31, 9)
    assert lakeside.day(date(2027, 1, 31)).label == "adjusted working day (Spring Festival)"
    assert loaded.version != NO_2027.version and f"2027:{loaded.schedules[2027].digest}" in loaded.version


def test_the_same_schedule_written_differently_has_the_same_digest() -> None:
    listed = HolidaySchedule.from_document({
        "year": 2026, "notice": "another spelling",
        "holidays": [{"name": h["name"], "days_off": h["days_off"], "working_days": h["working_days"]}
                     for h in OFFICIAL_2026.as_document()["holidays"]],
    })
    assert listed.digest == OFFICIAL_2026.digest


def test_a_unit_adds_its_own_days_off() -> None:
    # Fri 5 Mar 2027 17:00-17:30 30m; Sat, Sun; Mon 8 Mar the office's own rest day; Tue 08:30 + 30m.
    office = WorkingHours.from_text("08:30-12:00, 13:30-17:30", days_off=[date(2027, 3, 8)])
    lakeside = unit(NO_2027, office)
    assert lakeside.add_working_time(at(2027, 3, 5, 17), timedelta(hours=1)) == at(2027, 3, 9, 9)
    assert lakeside.day(date(2027, 3, 8)).label == "local rest day"
    assert BusinessCalendar(holidays=NO_2027).for_unit("hx/west").day(date(2027, 3, 8)).working


def test_calendar_time_deadlines_are_not_provisional() -> None:
    # 48 calendar hours do not depend on any holiday: Fri 5 Feb 2027 10:00 → Sun 7 Feb 10:00.
    deadline = result_delivery_deadline(at(2027, 2, 5, 10), unit(NO_2027))
    assert deadline.due_at == at(2027, 2, 7, 10)
    assert not deadline.provisional


def test_received_on_a_provisional_holiday_is_provisional() -> None:
    # Fri 1 Jan 2027 10:00 is off by law, so outside working time: 24 hours → Sat 2 Jan 10:00.
    deadline = first_response_deadline(at(2027, 1, 1, 10), unit(NO_2027))
    assert deadline.due_at == at(2027, 1, 2, 10)
    assert deadline.provisional and not deadline.in_working_time


@pytest.mark.parametrize(
    ("today", "missing"),
    [
        (date(2026, 10, 31), []),
        (date(2026, 11, 1), [2027]),
        (date(2026, 12, 31), [2027]),
        (date(2027, 1, 5), [2027]),
    ],
)
def test_the_missing_year_is_reported_from_1_november(today: date, missing: list[int]) -> None:
    assert NO_2027.missing_years(today) == missing
    assert NO_2027.with_schedule(HolidaySchedule.from_text(EXAMPLE_2027)).missing_years(today) == []


@pytest.mark.parametrize(
    ("document", "field", "words"),
    [
        ({"year": 1999, "holidays": []}, "year", "2000 至 2100"),
        ({"year": 2027}, "holidays", "至少列出一个节日"),
        ({"year": 2027, "holidays": [{"name": "圣诞节", "days_off": ["2027-12-25"]}]}, "holidays[0].name", "未知节日"),
        ({"year": 2027, "holidays": [{"name": "春节", "days_off": ["2027-02-30"]}]}, "holidays[0].days_off", "不是日期"),
        ({"year": 2027, "holidays": [{"name": "春节", "days_off": ["2027-02-05"], "working_days": ["2027-02-01"]}]},
         "holidays[0].working_days", "应为周六或周日"),
        ({"year": 2027, "holidays": [{"name": "元旦", "days_off": ["2027-01-01"]}]}, "holidays", "2027-02-05 是法定节假日（春节）"),
        ({"year": 2027, "holidays": [{"name": "春节", "days_off": ["2028-02-05"]}]}, "holidays[0]", "不在 2027 年"),
    ],
)
def test_a_bad_schedule_file_is_refused_field_by_field(document: dict, field: str, words: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ScheduleInvalid) as refused:
        HolidaySchedule.from_document(document)
    assert any(error["field"] == field and words in error["reason"] for error in refused.value.errors), \
        refused.value.errors


def test_a_file_that_is_neither_json_nor_toml_is_refused() -> None:
    with pytest.raises(ScheduleInvalid) as refused:
        HolidaySchedule.from_text("year: 2027\n  - 春节")
    assert refused.value.errors[0]["field"] == "(file)"
