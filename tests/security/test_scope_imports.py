"""Issue 20 item 1: imports and unit routes pass the same role and org-scope checks as the
single-record API they stand for, dry runs too."""

from __future__ import annotations

import pytest

from services.intake.app import create_app
from shared.settings import Settings
from shared.testing.services import running_service
from tests.security._scope import ADMIN_EAST, CS_EAST, post_csv, reasons_by_row, ok, two_subsidiaries

pytestmark = pytest.mark.integration

PROJECTS_HEADER = "project_id,name,org,stage\n"


async def test_a_customer_service_user_cannot_import_projects_at_all(migrated: Settings) -> None:
    # POST /projects is for administrators only; its import is too (the whole request, 403).
    async with running_service(create_app(migrated)) as intake:
        await two_subsidiaries(intake)
        for dry_run in (True, False):
            attempt = await post_csv(intake, "projects", PROJECTS_HEADER + "NEW-S,新项目,hx/south/bay,过程\n"
                                     "BAY-01,海湾小区,hx/east/lakeside,过程\n", CS_EAST, dry_run=dry_run)
            assert attempt.status_code == 403, attempt.text
        bay = await ok(await intake.get("/api/v1/projects/BAY-01"))
        assert bay["org"] == {"group": "hx", "subsidiary": "south", "project": "bay"}
        assert (await intake.get("/api/v1/projects/NEW-S")).status_code == 404


async def test_a_subsidiary_administrator_imports_only_inside_their_subsidiary(migrated: Settings) -> None:
    sheet = (PROJECTS_HEADER
             + "NEW-E,湖畔二期,hx/east/lakeside,过程\n"     # row 2: inside hx/east: taken
             + "NEW-S,海湾二期,hx/south/bay,过程\n"         # row 3: created outside: refused on org
             + "BAY-01,海湾小区,hx/east/lakeside,过程\n"    # row 4: another's project moved in: refused
             + "LS-01,湖畔花园,hx/south/bay,过程\n")        # row 5: one of theirs moved out: refused
    async with running_service(create_app(migrated)) as intake:
        await two_subsidiaries(intake)
        for dry_run in (True, False):
            report = await ok(await post_csv(intake, "projects", sheet, ADMIN_EAST, dry_run=dry_run))
            assert (report["taken"], report["refused"]) == (1, 3)
            reasons = reasons_by_row(report)
            assert reasons[2] == {}
            assert reasons[3] == {"org": "组织 hx/south/bay 不在你的组织范围内"}
            assert reasons[4] == {"project_id": "项目 BAY-01 不在你的组织范围内"}
            assert reasons[5] == {"org": "组织 hx/south/bay 不在你的组织范围内"}
        assert (await ok(await intake.get("/api/v1/projects/BAY-01")))["org"]["subsidiary"] == "south"
        assert (await ok(await intake.get("/api/v1/projects/LS-01")))["org"]["subsidiary"] == "east"
        assert (await intake.get("/api/v1/projects/NEW-S")).status_code == 404
        assert (await ok(await intake.get("/api/v1/projects/NEW-E")))["org"]["subsidiary"] == "east"

        # the single-record routes say the same, for the request as a whole
        new_south = {"project_id": "NEW-S2", "org": {"group": "hx", "subsidiary": "south", "project": "bay"},
                     "name": "海湾三期", "stage": "construction"}
        assert (await intake.post("/api/v1/projects", json=new_south, headers=ADMIN_EAST)).status_code == 403
        moved_in = {k: v for k, v in new_south.items() if k != "project_id"} | {
            "org": {"group": "hx", "subsidiary": "east", "project": "lakeside"}, "name": "海湾小区"}
        assert (await intake.put("/api/v1/projects/BAY-01", json=moved_in, headers=ADMIN_EAST)).status_code == 403
        moved_out = {k: v for k, v in new_south.items() if k != "project_id"} | {"name": "湖畔花园"}
        assert (await intake.put("/api/v1/projects/LS-01", json=moved_out, headers=ADMIN_EAST)).status_code == 403
        # and org units: none outside the caller's
        outside = {"path": "hx/south/pier", "name": "码头项目部"}
        assert (await intake.post("/api/v1/org-units", json=outside, headers=ADMIN_EAST)).status_code == 403
        assert (await intake.put("/api/v1/org-units/hx/south", json={"name": "改名"},
                                 headers=ADMIN_EAST)).status_code == 403


async def test_units_and_households_only_go_into_projects_inside_the_callers_units(migrated: Settings) -> None:
    async with running_service(create_app(migrated)) as intake:
        await two_subsidiaries(intake)
        # the unit routes: 403 for another subsidiary's project, as POST /feedback for its org
        units = {"units": [{"building": "1", "label": "1-101"}]}
        for method in ("POST", "PUT"):
            attempt = await intake.request(method, "/api/v1/projects/BAY-01/units", json=units, headers=CS_EAST)
            assert attempt.status_code == 403, attempt.text
            assert attempt.json()["error"] == "out_of_scope"
        await ok(await intake.post("/api/v1/projects/LS-01/units", json=units, headers=CS_EAST))

        sheet = "项目编号,楼栋,房号\nBAY-01,1,1-102\nLS-01,1,1-102\n"
        for dry_run in (True, False):
            report = await ok(await post_csv(intake, "units", sheet, CS_EAST, dry_run=dry_run))
            assert reasons_by_row(report) == {2: {"project_id": "项目 BAY-01 不在你的组织范围内"}, 3: {}}
        assert [u["label"] for u in await ok(await intake.get("/api/v1/projects/BAY-01/units"))] == []

        # the operator puts a household into the south project; its phone cannot pull it east
        await ok(await intake.post("/api/v1/projects/BAY-01/units", json=units))
        south = await ok(await intake.post("/api/v1/customers", json={
            "name": "李四", "phones": ["13900001111"], "project_ids": ["BAY-01"]}), 201)
        households = "项目编号,楼栋,房号,业主姓名,电话\nBAY-01,1,1-101,张三,13900002222\nLS-01,1,1-101,李四,13900001111\n"
        for dry_run in (True, False):
            report = await ok(await post_csv(intake, "households", households, CS_EAST, dry_run=dry_run))
            assert reasons_by_row(report) == {
                2: {"project_id": "项目 BAY-01 不在你的组织范围内"},
                3: {"phone": "已属于你的组织范围以外的客户"},
            }
        assert (await intake.get(f"/api/v1/customers/{south['customer_id']}", headers=CS_EAST)).status_code == 404
        stored = await ok(await intake.get(f"/api/v1/customers/{south['customer_id']}"))
        assert stored["project_ids"] == ["BAY-01"] and stored["unit_ids"] == []
