"""The complaint list's words for each complaint, worked out by hand."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from services.reporting.complaint_list import acceptance, corrective_status, deadline_outcome, deadline_summary, \
    return_visit
from services.reporting.exports import complaint_list as tabulate

CN = ZoneInfo("Asia/Shanghai")
DUE = datetime(2026, 6, 2, 9, 30, tzinfo=CN)


@pytest.mark.parametrize(("met", "now", "stopped", "expected"), [
    (datetime(2026, 6, 1, 10, 0, tzinfo=CN), DUE, None, "on_time"),
    (DUE, DUE, None, "on_time"),  # met at the due minute is on time
    (datetime(2026, 6, 2, 9, 31, tzinfo=CN), DUE, None, "late"),
    (None, datetime(2026, 6, 2, 9, 29, tzinfo=CN), None, "pending"),
    (None, DUE, None, "missed"),  # due now, unmet
    (None, datetime(2026, 6, 9, tzinfo=CN), datetime(2026, 6, 1, 16, tzinfo=CN), "stopped"),  # closed before due
    (None, datetime(2026, 6, 9, tzinfo=CN), datetime(2026, 6, 3, tzinfo=CN), "missed"),  # closed after it was missed
])
def test_a_deadline_met_or_missed(met: datetime | None, now: datetime, stopped: datetime | None,
                                  expected: str) -> None:
    assert deadline_outcome(due_at=DUE, met_at=met, now=now, stopped_at=stopped) == expected


@pytest.mark.parametrize(("actions", "verified", "effective", "waived", "expected"), [
    (0, 0, None, False, "missing"),
    (0, 0, None, True, "not_needed"),
    (1, 0, None, False, "awaiting_verification"),
    (1, 1, False, False, "ineffective"),
    (2, 1, False, False, "awaiting_verification"),  # the second action is not verified yet
    (2, 2, True, False, "effective"),
    (1, 0, None, True, "awaiting_verification"),  # an action after a waiver is verified like any other
])
def test_the_corrective_action_as_routings_gate_has_it(actions: int, verified: int, effective: bool | None,
                                                       waived: bool, expected: str) -> None:
    assert corrective_status(actions=actions, verified=verified, newest_effective=effective, waived=waived) == expected


def test_the_deadline_summary_names_what_was_missed() -> None:
    assert deadline_summary({"first_response": "on_time", "measures_report": "late",
                             "result_delivery": "missed"}) == "有超时：处理措施上报、结果反馈"
    assert deadline_summary({"first_response": "on_time", "result_delivery": "stopped"}) == "全部按时"
    assert deadline_summary({"first_response": "on_time", "result_delivery": "pending"}) == "进行中，未超时"
    assert deadline_summary({}) == ""


def test_return_visit_and_acceptance_words() -> None:
    assert [return_visit(done=True, important=False), return_visit(done=False, important=True),
            return_visit(done=False, important=False)] == ["done", "required", "none"]
    assert [acceptance(True), acceptance(False), acceptance(None)] == ["accepted", "rejected", "pending"]


def test_the_export_is_in_chinese_words_only() -> None:
    view = {"period": "2026-06", "org": "hx", "count": 1, "deadline_kinds": ["first_response", "difficult_escalation"],
            "filters": {"complaint_class": 1, "category": None, "department": None, "state": "closed"},
            "complaints": [{
                "case_id": "c-1", "org": "hx/east/lakeside", "received_at": "2026-06-01T01:00:00+00:00",
                "complaint_class_name": "一类投诉", "category_name": "服务态度", "validity_name": "有效投诉",
                "important_name": "否", "lead_department_name": "客户服务部", "state_name": "已关闭",
                "deadline_names": {"first_response": "按时完成"}, "deadlines_summary_name": "全部按时",
                "corrective_action_status_name": "验证有效", "corrective_department_name": "客户服务部",
                "corrective_description": "培训", "corrective_recorded_at": None, "corrective_actions": 1,
                "verification_name": "有效", "corrective_verified_at": None, "customer_acceptance_name": "客户认可",
                "acceptance_rejections": 0, "return_visit_name": "未回访", "publication_name": "未发布",
                "published_at": None, "closed_at": "2026-06-01T08:00:00+00:00"}]}
    main, filters = tabulate(view)
    assert main.title == "客诉清单" and [c.header for c in main.columns][:3] == ["案件编号", "单位", "受理时间（北京时间）"]
    assert "首次响应时限" in [c.header for c in main.columns]
    [row] = main.rows
    assert row[2] == datetime(2026, 6, 1, 9, 0)  # 01:00 UTC is 09:00 in Beijing
    assert row[9:11] == ("按时完成", "不适用")  # no difficult-complaint report for this one
    assert row[-1] == datetime(2026, 6, 1, 16, 0)
    assert not any(isinstance(v, bool) for v in row)
    assert filters.rows == [("2026-06", "hx", "一类投诉", "全部", "全部", "已关闭", 1)]
