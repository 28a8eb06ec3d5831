"""Return visits decided by the quality department (not drawn at random) and follow-up cases that
keep the original first-contact owner, on the real broker and PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.routing.app import create_app
from services.routing.config import RoutingSettings
from shared.events import FeedbackReceived, FeedbackReceivedData, OrgPath, SurveyReturned, SurveyReturnedData
from shared.settings import Settings
from shared.testing.clock import FakeClock
from shared.testing.services import eventually, publish_raw, read_topic, running_service
from shared.topics import CASE_OPENED, FEEDBACK_RECEIVED, RETURN_VISIT_DECIDED, SURVEY_RETURNED

pytestmark = pytest.mark.integration

CN = ZoneInfo("Asia/Shanghai")
ORG = OrgPath(group="hx", subsidiary="east", project="lakeside")
RUDE = "客服人员态度恶劣，电话里推诿不管"  # class 1, valid, not important


@contextlib.asynccontextmanager
async def routing(settings: Settings, clock: FakeClock, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(RoutingSettings(**{**dict(settings), "deadline_scan_interval_s": 0.2, **overrides}), clock=clock)
    async with running_service(app) as client:
        yield client


def feedback(text: str, *, at: datetime, received_by: str = "cs-0001",
             follow_up_of: uuid.UUID | None = None) -> FeedbackReceived:
    data = FeedbackReceivedData(feedback_id=uuid.uuid4(), kind="complaint", channel="phone", text=text,
                                received_at=at, received_by=received_by, project_id="lakeside",
                                follow_up_of=follow_up_of)
    return FeedbackReceived.create(data=data, org=ORG, aggregate_id=data.feedback_id, occurred_at=at,
                                   producer="intake")


async def opened(settings: Settings, client: httpx.AsyncClient, event: FeedbackReceived) -> dict:
    await publish_raw(settings, FEEDBACK_RECEIVED, event.to_json(), key=event.key)

    async def find() -> list:
        return (await client.get("/api/v1/cases", params={"feedback_id": str(event.data.feedback_id)})).json()

    [case] = await eventually(find, until=lambda cases: len(cases) == 1)
    return (await client.get(f"/api/v1/cases/{case['case_id']}")).json()


async def post(client: httpx.AsyncClient, case: dict, step: str, *, status: int = 200, **body: object) -> dict:
    response = await client.post(f"/api/v1/cases/{case['case_id']}/{step}", json={"actor": "h-1", **body})
    assert response.status_code == status, (step, response.text)
    return response.json()


async def to_acceptance(client: httpx.AsyncClient, case: dict) -> dict:
    for step, body in [("acknowledge", {}), ("resolve", {"note": "客服主管上门致歉"}), ("deliver-result", {}),
                       ("customer-acceptance", {"accepted": True})]:
        case = await post(client, case, step, **body)
    return case


async def settle_corrective_action(client: httpx.AsyncClient, case: dict) -> None:
    await post(client, case, "corrective-action-waiver", status=201, actor="q-1", reason="个别人员行为，已在处理中纠正")


def decided(records: list) -> list[dict]:
    return [json.loads(r.value)["data"] for r in records]


async def test_the_quality_department_chooses_a_return_visit_and_the_case_closes_only_after_it(
        migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 9, 0, tzinfo=CN))
    async with routing(migrated, clock) as client:
        chosen = await opened(migrated, client, feedback(RUDE, at=clock.now))
        ordinary = await opened(migrated, client, feedback("物业客服接电话不耐烦，说话很冲", at=clock.now))
        assert (chosen["complaint_class"], chosen["important"]) == (1, False)
        assert (ordinary["complaint_class"], ordinary["important"]) == (1, False)

        # The quality department decides for one case: recorded in its history, with the reason.
        chosen = await post(client, chosen, "return-visit-decision", status=200, actor="q-1", return_visit=True,
                            reason="同类投诉本月第二次")
        assert (chosen["return_visit_choice"], chosen["return_visit_basis"]) == (True, "quality_department")
        assert chosen["return_visit_required"] is None  # due once the customer accepts the result
        step = chosen["history"][-1]
        assert (step["action"], step["actor"], step["note"]) == (
            "decide_return_visit", "q-1", "回访：品质管理部决定。同类投诉本月第二次")

        chosen = await to_acceptance(client, chosen)
        ordinary = await to_acceptance(client, ordinary)
        assert (chosen["return_visit_required"], ordinary["return_visit_required"]) == (True, False)
        assert ordinary["return_visit_basis"] == "none"
        await settle_corrective_action(client, chosen)
        await settle_corrective_action(client, ordinary)

        refused = await post(client, chosen, "close", status=409)
        assert refused["reason"] == "该案件已决定回访，须回访后方可关闭"
        assert (await post(client, ordinary, "close"))["state"] == "closed"  # default rule: no visit, no wait

        visit = SurveyReturned.create(
            data=SurveyReturnedData(response_id=uuid.uuid4(), template_id="complaint-return-visit",
                                    template_version=1, scheme="B", case_id=uuid.UUID(chosen["case_id"]),
                                    returned_at=clock.now, answers=()),
            org=ORG, aggregate_id=uuid.uuid4(), occurred_at=clock.now, producer="survey")
        await publish_raw(migrated, SURVEY_RETURNED, visit.to_json(), key=visit.key)

        async def state() -> str:
            return (await client.get(f"/api/v1/cases/{chosen['case_id']}")).json()["state"]

        await eventually(state, until=lambda s: s == "return_visited")
        too_late = await post(client, chosen, "return-visit-decision", status=409, actor="q-1", return_visit=False)
        assert too_late["reason"] == "案件已回访或已关闭，回访决定不能再改"
        assert (await post(client, chosen, "close"))["state"] == "closed"

        records = await read_topic(migrated, RETURN_VISIT_DECIDED, until=lambda r: len(r) >= 3)
    by_case: dict[str, list[tuple]] = {}
    for d in decided(records):
        by_case.setdefault(d["case_id"], []).append((d["actor"], d["return_visit"], d["basis"], d["result_accepted"]))
    assert by_case == {
        chosen["case_id"]: [("q-1", True, "quality_department", False), ("system", True, "quality_department", True)],
        ordinary["case_id"]: [("system", False, "none", True)],
    }


async def test_important_complaints_always_get_one_and_the_rule_setting_decides_the_rest(migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 9, 0, tzinfo=CN))
    async with routing(migrated, clock, return_visit_rule="class_1") as client:
        important = await opened(migrated, client, feedback("客服态度恶劣，我已经向媒体反映，要找律师起诉", at=clock.now))
        by_rule = await opened(migrated, client, feedback(RUDE, at=clock.now))
        opted_out = await opened(migrated, client, feedback("物业客服接电话不耐烦，说话很冲", at=clock.now))
        assert (important["complaint_class"], important["important"]) == (1, True)

        refused = await post(client, important, "return-visit-decision", status=409, actor="q-1", return_visit=False)
        assert refused["reason"] == "重要投诉必须回访，不能决定不回访"
        # under the class-1 rule the quality department may still take one case out of it
        await post(client, opted_out, "return-visit-decision", actor="q-1", return_visit=False, reason="客户明确拒绝回访")

        for case in (important, by_rule, opted_out):
            accepted = await to_acceptance(client, case)
            assert accepted["state"] == "accepted"
        records = await read_topic(migrated, RETURN_VISIT_DECIDED, until=lambda r: len(r) >= 4)
    at_acceptance = {d["case_id"]: (d["return_visit"], d["basis"], d["rule"])
                     for d in decided(records) if d["result_accepted"]}
    assert at_acceptance == {
        important["case_id"]: (True, "important", "class_1"),
        by_rule["case_id"]: (True, "rule", "class_1"),
        opted_out["case_id"]: (False, "quality_department", "class_1"),
    }


async def test_a_follow_up_case_keeps_the_original_first_contact_owner_and_links_to_it(migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 9, 0, tzinfo=CN))
    async with routing(migrated, clock) as client:
        original = await opened(migrated, client, feedback(RUDE, at=clock.now, received_by="cs-0007"))
        clock.now += timedelta(days=3)
        # A dissatisfied answer on its return visit, passed on by the survey service through intake.
        follow_up = await opened(migrated, client, feedback(
            "满意度调查《投诉处理回访》: 处理结果 — 不满意", at=clock.now, received_by="system:careloop-survey",
            follow_up_of=uuid.UUID(original["case_id"])))
        assert (follow_up["first_contact_owner"], follow_up["follow_up_of"]) == ("cs-0007", original["case_id"])
        # one naming a case routing does not know stays with whoever received it
        unknown = uuid.uuid4()
        stray = await opened(migrated, client, feedback(RUDE, at=clock.now, received_by="system:careloop-survey",
                                                        follow_up_of=unknown))
        assert (stray["first_contact_owner"], stray["follow_up_of"]) == ("system:careloop-survey", str(unknown))
        records = await read_topic(migrated, CASE_OPENED, until=lambda r: len(r) >= 3)
    cases = {d["case_id"]: d for d in decided(records)}
    assert (cases[follow_up["case_id"]]["first_contact_owner"], cases[follow_up["case_id"]]["follow_up_of"]) == (
        "cs-0007", original["case_id"])
    assert cases[original["case_id"]]["follow_up_of"] is None


async def test_service_attitude_is_led_by_customer_service_or_general_affairs_with_no_one_assisting(
        migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 9, 0, tzinfo=CN))
    async with routing(migrated, clock) as client:
        case = await opened(migrated, client, feedback(RUDE, at=clock.now))
        assert (case["category"], case["lead_department"], case["assisting_departments"]) == (
            "service_attitude", "customer_service", [])  # as classified: no assisting department
        helped = await post(client, case, "assign", status=422, lead_department="customer_service",
                            assisting_departments=["general_affairs"])
        assert helped["fields"] == [{"field": "assisting_departments", "reason": "服务态度、服务提供类投诉不设协办部门",
                                     "type": "value_error"}]
        elsewhere = await post(client, case, "assign", status=422, lead_department="business")
        assert elsewhere["fields"][0]["field"] == "lead_department"
        moved = await post(client, case, "assign", lead_department="general_affairs", handler="ga-01")
        assert (moved["lead_department"], moved["assisting_departments"], moved["handler"]) == (
            "general_affairs", [], "ga-01")


async def test_a_return_visit_back_before_the_acceptance_counts_when_the_result_is_accepted(migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 9, 0, tzinfo=CN))
    async with routing(migrated, clock) as client:
        case = await opened(migrated, client, feedback(RUDE, at=clock.now))
        await post(client, case, "return-visit-decision", actor="q-1", return_visit=True)
        case = await post(client, case, "acknowledge")
        # the visit's answers come back while the case is still being handled (e.g. a repair's visit)
        visit = SurveyReturned.create(
            data=SurveyReturnedData(response_id=uuid.uuid4(), template_id="repair-return-visit",
                                    template_version=1, scheme="B", case_id=uuid.UUID(case["case_id"]),
                                    returned_at=clock.now, answers=()),
            org=ORG, aggregate_id=uuid.uuid4(), occurred_at=clock.now, producer="survey")
        await publish_raw(migrated, SURVEY_RETURNED, visit.to_json(), key=visit.key)

        async def detail() -> dict:
            return (await client.get(f"/api/v1/cases/{case['case_id']}")).json()

        noted = await eventually(detail, until=lambda c: c["return_visit_done"])
        assert (noted["state"], noted["history"][-1]["action"]) == ("acknowledged", "return_visit_returned")
        for step, body in [("resolve", {"note": "客服主管致歉"}), ("deliver-result", {}),
                           ("customer-acceptance", {"accepted": True})]:
            case = await post(client, case, step, **body)
        assert case["state"] == "return_visited"
        assert [h["action"] for h in case["history"]][-3:] == [
            "accept_result", "decide_return_visit", "complete_return_visit"]
        await settle_corrective_action(client, case)
        assert (await post(client, case, "close"))["state"] == "closed"
