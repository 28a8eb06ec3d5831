"""Issue 20 item 12: feedback whose org path and project disagree is refused; inbound records for
an org unit that is not registered are dead-lettered with the reason."""

from __future__ import annotations

import json

import pytest

from services.intake.app import create_app
from shared.settings import Settings
from shared.testing.services import publish_raw, read_topic, running_service
from shared.topics import FEEDBACK_RECEIVED, INBOUND_FEEDBACK
from tests.security._scope import EAST, ok, two_subsidiaries

pytestmark = pytest.mark.integration


def feedback(text: str, **overrides: object) -> dict:
    return {"kind": "complaint", "channel": "phone", "text": text, "received_by": "cs-1", "org": EAST,
            **overrides}


async def test_feedback_for_a_project_of_another_subsidiary_is_refused(migrated: Settings) -> None:
    async with running_service(create_app(migrated)) as intake:
        await two_subsidiaries(intake)
        refused = await intake.post("/api/v1/feedback", json=feedback("3栋漏水", project_id="BAY-01"))
        assert refused.status_code == 422, refused.text
        assert refused.json()["fields"] == [
            {"field": "project_id", "reason": "项目 BAY-01 登记在 hx/south/bay，不属于 hx/east/lakeside"}]
        # the subsidiary above the project agrees with it, and so does the project's own unit
        await ok(await intake.post("/api/v1/feedback", json=feedback(
            "2栋漏水", project_id="BAY-01", org={"group": "hx", "subsidiary": "south"})), 201)
        await ok(await intake.post("/api/v1/feedback", json=feedback("1栋漏水", project_id="LS-01")), 201)


async def test_inbound_records_for_unregistered_or_disagreeing_orgs_are_dead_lettered(migrated: Settings) -> None:
    def inbound(external_id: str, **overrides: object) -> bytes:
        message = {"source_system": "callcentre", "external_id": external_id, "kind": "repair_request",
                   "channel": "phone", "text": f"来电报修 {external_id}", "org": EAST, **overrides}
        return json.dumps(message, ensure_ascii=False).encode()

    async with running_service(create_app(migrated)) as intake:
        await two_subsidiaries(intake)
        await publish_raw(migrated, INBOUND_FEEDBACK, inbound(
            "CC-1", org={"group": "hx", "subsidiary": "west", "project": "hill"}))
        await publish_raw(migrated, INBOUND_FEEDBACK, inbound("CC-2", project_id="BAY-01"))
        await publish_raw(migrated, INBOUND_FEEDBACK, inbound("CC-3", project_id="LS-01"))
        records = await read_topic(migrated, FEEDBACK_RECEIVED,
                                   until=lambda r: any(b"CC-3" in x.value for x in r))
        dead = await read_topic(migrated, f"{INBOUND_FEEDBACK}.dlq", until=lambda r: len(r) >= 2)
    assert [json.loads(r.value)["data"]["external_id"] for r in records] == ["CC-3"]
    reasons = {json.loads(r.value)["external_id"]: dict((k, v.decode()) for k, v in r.headers) for r in dead}
    assert sorted(reasons) == ["CC-1", "CC-2"]
    assert "org unit hx/west/hill is not registered" in reasons["CC-1"]["x-dlq-reason"]
    assert "project BAY-01 is registered under hx/south/bay, not under hx/east/lakeside" in reasons["CC-2"]["x-dlq-reason"]
