"""The registry on the real broker and PostgreSQL: org units → project → units → customers over
HTTP, revisions, the registry events (without contact details), CSV and XLSX imports."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from typing import Any

import httpx
import openpyxl
import pytest
from fastapi import FastAPI

from services.intake.app import create_app
from services.intake.registry import api as registry_api
from services.intake.registry.service import match_or_register_customer
from shared.clock import utc_now
from shared.events.inbound import ContactDetails
from shared.settings import Settings
from shared.testing.services import read_topic, running_service
from shared.topics import CUSTOMER_REGISTERED, ORG_UNIT_REGISTERED, PROJECT_REGISTERED, UNITS_REGISTERED

pytestmark = pytest.mark.integration

PHONE, PHONE_E164, EMAIL = "138-0013-8000", "+8613800138000", "wang.xm@Example.com"
PROJECT = {
    "project_id": "LS-01", "org": {"group": "hx", "subsidiary": "east", "project": "lakeside"}, "name": "湖畔花园",
    "contract_number": "HT-2021-007", "stage": "post_completion", "completion_date": "2024-06-30",
    "warranty_end": "2026-06-30", "households": 4, "occupied_units": 2, "occupancy_start": "2024-08-01",
    "buildings": ["1", "2", "3"],
}


def registry_app(settings: Settings) -> FastAPI:
    # Until app.py wires the registry, the test adds its router to the service app itself.
    app = create_app(settings)
    app.include_router(registry_api.build_router(uow_factory=app.state.runtime.uow_factory, clock=utc_now))
    return app


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def events(records: list) -> list[dict]:
    return [json.loads(r.value) for r in records]


async def register_org_and_project(intake: httpx.AsyncClient) -> None:
    await ok(await intake.post("/api/v1/org-units", json={"path": "hx", "name": "华兴集团"}), 201)
    await ok(await intake.post("/api/v1/org-units", json={"path": "hx/east", "name": "华东公司"}), 201)
    await ok(await intake.post("/api/v1/org-units", json={"path": "hx/east/lakeside", "name": "湖畔管理处",
                                                         "unit_type": "property_office"}), 201)
    await ok(await intake.post("/api/v1/projects", json=PROJECT), 201)


async def test_org_units_projects_units_and_customers_over_http(
    migrated: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_service(registry_app(migrated)) as intake:
        await register_org_and_project(intake)

        # org units: parent first, level from the path, no second registration
        orphan = await intake.post("/api/v1/org-units", json={"path": "hx/west/riverside", "name": "江畔"})
        assert orphan.status_code == 422
        assert orphan.json() == {"error": "validation_failed", "fields": [
            {"field": "path", "reason": "上级组织 hx/west 尚未登记，请先登记它"}]}
        english = await intake.post("/api/v1/org-units", params={"lang": "en"},
                                    json={"path": "hx/west/riverside", "name": "江畔"})
        assert english.json()["fields"] == [
            {"field": "path", "reason": "the parent org unit hx/west is not registered; register it first"}]
        wrong = await intake.post("/api/v1/org-units", json={"path": "hx/south", "level": "project", "name": "华南"})
        assert {f["field"] for f in wrong.json()["fields"]} == {"level"}
        again = await intake.post("/api/v1/org-units", json={"path": "hx", "name": "华兴"})
        assert again.status_code == 409 and again.json()["error"] == "already_registered"
        assert again.json()["reason"] == "组织 hx 已登记，请用 PUT 修改"
        renamed = await ok(await intake.put("/api/v1/org-units/hx/east", json={"name": "华东分公司"}))
        assert renamed["revision"] == 2 and renamed["level"] == "subsidiary" and renamed["parent_path"] == "hx"
        assert (await ok(await intake.get("/api/v1/org-units/hx/east")))["name"] == "华东分公司"
        assert [u["path"] for u in await ok(await intake.get("/api/v1/org-units", params={"under": "hx/east"}))] == [
            "hx/east", "hx/east/lakeside"]
        missing = await intake.get("/api/v1/org-units/hx/nowhere")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"

        # projects: rules with field-level reasons, revisions, optimistic concurrency
        bad = await intake.post("/api/v1/projects", json={
            **PROJECT, "project_id": "LS-02", "warranty_end": "2024-01-01", "occupied_units": 5})
        assert bad.status_code == 422
        assert {f["field"] for f in bad.json()["fields"]} == {"warranty_end", "occupied_units"}
        at_subsidiary = await intake.post("/api/v1/projects", json={
            **PROJECT, "project_id": "LS-03", "org": {"group": "hx", "subsidiary": "east"}})
        assert [f["field"] for f in at_subsidiary.json()["fields"]] == ["org"]
        assert (await intake.post("/api/v1/projects", json=PROJECT)).status_code == 409
        change = {k: v for k, v in PROJECT.items() if k != "project_id"}
        updated = await ok(await intake.put("/api/v1/projects/LS-01", json={**change, "occupied_units": 3}))
        assert updated["revision"] == 2 and updated["occupied_units"] == 3
        assert (updated["stage"], updated["stage_name"]) == ("post_completion", "后期（竣工及保修）")
        same = await ok(await intake.put("/api/v1/projects/LS-01", json={**change, "occupied_units": 3}))
        assert same["revision"] == 2  # nothing changed: no new revision, no event
        stale = await intake.put("/api/v1/projects/LS-01", json={**change, "expected_revision": 1})
        assert stale.status_code == 409 and stale.json()["current_revision"] == 2
        assert stale.json()["reason"] == "项目 LS-01 的当前版本是 2，不是 1"
        stale_en = await intake.put("/api/v1/projects/LS-01", params={"lang": "en"},
                                    json={**change, "expected_revision": 1})
        assert stale_en.json()["reason"] == "project LS-01 is at revision 2, not 1"
        assert (await intake.put("/api/v1/projects/NOPE", json=change)).status_code == 404
        assert [p["project_id"] for p in await ok(await intake.get("/api/v1/projects", params={"org": "hx/east"}))] == [
            "LS-01"]

        # units: bulk upsert by (building, label)
        units = await ok(await intake.put("/api/v1/projects/LS-01/units", json={"units": [
            {"building": "1", "label": "1-101", "occupied": True},
            {"building": "1", "label": "1-102"},
            {"building": "2", "label": "2-201", "occupied": True},
        ]}))
        assert (units["created"], units["updated"], units["unchanged"]) == (3, 0, 0)
        unknown_building = await intake.post("/api/v1/projects/LS-01/units", json={"units": [
            {"building": "9", "label": "9-901"}]})
        assert unknown_building.status_code == 422
        assert unknown_building.json()["fields"][0]["field"] == "units.0.building"
        assert (await intake.put("/api/v1/projects/NOPE/units", json={"units": [
            {"building": "1", "label": "x"}]})).status_code == 404

        # customers: contact details normalised, held once, returned to staff only
        created = await ok(await intake.post("/api/v1/customers", json={
            "customer_kind": "owner", "name": "王小明", "phones": [PHONE], "emails": [EMAIL],
            "project_ids": ["LS-01"]}), 201)
        customer_id = created["customer_id"]
        assert created["phones"] == [PHONE_E164] and created["emails"] == ["wang.xm@example.com"]
        assert created["revision"] == 1
        taken = await intake.post("/api/v1/customers", json={"name": "王大明", "phones": ["+86 138 0013 8000"]})
        assert taken.status_code == 409 and taken.json()["customer_id"] == customer_id
        assert taken.json()["fields"] == [{"field": "phones.0", "reason": f"已属于客户 {customer_id}"}]
        assert taken.json()["reason"] == "所填电话或电子邮箱已属于另一位客户，请改为修改那位客户"
        taken_en = await intake.post("/api/v1/customers", json={"name": "王大明", "phones": ["+86 138 0013 8000"]},
                                     headers={"accept-language": "en-US,en;q=0.9"})
        assert taken_en.json()["fields"] == [{"field": "phones.0", "reason": f"already belongs to customer {customer_id}"}]
        bad_phone = await intake.post("/api/v1/customers", json={"name": "李", "phones": ["12345"]})
        assert bad_phone.status_code == 422 and bad_phone.json()["fields"][0]["field"] == "phones.0"
        assert "12345" not in bad_phone.text
        unknown_project = await intake.post("/api/v1/customers", json={"name": "李", "project_ids": ["NOPE"]})
        assert unknown_project.json()["fields"] == [{"field": "project_ids.0", "reason": "项目 NOPE 尚未登记"}]
        found = await ok(await intake.post("/api/v1/customers/lookup", json={"phone": "0086 13800138000"}))
        assert [c["customer_id"] for c in found] == [customer_id]
        assert await ok(await intake.post("/api/v1/customers/lookup", json={"email": "nobody@example.com"})) == []
        assert (await intake.post("/api/v1/customers/lookup", json={"phone": "12"})).status_code == 422

        unit_ids = {u["label"]: u["unit_id"] for u in units["units"]}
        moved_in = await ok(await intake.put("/api/v1/projects/LS-01/units", json={"units": [
            {"building": "1", "label": "1-101", "household_id": customer_id}]}))
        assert (moved_in["updated"], moved_in["units"][0]["occupied"]) == (1, True)  # occupancy kept
        linked = await ok(await intake.get(f"/api/v1/customers/{customer_id}"))
        assert linked["unit_ids"] == [unit_ids["1-101"]] and linked["revision"] == 2

        changed = await ok(await intake.put(f"/api/v1/customers/{customer_id}", json={
            "customer_kind": "owner", "name": "王小明", "phones": [PHONE_E164], "emails": [],
            "key_customer": True, "project_ids": ["LS-01"], "unit_ids": [unit_ids["1-101"]]}))
        assert changed["revision"] == 3 and changed["key_customer"] is True and changed["emails"] == []
        assert (await intake.get(f"/api/v1/customers/{uuid.uuid4()}")).status_code == 404

        customer_events = events(await read_topic(
            migrated, CUSTOMER_REGISTERED, until=lambda r: any(json.loads(x.value)["data"]["revision"] == 3 for x in r)))
        project_events = events(await read_topic(migrated, PROJECT_REGISTERED, until=lambda r: len(r) >= 2))
        org_events = events(await read_topic(migrated, ORG_UNIT_REGISTERED, until=lambda r: len(r) >= 4))
        unit_events = events(await read_topic(migrated, UNITS_REGISTERED, until=lambda r: len(r) >= 2))
        raw_customer_records = await read_topic(migrated, CUSTOMER_REGISTERED, until=lambda r: len(r) >= 3)

    assert [(e["data"]["revision"], e["data"]["has_phone"], e["data"]["has_email"]) for e in customer_events] == [
        (1, True, True), (2, True, True), (3, True, False)]
    assert customer_events[1]["data"]["unit_ids"] == [unit_ids["1-101"]]
    assert {e["org"]["project"] for e in customer_events} == {"lakeside"}  # filed under the project's org
    for record in raw_customer_records:
        payload = record.value.decode()
        assert "13800138000" not in payload and "example.com" not in payload.lower() and "王小明" not in payload
    assert [e["data"]["revision"] for e in project_events] == [1, 2]
    assert project_events[1]["data"]["occupied_units"] == 3 and project_events[0]["aggregate_id"] == "LS-01"
    assert sorted((e["data"]["path"], e["data"]["revision"]) for e in org_events) == [
        ("hx", 1), ("hx/east", 1), ("hx/east", 2), ("hx/east/lakeside", 1)]
    assert [len(e["data"]["units"]) for e in unit_events] == [3, 1]
    assert unit_events[1]["data"]["units"][0]["household_id"] == customer_id

    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "13800138000" not in logged and "wang.xm" not in logged


def sheet_bytes(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


async def test_csv_and_xlsx_imports_take_good_rows_and_report_bad_ones(migrated: Settings) -> None:
    async with running_service(registry_app(migrated)) as intake:
        await register_org_and_project(intake)

        # projects from XLSX, as an uploaded file
        projects = sheet_bytes([
            ["项目编号", "项目名称", "组织路径", "阶段", "竣工日期", "保修到期", "户数", "入住户数", "楼栋", "备注"],
            ["LS-02", "湖畔二期", "hx/east/lakeside", "过程", None, None, 120, 0, "5、6", "二期"],
            ["LS-03", "湖畔三期", "hx/east/lakeside", "后期", "2024-06-30", "2024-01-01", 80, 90, "7", None],
            ["LS-04", "河畔", "hx/east/riverside", "前期", None, None, None, None, None, None],
        ])
        report = await ok(await intake.post(
            "/api/v1/imports/projects",
            files={"file": ("projects.xlsx", projects,
                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}))
        assert (report["taken"], report["refused"], report["ignored_columns"]) == (1, 2, ["备注"])
        rows = {r["row"]: r for r in report["rows"]}
        assert rows[2]["status"] == "taken" and rows[2]["record"] == "LS-02" and rows[2]["outcome"] == "created"
        assert {f["field"] for f in rows[3]["reasons"]} == {"warranty_end", "occupied_units"}
        assert rows[4]["reasons"] == [{"field": "org", "reason": "组织 hx/east/riverside 尚未登记，请先登记它"}]
        assert (await ok(await intake.get("/api/v1/projects/LS-02")))["buildings"] == ["5", "6"]
        assert (await intake.get("/api/v1/projects/LS-03")).status_code == 404

        # units from a raw CSV body: the good rows are taken, each bad one is reported with its reason
        units_csv = (
            "项目编号,楼栋,单元/房号,是否入住\n"
            "LS-01,3,3-301,是\n"
            "LS-01,9,9-901,是\n"        # no building 9
            "LS-01,3,3-302,也许\n"       # not a yes/no
            "NOPE,1,1-101,否\n"          # no such project
            "LS-01,3,3-302,否\n"
            "LS-01,3,3-301,是\n"         # the same as row 2: taken, unchanged
        ).encode()
        dry = await ok(await intake.post("/api/v1/imports/units", params={"dry_run": "true"}, content=units_csv,
                                         headers={"content-type": "text/csv"}))
        assert dry["dry_run"] is True and dry["taken"] == 3
        assert await ok(await intake.get("/api/v1/projects/LS-01/units")) == []  # a dry run keeps nothing
        report = await ok(await intake.post("/api/v1/imports/units", content=units_csv,
                                            headers={"content-type": "text/csv; charset=utf-8"}))
        assert (report["total"], report["taken"], report["refused"]) == (6, 3, 3)
        by_row = {r["row"]: r for r in report["rows"]}
        assert [by_row[n]["status"] for n in range(2, 8)] == ["taken", "refused", "refused", "refused", "taken", "taken"]
        assert by_row[3]["reasons"] == [{"field": "building", "reason": "楼栋 9 不是该项目的楼栋"}]
        assert by_row[4]["reasons"][0]["field"] == "occupied" and "是/否" in by_row[4]["reasons"][0]["reason"]
        assert by_row[5]["reasons"] == [{"field": "project_id", "reason": "项目 NOPE 尚未登记"}]
        assert by_row[7]["outcome"] == "unchanged"
        stored = await ok(await intake.get("/api/v1/projects/LS-01/units"))
        assert [(u["label"], u["occupied"]) for u in stored] == [("3-301", True), ("3-302", False)]

        # households from CSV: matched or registered by phone, linked to their unit
        households_csv = (
            "项目编号,楼栋,单元,房号,业主姓名,电话,邮箱,重点客户\n"
            f"LS-01,3,3,301,王小明,{PHONE},,是\n"
            "LS-01,3,3,302,李雷,12345,,否\n"             # not a phone number
            "LS-01,3,3,399,韩梅梅,13900139000,,否\n"      # no such unit
            "LS-01,3,3,302,李雷,+86 139 0013 9001,lilei@example.com,否\n"
        ).encode()
        report = await ok(await intake.post(
            "/api/v1/imports/households", files={"file": ("households.csv", households_csv, "text/csv")}))
        assert (report["taken"], report["refused"]) == (2, 2)
        by_row = {r["row"]: r for r in report["rows"]}
        assert by_row[3]["reasons"][0]["field"] == "phone" and "12345" not in json.dumps(report)
        assert by_row[4]["reasons"][0]["field"] == "label" and by_row[4]["reasons"][0]["reason"] == "项目 LS-01 没有房屋 3/3-399：请先导入房屋"
        assert "13800138000" not in json.dumps(report) and "王小明" not in json.dumps(report)
        [wang] = await ok(await intake.post("/api/v1/customers/lookup", json={"phone": PHONE}))
        assert wang["customer_kind"] == "household" and wang["key_customer"] is True and wang["revision"] == 1
        units_now = {u["label"]: u for u in await ok(await intake.get("/api/v1/projects/LS-01/units"))}
        assert units_now["3-301"]["household_id"] == wang["customer_id"]
        assert wang["unit_ids"] == [units_now["3-301"]["unit_id"]] and wang["project_ids"] == ["LS-01"]

        # importing the same households again changes nothing and creates nobody
        again = await ok(await intake.post(
            "/api/v1/imports/households", files={"file": ("households.csv", households_csv, "text/csv")}))
        assert [r["outcome"] for r in again["rows"] if r["status"] == "taken"] == ["unchanged", "unchanged"]
        assert len(await ok(await intake.post("/api/v1/customers/lookup", json={"phone": "13900139001"}))) == 1

        missing_columns = await intake.post("/api/v1/imports/units", content="楼栋,房号\n3,301\n".encode(),
                                            headers={"content-type": "text/csv"})
        assert missing_columns.status_code == 422
        assert missing_columns.json()["fields"][0]["field"] == "columns"
        assert (await intake.post("/api/v1/imports/buildings", content=b"x")).status_code == 422

        customer_events = events(await read_topic(migrated, CUSTOMER_REGISTERED, until=lambda r: len(r) >= 2))
        unit_events = events(await read_topic(migrated, UNITS_REGISTERED, until=lambda r: len(r) >= 2))
    assert sorted(e["data"]["revision"] for e in customer_events) == [1, 1]  # one event per new household
    for event in customer_events:
        assert event["data"]["has_phone"] is True and "phone" not in event["data"]
    # one UnitsRegistered per import (with every unit it changed), none for the dry run or the re-run
    assert [sorted(u["label"] for u in e["data"]["units"]) for e in unit_events] == [
        ["3-301", "3-302"], ["3-301", "3-302"]]


async def test_match_or_register_finds_one_customer_by_any_spelling_even_at_once(migrated: Settings) -> None:
    app = registry_app(migrated)
    uow_factory = app.state.runtime.uow_factory
    async with running_service(app) as intake:
        await register_org_and_project(intake)

        async def resolve(contact: ContactDetails, project_id: str | None) -> uuid.UUID:
            async with uow_factory() as uow:
                customer_id = await match_or_register_customer(
                    contact, project_id=project_id, uow=uow, clock=utc_now)
                await uow.commit()
            return customer_id

        first = await resolve(ContactDetails(name="张三", phone="0086-138-0013-8000"), project_id="lakeside")
        second = await resolve(ContactDetails(phone="+86 13800138000", email="zs@example.com"), project_id="LS-01")
        by_email = await resolve(ContactDetails(email="zs@EXAMPLE.COM"), project_id=None)  # domains fold case
        other = await resolve(ContactDetails(name="李四", email="ls@example.com"), project_id=None)
        assert first == second == by_email != other

        # the same new caller arriving on several channels at once is still one customer
        at_once = await asyncio.gather(*(resolve(ContactDetails(phone="137 0013 7000" if i % 2 else "+8613700137000"), None) for i in range(8)))
        assert len(set(at_once)) == 1
        burst = await asyncio.gather(*(
            intake.put("/api/v1/projects/LS-01/units", json={"units": [{"building": "2", "label": "2-202"}]})
            for _ in range(5)))
        assert sorted(r.json()["created"] for r in burst) == [0, 0, 0, 0, 1]

        customer = await ok(await intake.get(f"/api/v1/customers/{first}"))
        assert customer["customer_kind"] == "person" and customer["name"] == "张三"
        assert customer["emails"] == ["zs@example.com"]  # learnt from the second contact
        assert customer["project_ids"] == ["LS-01"]  # 'lakeside' is an org code, not a registered project
        assert customer["revision"] == 2

        events_seen = events(await read_topic(migrated, CUSTOMER_REGISTERED, until=lambda r: len(r) >= 4))
    mine = [e for e in events_seen if e["data"]["customer_id"] == str(first)]
    assert [(e["data"]["revision"], e["data"]["has_email"]) for e in mine] == [(1, False), (2, True)]
    # with no project to place them, a customer's events go under the only registered group
    assert [e["org"] for e in events_seen if e["data"]["customer_id"] == str(other)] == [
        {"group": "hx", "subsidiary": None, "project": None}]
