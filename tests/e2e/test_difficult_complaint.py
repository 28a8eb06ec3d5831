"""A difficult class-1 complaint by the book, through every service on the real broker and PostgreSQL:
intake → routing (escalation to the quality department and the executive, the quality department's own
deadline, measures, corrective action and its verification, result and acceptance) → survey (the return
visit) → reporting (the complaint list and the monthly summary).

Hand-worked, on the default hours (Mon-Fri 08:30-12:00, 13:30-17:30) from Mon 1 Jun 2026:
* received Mon 09:00 in working time: first response due 8 working hours later, Tue 09:30; met Mon 09:20.
* assigned at receipt (09:00): measures report due 1 working day (7h30m) later: Mon 09:00-12:00 3h,
  13:30-17:30 4h, Tue 08:30 + 30m → Tue 09:00; met Mon 11:00.
* marked difficult Mon 09:30: the report to the quality department and the executive is due half a working
  day (3h45m) later: 09:30-12:00 2h30m, 13:30 + 1h15m → Mon 14:45. Quality hears at 10:00, the executive
  at 10:30: the deadline is met at 10:30 (not at 10:00, when only one had heard).
* the quality department sets its own deadline, Wed 3 Jun 17:00; handling ends Tue 10:00 (met).
* the result goes back within 48 calendar hours of Tue 10:00, by Thu 10:00; delivered Tue 11:00 (met).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from shared.settings import Settings
from shared.testing.clock import FakeClock
from shared.testing.services import eventually

from stack import whole_stack

pytestmark = pytest.mark.e2e

CN = ZoneInfo("Asia/Shanghai")
LAKESIDE = {"group": "hx", "subsidiary": "east", "project": "lakeside"}


class Clock(FakeClock):
    def at(self, day: int, hour: int, minute: int = 0) -> None:
        self.now = datetime(2026, 6, day, hour, minute, tzinfo=CN)


def local(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(CN) if text else None


async def test_a_difficult_class_1_complaint_from_intake_to_the_complaint_list_and_the_monthly_summary(
        migrated: Settings) -> None:
    clock = Clock(datetime(2026, 6, 1, 9, 0, tzinfo=CN))
    async with whole_stack(migrated, clock) as svc:
        intake, routing, survey, reporting = svc["intake"], svc["routing"], svc["survey"], svc["reporting"]
        received = await intake.post("/api/v1/feedback", json={
            "kind": "complaint", "channel": "phone", "text": "客服人员态度恶劣，电话里推诿不管，问题一直没人处理",
            "received_by": "cs-0001", "org": LAKESIDE, "project_id": "lakeside"})
        assert received.status_code == 201, received.text

        async def cases() -> list[dict]:
            return (await routing.get("/api/v1/cases")).json()

        def deadlines(detail: dict) -> dict[str, dict]:
            return {d["kind"]: d for d in detail["deadlines"]}

        [case] = await eventually(cases, until=lambda c: len(c) == 1 and c[0]["state"] == "assigned")
        case_id = case["case_id"]
        assert (case["complaint_class"], case["valid"], case["lead_department"]) == (1, True, "customer_service")
        opened = deadlines((await routing.get(f"/api/v1/cases/{case_id}")).json())
        assert local(opened["first_response"]["due_at"]) == datetime(2026, 6, 2, 9, 30, tzinfo=CN)
        assert local(opened["measures_report"]["due_at"]) == datetime(2026, 6, 2, 9, 0, tzinfo=CN)

        async def step(path: str, expected: int = 200, **body: object) -> dict:
            response = await routing.post(f"/api/v1/cases/{case_id}/{path}", json={"actor": "h-1", **body})
            assert response.status_code == expected, (path, response.text)
            return response.json()

        clock.at(1, 9, 20)
        await step("acknowledge", note="已致电客户，说明将由主管跟进")
        clock.at(1, 9, 30)
        detail = await step("difficult", note="多次推诿，客户情绪激动，当场无法解决")
        assert local(deadlines(detail)["difficult_escalation"]["due_at"]) == datetime(2026, 6, 1, 14, 45, tzinfo=CN)
        # the complaint reached the group company: logged by whoever received it, counted apart
        await step("external-body", actor="cs-0001", body="group", note="客户致电集团客服热线")

        clock.at(1, 10, 0)
        detail = await step("escalate", to="quality_department", reason="疑难投诉，报品质管理部")
        assert deadlines(detail)["difficult_escalation"]["met_at"] is None  # the executive has not heard yet
        clock.at(1, 10, 30)
        detail = await step("escalate", to="executive", reason="疑难投诉，报分管领导")
        assert local(deadlines(detail)["difficult_escalation"]["met_at"]) == datetime(2026, 6, 1, 10, 30, tzinfo=CN)

        detail = await step("quality-deadline", actor="q-1", due_at="2026-06-03T17:00:00+08:00",
                            note="周三下班前处理完毕并回复客户")
        assert local(deadlines(detail)["quality_department"]["due_at"]) == datetime(2026, 6, 3, 17, 0, tzinfo=CN)

        clock.at(1, 11, 0)
        await step("measures", note="客服主管接手，调取通话录音核实")
        action = await step("corrective-actions", 201, department="customer_service",
                            description="修订客服首问负责规范，推诿纳入考核")
        clock.at(2, 10, 0)
        detail = await step("resolve", note="主管上门致歉，问题已解决")
        assert deadlines(detail)["quality_department"]["met_at"] is not None
        assert local(deadlines(detail)["result_delivery"]["due_at"]) == datetime(2026, 6, 4, 10, 0, tzinfo=CN)
        clock.at(2, 11, 0)
        await step("deliver-result")
        await step("customer-acceptance", accepted=True)
        # a valid complaint closes only after its corrective action is verified
        assert "纠正措施" in (await step("close", 409))["reason"]
        clock.at(2, 15, 0)
        await step(f"corrective-actions/{action['action_id']}/verification", actor="q-1", effective=True,
                   note="抽查一周录音，未再发生推诿")
        detail = (await routing.get(f"/api/v1/cases/{case_id}")).json()
        if not detail["important"]:  # important ones always get one; otherwise quality chooses
            await step("return-visit-decision", actor="q-1", return_visit=True, reason="疑难投诉，须回访")

        async def invitations() -> list[dict]:
            return (await survey.get("/api/v1/invitations", params={"case_id": case_id})).json()

        [invitation] = await eventually(invitations, until=lambda rows: len(rows) == 1)
        answered = await survey.post("/api/v1/survey-responses", json={
            "invitation_id": invitation["invitation_id"], "channel": "phone", "answers": [
                {"item_id": "result", "level": "satisfied"}, {"item_id": "timeliness", "level": "satisfied"}]})
        assert answered.status_code == 201, answered.text
        assert answered.json()["feedback_sent"] == []  # nothing dissatisfied: no follow-up

        async def state() -> str:
            return (await routing.get(f"/api/v1/cases/{case_id}")).json()["state"]

        await eventually(state, until=lambda s: s == "return_visited")
        clock.at(2, 16, 0)
        closed = await step("close")
        assert closed["state"] == "closed"
        assert {d["kind"]: d["met_at"] is not None for d in closed["deadlines"]} == {
            "first_response": True, "measures_report": True, "difficult_escalation": True,
            "quality_department": True, "result_delivery": True}

        async def listed() -> list[dict]:
            r = await reporting.get("/api/v1/reports/complaint-list", params={"period": "2026-06", "org": "hx"})
            assert r.status_code == 200, r.text
            return r.json()["complaints"]

        [row] = await eventually(listed, until=lambda rows: len(rows) == 1 and rows[0]["state"] == "closed"
                                 and rows[0]["return_visit_name"] == "已回访"
                                 and rows[0]["corrective_action_status"] == "effective", timeout=60)
        assert {k: row[k] for k in ("complaint_class_name", "category_name", "validity_name", "lead_department_name",
                                    "deadlines_summary_name", "corrective_action_status_name",
                                    "corrective_department_name", "verification_name", "customer_acceptance_name",
                                    "return_visit_name", "state_name")} == {
            "complaint_class_name": "一类投诉", "category_name": "服务态度", "validity_name": "有效投诉",
            "lead_department_name": "客户服务部", "deadlines_summary_name": "全部按时",
            "corrective_action_status_name": "验证有效", "corrective_department_name": "客户服务部",
            "verification_name": "有效", "customer_acceptance_name": "客户认可", "return_visit_name": "已回访",
            "state_name": "已关闭",
        }
        assert set(row["deadlines"].values()) == {"on_time"} and set(row["deadlines"]) == {
            "first_response", "measures_report", "difficult_escalation", "quality_department", "result_delivery"}

        async def summary() -> dict:
            r = await reporting.get("/api/v1/reports/monthly-summary", params={"period": "2026-06", "org": "hx"})
            assert r.status_code == 200, r.text
            return r.json()

        month = await eventually(summary, until=lambda s: s["reached_external_body"]["group"] == 1)
        assert month["reached_external_body"] == {"group": 1, "government": 0, "media": 0}
