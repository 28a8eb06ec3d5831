"""Org-unit scoping on the real stack: a subsidiary's handler cannot see or change another
subsidiary's case — not in a list, not by id, not by acting on it, not through a report.

Routing and reporting run together on the real broker and PostgreSQL; two complaints arrive, one in
hx/east and one in hx/south.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from services.reporting.app import create_app as reporting_app
from services.routing.app import create_app as routing_app
from shared.auth import Role
from shared.clock import month_of
from shared.events import FeedbackReceived, FeedbackReceivedData, OrgPath
from shared.settings import Settings
from shared.testing.auth import bearer
from shared.testing.services import eventually, publish_raw, running_service
from shared.topics import FEEDBACK_RECEIVED

pytestmark = pytest.mark.integration

EAST = OrgPath(group="hx", subsidiary="east", project="lakeside")
SOUTH = OrgPath(group="hx", subsidiary="south", project="hillview")
EAST_HANDLER = bearer("handler-east", roles=[Role.HANDLER], orgs=["hx/east"])
SOUTH_HANDLER = bearer("handler-south", roles=[Role.HANDLER], orgs=["hx/south"])
LAKESIDE_HANDLER = bearer("handler-lakeside", roles=[Role.HANDLER], orgs=["hx/east/lakeside"])
QUALITY = bearer("quality", roles=[Role.QUALITY], orgs=["hx"])


def complaint(org: OrgPath, text: str) -> FeedbackReceived:
    now = datetime.now(UTC)
    data = FeedbackReceivedData(feedback_id=uuid.uuid4(), kind="complaint", channel="phone", text=text,
                                received_at=now, received_by="cs-0001", project_id=org.project)
    return FeedbackReceived.create(data=data, org=org, aggregate_id=data.feedback_id, occurred_at=now,
                                   producer="intake")


@contextlib.asynccontextmanager
async def stack(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with contextlib.AsyncExitStack() as exits:
        routing = await exits.enter_async_context(running_service(routing_app(settings)))
        reporting = await exits.enter_async_context(running_service(reporting_app(settings)))
        yield routing, reporting


async def test_a_subsidiarys_handler_cannot_see_or_change_another_subsidiarys_case(migrated: Settings) -> None:
    async with stack(migrated) as (routing, reporting):
        east, south = complaint(EAST, "外墙出现裂缝，担心质量问题"), complaint(SOUTH, "卫生间漏水，天花板有水渍")
        for event in (east, south):
            await publish_raw(migrated, FEEDBACK_RECEIVED, event.to_json(), key=event.key)
        everything = await eventually(lambda: routing.get("/api/v1/cases"), until=lambda r: len(r.json()) == 2)
        by_org = {c["org_path"]: c for c in everything.json()}
        east_case, south_case = by_org["hx/east/lakeside"], by_org["hx/south/hillview"]

        # by list: each handler sees their own subsidiary's case only; the group's quality dept both
        async def listed(headers: dict[str, str], path: str = "/api/v1/cases") -> set[str]:
            response = await routing.get(path, headers=headers)
            assert response.status_code == 200, response.text
            return {c["case_id"] for c in response.json()}

        assert await listed(EAST_HANDLER) == {east_case["case_id"]}
        assert await listed(SOUTH_HANDLER) == {south_case["case_id"]}
        assert await listed(LAKESIDE_HANDLER) == {east_case["case_id"]}
        assert await listed(QUALITY) == {east_case["case_id"], south_case["case_id"]}
        feedback_filter = f"/api/v1/cases?feedback_id={south.data.feedback_id}"
        assert await listed(EAST_HANDLER, feedback_filter) == set()

        # by id: another subsidiary's case does not exist for them
        south_url = f"/api/v1/cases/{south_case['case_id']}"
        assert (await routing.get(south_url, headers=EAST_HANDLER)).status_code == 404
        assert (await routing.get(south_url, headers=SOUTH_HANDLER)).status_code == 200

        # by acting on it: refused as unknown, and nothing changed
        step = {"actor": "handler-east", "note": "我们来处理"}
        refused = await routing.post(f"{south_url}/measures", json=step, headers=EAST_HANDLER)
        assert refused.status_code == 404, refused.text
        assert (await routing.get(south_url)).json()["version"] == south_case["version"]
        assert (await routing.post(f"{south_url}/escalate", json={"actor": "handler-east", "to": "quality",
                                                                   "reason": "x"},
                                   headers=EAST_HANDLER)).status_code == 404
        own = await routing.post(f"/api/v1/cases/{east_case['case_id']}/acknowledge",
                                 json={"actor": "handler-east"}, headers=EAST_HANDLER)
        assert own.status_code == 200, own.text  # inside their scope the lifecycle decides

        # routing's audit trail: the step that happened, by whom; nothing for the refused ones
        admin = await asyncpg.connect((migrated.db.admin_url or "").replace("postgresql+asyncpg://", "postgresql://"))
        try:
            audit = await admin.fetch("SELECT actor, action, resource FROM routing.audit_log ORDER BY id")
        finally:
            await admin.close()
        assert [(r["actor"], r["action"], r["resource"]) for r in audit] == [
            ("handler-east", "POST /api/v1/cases/{case_id}/acknowledge", f"case_id={east_case['case_id']}")]

        # by report: the figures roll up only over what the caller may see
        period = {"period": month_of(datetime.now(UTC))}
        counts = "/api/v1/reports/complaint-counts"
        await eventually(lambda: reporting.get(counts, params={**period, "org": "hx"}),
                         until=lambda r: r.json()["total"] == 2)
        mine = await reporting.get(counts, params={**period, "org": "hx/east"}, headers=EAST_HANDLER)
        assert mine.status_code == 200 and mine.json()["total"] == 1
        for org in ("hx/south", "hx/south/hillview", "hx", "other"):
            response = await reporting.get(counts, params={**period, "org": org}, headers=EAST_HANDLER)
            assert response.status_code == 403, org
            assert response.json()["error"] == "out_of_scope"
        open_cases = await reporting.get("/api/v1/reports/open-cases", params={"org": "hx/south"},
                                         headers=EAST_HANDLER)
        assert open_cases.status_code == 403
        orgs = await reporting.get("/api/v1/reports/org-paths", params=period, headers=EAST_HANDLER)
        assert orgs.json()["orgs"] == ["hx/east", "hx/east/lakeside"]
        group_orgs = await reporting.get("/api/v1/reports/org-paths", params=period, headers=QUALITY)
        assert "hx/south/hillview" in group_orgs.json()["orgs"] and "hx" in group_orgs.json()["orgs"]
        # an executive of the group reads the group's figures; a role without reports gets 403
        site = bearer("site-1", roles=[Role.SITE_TEAM], orgs=["hx"])
        assert (await reporting.get(counts, params={**period, "org": "hx"}, headers=site)).status_code == 403
