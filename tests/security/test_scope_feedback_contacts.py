"""Issue 20 items 1–2 on the feedback path: contact details on a piece of feedback that match
another subsidiary's customer must not pull that customer into the caller's reach (by adding the
caller's project or unit to it, or a name or phone), whether a clerk records it or another system
sends it. The feedback itself is recorded: the information is never lost."""

from __future__ import annotations

import json

import asyncpg
import pytest

from services.intake.app import create_app
from shared.settings import Settings
from shared.testing.services import eventually, publish_raw, read_topic, running_service
from shared.topics import FEEDBACK_RECEIVED, INBOUND_FEEDBACK
from tests.security._scope import CS_EAST, CS_SOUTH, EAST, ok, two_subsidiaries

pytestmark = pytest.mark.integration


async def stored(settings: Settings, customer_id: str) -> tuple:
    conn = await asyncpg.connect(settings.db.admin_url)
    try:
        row = await conn.fetchrow("SELECT name, phones, project_ids, unit_ids, revision FROM intake.customers "
                                  "WHERE id = $1::uuid", customer_id)
        return (row["name"], list(row["phones"]), list(row["project_ids"]), list(row["unit_ids"]), row["revision"])
    finally:
        await conn.close()


async def test_a_clerk_cannot_reach_another_subsidiarys_customer_by_recording_feedback_with_its_phone(
    migrated: Settings,
) -> None:
    async with running_service(create_app(migrated)) as intake:
        await two_subsidiaries(intake)
        south = await ok(await intake.post("/api/v1/customers", headers=CS_SOUTH, json={
            "name": "李四", "phones": ["13900001111"], "project_ids": ["BAY-01"]}), 201)
        customer = f"/api/v1/customers/{south['customer_id']}"
        before = await stored(migrated, south["customer_id"])
        assert before[:3] == ("李四", ["+8613900001111"], ["BAY-01"])

        # east's clerk records a call in their own project, giving south's customer's phone
        call = {"kind": "complaint", "channel": "phone", "text": "楼道灯坏了", "received_by": "cs-east",
                "org": EAST, "project_id": "LS-01", "contact": {"name": "张三", "phone": "139 0000 1111"}}
        accepted = await ok(await intake.post("/api/v1/feedback", json=call, headers=CS_EAST), 201)

        # recorded, but south's customer gained nothing and stays out of east's reach
        assert await stored(migrated, south["customer_id"]) == before
        assert (await intake.get(customer, headers=CS_EAST)).status_code == 404
        assert await ok(await intake.post("/api/v1/customers/lookup", json={"phone": "13900001111"},
                                          headers=CS_EAST)) == []
        assert (await intake.post(f"{customer}/erasure", json={}, headers=CS_EAST)).status_code == 404
        assert (await ok(await intake.get(customer, headers=CS_SOUTH)))["name"] == "李四"
        record = await ok(await intake.get(f"/api/v1/feedback/{accepted['feedback_id']}"))
        assert record["text"] == "楼道灯坏了"

        # south's own clerk recording the same phone in south's project still links as before
        mine = {**call, "org": {"group": "hx", "subsidiary": "south", "project": "bay"}, "project_id": "BAY-01",
                "received_by": "cs-south", "contact": {"phone": "13900001111"}, "text": "2栋电梯异响"}
        linked = await ok(await intake.post("/api/v1/feedback", json=mine, headers=CS_SOUTH), 201)
        assert (await ok(await intake.get(f"/api/v1/feedback/{linked['feedback_id']}")))["customer_id"] == \
            south["customer_id"]


async def test_another_systems_record_cannot_pull_a_customer_into_a_foreign_subsidiary(migrated: Settings) -> None:
    async with running_service(create_app(migrated)) as intake:
        await two_subsidiaries(intake)
        south = await ok(await intake.post("/api/v1/customers", headers=CS_SOUTH, json={
            "name": "李四", "phones": ["13900002222"], "project_ids": ["BAY-01"]}), 201)
        before = await stored(migrated, south["customer_id"])
        record = {"source_system": "callcentre", "external_id": "CC-77", "kind": "repair_request",
                  "channel": "phone", "text": "来电报修 CC-77", "org": EAST, "project_id": "LS-01",
                  "contact": {"name": "张三", "phone": "13900002222"}}
        await publish_raw(migrated, INBOUND_FEEDBACK, json.dumps(record, ensure_ascii=False).encode())
        received = await read_topic(migrated, FEEDBACK_RECEIVED, until=lambda r: any(b"CC-77" in x.value for x in r))
        assert len(received) == 1
        # the record was taken in; the foreign customer was left as it was
        await eventually(lambda: stored(migrated, south["customer_id"]), until=lambda now: now == before, timeout=10)
        assert (await intake.get(f"/api/v1/customers/{south['customer_id']}", headers=CS_EAST)).status_code == 404
