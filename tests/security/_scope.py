"""Shared ground for the scope tests: two subsidiaries of one group, a project in each, and callers
scoped to one of them with ordinary tokens (``shared.testing.auth``)."""

from __future__ import annotations

from typing import Any

import httpx

from shared.testing.auth import bearer

EAST = {"group": "hx", "subsidiary": "east", "project": "lakeside"}
SOUTH = {"group": "hx", "subsidiary": "south", "project": "bay"}
LAKESIDE = {"project_id": "LS-01", "org": EAST, "name": "湖畔花园", "stage": "construction", "buildings": ["1", "2"]}
BAY = {"project_id": "BAY-01", "org": SOUTH, "name": "海湾小区", "stage": "construction", "buildings": ["1", "2"]}

# Ordinary people's tokens: one role, one subsidiary.
CS_EAST = bearer("cs-east", roles=["customer_service"], orgs=["hx/east"])
CS_SOUTH = bearer("cs-south", roles=["customer_service"], orgs=["hx/south"])
ADMIN_EAST = bearer("admin-east", roles=["administrator"], orgs=["hx/east"])


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def two_subsidiaries(intake: httpx.AsyncClient) -> None:
    """Registered by the test operator (every role, every group)."""
    for unit in ({"path": "hx", "name": "华兴集团"}, {"path": "hx/east", "name": "华东公司"},
                 {"path": "hx/east/lakeside", "name": "湖畔管理处", "unit_type": "property_office"},
                 {"path": "hx/south", "name": "华南公司"},
                 {"path": "hx/south/bay", "name": "海湾项目部"}):
        await ok(await intake.post("/api/v1/org-units", json=unit), 201)
    await ok(await intake.post("/api/v1/projects", json=LAKESIDE), 201)
    await ok(await intake.post("/api/v1/projects", json=BAY), 201)


async def post_csv(intake: httpx.AsyncClient, kind: str, text: str, caller: dict[str, str], *,
                   dry_run: bool = False) -> httpx.Response:
    return await intake.post(f"/api/v1/imports/{kind}", params={"dry_run": str(dry_run).lower()},
                             content=text.encode(), headers={**caller, "content-type": "text/csv"})


def reasons_by_row(report: dict[str, Any]) -> dict[int, dict[str, str]]:
    return {r["row"]: {p["field"]: p["reason"] for p in r["reasons"]} for r in report["rows"]}
