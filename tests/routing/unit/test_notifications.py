"""Notifications: who is told, when a deadline's warning is due, what the message says, how often
a failed one is tried again. Each expected value is worked out by hand in the comment above it.

Hours: the default Mon-Fri 08:30-12:00, 13:30-17:30. Holidays as the national calendar knows them
(Mid-Autumn Fri 2026-09-25 to Sun 09-27, National Day Thu 10-01 to Wed 10-07).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from services.routing.notifications.domain import (
    CaseSummary,
    Directory,
    RecipientGroup,
    RetryPolicy,
    compose,
    warning_moment,
)
from services.routing.service import route_for_class
from shared.calendar import BusinessCalendar, WorkingHours
from shared.events.vocabulary import Department

SH = ZoneInfo("Asia/Shanghai")
CALENDAR = BusinessCalendar({"hx/east/lakeside": WorkingHours.from_text("09:00-12:00, 13:00-18:00", weekdays="Mon-Sat")})
DEFAULT = CALENDAR.for_unit("zz")
LAKESIDE = CALENDAR.for_unit("hx/east/lakeside")
HOUR = timedelta(hours=1)


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


# --- the moment a deadline is "about to be missed" --------------------------------------------


def test_one_working_hour_before_a_due_time_in_the_morning() -> None:
    # due Mon 06-08 09:30: 08:30-09:30 is one working hour → Mon 08:30
    assert warning_moment(DEFAULT, at(6, 8, 9, 30), HOUR) == at(6, 8, 8, 30)


def test_the_hour_is_counted_back_over_the_lunch_break() -> None:
    # due Tue 06-09 14:00: 13:30-14:00 gives 30 min, the other 30 min end the morning at 12:00 → 11:30
    assert warning_moment(DEFAULT, at(6, 9, 14, 0), HOUR) == at(6, 9, 11, 30)


def test_the_hour_is_counted_back_over_the_weekend() -> None:
    # due Mon 06-08 08:45: 15 min on Monday (08:30-08:45), 45 min before Fri 06-05 17:30 → Fri 16:45
    assert warning_moment(DEFAULT, at(6, 8, 8, 45), HOUR) == at(6, 5, 16, 45)
    # due Sun 06-07 10:00 (a 48-hour deadline in calendar time): the last working hour before it
    # is Fri 16:30-17:30 → Fri 16:30
    assert warning_moment(DEFAULT, at(6, 7, 10, 0), HOUR) == at(6, 5, 16, 30)


def test_the_hour_is_counted_back_over_national_day() -> None:
    # due Thu 10-08 09:00, the first working day after National Day (10-01 to 10-07): 30 min on
    # Thursday (08:30-09:00), 30 min before Wed 09-30 17:30 → Wed 09-30 17:00
    assert warning_moment(DEFAULT, at(10, 8, 9, 0), HOUR) == at(9, 30, 17, 0)


def test_a_unit_with_its_own_hours_and_saturdays() -> None:
    # lakeside works Mon-Sat 09:00-12:00, 13:00-18:00. Due Mon 06-08 09:20: 20 min on Monday,
    # 40 min before Sat 06-06 18:00 → Sat 17:20
    assert warning_moment(LAKESIDE, at(6, 8, 9, 20), HOUR) == at(6, 6, 17, 20)
    # a lead of 2h30m before Tue 06-09 14:00: 1h after lunch (13:00-14:00), 1h30m before 12:00 → 10:30
    assert warning_moment(LAKESIDE, at(6, 9, 14, 0), timedelta(hours=2, minutes=30)) == at(6, 9, 10, 30)


def test_no_lead_means_the_due_time_itself() -> None:
    assert warning_moment(DEFAULT, at(6, 8, 9, 30), timedelta()) == at(6, 8, 9, 30)


# --- who is told ------------------------------------------------------------------------------

DIRECTORY = Directory([
    RecipientGroup.model_validate({"org": "hx", "role": "quality_department",
                                   "people": [{"id": "q-group", "email": "q-group@hx.example"}]}),
    RecipientGroup.model_validate({"org": "hx/east", "role": "quality_department",
                                   "people": [{"id": "q-east-1", "email": "q1@east.example"},
                                              {"id": "q-east-2"}],
                                   "chats": [{"name": "华东质量群", "kind": "wecom", "url": "http://127.0.0.1:1/w"}]}),
    RecipientGroup.model_validate({"org": "hx", "role": "executive",
                                   "chats": [{"name": "领导群", "kind": "dingtalk", "url": "http://127.0.0.1:1/d"}]}),
])


def test_the_nearest_unit_that_names_someone_is_told() -> None:
    # a lakeside case: the project names nobody, its subsidiary hx/east does → two addresses (the
    # person without an e-mail is reached only in the chat, where both are @-mentioned)
    addresses = DIRECTORY.addresses("hx/east/lakeside", "quality_department")
    assert [(a.recipient, a.channel, a.mentions) for a in addresses] == [
        ("q-east-1", "email", ()), ("华东质量群", "wecom", ("q-east-1", "q-east-2"))]
    # a case of hx/south: nothing there, so the group's quality department
    assert [a.recipient for a in DIRECTORY.addresses("hx/south/hill", "quality_department")] == ["q-group"]
    assert [a.channel for a in DIRECTORY.addresses("hx/east", "executive")] == ["dingtalk"]
    assert DIRECTORY.addresses("hx/east", "business") == []


def test_a_unit_and_role_named_twice_is_refused() -> None:
    group = RecipientGroup(org="hx", role="executive")
    with pytest.raises(ValueError, match="named twice"):
        Directory([group, RecipientGroup(org="/hx/", role="executive")])
    with pytest.raises(ValidationError):
        RecipientGroup.model_validate({"org": "hx", "role": "executive", "chats": [{"name": "x", "kind": "qq", "url": "http://x"}]})


# --- the message ------------------------------------------------------------------------------


def test_a_warning_says_what_and_when_in_chinese_and_nothing_about_the_customer() -> None:
    case_id = uuid.UUID("12345678-0000-0000-0000-000000000001")
    summary = CaseSummary(case_id=case_id, org_path="hx/east/lakeside", project_id="lakeside",
                          category="product_quality", complaint_class=1)
    # due 06-08 09:30 Shanghai time, given in UTC (01:30)
    message = compose("deadline_warning", summary, LAKESIDE, role="business", deadline_kind="measures_report",
                      due_at=datetime(2026, 6, 8, 1, 30, tzinfo=ZoneInfo("UTC")))
    assert message.subject == "【CareLoop·期限即将到期】案件 12345678 处理措施上报"
    assert message.body.splitlines() == [
        "“处理措施上报”期限将于 2026-06-08 09:30 到期，尚未完成，请尽快处理。",
        f"案件编号：{case_id}",
        "项目：lakeside（hx/east/lakeside）",
        "类别：产品质量、技术（1类投诉）",
        "期限：处理措施上报，2026-06-08 09:30 到期",
    ]


def test_a_breach_names_who_it_went_to() -> None:
    summary = CaseSummary(case_id=uuid.uuid4(), org_path="hx/east", project_id=None, category=None,
                          complaint_class=None)
    message = compose("deadline_breached", summary, DEFAULT, role="executive",
                      deadline_kind="difficult_escalation", due_at=at(6, 8, 12, 15))
    assert message.body.splitlines()[0] == "“疑难投诉上报（质量部与主管领导）”期限已于 2026-06-08 12:15 到期未完成，已升级至主管领导。"


# --- retries ----------------------------------------------------------------------------------


def test_retries_back_off_doubling_up_to_the_cap() -> None:
    policy = RetryPolicy(first_delay=timedelta(seconds=30), max_delay=timedelta(minutes=5), max_attempts=8)
    # 30 s, 60 s, 120 s, 240 s, then 480 s capped at 300 s
    assert [policy.delay_after(n).total_seconds() for n in range(1, 7)] == [30, 60, 120, 240, 300, 300]


# --- class 2 goes to quality and customer service ---------------------------------------------


def test_class_2_goes_to_the_quality_department_and_customer_service_whatever_the_matrix_says() -> None:
    # the matrix sends price complaints to business alone; a class-2 one (a facility) does not
    matrix = (Department.BUSINESS, ())
    assert route_for_class(2, *matrix) == (Department.ENGINEERING_QUALITY, (Department.CUSTOMER_SERVICE,))
    assert route_for_class(1, *matrix) == matrix
    assert route_for_class(3, Department.SAFETY_ENVIRONMENT, (Department.PROJECT_DEPARTMENT,)) == (
        Department.SAFETY_ENVIRONMENT, (Department.PROJECT_DEPARTMENT,))
