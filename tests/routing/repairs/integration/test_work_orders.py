"""Warranty repairs on the real broker and PostgreSQL: every step, rework, a confirmed fee, ten
households on one work order, retried posts, recurring defects and reclassification."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.routing.app import create_app
from services.routing.config import RoutingSettings
from shared.events import FeedbackReceived, FeedbackReceivedData, OrgPath
from shared.events.catalog import ProjectRegistered, ProjectRegisteredData
from shared.settings import Settings
from shared.testing.clock import FakeClock
from shared.testing.services import eventually, publish_raw, read_topic, running_service
from shared.topics import FEEDBACK_RECEIVED, PROJECT_REGISTERED, REPAIR_ACCEPTED, topic_for

pytestmark = pytest.mark.integration

CN = ZoneInfo("Asia/Shanghai")
ORG = OrgPath(group="hx", subsidiary="east", project="lakeside")
SIGNED = {"accepted": True, "owner_signature_ref": "esign/2026/0001-owner", "owner_signer_role": "owner",
          "contractor_signature_ref": "esign/2026/0001-contractor", "contractor_signer": "site-07"}


@contextlib.asynccontextmanager
async def routing(settings: Settings, clock: FakeClock, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(RoutingSettings(**{**dict(settings), "deadline_scan_interval_s": 0.2, **overrides}), clock=clock)
    async with running_service(app) as client:
        yield client


async def register_project(settings: Settings, client: httpx.AsyncClient, *, warranty_end: date,
                           project_id: str = "lakeside") -> None:
    data = ProjectRegisteredData(project_id=project_id, name="湖畔花园", stage="post_completion",
                                 completion_date=date(2024, 6, 30), warranty_end=warranty_end,
                                 buildings=("1", "3", "5", "8"), revision=1)
    event = ProjectRegistered.create(data=data, org=ORG, aggregate_id=project_id,
                                     occurred_at=datetime(2024, 6, 30, tzinfo=CN), producer="intake")
    await publish_raw(settings, PROJECT_REGISTERED, event.to_json(), key=event.key)

    async def known() -> int:
        return (await client.get(f"/api/v1/repair-projects/{project_id}")).status_code

    await eventually(known, until=lambda status: status == 200)


def feedback(text: str, *, at: datetime, kind: str = "repair_request", unit: str | None = None,
             group: uuid.UUID | None = None, attachments: tuple[str, ...] = ()) -> FeedbackReceived:
    data = FeedbackReceivedData(feedback_id=uuid.uuid4(), kind=kind, channel="phone", text=text, received_at=at,
                                received_by="cs-0001", project_id="lakeside", unit=unit, incident_group_id=group,
                                attachments=attachments)
    return FeedbackReceived.create(data=data, org=ORG, aggregate_id=data.feedback_id, occurred_at=at,
                                   producer="intake")


async def send(settings: Settings, *events: FeedbackReceived) -> None:
    for event in events:
        await publish_raw(settings, FEEDBACK_RECEIVED, event.to_json(), key=event.key)


async def case_of(client: httpx.AsyncClient, event: FeedbackReceived) -> dict:
    async def find() -> list:
        return (await client.get("/api/v1/cases", params={"feedback_id": str(event.data.feedback_id)})).json()

    [case] = await eventually(find, until=lambda cases: len(cases) == 1)
    return case


async def work_order_of(client: httpx.AsyncClient, case_id: str) -> dict:
    async def find() -> list:
        return (await client.get("/api/v1/work-orders", params={"case_id": case_id})).json()

    [order] = await eventually(find, until=lambda orders: len(orders) == 1)
    return (await client.get(f"/api/v1/work-orders/{order['work_order_id']}")).json()


async def step(client: httpx.AsyncClient, order: dict, path: str, *, status: int = 200,
               headers: dict[str, str] | None = None, **body: Any) -> dict:
    response = await client.post(f"/api/v1/work-orders/{order['work_order_id']}/{path}",
                                 json={"actor": "site-07", **body}, headers=headers)
    assert response.status_code == status, (path, response.text)
    return response.json()


def events(records: list) -> list[dict]:
    return [json.loads(r.value) for r in records]


async def test_an_in_warranty_repair_walks_every_step_through_a_rejected_acceptance(migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 6, 21, 0, tzinfo=CN))  # a Saturday night: the 24-hour service
    async with routing(migrated, clock) as client:
        await register_project(migrated, client, warranty_end=date(2027, 6, 30))
        request = feedback("3号楼2单元1201卫生间漏水，楼下天花板渗水", at=clock.now, unit="3-2-1201",
                           attachments=("intake/2026/06/f-1/ceiling.jpg",))
        await send(migrated, request)
        case = await case_of(client, request)
        order = await work_order_of(client, case["case_id"])
        assert (order["state"], order["origin"], order["defect_kind"]) == ("opened", "repair_request", "leak")
        assert (order["warranty_status"], order["in_warranty"], order["chargeable"]) == ("in_warranty", True, False)
        assert datetime.fromisoformat(order["respond_by"]) == datetime(2026, 6, 7, 21, 0, tzinfo=CN)
        assert [p["ref"] for p in order["photos"]] == ["intake/2026/06/f-1/ceiling.jpg"]

        refused = await step(client, order, "work-done", status=409)
        assert refused["state"] == "opened" and refused["reason"] == "处于「已开单」的工单不能完成施工"
        assert refused["allowed_steps"] == ["investigate", "assign", "attach_photos"]

        order = await step(client, order, "assignment", assignee="site-07")
        mine = (await client.get("/api/v1/work-orders", params={"assignee": "site-07"})).json()
        assert [o["work_order_id"] for o in mine] == [order["work_order_id"]]
        assert (await client.get("/api/v1/work-orders", params={"assignee": "site-99"})).json() == []

        clock.now += timedelta(hours=3)
        order = await step(client, order, "investigation", nature="卫生间防水层破损", cause="防水层施工搭接不足",
                           responsibility="construction", photos=["repairs/wo/site-1.jpg"])
        assert order["state"] == "investigated" and order["investigation"]["in_scope"] is True
        assert order["responded_at"] is not None and not order["chargeable"]

        asked_by = clock.now + timedelta(hours=48)
        too_late = await step(client, order, "plan", status=422, scope="重做卫生间防水", duration_hours=72,
                              resources="防水班组2人", customer_requested_by=asked_by.isoformat())
        assert too_late["fields"][0]["field"] == "planned_finish"
        order = await step(client, order, "plan", scope="重做卫生间防水并闭水试验", duration_hours=36, cost="1800.00",
                           resources="防水班组2人, 防水涂料", customer_requested_by=asked_by.isoformat())
        assert order["state"] == "plan_agreed" and datetime.fromisoformat(order["due_at"]) == asked_by

        clock.now += timedelta(hours=30)
        order = await step(client, order, "work-done", photos=["repairs/wo/after-1.jpg"])
        order = await step(client, order, "self-inspection", passed=True, findings="闭水24小时无渗漏")
        order = await step(client, order, "joint-acceptance", accepted=False, reason="楼下天花板仍有水渍")
        assert (order["state"], order["rework_count"]) == ("rework", 1)
        assert order["last_rejection_reason"] == "楼下天花板仍有水渍"

        not_signed = await step(client, order, "joint-acceptance", status=409, **SIGNED)
        assert not_signed["state"] == "rework"
        order = await step(client, order, "work-done", note="补刷防水并修补楼下吊顶")
        order = await step(client, order, "self-inspection", passed=True)
        unsigned = await step(client, order, "joint-acceptance", status=422,
                              **{**SIGNED, "owner_signature_ref": None})
        assert unsigned["fields"][0]["field"] == "owner_signature_ref"
        order = await step(client, order, "joint-acceptance", **SIGNED)
        assert order["state"] == "accepted" and order["owner_signature_ref"] == "esign/2026/0001-owner"
        assert order["contractor_signer"] == "site-07"
        assert order["allowed_steps"] == ["verify_quality", "attach_photos"]
        early = await step(client, order, "archive", status=409)  # not before the quality department's verification
        assert (early["state"], early["reason"]) == ("accepted", "维修须经品质管理部验证后方可归档")
        order = await step(client, order, "quality-verification", actor="qa-01", passed=True, findings="抽查合格")
        assert (order["state"], order["quality_verified_by"], order["quality_verification_passed"]) == (
            "accepted", "qa-01", True)
        assert order["allowed_steps"] == ["archive", "attach_photos"]
        again = await step(client, order, "quality-verification", status=409, actor="qa-02", passed=False)
        assert (again["reason"], again["allowed_steps"]) == ("品质管理部已验证过该维修，验证只记录一次",
                                                             ["archive", "attach_photos"])
        order = await step(client, order, "archive")
        assert (order["state"], order["quality_verified_by"]) == ("archived", "qa-01")
        wrong = await step(client, order, "investigation", status=409, nature="x", cause="y",
                           responsibility="construction")
        assert wrong["state"] == "archived"

        assert [(s["step"], s["actor"]) for s in order["steps"]] == [
            ("open", "system"), ("assign", "site-07"), ("investigate", "site-07"), ("agree_plan", "site-07"),
            ("complete_work", "site-07"), ("self_inspect", "site-07"), ("reject_acceptance", "site-07"),
            ("complete_work", "site-07"), ("self_inspect", "site-07"), ("accept", "site-07"),
            ("verify_quality", "qa-01"), ("archive", "site-07"),
        ]
        assert [p["ref"] for p in order["photos"]] == [
            "intake/2026/06/f-1/ceiling.jpg", "repairs/wo/site-1.jpg", "repairs/wo/after-1.jpg"]
        # a repair request's case stays "received" in routing's lifecycle: it is told, not moved
        detail = (await client.get(f"/api/v1/cases/{case['case_id']}")).json()
        assert detail["state"] == "received" and detail["history"][-1]["action"] == "repair_accepted"

        accepted = events(await read_topic(migrated, REPAIR_ACCEPTED, until=lambda r: len(r) >= 1))
        rejected = events(await read_topic(migrated, topic_for("RepairAcceptanceRejected"), until=lambda r: len(r) >= 1))
        steps = events(await read_topic(migrated, topic_for("RepairStepRecorded"),
                                        until=lambda r: any(json.loads(x.value)["data"]["step"] == "archive"
                                                            for x in r)))
    [repair] = accepted
    assert repair["aggregate_id"] == order["work_order_id"]
    assert repair["data"]["case_ids"] == [case["case_id"]]
    assert (repair["data"]["in_warranty"], repair["data"]["chargeable"], repair["data"]["rework_count"]) == (
        True, False, 1)
    assert repair["data"]["owner_signature_ref"] == "esign/2026/0001-owner"
    assert repair["correlation_id"] == str(request.correlation_id)
    assert [r["data"]["reason"] for r in rejected] == ["楼下天花板仍有水渍"]
    assert [s["data"]["step"] for s in steps] == [
        "assign", "investigate", "agree_plan", "complete_work", "self_inspect", "complete_work", "self_inspect",
        "verify_quality", "archive"]


async def test_out_of_warranty_the_fee_is_confirmed_before_any_work(migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 10, 0, tzinfo=CN))
    async with routing(migrated, clock) as client:
        await register_project(migrated, client, warranty_end=date(2025, 12, 31))
        request = feedback("5栋1单元302入户门关不上，门锁坏了", at=clock.now)
        await send(migrated, request)
        order = await work_order_of(client, (await case_of(client, request))["case_id"])
        assert (order["defect_kind"], order["unit"]) == ("door_window", "5-1-302")
        assert (order["warranty_status"], order["in_warranty"], order["chargeable"]) == ("expired", False, True)
        assert order["respond_by"] is None and "2025-12-31" in order["warranty_explanation"]

        order = await step(client, order, "investigation", nature="门锁锁芯损坏", cause="正常使用磨损",
                           responsibility="material")
        no_fee = await step(client, order, "plan", status=422, scope="更换锁芯", duration_hours=2, resources="维修工1人")
        assert no_fee["fields"][0]["field"] == "quoted_fee"
        order = await step(client, order, "plan", scope="更换锁芯", duration_hours=2, resources="维修工1人",
                           quoted_fee="350.00")
        assert (order["state"], order["quoted_fee"]) == ("awaiting_fee_confirmation", "350.00")
        early = await step(client, order, "work-done", status=409)
        assert early["state"] == "awaiting_fee_confirmation" and early["allowed_steps"][:2] == [
            "confirm_fee", "decline_fee"]
        order = await step(client, order, "fee-decision", confirmed=True, decided_by="owner")
        assert order["state"] == "plan_agreed" and order["fee_confirmed_at"] is not None
        for path, body in [("work-done", {}), ("self-inspection", {"passed": True}), ("joint-acceptance", SIGNED)]:
            order = await step(client, order, path, **body)
        assert order["state"] == "accepted"
        [repair] = events(await read_topic(migrated, REPAIR_ACCEPTED, until=lambda r: len(r) >= 1))
    assert (repair["data"]["in_warranty"], repair["data"]["warranty_status"]) == (False, "expired")
    assert (repair["data"]["chargeable"], repair["data"]["quoted_fee"]) == (True, "350.00")


async def test_ten_households_reporting_one_leak_share_one_work_order_and_each_case_moves_on(
        migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 9, 0, tzinfo=CN))
    group = uuid.uuid4()
    async with routing(migrated, clock) as client:
        await register_project(migrated, client, warranty_end=date(2027, 6, 30))
        # Seven households intake put in one incident group, three more on the same floors it did not
        # group: the same leak down one riser of building 3, entrance 2.
        units = ["3-2-1201", "3-2-1202", "3-2-1101", "3-2-1102", "3-2-1001", "3-2-1002", "3-2-1203",
                 "3-2-1103", "3-2-1003", "3-2-1204"]
        households = [feedback("卫生间天花板漏水，墙面渗水发霉", kind="complaint", unit=unit,
                               at=clock.now + timedelta(minutes=i), group=group if i < 7 else None)
                      for i, unit in enumerate(units)]
        elsewhere = feedback("5栋1单元302卧室墙面裂缝", kind="complaint", at=clock.now)
        await send(migrated, *households, elsewhere)
        cases = [await case_of(client, household) for household in households]
        assert {(c["complaint_class"], c["state"]) for c in cases} == {(2, "assigned")}
        order = await work_order_of(client, cases[0]["case_id"])

        async def case_count() -> int:
            return (await client.get(f"/api/v1/work-orders/{order['work_order_id']}")).json()["case_count"]

        await eventually(case_count, until=lambda n: n == 10)
        order = (await client.get(f"/api/v1/work-orders/{order['work_order_id']}")).json()
        assert {c["case_id"] for c in order["cases"]} == {c["case_id"] for c in cases}
        reasons = [c["link_reason"] for c in order["cases"]]
        assert reasons.count("opened") == 1 and set(reasons) <= {"opened", "incident_group", "same_area"}
        ungrouped = {c["case_id"] for c in cases[7:]}
        # the three intake did not group joined by place (one of them may have opened the order)
        assert sum(c["link_reason"] == "same_area" for c in order["cases"] if c["case_id"] in ungrouped) >= 2
        crack = await work_order_of(client, (await case_of(client, elsewhere))["case_id"])
        assert crack["work_order_id"] != order["work_order_id"] and crack["defect_kind"] == "crack"
        assert len((await client.get("/api/v1/work-orders", params={"project_id": "lakeside"})).json()) == 2

        # Customer service gives six households their own first response; four cases nobody
        # acknowledged stay "assigned" until the repair is accepted. Each keeps its own case.
        for case in cases[:6]:
            response = await client.post(f"/api/v1/cases/{case['case_id']}/acknowledge", json={"actor": "cs-0001"})
            assert response.status_code == 200, response.text
        clock.now += timedelta(hours=2)
        for path, body in [
            ("investigation", {"nature": "立管防水套管渗漏", "cause": "套管封堵不密实", "responsibility": "construction"}),
            ("plan", {"scope": "重做立管套管封堵并修复十户吊顶", "duration_hours": 24, "resources": "防水班组3人"}),
            ("work-done", {}), ("self-inspection", {"passed": True}),
        ]:
            order = await step(client, order, path, **body)
        accepted_order = await step(client, order, "joint-acceptance", headers={"Idempotency-Key": "accept-1"},
                                    **SIGNED)
        # the same post again (a client that timed out): replayed, nothing moves twice
        retry = await client.post(f"/api/v1/work-orders/{order['work_order_id']}/joint-acceptance",
                                  json={"actor": "site-07", **SIGNED}, headers={"Idempotency-Key": "accept-1"})
        assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
        order = accepted_order
        assert order["state"] == "accepted"
        assert {c["case_state"] for c in order["cases"]} == {"resolved"}

        for i, case in enumerate(cases):
            detail = (await client.get(f"/api/v1/cases/{case['case_id']}")).json()
            assert detail["state"] == "resolved"
            # handling ended with the joint acceptance: resolved by the system, once, and the
            # result is due to the customer 48 hours after it (2026-06-01 11:00 + 48 h)
            moved = [(h["action"], h["actor"]) for h in detail["history"] if h["at"] >= detail["history"][-1]["at"]]
            expected = [("resolve", "system")] if i < 6 else [("acknowledge", "system"), ("resolve", "system")]
            assert moved == expected, (i, detail["history"])
            assert [h["action"] for h in detail["history"]].count("resolve") == 1
            assert order["work_order_id"] in detail["history"][-1]["note"]
            result = {d["kind"]: d for d in detail["deadlines"]}["result_delivery"]
            assert datetime.fromisoformat(result["due_at"]) == datetime(2026, 6, 3, 11, 0, tzinfo=CN)
            first = {d["kind"]: d for d in detail["deadlines"]}["first_response"]
            assert first["met_at"] is not None
        [repair] = events(await read_topic(migrated, REPAIR_ACCEPTED, until=lambda r: len(r) >= 1))
        opened = events(await read_topic(migrated, topic_for("WorkOrderOpened"), until=lambda r: len(r) >= 2))
        resolved = [e for e in events(await read_topic(
            migrated, topic_for("CaseTransitioned"),
            until=lambda r: sum(json.loads(x.value)["data"]["action"] == "resolve" for x in r) >= 10))
            if e["data"]["action"] == "resolve"]
    assert sorted(repair["data"]["case_ids"]) == sorted(c["case_id"] for c in cases)
    assert len(opened) == 2  # the leak and the unrelated crack
    assert sorted(e["data"]["case_id"] for e in resolved) == sorted(c["case_id"] for c in cases)  # one each


async def test_a_step_posted_twice_is_applied_once(migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 9, 0, tzinfo=CN))
    async with routing(migrated, clock) as client:
        request = feedback("8号楼1单元501客厅墙面空鼓", at=clock.now)
        await send(migrated, request)
        order = await work_order_of(client, (await case_of(client, request))["case_id"])
        assert order["warranty_status"] == "unknown" and order["in_warranty"]  # no project copy yet

        overdue = {"overdue": "true"}
        assert (await client.get("/api/v1/work-orders", params=overdue)).json() == []
        clock.now += timedelta(hours=25)  # past the 24-hour response, nobody on site yet
        assert [o["work_order_id"] for o in (await client.get("/api/v1/work-orders", params=overdue)).json()] == [
            order["work_order_id"]]

        investigation = {"nature": "墙面抹灰空鼓", "cause": "基层处理不当", "responsibility": "construction"}
        first = await client.post(f"/api/v1/work-orders/{order['work_order_id']}/investigation",
                                  json={"actor": "site-07", **investigation}, headers={"Idempotency-Key": "inv-1"})
        clock.now += timedelta(minutes=5)  # the retry comes later; the answer must not change
        retry = await client.post(f"/api/v1/work-orders/{order['work_order_id']}/investigation",
                                  json={"actor": "site-07", **investigation}, headers={"Idempotency-Key": "inv-1"})
        assert first.status_code == retry.status_code == 200
        assert retry.json() == first.json() and retry.headers["Idempotent-Replayed"] == "true"

        assert (await client.get("/api/v1/work-orders", params=overdue)).json() == []
        reused = await client.post(f"/api/v1/work-orders/{order['work_order_id']}/investigation",
                                   json={"actor": "site-07", **investigation, "cause": "另一个原因"},
                                   headers={"Idempotency-Key": "inv-1"})
        assert reused.status_code == 422 and reused.json()["error"] == "idempotency_key_reused"

        # Two copies of one post in flight at once (a client that timed out and retried at once).
        plan = {"actor": "site-07", "scope": "铲除空鼓部位重新抹灰", "duration_hours": 8, "resources": "抹灰工2人",
                "client_step_id": "plan-1"}
        both = await asyncio.gather(*[
            client.post(f"/api/v1/work-orders/{order['work_order_id']}/plan", json=plan) for _ in range(2)])
        assert [r.status_code for r in both] == [200, 200] and both[0].json() == both[1].json()

        photos = {"actor": "site-07", "photos": ["repairs/wo/p1.jpg", "repairs/wo/p2.jpg"]}
        for _ in range(2):  # without a key, a photo reference is still attached once
            response = await client.post(f"/api/v1/work-orders/{order['work_order_id']}/photos", json=photos)
            assert response.status_code == 200
        blob = await client.post(f"/api/v1/work-orders/{order['work_order_id']}/photos",
                                 json={"actor": "site-07", "photos": ["data:image/jpeg;base64,/9j/4AAQ"]})
        assert blob.status_code == 422

        order = await step(client, order, "work-done", client_step_id="done-1")
        assert [s["step"] for s in order["steps"]] == [
            "open", "investigate", "agree_plan", "attach_photos", "complete_work"]
        assert [p["ref"] for p in order["photos"]] == ["repairs/wo/p1.jpg", "repairs/wo/p2.jpg"]
        assert order["steps"][1]["client_step_id"] == "inv-1" and order["steps"][2]["client_step_id"] == "plan-1"
        recorded = events(await read_topic(
            migrated, topic_for("RepairStepRecorded"),
            until=lambda r: any(json.loads(x.value)["data"]["step"] == "complete_work" for x in r)))
    assert [e["data"]["step"] for e in recorded] == ["investigate", "agree_plan", "attach_photos", "complete_work"]


def three_leaks(clock: FakeClock) -> list[FeedbackReceived]:
    """Leaks in three buildings within 90 days (separate repairs), out of order: a recurring defect."""
    return [feedback(f"{building}号楼1单元{room}阳台漏雨", at=clock.now - timedelta(days=days))
            for building, room, days in [(8, 601, 0), (1, 302, 70), (5, 1501, 35)]]


async def remediations(client: httpx.AsyncClient) -> list:
    return (await client.get("/api/v1/remediations", params={"project_id": "lakeside"})).json()


async def test_a_recurring_defect_raises_a_remediation_tracked_to_its_acceptance(migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 9, 0, tzinfo=CN))
    async with routing(migrated, clock) as client:
        await register_project(migrated, client, warranty_end=date(2027, 6, 30))
        leaks = three_leaks(clock)
        await send(migrated, *leaks, feedback("1号楼外墙裂缝", at=clock.now))  # and a crack

        async def raised() -> list:
            return await remediations(client)

        [item] = await eventually(raised, until=lambda items: len(items) == 1)
        assert (item["defect_kind"], item["occurrences"], item["threshold"], item["state"]) == ("leak", 3, 3, "raised")
        detail = (await client.get(f"/api/v1/remediations/{item['remediation_id']}")).json()
        orders = [await work_order_of(client, (await case_of(client, leak))["case_id"]) for leak in leaks]
        assert sorted(detail["work_order_ids"]) == sorted(o["work_order_id"] for o in orders)

        path = f"/api/v1/remediations/{item['remediation_id']}"
        early = await client.post(f"{path}/acceptance", json={"actor": "qa-01", "accepted": True, "evaluation": "x",
                                                              "signature_ref": "sig"})
        assert early.status_code == 409 and early.json()["state"] == "raised"
        plan = {"actor": "qa-01", "plan": "全项目阳台排水节点整改，统一加设止水坎", "responsible_department": "engineering_quality"}
        assert (await client.post(f"{path}/plan", json=plan)).status_code == 200
        assert (await client.post(f"{path}/completion", json={"actor": "qa-01"})).status_code == 200
        refused = await client.post(f"{path}/acceptance", json={
            "actor": "qa-01", "accepted": False, "evaluation": "8号楼仍有两户渗水", "representative_role": "owner"})
        assert refused.json()["state"] == "planned"
        assert (await client.post(f"{path}/completion", json={"actor": "qa-01"})).status_code == 200
        accepted = await client.post(f"{path}/acceptance", json={
            "actor": "qa-01", "accepted": True, "evaluation": "连续三次大雨无渗漏", "effective": True,
            "representative_role": "developer_representative", "signature_ref": "esign/2026/rem-1"})
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["state"] == "accepted"
        assert [s["step"] for s in accepted.json()["steps"]] == [
            "raise", "plan", "complete", "reject", "complete", "accept"]

        # After the accepted remediation the count starts afresh: one more leak raises nothing.
        another = feedback("3号楼2单元801阳台漏水", at=clock.now + timedelta(days=1))
        await send(migrated, another)
        await work_order_of(client, (await case_of(client, another))["case_id"])
        assert len(await raised()) == 1
        detected = events(await read_topic(migrated, topic_for("RecurringDefectDetected"), until=lambda r: len(r) >= 1))
        done = events(await read_topic(migrated, topic_for("RemediationAccepted"), until=lambda r: len(r) >= 1))
    assert len(detected) == 1 and detected[0]["data"]["occurrences"] == 3
    assert done[0]["data"]["signature_ref"] == "esign/2026/rem-1"
    assert sorted(done[0]["data"]["work_order_ids"]) == sorted(detail["work_order_ids"])


async def test_a_repair_of_a_defect_under_open_remediation_is_counted_on_it(migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 9, 0, tzinfo=CN))
    async with routing(migrated, clock) as client:
        await register_project(migrated, client, warranty_end=date(2027, 6, 30))
        await send(migrated, *three_leaks(clock))

        async def raised() -> list:
            return await remediations(client)

        [item] = await eventually(raised, until=lambda items: len(items) == 1)
        # a fourth leak elsewhere while the remediation is still open: counted on it, not a new one
        fourth = feedback("3号楼2单元801阳台漏水", at=clock.now + timedelta(days=1))
        await send(migrated, fourth)
        order = await work_order_of(client, (await case_of(client, fourth))["case_id"])
        assert order["remediation_id"] == item["remediation_id"]
        [again] = await eventually(raised, until=lambda items: items and items[0]["occurrences"] == 4)
        assert again["remediation_id"] == item["remediation_id"]
        detail = (await client.get(f"/api/v1/remediations/{item['remediation_id']}")).json()
        assert order["work_order_id"] in detail["work_order_ids"] and len(detail["work_order_ids"]) == 4
        assert [s["step"] for s in detail["steps"]] == ["raise", "add_occurrence"]
        # the work order is still the aggregate it was: a step on it with its version works
        assign = await client.post(f"/api/v1/work-orders/{order['work_order_id']}/assignment",
                                   json={"actor": "site-01", "assignee": "team-3"})
        assert assign.status_code == 200, assign.text


async def test_a_complaint_reclassified_to_class_2_gets_a_work_order_and_loses_it_when_reclassified_back(
        migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 9, 0, tzinfo=CN))
    async with routing(migrated, clock) as client:
        complaint = feedback("客服推诿，说漏水不归他们管", kind="complaint", unit="3-1-702", at=clock.now)
        await send(migrated, complaint)
        case = await case_of(client, complaint)
        assert case["complaint_class"] == 1
        assert (await client.get("/api/v1/work-orders", params={"case_id": case["case_id"]})).json() == []

        body = {"actor": "qa-01", "category": "product_quality", "complaint_class": 2, "valid": True,
                "reason": "实为卫生间渗漏，属房屋质量"}
        assert (await client.post(f"/api/v1/cases/{case['case_id']}/reclassify", json=body)).status_code == 200
        order = await work_order_of(client, case["case_id"])
        assert (order["origin"], order["defect_kind"], order["state"]) == ("complaint", "leak", "opened")

        back = {**body, "category": "service_attitude", "complaint_class": 1, "reason": "复核：投诉的是答复态度"}
        assert (await client.post(f"/api/v1/cases/{case['case_id']}/reclassify", json=back)).status_code == 200

        async def state() -> str:
            return (await client.get(f"/api/v1/work-orders/{order['work_order_id']}")).json()["state"]

        assert await eventually(state, until=lambda s: s == "cancelled") == "cancelled"
        assert (await client.get("/api/v1/work-orders", params={"case_id": case["case_id"]})).json() == []
