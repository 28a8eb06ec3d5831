"""The complaint list page (客诉清单) in a real browser (headless Chromium) on the real broker and
PostgreSQL: the scripted month of dashboard_history.py, with a corrective action recorded for C and a
verified one and a publication for D, must show the hand-worked rows in Chinese; a filter, English,
and the XLSX download. Chromium and playwright as in test_dashboard.py (missing: the test fails)."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from dashboard_history import CASES, PERIOD, STAFF, FixedClock, history, publish
from openpyxl import load_workbook
from test_dashboard import ARTIFACTS, launch_options, serving

from services.reporting.app import create_app
from shared.events import Event
from shared.events.cases import (
    ComplaintPublished,
    ComplaintPublishedData,
    CorrectiveActionData,
    CorrectiveActionRecorded,
)
from shared.settings import Settings
from shared.testing.auth import operator_headers, operator_token
from shared.testing.services import eventually

pytestmark = pytest.mark.e2e


def corrective_events() -> list[Event]:
    c, d = CASES["C"], CASES["D"]
    c_at, d_at = c.received + timedelta(days=1), d.received + timedelta(days=1)

    def make(cls: type[Event], data: Any, case: Any, at: Any) -> Event:
        return cls.create(data=data, org=case.org, aggregate_id=case.case_id, occurred_at=at, producer="routing",
                          correlation_id=case.case_id)

    c_id, d_id = uuid.uuid4(), uuid.uuid4()
    return [
        make(CorrectiveActionRecorded, CorrectiveActionData(
            case_id=c.case_id, action_id=c_id, department="customer_service", description="客服话术培训",
            actor=STAFF, at=c_at, recorded_at=c_at), c, c_at),
        make(CorrectiveActionRecorded, CorrectiveActionData(
            case_id=d.case_id, action_id=d_id, department="business", description="收费标准上墙公示",
            actor=STAFF, at=d_at, recorded_at=d_at), d, d_at),
        make(CorrectiveActionRecorded, CorrectiveActionData(
            case_id=d.case_id, action_id=d_id, department="business", description="收费标准上墙公示",
            actor=STAFF, at=d_at + timedelta(hours=2), recorded_at=d_at, verified=True, effective=True), d,
            d_at + timedelta(hours=2)),
        make(ComplaintPublished, ComplaintPublishedData(
            case_id=d.case_id, basis="representative", summary="收费不透明", actor=STAFF,
            at=d_at + timedelta(hours=3)), d, d_at + timedelta(hours=3)),
    ]


ROW = ("#complaints tbody tr[data-case]", "rows => rows.map(r => [r.dataset.case, ...[...r.cells].map(c => "
       "c.textContent.trim())])")


async def test_the_complaint_list_page_shows_the_hand_worked_rows(migrated: Settings) -> None:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail("the Python package playwright is missing: pip install playwright")
    launch = launch_options()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ids = {str(case.case_id): name for name, case in CASES.items()}

    async with serving(create_app(migrated, clock=FixedClock())) as base:
        await publish(migrated, history() + corrective_events())
        async with httpx.AsyncClient(base_url=base, timeout=10, headers=operator_headers()) as http:
            async def listed() -> dict:
                r = await http.get("/api/v1/reports/complaint-list", params={"period": PERIOD, "org": "hx"})
                return r.json()

            await eventually(listed, until=lambda v: v["count"] == 6 and any(
                x["published"] and x["corrective_action_status"] == "effective" for x in v["complaints"])
                and any(x["corrective_action_status"] == "awaiting_verification" for x in v["complaints"])
                and sum(x["state"] == "closed" for x in v["complaints"]) == 2, timeout=60)

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(**launch)
            try:
                context = await browser.new_context(viewport={"width": 1600, "height": 900}, locale="zh-CN",
                                                    timezone_id="Asia/Shanghai", accept_downloads=True)
                page = await context.new_page()
                problems: list[str] = []
                page.on("pageerror", lambda e: problems.append(str(e)))
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                await page.goto(f"{base}/dashboard/complaint-list.html?period={PERIOD}&org=hx"
                                f"#access_token={operator_token()}")
                await page.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=20_000)
                rows = await page.eval_on_selector_all(*ROW)
                # east/lakeside A B C, east/riverside D, south/hillview E F, each by the time received
                assert [ids[r[0]] for r in rows] == ["A", "B", "C", "D", "E", "F"]
                headers = await page.eval_on_selector_all("#complaints thead th", "hs => hs.map(h => h.textContent)")
                cells = {ids[r[0]]: dict(zip(headers, r[1:], strict=True)) for r in rows}
                columns = ("类别", "有效性", "状态", "首次响应时限", "结果反馈时限", "时限达成", "纠正措施状态",
                           "效果验证", "顾客认可", "回访", "发布")
                assert {k: cells["A"][k] for k in columns} == {
                    "类别": "二类投诉", "有效性": "不适用", "状态": "已关闭", "首次响应时限": "按时完成",
                    "结果反馈时限": "按时完成", "时限达成": "全部按时", "纠正措施状态": "未记录纠正措施",
                    "效果验证": "未验证", "顾客认可": "尚未确认", "回访": "未回访", "发布": "未发布"}
                assert {k: cells["C"][k] for k in columns} == {
                    "类别": "一类投诉", "有效性": "有效投诉", "状态": "已分派", "首次响应时限": "超期未办",
                    "结果反馈时限": "不适用", "时限达成": "有超时：首次响应", "纠正措施状态": "待品质管理部验证",
                    "效果验证": "未验证", "顾客认可": "尚未确认", "回访": "未回访", "发布": "未发布"}
                assert {k: cells["D"][k] for k in (*columns, "纠正措施")} == {
                    "类别": "一类投诉", "有效性": "有效投诉", "状态": "已关闭", "首次响应时限": "按时完成",
                    "结果反馈时限": "不适用", "时限达成": "全部按时", "纠正措施状态": "验证有效", "效果验证": "有效",
                    "顾客认可": "尚未确认", "回访": "未回访", "发布": "代表性投诉", "纠正措施": "收费标准上墙公示"}
                text = await page.inner_text("body")
                assert STAFF not in text and "True" not in text and "False" not in text
                await page.screenshot(path=str(ARTIFACTS / "complaint-list-zh.png"), full_page=True)

                # only class 1: C and D
                await page.select_option("#complaint_class", "1")
                await page.wait_for_function("() => document.body.dataset.state === 'ready' && "
                                             "location.search.includes('complaint_class=1')", timeout=20_000)
                await page.wait_for_function("() => document.querySelectorAll('#complaints tbody tr[data-case]').length === 2",
                                             timeout=20_000)
                assert [ids[r[0]] for r in await page.eval_on_selector_all(*ROW)] == ["C", "D"]

                # the XLSX of what is shown
                async with page.expect_download() as downloaded:
                    await page.click("#xlsx")
                path = await (await downloaded.value).path()
                book = load_workbook(io.BytesIO(open(path, "rb").read()))
                sheet = list(book["客诉清单"].iter_rows(values_only=True))
                assert [ids[r[0]] for r in sheet[1:]] == ["C", "D"]

                # English
                await page.click("#lang-toggle")
                assert await page.inner_text("#complaints thead th >> nth=0") == "Case"
                english = {ids[r[0]]: r for r in await page.eval_on_selector_all(*ROW)}
                assert "Verified effective" in english["D"] and "Representative" in english["D"]
                assert problems == []
            finally:
                await browser.close()
