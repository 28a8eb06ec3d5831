"""The complaint list (客诉清单) end to end on the real broker and PostgreSQL: a valid complaint walked
through routing's HTTP API to its close (refused until its corrective action is recorded and verified
effective), published by the quality department, and its row in reporting's list and XLSX; the same
rows after every event is delivered again and after a rebuild from the topics."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from openpyxl import load_workbook

from services.reporting.app import create_app as reporting_app
from services.reporting.rebuild import rebuild
from services.routing.app import create_app as routing_app
from services.routing.config import RoutingSettings
from shared.auth.principal import Role
from shared.events import FeedbackReceived, FeedbackReceivedData, OrgPath
from shared.settings import Settings
from shared.testing.auth import bearer
from shared.testing.services import eventually, publish_raw, read_topic, running_service
from shared.topics import (
    CASE_TRANSITIONED,
    COMPLAINT_PUBLISHED,
    CORRECTIVE_ACTION_RECORDED,
    FEEDBACK_RECEIVED,
)

pytestmark = pytest.mark.integration

CN = ZoneInfo("Asia/Shanghai")
ORG = OrgPath(group="hx", subsidiary="east", project="lakeside")
HANDLER = bearer("handler-lakeside", roles=[Role.HANDLER])


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def at(self, hour: int, minute: int = 0) -> None:
        self.now = datetime(2026, 6, 1, hour, minute, tzinfo=CN)  # a Monday


def feedback(text: str, received_at: datetime) -> FeedbackReceived:
    data = FeedbackReceivedData(feedback_id=uuid.uuid4(), kind="complaint", channel="phone", text=text,
                                received_at=received_at, received_by="cs-0001", project_id="lakeside")
    return FeedbackReceived.create(data=data, org=ORG, aggregate_id=data.feedback_id, occurred_at=received_at,
                                   producer="intake")


@contextlib.asynccontextmanager
async def services(settings: Settings, clock: FakeClock) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    routing_settings = RoutingSettings(**{**dict(settings), "deadline_scan_interval_s": 0.1})
    async with running_service(routing_app(routing_settings, clock=clock)) as routing, \
            running_service(reporting_app(settings, clock=clock)) as reporting:
        yield routing, reporting


async def complaint_list_rows(settings: Settings) -> str:
    conn = await asyncpg.connect(settings.db.admin_url)
    try:
        rows = await conn.fetch("SELECT * FROM reporting.complaint_list_facts ORDER BY case_id")
        return json.dumps([dict(r) for r in rows], default=str, sort_keys=True)
    finally:
        await conn.close()


async def test_a_valid_complaint_closes_after_its_verified_corrective_action_and_is_on_the_complaint_list(
        migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 9, 0, tzinfo=CN))
    attitude = feedback("客服人员态度恶劣，电话里推诿不管", clock.now)
    leak = feedback("3栋2单元1201卫生间漏水，楼下天花板渗水，已经向媒体反映", datetime(2026, 6, 1, 9, 5, tzinfo=CN))
    async with services(migrated, clock) as (routing, reporting):
        for event in (attitude, leak):
            await publish_raw(migrated, FEEDBACK_RECEIVED, event.to_json(), key=event.key)

        async def case_of(event: FeedbackReceived) -> dict:
            async def find() -> list:
                return (await routing.get("/api/v1/cases", params={"feedback_id": str(event.data.feedback_id)})).json()

            [case] = await eventually(find, until=lambda cases: len(cases) == 1 and cases[0]["state"] == "assigned")
            return case

        case, leak_case = await case_of(attitude), await case_of(leak)
        cid = case["case_id"]
        assert (case["complaint_class"], case["valid"], case["lead_department"]) == (1, True, "customer_service")

        async def post(path: str, status: int = 200, headers: dict | None = None, **body: Any) -> dict:
            response = await routing.post(f"/api/v1/cases/{cid}/{path}", json={"actor": "h-1", **body},
                                          headers=headers)
            assert response.status_code == status, (path, response.text)
            return response.json()

        # first response at 10:00 (due Tue 09:30), measures at 11:00 (due Tue 09:00), result the same day
        for hour, step, body in [(10, "acknowledge", {}), (11, "measures", {"note": "对当班客服进行批评教育"}),
                                 (14, "resolve", {"note": "客服主管致电致歉"}), (15, "deliver-result", {})]:
            clock.at(hour)
            await post(step, **body)
        clock.at(15, 10)
        await post("customer-acceptance", accepted=True)

        clock.at(15, 20)
        refused = await post("close", 409)
        assert refused["state"] == "accepted"
        assert "有效投诉须由责任部门记录纠正措施" in refused["reason"]

        # the department records an action; only quality verifies it, and only quality waives
        clock.at(15, 30)
        first = await post("corrective-actions", 201, department="customer_service", description="对当班客服进行培训")
        verify_first = f"corrective-actions/{first['action_id']}/verification"
        await post(verify_first, 403, headers=HANDLER, effective=True)
        await post("corrective-action-waiver", 403, headers=HANDLER, reason="个别现象")
        assert "尚未经品质管理部验证效果" in (await post("close", 409))["reason"]

        clock.at(16)
        verdict = await post(verify_first, actor="q-1", effective=False, note="一周内同类投诉再次发生")
        assert (verdict["effective"], verdict["verified_by"]) == (False, "q-1")
        again = await post(verify_first, 409, actor="q-1", effective=True)
        assert again["error"] == "refused" and "只记录一次" in again["reason"]
        assert "重新制定纠正措施" in (await post("close", 409))["reason"]

        clock.at(16, 30)
        second = await post("corrective-actions", 201, department="customer_service",
                            description="修订客服接听规范，每周抽查录音")
        clock.at(17)
        await post(f"corrective-actions/{second['action_id']}/verification", actor="q-1", effective=True)
        waiver = await post("corrective-action-waiver", 409, actor="q-1", reason="不需要")
        assert "已记录纠正措施" in waiver["reason"]
        clock.at(17, 10)
        closed = await post("close")
        assert (closed["state"], closed["corrective_action_status"]) == ("closed", "effective")
        assert [a["effective"] for a in closed["corrective_actions"]] == [False, True]

        # quality publishes it as representative (it is not an important complaint), once
        clock.at(17, 20)
        not_important = await post("publication", 409, actor="q-1", basis="important", summary="客服态度问题")
        assert "未认定为重要投诉" in not_important["reason"]
        published = await post("publication", 201, actor="q-1", basis="representative",
                               summary="客服接听推诿，客户（13800138000）投诉；已修订接听规范")
        assert published["publication"]["summary"] == "客服接听推诿，客户（[电话]）投诉；已修订接听规范"
        assert "只发布一次" in (await post("publication", 409, actor="q-1", basis="representative",
                                           summary="再发一次"))["reason"]
        [event] = [json.loads(r.value) for r in await read_topic(migrated, COMPLAINT_PUBLISHED,
                                                                 until=lambda r: len(r) >= 1)]
        assert event["data"]["basis"] == "representative" and "13800138000" not in json.dumps(event)

        async def listed(**filters: Any) -> dict:
            r = await reporting.get("/api/v1/reports/complaint-list", params={"period": "2026-06", "org": "hx",
                                                                               **filters})
            assert r.status_code == 200, r.text
            return r.json()

        def settled(view: dict) -> bool:
            rows = {x["case_id"]: x for x in view["complaints"]}
            row = rows.get(cid)
            return (len(rows) == 2 and row is not None and row["state"] == "closed" and row["published"]
                    and row["corrective_actions"] == 2 and row["corrective_action_status"] == "effective"
                    and rows[leak_case["case_id"]]["state"] == "assigned")

        view = await eventually(listed, until=settled, timeout=60)
        assert [x["case_id"] for x in view["complaints"]] == [cid, leak_case["case_id"]]  # 09:00, then 09:05
        row, leak_row = view["complaints"]
        assert {k: row[k] for k in (
            "org", "complaint_class_name", "category_name", "validity_name", "important_name",
            "lead_department_name", "state_name", "deadlines", "deadlines_summary_name",
            "corrective_action_status_name", "corrective_department_name", "corrective_description",
            "corrective_actions", "verification_name", "customer_acceptance_name", "acceptance_rejections",
            "return_visit_name", "publication_name")} == {
            "org": "hx/east/lakeside", "complaint_class_name": "一类投诉", "category_name": "服务态度",
            "validity_name": "有效投诉", "important_name": "否", "lead_department_name": "客户服务部",
            "state_name": "已关闭",
            "deadlines": {"first_response": "on_time", "measures_report": "on_time", "result_delivery": "on_time"},
            "deadlines_summary_name": "全部按时", "corrective_action_status_name": "验证有效",
            "corrective_department_name": "客户服务部", "corrective_description": "修订客服接听规范，每周抽查录音",
            "corrective_actions": 2, "verification_name": "有效", "customer_acceptance_name": "客户认可",
            "acceptance_rejections": 0, "return_visit_name": "未回访", "publication_name": "代表性投诉",
        }
        assert datetime.fromisoformat(row["corrective_verified_at"]) == datetime(2026, 6, 1, 17, 0, tzinfo=CN)
        assert datetime.fromisoformat(row["closed_at"]) == datetime(2026, 6, 1, 17, 10, tzinfo=CN)
        # the leak: class 2, important, nothing done yet (Monday; its deadlines fall due on Tuesday)
        assert {k: leak_row[k] for k in (
            "complaint_class_name", "validity_name", "important_name", "lead_department_name", "state_name",
            "deadlines_summary_name", "corrective_action_status_name", "verification_name",
            "customer_acceptance_name", "return_visit_name", "publication_name")} == {
            "complaint_class_name": "二类投诉", "validity_name": "不适用", "important_name": "是",
            "lead_department_name": "工程质量部", "state_name": "已分派", "deadlines_summary_name": "进行中，未超时",
            "corrective_action_status_name": "未记录纠正措施", "verification_name": "",
            "customer_acceptance_name": "尚未确认", "return_visit_name": "须回访，尚未完成", "publication_name": "未发布",
        }
        assert set(leak_row["deadlines"].values()) == {"pending"}

        # the filters
        assert [x["case_id"] for x in (await listed(complaint_class=1))["complaints"]] == [cid]
        assert [x["case_id"] for x in (await listed(state="closed"))["complaints"]] == [cid]
        assert [x["case_id"] for x in (await listed(department="engineering_quality"))["complaints"]] == [
            leak_case["case_id"]]
        assert (await listed(category="price"))["count"] == 0
        assert (await listed(org="hx/south"))["count"] == 0
        bad = await reporting.get("/api/v1/reports/complaint-list",
                                  params={"period": "2026-06", "org": "hx", "category": "leaks"})
        assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "category"

        # the XLSX: Chinese headers, Chinese words, Beijing times
        xlsx = await reporting.get("/api/v1/reports/complaint-list",
                                   params={"period": "2026-06", "org": "hx", "format": "xlsx"})
        assert xlsx.status_code == 200
        book = load_workbook(io.BytesIO(xlsx.content))
        assert book.sheetnames == ["客诉清单", "筛选条件"]
        sheet = list(book["客诉清单"].iter_rows(values_only=True))
        header, cells = sheet[0], [dict(zip(sheet[0], r, strict=True)) for r in sheet[1:]]
        deadline_headers = [h for h in header if h.endswith(("时限", "期限"))]
        assert deadline_headers[:4] == ["首次响应时限", "疑难投诉上报时限", "处理措施上报时限", "结果反馈时限"]
        # no English in the headers (a deadline kind's header is its label's, see labels.json)
        assert all(not any(ch.isascii() and ch.isalpha() for ch in h) for h in header if h not in deadline_headers)
        assert len(cells) == 2 and cells[0]["案件编号"] == cid
        assert {k: cells[0][k] for k in ("单位", "受理时间（北京时间）", "投诉类别", "有效性", "首次响应时限",
                                         "疑难投诉上报时限", "时限达成", "纠正措施状态", "纠正措施", "纠正措施次数",
                                         "效果验证", "验证时间", "顾客认可", "回访", "发布", "发布时间",
                                         "关闭时间")} == {
            "单位": "hx/east/lakeside", "受理时间（北京时间）": datetime(2026, 6, 1, 9, 0), "投诉类别": "一类投诉",
            "有效性": "有效投诉", "首次响应时限": "按时完成", "疑难投诉上报时限": "不适用", "时限达成": "全部按时",
            "纠正措施状态": "验证有效", "纠正措施": "修订客服接听规范，每周抽查录音", "纠正措施次数": 2,
            "效果验证": "有效", "验证时间": datetime(2026, 6, 1, 17, 0), "顾客认可": "客户认可", "回访": "未回访",
            "发布": "代表性投诉", "发布时间": datetime(2026, 6, 1, 17, 20), "关闭时间": datetime(2026, 6, 1, 17, 10),
        }
        assert (cells[1]["效果验证"], cells[1]["回访"], cells[1]["重要投诉"]) == ("未验证", "须回访，尚未完成", "是")
        values = [v for r in sheet for v in r] + [v for r in book["筛选条件"].iter_rows(values_only=True) for v in r]
        assert not any(isinstance(v, bool) or v in ("TRUE", "FALSE", "True", "False") for v in values)
        assert not {"closed", "assigned", "effective", "service_attitude", "customer_service"} & set(values)
        text = json.dumps(view, ensure_ascii=False) + repr(values)
        # no staff, no customer, no text of the feedback
        for personal in ("h-1", "q-1", "cs-0001", "13800138000", "1201", "推诿不管"):
            assert personal not in text, personal

        # every event again: nothing changes
        live = await complaint_list_rows(migrated)
        for topic in (CORRECTIVE_ACTION_RECORDED, COMPLAINT_PUBLISHED, CASE_TRANSITIONED):
            for record in await read_topic(migrated, topic, until=lambda r: len(r) >= 1):
                await publish_raw(migrated, topic, record.value, key=record.key)
        sentinel = feedback("物业收费价格不透明，多收了费用", datetime(2026, 6, 1, 9, 10, tzinfo=CN))
        await publish_raw(migrated, FEEDBACK_RECEIVED, sentinel.to_json(), key=sentinel.key)
        await eventually(listed, until=lambda v: v["count"] == 3, timeout=60)
        await asyncio.sleep(1)  # late duplicates must not change anything either
        redelivered = await complaint_list_rows(migrated)
        assert redelivered == live
        before_rebuild = await listed()

    await rebuild(migrated, confirm=True)  # a rebuild swaps only when confirmed
    assert await complaint_list_rows(migrated) == live
    async with running_service(reporting_app(migrated, clock=clock)) as reporting:
        r = await reporting.get("/api/v1/reports/complaint-list", params={"period": "2026-06", "org": "hx"})
        assert r.json() == before_rebuild
