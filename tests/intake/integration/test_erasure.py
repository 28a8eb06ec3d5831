"""An erasure request anonymises the person in intake and every other service honours it."""

from __future__ import annotations

import json

import asyncpg
import pytest

from services.intake.app import create_app as intake_app
from services.routing.app import create_app as routing_app
from shared.settings import Settings
from shared.testing.services import eventually, read_topic, running_service
from shared.topics import CUSTOMER_ERASED

pytestmark = pytest.mark.integration

ORG = {"group": "hx", "subsidiary": "east", "project": "lakeside"}


async def fetch(settings: Settings, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(settings.db.admin_url)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def test_erasure_scrubs_intake_and_routing_forgets_the_person(migrated: Settings) -> None:
    async with running_service(intake_app(migrated)) as intake, running_service(routing_app(migrated)) as routing:
        posted = await intake.post("/api/v1/feedback", json={
            "kind": "complaint", "channel": "phone", "received_by": "cs-1", "org": ORG,
            "text": "王小明反映：卫生间漏水，请回电 138 0013 8000 或发邮件 wxm@example.com",
            "contact": {"name": "王小明", "phone": "13800138000", "email": "wxm@example.com"},
        })
        assert posted.status_code == 201, posted.text
        feedback = (await intake.get(f"/api/v1/feedback/{posted.json()['feedback_id']}")).json()
        customer_id = feedback["customer_id"]
        assert customer_id is not None

        async def routed() -> list:
            return (await routing.get("/api/v1/cases", params={"feedback_id": feedback["feedback_id"]})).json()

        await eventually(routed, until=lambda cases: len(cases) == 1)
        [row] = await fetch(migrated, "SELECT customer_id FROM routing.cases")
        assert str(row["customer_id"]) == customer_id

        erased = await intake.post(f"/api/v1/customers/{customer_id}/erasure", json={})
        assert erased.status_code == 200 and erased.json()["feedback_scrubbed"] == 1
        again = await intake.post(f"/api/v1/customers/{customer_id}/erasure", json={})
        assert again.json()["already_erased"] is True

        assert (await intake.get(f"/api/v1/customers/{customer_id}")).status_code == 404
        [stored] = await fetch(migrated, "SELECT name, company, phones, emails, erased_at FROM intake.customers")
        assert (stored["name"], stored["company"], stored["phones"], stored["emails"]) == (None, None, [], [])
        assert stored["erased_at"] is not None
        text = (await intake.get(f"/api/v1/feedback/{feedback['feedback_id']}")).json()["text"]
        assert "王小明" not in text and "138" not in text and "wxm@" not in text
        assert "卫生间漏水" in text  # what happened stays on record

        async def still_linked() -> int:
            return len(await fetch(migrated, "SELECT 1 FROM routing.cases WHERE customer_id IS NOT NULL"))

        assert await eventually(still_linked, until=lambda n: n == 0) == 0
        erasures = await read_topic(migrated, CUSTOMER_ERASED, until=lambda r: len(r) >= 1)
    [event] = [json.loads(r.value) for r in erasures]
    assert event["data"]["customer_id"] == customer_id
    assert "13800138000" not in json.dumps(event) and "王小明" not in json.dumps(event, ensure_ascii=False)
