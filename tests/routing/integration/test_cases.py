"""Routing on the real broker and PostgreSQL: lifecycles, deadlines, breaches, reclassification."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.routing.app import create_app
from services.routing.config import RoutingSettings
from shared.events import FeedbackReceived, FeedbackReceivedData, OrgPath, SurveyReturned, SurveyReturnedData
from shared.settings import Settings
from shared.testing.clock import FakeClock
from shared.testing.services import eventually, publish_raw, read_topic, running_service
from shared.topics import (
    CASE_ESCALATED,
    COMPLAINT_RECLASSIFIED,
    DEADLINE_BREACHED,
    FEEDBACK_RECEIVED,
    SURVEY_RETURNED,
)

pytestmark = pytest.mark.integration

CN = ZoneInfo("Asia/Shanghai")
ORG = OrgPath(group="hx", subsidiary="east", project="lakeside")


def routing_settings(settings: Settings) -> RoutingSettings:
    return RoutingSettings(**{**dict(settings), "deadline_scan_interval_s": 0.1})


def feedback(text: str, *, received_at: datetime, kind: str = "complaint") -> FeedbackReceived:
    data = FeedbackReceivedData(feedback_id=uuid.uuid4(), kind=kind, channel="phone", text=text,
                                received_at=received_at, received_by="cs-0001", project_id="lakeside")
    return FeedbackReceived.create(data=data, org=ORG, aggregate_id=data.feedback_id, occurred_at=received_at,
                                   producer="intake")


@contextlib.asynccontextmanager
async def routing(settings: Settings, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    async with running_service(create_app(routing_settings(settings), clock=clock)) as client:
        yield client


async def case_of(client: httpx.AsyncClient, event: FeedbackReceived) -> dict:
    async def find() -> list:
        r = await client.get("/api/v1/cases", params={"feedback_id": str(event.data.feedback_id)})
        return r.json()

    [case] = await eventually(find, until=lambda cases: len(cases) == 1)
    return (await client.get(f"/api/v1/cases/{case['case_id']}")).json()


async def post(client: httpx.AsyncClient, case: dict, step: str, **body: object) -> dict:
    response = await client.post(f"/api/v1/cases/{case['case_id']}/{step}", json={"actor": "h-1", **body})
    assert response.status_code == 200, (step, response.text)
    return response.json()


async def test_a_class_1_complaint_walks_its_whole_lifecycle(migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 9, 0, tzinfo=CN))  # a Monday, in working time
    async with routing(migrated, clock) as client:
        event = feedback("客服人员态度恶劣，电话里推诿不管", received_at=clock.now)
        await publish_raw(migrated, FEEDBACK_RECEIVED, event.to_json(), key=event.key)
        case = await case_of(client, event)
        assert (case["category"], case["complaint_class"], case["valid"], case["important"]) == (
            "service_attitude", 1, True, False)
        assert case["state"] == "assigned" and case["lead_department"] == "customer_service"
        assert case["first_contact_owner"] == "cs-0001"
        deadlines = {d["kind"]: d for d in case["deadlines"]}
        # Mon 09:00 + 8 working hours (08:30-12:00, 13:30-17:30): 3h + 4h Monday, 1h Tuesday → Tue 09:30
        assert datetime.fromisoformat(deadlines["first_response"]["due_at"]) == datetime(2026, 6, 2, 9, 30, tzinfo=CN)
        assert "8 个工作小时" in deadlines["first_response"]["explanation"]  # Chinese unless asked otherwise
        assert deadlines["first_response"]["kind_name"] == "首次响应"
        assert {k: case[k] for k in ("state_name", "category_name", "complaint_class_name", "valid_name",
                                     "important_name", "lead_department_name")} == {
            "state_name": "已分派", "category_name": "服务态度", "complaint_class_name": "一类投诉",
            "valid_name": "有效投诉", "important_name": "否", "lead_department_name": "客户服务部"}
        english = (await client.get(f"/api/v1/cases/{case['case_id']}", params={"lang": "en"})).json()
        assert "8 working hours" in {d["kind"]: d for d in english["deadlines"]}["first_response"]["explanation"]
        assert (english["state_name"], english["important_name"]) == ("Assigned", "No")
        assert set(deadlines) == {"first_response", "measures_report"}

        clock.now += timedelta(hours=1)
        case = await post(client, case, "acknowledge", note="已致电客户致歉")
        assert {d["kind"]: d["met_at"] is not None for d in case["deadlines"]}["first_response"]
        case = await post(client, case, "measures", note="对当班客服进行培训并调整排班")
        case = await post(client, case, "resolve", note="客服主管上门致歉")
        assert "result_delivery" in {d["kind"] for d in case["deadlines"]}
        case = await post(client, case, "deliver-result")
        case = await post(client, case, "customer-acceptance", accepted=True)
        # a valid complaint closes only after its corrective action is recorded and verified effective
        refused = await client.post(f"/api/v1/cases/{case['case_id']}/close", json={"actor": "h-1"})
        assert refused.status_code == 409 and "纠正措施" in refused.json()["reason"]
        action = await client.post(f"/api/v1/cases/{case['case_id']}/corrective-actions", json={
            "actor": "h-1", "department": "customer_service", "description": "修订客服接听规范并全员培训"})
        assert action.status_code == 201, action.text
        verified = await client.post(
            f"/api/v1/cases/{case['case_id']}/corrective-actions/{action.json()['action_id']}/verification",
            json={"actor": "q-1", "effective": True})
        assert verified.status_code == 200, verified.text
        case = await post(client, case, "close")
        assert case["state"] == "closed" and case["corrective_action_status"] == "effective"
        assert [s["action"] for s in case["history"]] == [
            "classify", "assign", "acknowledge", "report_measures", "resolve", "deliver_result", "accept_result",
            "decide_return_visit", "record_corrective_action", "verify_corrective_action", "close",
        ]
        assert all(d["met_at"] for d in case["deadlines"])

        wrong = await client.post(f"/api/v1/cases/{case['case_id']}/acknowledge", json={"actor": "h-1"})
        assert wrong.status_code == 409
        assert wrong.json()["state"] == "closed" and wrong.json()["reason"] == "处于「已关闭」的案件不能首次响应"
        assert wrong.json()["state_name"] == "已关闭"
        english = await client.post(f"/api/v1/cases/{case['case_id']}/acknowledge", params={"lang": "en"},
                                    json={"actor": "h-1"})
        assert english.json()["reason"] == "cannot acknowledge a case that is closed"


async def test_class_2_rework_class_3_and_an_important_complaints_return_visit(migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 10, 0, tzinfo=CN))
    async with routing(migrated, clock) as client:
        leak = feedback("3栋2单元1201卫生间漏水，楼下天花板渗水，已经向媒体反映", received_at=clock.now)
        road = feedback("小区外市政道路开挖两个月了，公交站也被占，出行很不方便", received_at=clock.now)
        for event in (leak, road):
            await publish_raw(migrated, FEEDBACK_RECEIVED, event.to_json(), key=event.key)
        case = await case_of(client, leak)
        assert (case["category"], case["complaint_class"], case["important"]) == ("product_quality", 2, True)
        assert case["lead_department"] == "engineering_quality"
        external = await case_of(client, road)
        assert external["complaint_class"] == 3

        for step, body in [("acknowledge", {}), ("resolve", {"note": "更换防水层"}), ("deliver-result", {}),
                           ("customer-acceptance", {"accepted": False, "note": "仍有渗水"})]:
            case = await post(client, case, step, **body)
        assert case["state"] == "acknowledged"  # rework after the customer refused the result
        for step, body in [("resolve", {"note": "重做防水并闭水试验48小时"}), ("deliver-result", {}),
                           ("customer-acceptance", {"accepted": True})]:
            case = await post(client, case, step, **body)
        refused = await client.post(f"/api/v1/cases/{case['case_id']}/close", json={"actor": "h-1"})
        assert refused.status_code == 409 and refused.json()["reason"] == "重要投诉须回访后方可关闭"

        visit = SurveyReturned.create(
            data=SurveyReturnedData(response_id=uuid.uuid4(), template_id="return-visit", template_version=1,
                                    scheme="D", case_id=uuid.UUID(case["case_id"]), returned_at=clock.now,
                                    answers=()),
            org=ORG, aggregate_id=uuid.uuid4(), occurred_at=clock.now, producer="survey")
        await publish_raw(migrated, SURVEY_RETURNED, visit.to_json(), key=visit.key)

        async def state() -> str:
            return (await client.get(f"/api/v1/cases/{case['case_id']}")).json()["state"]

        assert await eventually(state, until=lambda s: s == "return_visited") == "return_visited"
        case = await post(client, case, "close")
        assert case["state"] == "closed" and case["return_visit_done"]

        external = await post(client, external, "acknowledge")
        external = await post(client, external, "hand-over", to="developer", note="市政工程不属我方，已书面转交开发商并公示")
        assert external["state"] == "handed_over" and external["handed_over_to"] == "developer"


async def test_reclassification_emits_an_event_and_reroutes(migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 10, 0, tzinfo=CN))
    async with routing(migrated, clock) as client:
        event = feedback("施工噪音太大，晚上十点还在打桩", received_at=clock.now)
        await publish_raw(migrated, FEEDBACK_RECEIVED, event.to_json(), key=event.key)
        case = await case_of(client, event)
        assert case["lead_department"] == "safety_environment"
        clock.now += timedelta(hours=2)
        case = await post(client, case, "reclassify", category="service_attitude", complaint_class=1, valid=True,
                          important=False, reason="客户实际投诉的是项目部对噪音投诉的答复态度")
        assert (case["category"], case["lead_department"]) == ("service_attitude", "customer_service")
        measures = {d["kind"]: d for d in case["deadlines"]}["measures_report"]
        # reassigned Mon 12:00 → one working day (7h30m): 13:30-17:30 4h, Tue 08:30 + 3h30m = 12:00
        assert datetime.fromisoformat(measures["due_at"]) == datetime(2026, 6, 2, 12, 0, tzinfo=CN)
        records = await read_topic(migrated, COMPLAINT_RECLASSIFIED, until=lambda r: len(r) >= 1)
    [reclassified] = [json.loads(r.value) for r in records]
    assert reclassified["data"]["previous_category"] == "site_safety_environment"
    assert reclassified["data"]["classified_by"] == "h-1"
    assert reclassified["correlation_id"] == str(event.correlation_id)


async def test_a_breach_escalates_exactly_once_with_two_replicas(migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 9, 0, tzinfo=CN))
    async with routing(migrated, clock) as one, routing(migrated, clock) as two:
        event = feedback("物业收费价格不透明，多收了费用", received_at=clock.now)
        await publish_raw(migrated, FEEDBACK_RECEIVED, event.to_json(), key=event.key)
        case = await case_of(one, event)
        assert (await two.get(f"/api/v1/cases/{case['case_id']}")).status_code == 200
        assert (await one.get("/api/v1/cases/overdue")).json() == []
        clock.now = datetime(2026, 6, 2, 10, 0, tzinfo=CN)  # past Tue 09:00 (measures) and 09:30 (response)

        async def breached() -> list:
            detail = (await one.get(f"/api/v1/cases/{case['case_id']}")).json()
            return [d for d in detail["deadlines"] if d["breached_at"]]

        assert len(await eventually(breached, until=lambda b: len(b) == 2)) == 2
        overdue = (await two.get("/api/v1/cases/overdue")).json()
        assert [c["case_id"] for c in overdue] == [case["case_id"]]
        sentinel = feedback("再来一件", received_at=clock.now)  # both replicas have scanned again since
        await publish_raw(migrated, FEEDBACK_RECEIVED, sentinel.to_json(), key=sentinel.key)
        await case_of(two, sentinel)
        breaches = await read_topic(migrated, DEADLINE_BREACHED, until=lambda r: len(r) >= 2)
        escalations = await read_topic(migrated, CASE_ESCALATED, until=lambda r: len(r) >= 2)
    kinds = sorted(json.loads(r.value)["data"]["kind"] for r in breaches)
    assert kinds == ["first_response", "measures_report"]  # each once, though two replicas scanned
    assert sorted(json.loads(r.value)["data"]["to"] for r in escalations) == [
        "customer_service_supervisor", "quality_department"]
