"""A scripted month through all services on the real broker and PostgreSQL, and every number of
the monthly summary checked against values worked out by hand.

Working hours are the default: Mon–Fri 08:30–12:00 and 13:30–17:30, Asia/Shanghai (7h30m a day).
May 2026: Mon 11 to Thu 14 are ordinary working days.

    A  Mon 11 09:00 lakeside   "卫生间漏水"      class 2, engineering quality
         first response due Tue 12 09:30 (3h + 4h Monday, 1h Tuesday); acknowledged Tue 10:00: late
         measures due Tue 12 09:00 (7h Monday + 30m);                  reported Tue 10:30: late
    B  Mon 11 10:00 lakeside   "态度恶劣"        class 1, customer service
         first response due Tue 12 10:30;                              acknowledged Mon 11:00: on time
         measures due Tue 12 10:00;                                    reported Mon 15:00: on time
         resolved Mon 16:00 → result due Wed 13 16:00 (48 h);          delivered Tue 09:00: on time
         accepted and closed Tue 09:05 / 09:10
    C  Tue 12 09:00 riverside  "收费不透明"      class 1, business — nobody acts: both deadlines breached
    D  Wed 13 14:00 hillview   "市政道路开挖"    class 3, customer service
         first response due Thu 14 14:30;                              acknowledged Wed 15:00: on time
         handed over to the developer Wed 16:00, before its measures fell due (Thu 14:00): that one
         no longer runs
    E  a suggestion (not a complaint)
    Two household forms (scheme B) at lakeside: q1 satisfied twice, q2 satisfied and dissatisfied.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from shared.settings import Settings
from shared.testing.services import eventually

from stack import whole_stack

pytestmark = pytest.mark.e2e

CN = ZoneInfo("Asia/Shanghai")
LAKESIDE = {"group": "hx", "subsidiary": "east", "project": "lakeside"}
RIVERSIDE = {"group": "hx", "subsidiary": "east", "project": "riverside"}
HILLVIEW = {"group": "hx", "subsidiary": "south", "project": "hillview"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 5, 11, 8, 0, tzinfo=CN)

    def __call__(self) -> datetime:
        return self.now

    def at(self, day: int, hour: int, minute: int = 0) -> datetime:
        self.now = datetime(2026, 5, day, hour, minute, tzinfo=CN)
        return self.now


async def test_a_scripted_month_gives_the_hand_worked_monthly_summary(migrated: Settings) -> None:
    clock = Clock()
    async with whole_stack(migrated, clock, deadline_scan_interval_s=0.1) as svc:
        intake, routing, reporting = svc["intake"], svc["routing"], svc["reporting"]

        async def receive(text: str, org: dict, day: int, hour: int, kind: str = "complaint") -> dict:
            received_at = clock.at(day, hour)
            r = await intake.post("/api/v1/feedback", json={
                "kind": kind, "channel": "phone", "text": text, "received_by": "cs-0001", "org": org,
                "received_at": received_at.isoformat()})
            assert r.status_code == 201, r.text

            async def case() -> list:
                return (await routing.get("/api/v1/cases", params={"feedback_id": r.json()["feedback_id"]})).json()

            [found] = await eventually(case, until=lambda c: len(c) == 1 and c[0]["state"] != "received"
                                       or (len(c) == 1 and kind != "complaint"))
            return found

        async def step(case: dict, action: str, day: int, hour: int, minute: int = 0, **body: object) -> dict:
            clock.at(day, hour, minute)
            r = await routing.post(f"/api/v1/cases/{case['case_id']}/{action}", json={"actor": "h-1", **body})
            assert r.status_code == 200, (action, r.text)
            return r.json()

        a = await receive("3栋2单元1201卫生间漏水，天花板渗水", LAKESIDE, 11, 9)
        b = await receive("客服人员态度恶劣，电话里推诿不管", LAKESIDE, 11, 10)
        assert (a["complaint_class"], b["complaint_class"]) == (2, 1)
        await step(b, "acknowledge", 11, 11)
        await step(b, "measures", 11, 15, note="对当班客服进行培训")
        await step(b, "resolve", 11, 16, note="客服主管上门致歉")
        await step(b, "deliver-result", 12, 9)
        await step(b, "customer-acceptance", 12, 9, 5, accepted=True)
        # a valid complaint closes once its corrective action is recorded and verified effective
        clock.at(12, 9, 6)
        action = await routing.post(f"/api/v1/cases/{b['case_id']}/corrective-actions", json={
            "actor": "h-1", "department": "customer_service", "description": "修订客服接听规范并全员培训"})
        assert action.status_code == 201, action.text
        clock.at(12, 9, 8)
        verified = await routing.post(
            f"/api/v1/cases/{b['case_id']}/corrective-actions/{action.json()['action_id']}/verification",
            json={"actor": "q-1", "effective": True})
        assert verified.status_code == 200, verified.text
        await step(b, "close", 12, 9, 10)
        await step(a, "acknowledge", 12, 10)
        await step(a, "measures", 12, 10, 30, note="安排维修班组现场勘查")
        c = await receive("物业收费价格不透明，多收了费用", RIVERSIDE, 12, 9)
        d = await receive("小区外市政道路开挖两个月了，公交站也被占，出行很不方便", HILLVIEW, 13, 14)
        assert (c["complaint_class"], d["complaint_class"]) == (1, 3)
        await step(d, "acknowledge", 13, 15)
        await step(d, "hand-over", 13, 16, to="developer", note="市政工程，已书面转交开发商")
        await receive("建议小区增加儿童游乐设施", LAKESIDE, 14, 10, kind="suggestion")
        for levels in (("satisfied", "satisfied"), ("satisfied", "dissatisfied")):
            r = await svc["survey"].post("/api/v1/survey-responses", json={
                "template_id": "household", "scheme": "B", "org": LAKESIDE,
                "returned_at": clock.at(15, 10).isoformat(),
                "answers": [{"item_id": f"q{i + 1}", "level": level} for i, level in enumerate(levels)]})
            assert r.status_code == 201, r.text

        clock.at(31, 23)  # month end: the watcher breaches C's deadlines

        async def summary(org: str = "hx") -> dict:
            r = await reporting.get("/api/v1/reports/monthly-summary", params={"period": "2026-05", "org": org})
            assert r.status_code == 200, r.text
            return r.json()

        def settled(s: dict) -> bool:
            fr, mr = s["deadlines"]["first_response"], s["deadlines"]["measures_report"]
            return (s["complaints"] == 4 and s["closed"] == 1 and s["handed_over"] == 1
                    and fr["met_on_time"] + fr["met_late"] == 3 and fr["overdue_open"] == 1
                    and mr["met_on_time"] + mr["met_late"] == 2 and mr["overdue_open"] == 1
                    and s["deadlines"]["result_delivery"]["met_on_time"] == 1)

        group = await eventually(summary, until=settled, timeout=60)

        async def breaches() -> list:
            detail = (await routing.get(f"/api/v1/cases/{c['case_id']}")).json()
            return [dl["kind"] for dl in detail["deadlines"] if dl["breached_at"]]

        assert sorted(await eventually(breaches, until=lambda b: len(b) == 2)) == ["first_response", "measures_report"]
        group = await summary()
        assert group["complaints"] == 4
        assert group["by_class"] == {"1": 2, "2": 1, "3": 1}
        assert group["by_category"] == {"external_environment": 1, "price": 1, "product_quality": 1,
                                        "service_attitude": 1}
        assert group["by_department"] == {
            "business": {"total": 1, "1": 1, "2": 0, "3": 0},
            "customer_service": {"total": 2, "1": 1, "2": 0, "3": 1},
            "engineering_quality": {"total": 1, "1": 0, "2": 1, "3": 0},
        }
        assert (group["valid"], group["important"]) == (2, 0)  # B and C: our own service failing
        assert (group["closed"], group["open"], group["handed_over"], group["in_triage"]) == (1, 3, 1, 0)
        assert group["deadlines"]["first_response"] == {
            "total": 4, "met_on_time": 2, "met_late": 1, "overdue_open": 1, "pending": 0, "on_time_rate": 50.0}
        assert group["deadlines"]["measures_report"] == {
            "total": 3, "met_on_time": 1, "met_late": 1, "overdue_open": 1, "pending": 0, "on_time_rate": 33.33}
        assert group["deadlines"]["result_delivery"] == {
            "total": 1, "met_on_time": 1, "met_late": 0, "overdue_open": 0, "pending": 0, "on_time_rate": 100.0}
        assert group["deadlines"]["difficult_escalation"]["total"] == 0

        east, south = await summary("hx/east"), await summary("hx/south")
        assert (east["complaints"], east["by_class"]) == (3, {"1": 2, "2": 1, "3": 0})
        assert (south["complaints"], south["handed_over"]) == (1, 1)

        async def satisfaction() -> dict:
            return (await reporting.get("/api/v1/reports/satisfaction",
                                        params={"period": "2026-05", "org": "hx/east/lakeside"})).json()

        def answered(s: dict) -> int:
            return sum(i["satisfied"] + i["dissatisfied"] for i in s["items"])

        # both forms and every answer on them projected (a wrong figure stays wrong: it times out)
        sat = await eventually(satisfaction, until=lambda s: s["responses"] == 2 and answered(s) == 4
                               and [i["rate"] for i in s["items"]] == [100.0, 50.0], timeout=30)
        # q1: 2 of 2 satisfied = 100 %; q2: 1 of 2 = 50 %; overall the mean, 75 % < 96 %
        assert [(i["item_id"], i["rate"]) for i in sat["items"]] == [("q1", 100.0), ("q2", 50.0)]
        assert (sat["overall_rate"], sat["qualified"]) == (75.0, False)

        # the complaint list (客诉清单): each complaint with its deadlines and corrective action, worked out above
        listed = (await reporting.get("/api/v1/reports/complaint-list", params={"period": "2026-05", "org": "hx"})).json()
        assert [x["case_id"] for x in listed["complaints"]] == [x["case_id"] for x in (a, b, c, d)]
        rows = {name: x for name, x in zip("abcd", listed["complaints"], strict=True)}
        assert {name: (x["state_name"], x["deadlines_summary_name"], x["corrective_action_status_name"])
                for name, x in rows.items()} == {
            "a": ("措施已上报", "有超时：首次响应、处理措施上报", "未记录纠正措施"),  # answered 12th 10:00, due 09:30
            "b": ("已关闭", "全部按时", "验证有效"),
            "c": ("已分派", "有超时：首次响应、处理措施上报", "未记录纠正措施"),  # never answered
            "d": ("已移交", "全部按时", "未记录纠正措施"),  # class 3: handed over before its measures fell due
        }
        assert rows["d"]["deadline_names"]["measures_report"] == "已终止计时"
        assert (rows["b"]["customer_acceptance_name"], rows["b"]["validity_name"], rows["d"]["validity_name"]) == (
            "客户认可", "有效投诉", "不适用")
