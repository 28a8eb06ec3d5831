"""Issue 20 item 2: a customer with no project belongs to the org unit that registered it, and
reads, changes and erasure apply that scope."""

from __future__ import annotations

import asyncpg
import pytest

from services.intake.app import create_app
from shared.settings import Settings
from shared.testing.services import running_service
from tests.security._scope import CS_EAST, CS_SOUTH, ok, two_subsidiaries

pytestmark = pytest.mark.integration


async def stored_org(settings: Settings, customer_id: str) -> str | None:
    conn = await asyncpg.connect(settings.db.admin_url)
    try:
        return await conn.fetchval("SELECT org_path FROM intake.customers WHERE id = $1::uuid", customer_id)
    finally:
        await conn.close()


async def test_a_customer_without_a_project_is_only_reachable_from_the_unit_that_registered_it(
    migrated: Settings,
) -> None:
    async with running_service(create_app(migrated)) as intake:
        await two_subsidiaries(intake)
        # registered by south's customer service, no project, no org given: theirs
        south = await ok(await intake.post("/api/v1/customers", json={"name": "李四", "phones": ["13900001111"]},
                                           headers=CS_SOUTH), 201)
        customer = f"/api/v1/customers/{south['customer_id']}"
        assert (await ok(await intake.get(customer, headers=CS_SOUTH)))["name"] == "李四"

        assert (await intake.get(customer, headers=CS_EAST)).status_code == 404
        found = await ok(await intake.post("/api/v1/customers/lookup", json={"phone": "13900001111"},
                                           headers=CS_EAST))
        assert found == []
        change = {"name": "改掉", "phones": ["13900001111"], "expected_revision": 1}
        assert (await intake.put(customer, json=change, headers=CS_EAST)).status_code == 404
        assert (await intake.post(f"{customer}/erasure", json={}, headers=CS_EAST)).status_code == 404
        after = await ok(await intake.get(customer, headers=CS_SOUTH))
        assert (after["name"], after["revision"]) == ("李四", 1)
        assert await stored_org(migrated, south["customer_id"]) == "hx/south"

        # one cannot register a customer into another's unit, nor pull one in through a project
        elsewhere = await intake.post("/api/v1/customers", headers=CS_EAST, json={
            "name": "王五", "phones": ["13900003333"], "org": {"group": "hx", "subsidiary": "south"}})
        assert elsewhere.status_code == 403 and elsewhere.json()["error"] == "out_of_scope"
        linked = await intake.post("/api/v1/customers", headers=CS_EAST, json={
            "name": "王五", "phones": ["13900003333"], "project_ids": ["BAY-01"]})
        assert linked.status_code == 422
        assert linked.json()["fields"] == [{"field": "project_ids.0", "reason": "项目 BAY-01 不在你的组织范围内"}]


async def test_a_first_contact_recorded_with_feedback_belongs_to_the_feedbacks_org(migrated: Settings) -> None:
    async with running_service(create_app(migrated)) as intake:
        await two_subsidiaries(intake)
        # south records a call from someone not placed in any registered project yet
        feedback = {"kind": "inquiry", "channel": "phone", "text": "咨询交房时间", "received_by": "cs-south",
                    "org": {"group": "hx", "subsidiary": "south"}, "contact": {"name": "赵六", "phone": "13900004444"}}
        accepted = await ok(await intake.post("/api/v1/feedback", json=feedback, headers=CS_SOUTH), 201)
        record = await ok(await intake.get(f"/api/v1/feedback/{accepted['feedback_id']}"))
        assert (await intake.get(f"/api/v1/customers/{record['customer_id']}", headers=CS_EAST)).status_code == 404
        await ok(await intake.get(f"/api/v1/customers/{record['customer_id']}", headers=CS_SOUTH))
        assert await stored_org(migrated, record["customer_id"]) == "hx/south"
