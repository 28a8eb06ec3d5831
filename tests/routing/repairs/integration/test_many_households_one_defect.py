"""Many households, one defect, on the real broker and PostgreSQL: three households of building 3
describe one leak in their own words and share one work order, each keeping its own case, its own
deadlines and its own result; a household of building 5 with the same words gets its own order."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from shared.settings import Settings
from shared.testing.services import eventually, read_topic
from shared.topics import topic_for
from tests.routing.repairs.integration.test_work_orders import (
    CN,
    SIGNED,
    FakeClock,
    case_of,
    events,
    feedback,
    register_project,
    routing,
    send,
    step,
    work_order_of,
)

pytestmark = pytest.mark.integration


async def test_three_households_describing_one_leak_in_their_own_words_share_one_work_order(
        migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 9, 0, tzinfo=CN))  # a Monday, in working time
    async with routing(migrated, clock) as client:
        await register_project(migrated, client, warranty_end=date(2027, 6, 30))
        # Building 3, entrance 2, floors 12, 11 and 10; none of the three texts shares a word with
        # another ("墙面发霉有水印" does not even say 渗 or 漏). Sent one after the other, so each
        # link is scored against the households already on the order.
        words = [("3-2-1201", "外墙渗水"), ("3-2-1101", "墙面发霉有水印"), ("3-2-1001", "卫生间墙里面往外渗")]
        households = [feedback(text, kind="complaint", unit=unit, at=clock.now + timedelta(minutes=10 * i))
                      for i, (unit, text) in enumerate(words)]
        cases = []
        for household in households:
            await send(migrated, household)
            case = await case_of(client, household)
            order = await work_order_of(client, case["case_id"])
            cases.append(case)
        order = await work_order_of(client, cases[0]["case_id"])
        assert (order["defect_kind"], order["building"], order["case_count"]) == ("leak", "3", 3)
        for case in cases[1:]:
            assert (await work_order_of(client, case["case_id"]))["work_order_id"] == order["work_order_id"]
        linked = {c["case_id"]: c for c in order["cases"]}
        first, second, third = (linked[c["case_id"]] for c in cases)
        assert (first["link_reason"], first["link_score"], first["link_explanation"]) == ("opened", None, None)
        assert first["shared_part"] == "外墙"
        # 1101 against 1201: 0.60 (building 3, a leak) + 0.10 (entrance 2) + 0.30 − 0.05 (one floor) = 0.95
        assert (second["link_reason"], second["link_score"]) == ("same_area", 0.95)
        assert second["link_explanation"] == "同一楼栋（3号楼）、同一单元（2单元）、同类缺陷（渗漏）、楼层相距 1 层：0.95"
        # 1001: against 1201 two floors (0.90), against 1101 one floor (0.95): the best counts
        assert (third["link_reason"], third["link_score"]) == ("same_area", 0.95)
        assert third["link_explanation"] == second["link_explanation"]

        # Every household keeps its own case and its own deadlines: the first response is due
        # 8 working hours after each one's own report (Monday 09:00 + 7 h to 17:30, + 1 h Tuesday
        # from 08:30 = Tuesday 09:30; 10 and 20 minutes later for the next two).
        assert len({c["case_id"] for c in cases}) == 3
        for i, case in enumerate(cases):
            detail = (await client.get(f"/api/v1/cases/{case['case_id']}")).json()
            assert (detail["complaint_class"], detail["state"]) == (2, "assigned")
            due = {d["kind"]: d for d in detail["deadlines"]}["first_response"]["due_at"]
            assert datetime.fromisoformat(due) == datetime(2026, 6, 2, 9, 30 + 10 * i, tzinfo=CN)

        # Only the first household is called back at once: only its first response is met.
        clock.now += timedelta(hours=1)
        response = await client.post(f"/api/v1/cases/{cases[0]['case_id']}/acknowledge", json={"actor": "cs-0001"})
        assert response.status_code == 200, response.text
        met = [{d["kind"]: d for d in (await client.get(f"/api/v1/cases/{c['case_id']}")).json()["deadlines"]}
               ["first_response"]["met_at"] is not None for c in cases]
        assert met == [True, False, False]

        # One repair for all three; its joint acceptance (Monday 12:00) ends each case's handling
        # and each one's result is due 48 hours later, Wednesday 12:00.
        clock.now = datetime(2026, 6, 1, 12, 0, tzinfo=CN)
        for path, body in [
            ("investigation", {"nature": "外墙及卫生间防水失效", "cause": "外墙防水层开裂", "responsibility": "construction"}),
            ("plan", {"scope": "修复外墙防水并处理三户墙面", "duration_hours": 2, "resources": "防水班组3人"}),
            ("work-done", {}), ("self-inspection", {"passed": True}),
        ]:
            order = await step(client, order, path, **body)
        order = await step(client, order, "joint-acceptance", **SIGNED)
        assert order["state"] == "accepted" and {c["case_state"] for c in order["cases"]} == {"resolved"}

        # Each household is told its own result and accepts or refuses it on its own.
        for case, accepted in zip(cases, [True, False, True], strict=True):
            detail = (await client.get(f"/api/v1/cases/{case['case_id']}")).json()
            result = {d["kind"]: d for d in detail["deadlines"]}["result_delivery"]
            assert datetime.fromisoformat(result["due_at"]) == datetime(2026, 6, 3, 12, 0, tzinfo=CN)
            for path, body in [("deliver-result", {}), ("customer-acceptance", {"accepted": accepted})]:
                response = await client.post(f"/api/v1/cases/{case['case_id']}/{path}",
                                             json={"actor": "cs-0001", **body})
                assert response.status_code == 200, response.text
        states = [(await client.get(f"/api/v1/cases/{c['case_id']}")).json()["state"] for c in cases]
        assert states == ["accepted", "acknowledged", "accepted"]  # the second household's case goes on alone

        # The same words from building 5: another building, its own work order.
        elsewhere = feedback("外墙渗水", kind="complaint", unit="5-2-1201", at=clock.now)
        await send(migrated, elsewhere)
        other = await work_order_of(client, (await case_of(client, elsewhere))["case_id"])
        assert other["work_order_id"] != order["work_order_id"]
        assert (other["building"], other["case_count"], other["defect_kind"]) == ("5", 1, "leak")

        async def orders() -> list:
            return (await client.get("/api/v1/work-orders", params={"project_id": "lakeside"})).json()

        assert len(await eventually(orders, until=lambda found: len(found) == 2)) == 2

    # The links went out with their score and reason.
    linked_events = events(await read_topic(migrated, topic_for("WorkOrderCaseLinked"), until=lambda r: len(r) >= 2))
    assert sorted((e["data"]["case_id"], e["data"]["link_score"], e["data"]["case_count"]) for e in linked_events) == \
        sorted([(cases[1]["case_id"], 0.95, 2), (cases[2]["case_id"], 0.95, 3)])
    assert all("同类缺陷（渗漏）" in e["data"]["link_explanation"] for e in linked_events)
    assert {e["data"]["link_reason"] for e in linked_events} == {"same_area"}


async def test_a_report_joins_the_best_scoring_open_order_not_merely_the_oldest(migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 9, 0, tzinfo=CN))
    async with routing(migrated, clock) as client:
        await register_project(migrated, client, warranty_end=date(2027, 6, 30))
        # 1501 opens an order; 1201 is three floors below (0.60 + 0.10 − 0.20 = 0.50) and opens its own.
        upper = feedback("厨房顶上滴水", unit="3-2-1501", at=clock.now)
        lower = feedback("阳台墙根渗水", unit="3-2-1201", at=clock.now + timedelta(minutes=5))
        orders = []
        for request in (upper, lower):
            await send(migrated, request)
            orders.append(await work_order_of(client, (await case_of(client, request))["case_id"]))
        assert orders[0]["work_order_id"] != orders[1]["work_order_id"]
        # 1301: two floors from 1501 (0.60 + 0.10 + 0.20 = 0.90), one from 1201 (0.60 + 0.10 + 0.25 = 0.95):
        # it joins the newer order, whose score is higher.
        middle = feedback("卧室墙上有水痕", unit="3-2-1301", at=clock.now + timedelta(minutes=10))
        await send(migrated, middle)
        joined = await work_order_of(client, (await case_of(client, middle))["case_id"])
        assert joined["work_order_id"] == orders[1]["work_order_id"]
        [link] = [c for c in joined["cases"] if c["link_reason"] != "opened"]
        assert (link["link_score"], link["link_explanation"]) == (
            0.95, "同一楼栋（3号楼）、同一单元（2单元）、同类缺陷（渗漏）、楼层相距 1 层：0.95")
