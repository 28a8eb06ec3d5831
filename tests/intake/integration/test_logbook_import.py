"""Logbook imports on the real broker and PostgreSQL: good rows taken through the same use case as
HTTP, bad rows reported with their reasons, a re-import takes nothing twice, events for the good
rows only.

(Named apart from ``tests/intake/unit/test_logbook.py``: without ``__init__.py`` files pytest
cannot collect two test modules with one basename.)
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import openpyxl
import pytest
from fastapi import FastAPI

from services.intake.app import create_app
from shared.settings import Settings
from shared.testing.services import read_topic, running_service
from shared.topics import FEEDBACK_RECEIVED

pytestmark = pytest.mark.integration

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PHONE = "13800138000"
BAD_PHONE = "12345678"
PROJECT = {
    "project_id": "LS-01", "org": {"group": "hx", "subsidiary": "east", "project": "lakeside"}, "name": "湖畔花园",
    "stage": "property_management", "buildings": ["1", "2", "3"],
}

LOGBOOK_CSV = (
    "顾客沟通登记表,,,,,,,,,\n"
    "编号,日期,时间,来源,类别,事由,接待人,项目,楼栋单元,联系人/电话,组织\n"
    f"2024-001,2024-03-05,09:30,来电,投诉,3号楼2单元1201卫生间漏水,cs-1,LS-01,3-2-1201,王先生 {PHONE},\n"
    ",2024/3/6,下午2点,来访,意见/建议,希望增加儿童游乐设施,cs-2,湖畔花园,,,\n"      # project by its name
    ",2024-03-06,10:00,飞鸽传书,投诉,电梯故障,cs-1,LS-01,,,\n"                    # unknown channel
    ",2024-03-06,10:05,来电,报修,门禁失灵,,LS-01,,,\n"                             # nobody received it
    ",2099-01-01,08:00,来电,投诉,未来的投诉,cs-1,LS-01,,,\n"                       # in the future
    f",2024-03-07,11:00,来电,投诉,噪音扰民,cs-1,LS-01,,李女士 {BAD_PHONE},\n"      # not a phone number
    ",2024-03-07,11:30,微信,问询,物业费标准,cs-3,无名小区,,,\n"                    # no such project
    ",2024-03-08,,现场例会,要求,外墙渗水需尽快处理,cs-1,,,,hx/east/lakeside\n"     # org column, date only
    ",2024/3/6,下午2点,来访,意见/建议,希望增加儿童游乐设施,cs-2,湖畔花园,,,\n"      # row 4 again
).encode()
TAKEN_TEXTS = {"3号楼2单元1201卫生间漏水", "希望增加儿童游乐设施", "外墙渗水需尽快处理"}


def logbook_app(settings: Settings) -> FastAPI:
    return create_app(settings)


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def register_project(intake: httpx.AsyncClient) -> None:
    await ok(await intake.post("/api/v1/org-units", json={"path": "hx", "name": "华兴集团"}), 201)
    await ok(await intake.post("/api/v1/org-units", json={"path": "hx/east", "name": "华东公司"}), 201)
    await ok(await intake.post("/api/v1/org-units", json={"path": "hx/east/lakeside", "name": "湖畔管理处",
                                                         "unit_type": "property_office"}), 201)
    await ok(await intake.post("/api/v1/projects", json=PROJECT), 201)


async def import_csv(intake: httpx.AsyncClient, content: bytes, **params: str) -> dict[str, Any]:
    return await ok(await intake.post("/api/v1/imports/feedback", content=content, params=params,  # type: ignore[no-any-return]
                                      headers={"content-type": "text/csv"}))


async def logbook_feedback(settings: Settings) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(settings.db.admin_url)
    try:
        return await conn.fetch("SELECT id, text, external_id, received_at, customer_id FROM intake.feedback "
                                "WHERE source_system = 'logbook' ORDER BY received_at")
    finally:
        await conn.close()


async def feedback_events_queued(settings: Settings) -> int:
    conn = await asyncpg.connect(settings.db.admin_url)
    try:
        return await conn.fetchval("SELECT count(*) FROM intake.outbox WHERE event_type = 'FeedbackReceived'")
    finally:
        await conn.close()


async def test_a_logbook_takes_its_good_rows_and_reports_each_bad_one(migrated: Settings) -> None:
    async with running_service(logbook_app(migrated)) as intake:
        await register_project(intake)

        dry = await import_csv(intake, LOGBOOK_CSV, dry_run="true")
        assert (dry["dry_run"], dry["taken"], dry["already_imported"], dry["refused"]) == (True, 3, 1, 5)
        assert await logbook_feedback(migrated) == []  # a dry run keeps nothing

        report = await import_csv(intake, LOGBOOK_CSV)
        assert (report["total"], report["taken"], report["already_imported"], report["refused"]) == (9, 3, 1, 5)
        rows = {r["row"]: r for r in report["rows"]}
        assert [rows[n]["status"] for n in range(3, 12)] == [
            "taken", "taken", "refused", "refused", "refused", "refused", "refused", "taken", "already_imported"]
        assert rows[3]["external_id"] == "hx/east/lakeside#2024-001"
        assert rows[4]["external_id"].startswith("row-")
        assert rows[11]["repeats_row"] == 4 and rows[11]["feedback_id"] == rows[4]["feedback_id"]
        assert [f["field"] for f in rows[5]["reasons"]] == ["channel"] and "来电" in rows[5]["reasons"][0]["reason"]
        assert rows[6]["reasons"][0]["field"] == "received_by" and rows[6]["reasons"][0]["reason"] == "必填（接待人/记录人：首问负责人）"
        assert rows[7]["reasons"] == [{"field": "received_at", "reason": "接收时间晚于当前时间"}]
        assert rows[8]["reasons"][0]["field"] == "contact.phone"
        assert rows[9]["reasons"] == [{"field": "project_id", "reason": "没有已登记项目使用这个编号或名称"}]
        text = json.dumps(report, ensure_ascii=False)
        for personal in (PHONE, BAD_PHONE, "王先生", "李女士"):
            assert personal not in text

        stored = await logbook_feedback(migrated)
        assert {r["text"] for r in stored} == TAKEN_TEXTS
        by_text = {r["text"]: r for r in stored}
        assert by_text["3号楼2单元1201卫生间漏水"]["received_at"] == datetime.fromisoformat("2024-03-05T09:30:00+08:00")
        assert by_text["3号楼2单元1201卫生间漏水"]["customer_id"] is not None  # 王先生, matched or registered
        assert by_text["外墙渗水需尽快处理"]["received_at"] == datetime.fromisoformat("2024-03-08T00:00:00+08:00")
        customer = await ok(await intake.post("/api/v1/customers/lookup", json={"phone": PHONE}))
        assert [c["customer_id"] for c in customer] == [str(by_text["3号楼2单元1201卫生间漏水"]["customer_id"])]

        # the same file again: nothing new, every good row recognised
        again = await import_csv(intake, LOGBOOK_CSV)
        assert (again["taken"], again["already_imported"], again["refused"]) == (0, 4, 5)
        assert {r["row"]: r["feedback_id"] for r in again["rows"] if r["feedback_id"]} == {
            n: rows[n]["feedback_id"] for n in (3, 4, 10, 11)}
        assert len(await logbook_feedback(migrated)) == 3

        # a 编号 reused for a different entry is refused, not overwritten
        changed = LOGBOOK_CSV.replace("3号楼2单元1201卫生间漏水".encode(), "3号楼2单元1201厨房漏水".encode())
        [first] = [r for r in (await import_csv(intake, changed))["rows"] if r["row"] == 3]
        assert first["status"] == "refused" and first["reasons"][0]["field"] == "external_id"

        # a file without the columns a logbook needs is refused as a whole
        missing = await intake.post("/api/v1/imports/feedback", content="日期,内容\n2024-03-05,漏水\n".encode(),
                                    headers={"content-type": "text/csv"})
        assert missing.status_code == 422 and {f["field"] for f in missing.json()["fields"]} == {"columns"}

        sentinel = await ok(await intake.post("/api/v1/feedback", json={
            "kind": "inquiry", "channel": "phone", "text": "哨兵", "received_by": "cs-1", "org": PROJECT["org"]}), 201)
        records = await read_topic(migrated, FEEDBACK_RECEIVED, until=lambda rs: any(
            json.loads(r.value)["data"]["feedback_id"] == sentinel["feedback_id"] for r in rs))
    events = [json.loads(r.value) for r in records]
    from_logbook = [e for e in events if e["data"]["source_system"] == "logbook"]
    assert sorted(e["data"]["text"] for e in from_logbook) == sorted(TAKEN_TEXTS)  # one each, bad rows none
    assert {e["data"]["feedback_id"] for e in from_logbook} == {rows[n]["feedback_id"] for n in (3, 4, 10)}
    assert all(e["data"]["received_by"] in {"cs-1", "cs-2"} for e in from_logbook)
    assert PHONE not in json.dumps([r.value.decode() for r in records])


async def test_an_xlsx_logbook_is_imported_and_not_twice(migrated: Settings) -> None:
    workbook = openpyxl.Workbook()
    for row in (
        ["工作信息记录本"],
        ["记录编号", "日期", "时间", "渠道", "信息类别", "内容", "记录人", "集团", "子公司", "项目部", "电话"],
        ["B-7", datetime(2024, 4, 1), "15:45", "回访", "表扬", "维修及时，态度好", "cs-4", "hx", "east", "lakeside",
         13900139000],
        ["B-8", datetime(2024, 4, 2, 9, 0), None, "传真", "要求", "提供竣工资料", "cs-4", None, "east", "lakeside", None],
    ):
        workbook.active.append(row)
    content = io.BytesIO()
    workbook.save(content)
    upload = {"file": ("工作信息记录本.xlsx", content.getvalue(), XLSX_TYPE)}
    async with running_service(logbook_app(migrated)) as intake:
        report = await ok(await intake.post("/api/v1/imports/feedback", files=upload))
        assert [(r["row"], r["status"]) for r in report["rows"]] == [(3, "taken"), (4, "refused")]
        assert report["rows"][1]["reasons"][0]["field"] == "org"
        again = await ok(await intake.post("/api/v1/imports/feedback", files=upload))
        assert [r["status"] for r in again["rows"]] == ["already_imported", "refused"]
        records = await read_topic(migrated, FEEDBACK_RECEIVED, until=lambda rs: len(rs) >= 1)
    [stored] = await logbook_feedback(migrated)
    assert stored["external_id"] == "hx/east/lakeside#B-7" and stored["customer_id"] is not None
    assert stored["received_at"] == datetime.fromisoformat("2024-04-01T15:45:00+08:00")
    assert [json.loads(r.value)["data"]["feedback_id"] for r in records] == [str(stored["id"])]
    assert await feedback_events_queued(migrated) == 1


async def test_a_logbook_row_outside_the_importers_org_units_is_refused(migrated: Settings) -> None:
    from shared.auth import Role
    from shared.testing.auth import bearer

    south_cs = bearer("cs-south", roles=[Role.CUSTOMER_SERVICE], orgs=["hx/south"])
    content = ("编号,日期,时间,来源,类别,事由,接待人,组织\n"
               "S-1,2024-03-05,09:30,来电,投诉,南区电梯故障,cs-9,hx/south/hillview\n"
               "S-2,2024-03-05,10:30,来电,投诉,东区外墙渗水,cs-9,hx/east/lakeside\n").encode()
    async with running_service(logbook_app(migrated)) as intake:
        report = await ok(await intake.post("/api/v1/imports/feedback", content=content,
                                            headers={"content-type": "text/csv", **south_cs}))
    assert [(r["row"], r["status"]) for r in report["rows"]] == [(2, "taken"), (3, "refused")]
    assert report["rows"][1]["reasons"] == [{"field": "org", "reason": "不在你的组织范围内"}]


async def test_a_bad_cell_reads_in_chinese_unless_english_is_asked_for(migrated: Settings) -> None:
    content = ("编号,日期,时间,来源,类别,事由,接待人,组织\n"
               "T-1,2024-03-05,午后,来电,投诉,电梯故障,cs-9,hx/east/lakeside\n"     # no time of day
               ",2024-03-05,09:30,来电,投诉,,cs-9,hx/east/lakeside\n").encode()     # no text
    async with running_service(logbook_app(migrated)) as intake:
        chinese = await import_csv(intake, content, dry_run="true")
        english = await import_csv(intake, content, dry_run="true", lang="en")
        unreadable = await intake.post("/api/v1/imports/feedback", content=b"  ", params={"lang": "en"},
                                       headers={"content-type": "text/csv"})
        unreadable_zh = await intake.post("/api/v1/imports/feedback", content=b"  ",
                                          headers={"content-type": "text/csv"})
    assert [r["reasons"] for r in chinese["rows"]] == [
        [{"field": "time", "reason": "时间请写成 HH:MM"}], [{"field": "text", "reason": "必填（内容/事由）"}]]
    assert [r["reasons"] for r in english["rows"]] == [
        [{"field": "time", "reason": "write a time as HH:MM"}], [{"field": "text", "reason": "is required (内容/事由)"}]]
    assert unreadable.status_code == 422
    assert unreadable.json()["fields"] == [{"field": "file", "reason": "is empty"}]
    assert unreadable_zh.json()["fields"] == [{"field": "file", "reason": "文件为空"}]
