"""The corrective-action gate's other ways through, on the real broker and PostgreSQL: the quality
department records that a valid complaint needs no corrective action (once), an action recorded
after that must still be verified, an important complaint is published as important; and what the
complaint list in reporting says of them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.reporting.app import create_app as reporting_app
from services.routing.app import create_app as routing_app
from services.routing.config import RoutingSettings
from shared.events import FeedbackReceived, FeedbackReceivedData, OrgPath
from shared.settings import Settings
from shared.testing.services import eventually, publish_raw, running_service
from shared.topics import FEEDBACK_RECEIVED

pytestmark = pytest.mark.integration

CN = ZoneInfo("Asia/Shanghai")
ORG = OrgPath(group="hx", subsidiary="east", project="lakeside")


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 9, 0, tzinfo=CN)

    def __call__(self) -> datetime:
        return self.now


def feedback(text: str, minute: int) -> FeedbackReceived:
    received_at = datetime(2026, 6, 1, 9, minute, tzinfo=CN)
    data = FeedbackReceivedData(feedback_id=uuid.uuid4(), kind="complaint", channel="phone", text=text,
                                received_at=received_at, received_by="cs-0001", project_id="lakeside")
    return FeedbackReceived.create(data=data, org=ORG, aggregate_id=data.feedback_id, occurred_at=received_at,
                                   producer="intake")


async def test_no_corrective_action_needed_an_action_after_it_and_an_important_publication(
        migrated: Settings) -> None:
    clock = FakeClock()
    attitude, price = feedback("客服人员态度恶劣，电话里推诿不管", 0), feedback("物业收费价格不透明，多收了费用", 1)
    leak = feedback("3栋2单元1201卫生间漏水，楼下天花板渗水，已经向媒体反映", 2)
    routing_settings = RoutingSettings(**{**dict(migrated), "deadline_scan_interval_s": 0.1})
    async with running_service(routing_app(routing_settings, clock=clock)) as routing, \
            running_service(reporting_app(migrated, clock=clock)) as reporting:
        for event in (attitude, price, leak):
            await publish_raw(migrated, FEEDBACK_RECEIVED, event.to_json(), key=event.key)

        async def case_of(event: FeedbackReceived) -> str:
            async def find() -> list:
                return (await routing.get("/api/v1/cases", params={"feedback_id": str(event.data.feedback_id)})).json()

            [case] = await eventually(find, until=lambda cases: len(cases) == 1 and cases[0]["state"] == "assigned")
            return str(case["case_id"])

        a, p, leak_id = await case_of(attitude), await case_of(price), await case_of(leak)

        async def post(case_id: str, path: str, status: int = 200, **body: Any) -> dict:
            response = await routing.post(f"/api/v1/cases/{case_id}/{path}", json={"actor": "q-1", **body})
            assert response.status_code == status, (path, response.text)
            return response.json()

        for case_id in (a, p):
            for step, body in [("acknowledge", {}), ("resolve", {"note": "已处理"}), ("deliver-result", {}),
                               ("customer-acceptance", {"accepted": True})]:
                await post(case_id, step, **body)

        # the attitude complaint: quality says none is needed, once; then it closes
        waived = await post(a, "corrective-action-waiver", 201, reason="系个别员工临时顶岗，已离岗，无需纠正措施")
        assert waived["corrective_action_status"] == "not_needed"
        assert waived["corrective_action_waiver"]["reason"] == "系个别员工临时顶岗，已离岗，无需纠正措施"
        assert "只记录一次" in (await post(a, "corrective-action-waiver", 409, reason="再记一次"))["reason"]
        assert (await post(a, "close"))["state"] == "closed"
        assert "已关闭" in (await post(a, "corrective-action-waiver", 409, reason="关闭后"))["reason"]

        # only the responsible department (lead or assisting) records a corrective action
        wrong = await post(p, "corrective-actions", 409, department="production", description="加强生产计划")
        assert "责任部门" in wrong["reason"]
        # the price complaint: waived, then the department records an action all the same: it is verified first
        await post(p, "corrective-action-waiver", 201, reason="收费标准理解差异")
        action = await post(p, "corrective-actions", 201, department="business", description="收费标准上墙公示")
        assert "尚未经品质管理部验证效果" in (await post(p, "close", 409))["reason"]
        await post(p, f"corrective-actions/{action['action_id']}/verification", effective=True)
        assert (await post(p, "close"))["corrective_action_status"] == "effective"

        # an important complaint may be published as important; a verification of an unknown action is 404
        published = await post(leak_id, "publication", 201, basis="important", summary="卫生间渗漏，已联系维修")
        assert published["publication"]["basis"] == "important"
        unknown = await routing.post(f"/api/v1/cases/{leak_id}/corrective-actions/{uuid.uuid4()}/verification",
                                     json={"actor": "q-1", "effective": True})
        assert unknown.status_code == 404
        bad = await routing.post(f"/api/v1/cases/{leak_id}/publication",
                                 json={"actor": "q-1", "basis": "famous", "summary": "x"})
        assert bad.status_code == 422

        async def listed() -> dict[str, dict]:
            r = await reporting.get("/api/v1/reports/complaint-list", params={"period": "2026-06", "org": "hx"})
            return {x["case_id"]: x for x in r.json()["complaints"]}

        rows = await eventually(listed, until=lambda rows: len(rows) == 3 and rows[a]["state"] == "closed"
                                and rows[p]["state"] == "closed" and rows[leak_id]["published"], timeout=60)
        assert (rows[a]["corrective_action_status_name"], rows[a]["corrective_actions"]) == (
            "无需纠正措施（品质管理部确认）", 0)
        assert (rows[p]["corrective_action_status_name"], rows[p]["verification_name"]) == ("验证有效", "有效")
        assert rows[leak_id]["publication_name"] == "重要投诉"
        # the waiver's reason and the publication's summary are quality's words: not in reporting
        text = str(rows)
        assert "顶岗" not in text and "理解差异" not in text and "已联系维修" not in text
