"""The business calendar: working hours per org unit, Chinese holidays and 调休 days, time zones.

Expected times are worked out by hand from the hours below and the State Council schedules as
chinesecalendar ships them; ``test_the_holiday_data_the_hand_worked_values_rely_on`` pins the
facts of that schedule the other tests lean on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

from shared.calendar import (
    BusinessCalendar,
    ChineseCalendarHolidays,
    HolidayDataUnavailable,
    HolidaySource,
    WorkingHours,
)

SH = ZoneInfo("Asia/Shanghai")

# default: Mon-Fri 08:30-12:00, 13:30-17:30 → a 7h30m working day
# hx:      Mon-Fri 08:30-12:00, 13:30-18:00 → an 8h working day
# hx/east/lakeside (a property office): Mon-Sat 09:00-12:00, 13:00-18:00 → 8h
HX = WorkingHours.from_text("08:30-12:00, 13:30-18:00")
LAKESIDE = WorkingHours.from_text("09:00-12:00, 13:00-18:00", weekdays="Mon-Sat")
CALENDAR = BusinessCalendar({"hx": HX, "hx/east/lakeside": LAKESIDE})
DEFAULT = CALENDAR.for_unit("zz")


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def test_the_holiday_data_the_hand_worked_values_rely_on() -> None:
    source = ChineseCalendarHolidays()
    assert source.is_workday(date(2025, 9, 28))  # Sunday, 调休 for National Day 2025
    assert source.is_workday(date(2025, 10, 11))  # Saturday, 调休 for National Day 2025
    assert not any(source.is_workday(date(2025, 10, d)) for d in range(1, 9))  # 1-8 Oct 2025 off
    assert source.is_workday(date(2025, 10, 9))
    assert not any(source.is_workday(date(2026, 10, d)) for d in range(1, 8))  # 1-7 Oct 2026 off
    assert source.is_workday(date(2026, 10, 8))
    assert source.holiday_name(date(2026, 10, 1)) == "National Day"
    assert not source.is_workday(date(2026, 6, 19))  # Dragon Boat Festival, a Friday
    assert not source.is_workday(date(2026, 9, 25))  # Mid-autumn Festival, a Friday
    assert isinstance(source, HolidaySource)


def test_default_hours_are_two_periods_on_weekdays() -> None:
    assert DEFAULT.hours_from == "default"
    assert DEFAULT.working_day_length == timedelta(hours=7, minutes=30)
    assert DEFAULT.hours.describe() == "Mon-Fri 08:30-12:00, 13:30-17:30 Asia/Shanghai"


@pytest.mark.parametrize(
    ("moment", "working"),
    [
        (at(2026, 6, 1, 8, 29), False),
        (at(2026, 6, 1, 8, 30), True),  # a period's start is working time
        (at(2026, 6, 1, 11, 59), True),
        (at(2026, 6, 1, 12, 0), False),  # its end is not
        (at(2026, 6, 1, 13, 30), True),
        (at(2026, 6, 1, 17, 29), True),
        (at(2026, 6, 1, 17, 30), False),
        (at(2026, 5, 30, 10), False),  # an ordinary Saturday
        (at(2025, 9, 28, 10), True),  # adjusted working Sunday
        (at(2025, 10, 11, 10), True),  # adjusted working Saturday
        (at(2026, 10, 1, 10), False),  # National Day, a Thursday
    ],
)
def test_is_working_time(moment: datetime, working: bool) -> None:
    assert DEFAULT.is_working_time(moment) is working


def test_an_adjusted_working_day_is_labelled() -> None:
    day = DEFAULT.day(date(2025, 10, 11))
    assert day.working
    assert day.label == "adjusted working day (National Day)"
    assert DEFAULT.day(date(2026, 10, 1)).label == "National Day"
    assert DEFAULT.day(date(2026, 5, 30)).label == "weekend"


@pytest.mark.parametrize(
    ("start", "duration", "due"),
    [
        # before the day starts: counting begins at 08:30, 1h → 09:30
        (at(2026, 6, 1, 7), timedelta(hours=1), at(2026, 6, 1, 9, 30)),
        # in the lunch break: counting begins at 13:30, 1h → 14:30
        (at(2026, 6, 1, 12, 30), timedelta(hours=1), at(2026, 6, 1, 14, 30)),
        # 08:30 + 3h30m fills the morning exactly: due at 12:00, not at 13:30
        (at(2026, 6, 1, 8, 30), timedelta(hours=3, minutes=30), at(2026, 6, 1, 12)),
        # morning 08:30-12:00 (3h30m) + 30m after lunch → 14:00
        (at(2026, 6, 1, 8, 30), timedelta(hours=4), at(2026, 6, 1, 14)),
        # Fri 17:00-17:30 is 30m; Sat and Sun off; Mon 08:30 + 30m → 09:00
        (at(2026, 6, 5, 17), timedelta(hours=1), at(2026, 6, 8, 9)),
        # Sat: nothing; Sun: nothing; Mon 08:30 + 2h → 10:30
        (at(2026, 5, 30, 10), timedelta(hours=2), at(2026, 6, 1, 10, 30)),
        # nothing to add outside working time: the next working moment, Mon 08:30
        (at(2026, 5, 30, 10), timedelta(), at(2026, 6, 1, 8, 30)),
        # Wed 2026-09-30 17:00-17:30 is 30m; 1-7 Oct off; Thu 8 Oct 08:30 + 30m → 09:00
        (at(2026, 9, 30, 17), timedelta(hours=1), at(2026, 10, 8, 9)),
        # Fri 2025-09-26 17:00-17:30 30m; Sat off; Sun 28 Sep is 调休: 08:30 + 30m → 09:00
        (at(2025, 9, 26, 17), timedelta(hours=1), at(2025, 9, 28, 9)),
    ],
)
def test_add_working_time(start: datetime, duration: timedelta, due: datetime) -> None:
    assert DEFAULT.add_working_time(start, duration) == due


def test_add_working_time_refuses_naive_times_and_negative_durations() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        DEFAULT.add_working_time(datetime(2026, 6, 1, 9), timedelta(hours=1))
    with pytest.raises(ValueError, match="negative"):
        DEFAULT.add_working_time(at(2026, 6, 1, 9), timedelta(hours=-1))


@pytest.mark.parametrize(
    ("a", "b", "between"),
    [
        # Fri 17:00-17:30 and Mon 08:30-09:00
        (at(2026, 5, 29, 17), at(2026, 6, 1, 9), timedelta(hours=1)),
        (at(2026, 6, 1, 9), at(2026, 5, 29, 17), -timedelta(hours=1)),  # signed: time overdue
        # a whole Monday, midnight to midnight: one working day
        (at(2026, 6, 1, 0), at(2026, 6, 2, 0), timedelta(hours=7, minutes=30)),
        # 11:00-12:00 and 13:30-14:00, the lunch break not counted
        (at(2026, 6, 1, 11), at(2026, 6, 1, 14), timedelta(hours=1, minutes=30)),
        # Wed 30 Sep 17:00-17:30, National Day off, Thu 8 Oct 08:30-09:00
        (at(2026, 9, 30, 17), at(2026, 10, 8, 9), timedelta(hours=1)),
        (at(2026, 10, 2, 9), at(2026, 10, 2, 17), timedelta()),
    ],
)
def test_working_time_between(a: datetime, b: datetime, between: timedelta) -> None:
    assert DEFAULT.working_time_between(a, b) == between


@pytest.mark.parametrize(
    ("org_path", "hours_from", "hours"),
    [
        ("hx/east/lakeside", "hx/east/lakeside", LAKESIDE),
        ("hx/east", "hx", HX),  # nothing for hx/east: its parent's hours
        ("hx/west/p1", "hx", HX),
        ("/hx/east/lakeside/", "hx/east/lakeside", LAKESIDE),
        ("hxy/east", "default", WorkingHours()),  # a shared prefix is not an ancestor
        ("zz", "default", WorkingHours()),
    ],
)
def test_hours_are_inherited_from_the_nearest_ancestor(
    org_path: str, hours_from: str, hours: WorkingHours
) -> None:
    assert CALENDAR.hours_for(org_path) == (hours_from, hours)
    assert CALENDAR.for_unit(org_path).hours_from == hours_from


def test_a_unit_that_works_saturdays_still_rests_on_public_holidays() -> None:
    lakeside = CALENDAR.for_unit("hx/east/lakeside")
    assert lakeside.is_working_time(at(2026, 5, 30, 10))  # ordinary Saturday
    assert not lakeside.is_working_time(at(2026, 5, 31, 10))  # Sunday
    assert not lakeside.is_working_time(at(2026, 10, 3, 10))  # Saturday in National Day
    assert not lakeside.is_working_time(at(2026, 9, 26, 10))  # Saturday in Mid-autumn Festival
    assert lakeside.is_working_time(at(2025, 9, 28, 10))  # 调休 Sunday: everyone works
    assert not lakeside.is_working_time(at(2026, 6, 1, 8, 30))  # its day starts at 09:00
    # Fri 17:00-18:00 is 1h; Sat 09:00 + 1h → 10:00
    assert lakeside.add_working_time(at(2026, 5, 29, 17), timedelta(hours=2)) == at(2026, 5, 30, 10)


def test_an_input_in_utc_is_read_and_answered_in_local_wall_time() -> None:
    assert DEFAULT.is_working_time(datetime(2026, 6, 1, 0, 30, tzinfo=UTC))  # 08:30 in Shanghai
    assert not DEFAULT.is_working_time(datetime(2026, 6, 1, 9, 30, tzinfo=UTC))  # 17:30 in Shanghai
    # 2026-06-01 08:00 UTC is Mon 16:00 in Shanghai: 16:00-17:30 1h30m, Tue 08:30 + 30m → 09:00
    due = DEFAULT.add_working_time(datetime(2026, 6, 1, 8, tzinfo=UTC), timedelta(hours=2))
    assert due == at(2026, 6, 2, 9)
    assert (due.hour, due.minute, due.utcoffset()) == (9, 0, timedelta(hours=8))


def test_a_unit_in_another_time_zone_counts_in_its_own_wall_time() -> None:
    urumqi = BusinessCalendar({"hx/xj": WorkingHours(timezone="Asia/Urumqi")}).for_unit("hx/xj/p1")
    # 10:00 in Beijing is 08:00 in Urumqi (UTC+6): before its day starts
    assert not urumqi.is_working_time(at(2026, 6, 1, 10))
    assert urumqi.is_working_time(at(2026, 6, 1, 10, 30))  # 08:30 there
    assert urumqi.add_working_time(at(2026, 6, 1, 10), timedelta(hours=1)).hour == 9  # 09:30 there


class OneDayOff:
    """A stand-in national calendar: Mon-Fri, with one extra day off."""

    version = "test-holidays-1"

    def __init__(self, day_off: date) -> None:
        self.day_off = day_off

    def is_workday(self, day: date) -> bool:
        return day.weekday() < 5 and day != self.day_off

    def holiday_name(self, day: date) -> str | None:
        return "company anniversary" if day == self.day_off else None


def test_the_holiday_source_is_injectable() -> None:
    calendar = BusinessCalendar(holidays=OneDayOff(date(2026, 6, 2)))
    unit = calendar.for_unit("hx")
    assert calendar.calendar_version.startswith("test-holidays-1+hours-")
    # Mon 17:00-17:30 is 30m; Tue off; Wed 08:30 + 30m → 09:00
    assert unit.add_working_time(at(2026, 6, 1, 17), timedelta(hours=1)) == at(2026, 6, 3, 9)
    assert unit.day(date(2026, 6, 2)).label == "company anniversary"


def test_a_source_without_data_leaves_weekday_rules_instead_of_failing() -> None:
    # chinesecalendar alone ships no 2027: a calendar on it alone counts 2027 by weekdays and says so
    # (the national calendar, the default, never does: see test_national_calendar.py).
    bare = BusinessCalendar(holidays=ChineseCalendarHolidays()).for_unit("zz")
    with pytest.raises(HolidayDataUnavailable):
        ChineseCalendarHolidays().is_workday(date(2027, 1, 4))
    new_year_2027 = bare.day(date(2027, 1, 1))
    assert new_year_2027.by_weekday_rules
    assert new_year_2027.working  # a Friday: the package does not know 2027's holidays
    assert not bare.day(date(2027, 1, 2)).working  # a Saturday
    # Fri 2027-01-08 17:00-17:30 30m; Sat, Sun off; Mon 08:30 + 30m → 09:00
    assert bare.add_working_time(at(2027, 1, 8, 17), timedelta(hours=1)) == at(2027, 1, 11, 9)
    assert bare.is_working_time(at(2003, 6, 2, 9))  # a Monday before the data begins


def test_calendar_version_names_the_holiday_data_and_the_hours() -> None:
    version = CALENDAR.calendar_version
    # the national calendar: built-in schedules, no loaded year, the statutory rules' package
    assert version.startswith("chinese_calendar-1.11.0+holidays-")
    assert "+hours-" in version
    same = BusinessCalendar({"hx/east/lakeside": LAKESIDE, "/hx/": HX})
    assert same.calendar_version == version  # order and slashes do not matter
    changed = BusinessCalendar({"hx": HX, "hx/east/lakeside": WorkingHours.from_text("09:00-12:00, 13:00-18:00")})
    assert changed.calendar_version != version  # lakeside back to Mon-Fri
    assert CALENDAR.for_unit("zz").calendar_version == version
    local_day_off = BusinessCalendar({"hx": HX, "hx/east/lakeside": WorkingHours.from_text(
        "09:00-12:00, 13:00-18:00", weekdays="Mon-Sat", days_off=[date(2027, 3, 8)])})
    assert local_day_off.calendar_version != version  # a unit's own day off is part of its hours


def test_the_calendar_fits_intakes_working_time_callable() -> None:
    assert CALENDAR.is_working_time(at(2026, 5, 29, 17, 55), "hx/east") is True  # hx ends at 18:00
    assert CALENDAR.is_working_time(at(2026, 5, 29, 17, 55), "zz") is False  # default ends at 17:30


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"periods": ()}, "at least one period"),
        ({"periods": ((time(12), time(8)),)}, "must end after"),
        ({"periods": ((time(8), time(12)), (time(11), time(17)))}, "overlap"),
        ({"weekdays": frozenset()}, "weekdays"),
        ({"weekdays": frozenset({7})}, "weekdays"),
    ],
)
def test_working_hours_refuse_a_broken_configuration(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkingHours(**kwargs)  # type: ignore[arg-type]


def test_working_hours_from_text() -> None:
    hours = WorkingHours.from_text("09:00-12:00,13:00-18:00", weekdays="Mon-Wed,Fri")
    assert hours.periods == ((time(9), time(12)), (time(13), time(18)))
    assert hours.weekdays == frozenset({0, 1, 2, 4})
    assert hours.day_length == timedelta(hours=8)
    assert hours.describe() == "Mon-Wed, Fri 09:00-12:00, 13:00-18:00 Asia/Shanghai"
    with pytest.raises(ZoneInfoNotFoundError):
        WorkingHours(timezone="Mars/Olympus_Mons")
