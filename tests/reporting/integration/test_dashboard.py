"""The dashboard in a real browser (headless Chromium) on the real broker and PostgreSQL: the
scripted history of dashboard_history.py is projected, the page is opened for May 2026 and group
hx, and what it draws — the key-figure cards and the ECharts options — must be the hand-worked
numbers; then English, and a drill-down from the group to a project's case list.

Chromium comes from the system (Debian: ``apt-get install chromium``, /usr/bin/chromium, or
``CARELOOP_CHROMIUM``); the Python driver is ``playwright``. Neither may be missing: the test then
fails, it does not skip. ``playwright install`` is never needed (and never run: no downloads).
Screenshots go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dashboard_history import EXPECTED, PERIOD, STAFF, FixedClock, history, publish
from fastapi import FastAPI

from services.reporting.app import create_app
from shared.testing.auth import operator_headers, operator_token
from shared.settings import Settings
from shared.testing.services import eventually

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM = os.environ.get("CARELOOP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

# Every chart's option as plain data: series values, axis categories.
READ_CHART = """id => {
  const chart = echarts.getInstanceByDom(document.getElementById(id));
  if (!chart) return null;
  const option = chart.getOption();
  const plain = d => (d !== null && typeof d === 'object' && 'value' in d) ? d.value : d;
  return {
    canvas: chart.getDom().querySelector('canvas').width,
    xAxis: (option.xAxis || []).map(a => a.data || null),
    yAxis: (option.yAxis || []).map(a => a.data || null),
    series: Object.fromEntries(option.series.map(s => [s.id, {name: s.name, type: s.type, data: s.data.map(plain)}])),
  };
}"""


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """The service under uvicorn on a loopback port of its own (a browser needs a real socket)."""
    import uvicorn

    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so (else Nagle: ~40 ms a response)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise AssertionError("uvicorn stopped before it started")
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def key_figures(http: httpx.AsyncClient) -> dict[str, Any]:
    async def get(path: str, **params: Any) -> Any:
        response = await http.get(f"/api/v1/reports/{path}", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    summary = await get("monthly-summary", period=PERIOD, org="hx")
    units = await get("org-units", period=PERIOD, org="hx")
    return {
        "complaints": summary["complaints"], "closed": summary["closed"],
        "deadlines": sum(k["total"] for k in summary["deadlines"].values()),
        "overdue_now": units["totals"]["overdue"],
        "responses": (await get("satisfaction", period=PERIOD, org="hx"))["responses"],
        "trend": [m["complaints"] for m in (await get("trend", until=PERIOD, org="hx"))["months"]],
        "pareto": [b["complaints"] for b in (await get("pareto", quarter="2026-Q2", org="hx"))["categories"]],
        "lakeside_open": (await get("open-cases", org="hx/east/lakeside"))["count"],
    }


SETTLED = {"complaints": 6, "closed": 2, "deadlines": 8, "overdue_now": 3, "responses": 3,
           "trend": [n for _, n in EXPECTED["trend"]], "pareto": [n for _, n, _ in EXPECTED["pareto"]],
           "lakeside_open": EXPECTED["lakeside_open_cases"]}


async def ready(page: Any, org: str) -> None:
    """Wait until the page has loaded ``org`` and every chart has finished drawing."""
    await page.wait_for_function(
        "org => ['ready', 'error'].includes(document.body.dataset.state) && document.body.dataset.org === org",
        arg=org, timeout=20_000)
    state = await page.evaluate("document.body.dataset.state")
    assert state == "ready", await page.inner_text("#banner")


async def card(page: Any, name: str) -> str:
    return str(await page.inner_text(f'[data-kpi="{name}"] .value')).strip()


async def unit_rows(page: Any) -> dict[str, list[str]]:
    rows = await page.eval_on_selector_all(
        "#units tbody tr[data-unit]",
        "rows => rows.map(r => [r.dataset.unit, ...[...r.cells].slice(1).map(c => c.textContent.trim())])")
    return {row[0]: row[1:] for row in rows}


def launch_options() -> dict[str, Any]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: apt-get install -y chromium "
                    "(or set CARELOOP_CHROMIUM to a Chromium binary)")
    return {"executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_ARGS}


async def test_the_dashboard_draws_the_hand_worked_month_in_both_languages_and_drills_down_to_cases(
    migrated: Settings,
) -> None:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail("the Python package playwright is missing: pip install playwright "
                    "(the test uses the system Chromium; never run `playwright install`)")
    launch = launch_options()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async with serving(create_app(migrated, clock=FixedClock())) as base:
        await publish(migrated, history())
        async with httpx.AsyncClient(base_url=base, timeout=10, headers=operator_headers()) as http:
            await eventually(lambda: key_figures(http), until=lambda figures: figures == SETTLED, timeout=60)

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(**launch)
            try:
                context = await browser.new_context(
                    viewport={"width": 1440, "height": 1000}, locale="zh-CN", timezone_id="Asia/Shanghai",
                    reduced_motion="reduce")
                page = await context.new_page()
                problems: list[str] = []
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: problems.append(str(e)))
                elsewhere: list[str] = []  # nothing may come from a CDN: the machines have no internet
                page.on("request", lambda r: None if r.url.startswith((base, "data:")) else elsewhere.append(r.url))

                # --- the group, in Chinese (the default) ------------------------------------------
                # The token comes in the URL fragment, as an identity provider hands it over.
                await page.goto(f"{base}/dashboard?period={PERIOD}&org=hx#access_token={operator_token()}")
                await ready(page, "hx")
                assert await page.evaluate("document.documentElement.lang") == "zh-CN"
                assert await page.inner_text('[data-kpi="complaints"] h2') == "本月投诉"
                assert [await card(page, k) for k in ("complaints", "open", "overdue", "on-time", "satisfaction")] == [
                    "6", "4", "3", "57.14%", "88.89%"]
                assert "▲ 4" in await page.inner_text('[data-kpi="complaints"] .note')  # 6 in May, 2 in April

                trend = await page.evaluate(READ_CHART, "chart-trend")
                assert trend["canvas"] > 0
                assert trend["xAxis"] == [[month for month, _ in EXPECTED["trend"]]]
                assert trend["series"]["total"]["data"] == [n for _, n in EXPECTED["trend"]]
                assert [trend["series"][f"class-{c}"]["data"] for c in "123"] == [
                    [0, 0, 0, 1, 1, 2], [0, 1, 0, 0, 1, 3], [1, 0, 0, 0, 0, 1]]
                assert trend["series"]["class-1"]["name"] == "一类投诉"

                pareto = await page.evaluate(READ_CHART, "chart-pareto")
                assert pareto["xAxis"] == [["产品质量与技术", "价格", "外部环境与公共设施", "服务态度"]]
                assert pareto["series"]["complaints"]["data"] == [n for _, n, _ in EXPECTED["pareto"]]
                assert pareto["series"]["cumulative"]["data"] == [c for _, _, c in EXPECTED["pareto"]]
                assert pareto["series"]["cumulative"]["type"] == "line"

                compliance = await page.evaluate(READ_CHART, "chart-compliance")
                # (the quality department's deadline: none set in this history)
                assert compliance["yAxis"] == [["首次响应", "疑难投诉上报", "处理措施上报", "结果反馈", "质量部跟踪期限"]]
                assert {k: v["data"] for k, v in compliance["series"].items()} == {
                    "met_on_time": [3, 0, 0, 1, 0], "met_late": [1, 0, 0, 0, 0], "overdue_open": [2, 0, 0, 0, 0],
                    "pending": [0, 0, 1, 0, 0]}

                gauge = await page.evaluate(READ_CHART, "chart-satisfaction")
                assert gauge["series"]["overall"]["data"] == [EXPECTED["satisfaction"]]
                items = await page.evaluate(READ_CHART, "chart-satisfaction-items")
                assert items["yAxis"] == [["q1", "q2", "q3"]]
                assert items["series"]["items"]["data"] == [100.0, 66.67, 100.0]

                assert await unit_rows(page) == {
                    # complaints, class 1, 2, 3, open, overdue, satisfaction
                    "hx/east": ["4", "2", "2", "0", "2", "2", "83.33%"],
                    "hx/south": ["2", "0", "1", "1", "2", "1", "100.00%"],
                }
                await page.screenshot(path=str(ARTIFACTS / "dashboard-group-zh.png"), full_page=True)

                # --- English ------------------------------------------------------------------------
                await page.click("#lang-toggle")
                await page.wait_for_function("() => document.documentElement.lang === 'en'")
                await ready(page, "hx")
                assert await page.inner_text('[data-kpi="complaints"] h2') == "Complaints this month"
                assert await page.inner_text("#lang-toggle") == "中文"
                pareto = await page.evaluate(READ_CHART, "chart-pareto")
                assert pareto["xAxis"] == [["Product quality", "Price", "External environment", "Service attitude"]]
                assert pareto["series"]["cumulative"]["name"] == "Cumulative %"
                assert await card(page, "satisfaction") == "88.89%"  # the same figures, in other words
                await page.screenshot(path=str(ARTIFACTS / "dashboard-group-en.png"), full_page=True)

                # --- drill down: group → subsidiary → project → its open cases ----------------------
                await page.click('#units a[data-org="hx/east"]')
                await ready(page, "hx/east")
                assert "org=hx%2Feast" in page.url and "lang=en" in page.url
                assert [await card(page, k) for k in ("complaints", "open", "overdue", "satisfaction")] == [
                    "4", "2", "2", "83.33%"]
                assert await unit_rows(page) == {
                    "hx/east/lakeside": ["3", "1", "2", "0", "2", "1", "83.33%"],
                    "hx/east/riverside": ["1", "1", "0", "0", "0", "1", "–"],
                }
                await page.click('#units a[data-org="hx/east/lakeside"]')
                await ready(page, "hx/east/lakeside")
                assert await page.is_hidden("#units") and await page.is_visible("#cases")
                cases = await page.eval_on_selector_all(
                    "#cases tbody tr[data-case]", "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))")
                # oldest first: B (May 5, first response met late), C (May 7, breached), the inquiry (May 12)
                assert [(c[1], c[2], c[3], c[6], c[7]) for c in cases] == [
                    ("Complaint", "Product quality", "Class 2 (building quality)", "2026-05-05 09:00", "–"),
                    ("Complaint", "Service attitude", "Class 1 (our service)", "2026-05-07 09:00", "First response"),
                    ("Inquiry", "–", "–", "2026-05-12 09:00", "–"),
                ]
                assert STAFF not in await page.content()  # no person reaches the page
                await page.screenshot(path=str(ARTIFACTS / "dashboard-project-en.png"), full_page=True)

                # --- and back up with the breadcrumb --------------------------------------------------
                await page.click('#breadcrumb a[data-org="hx"]')
                await ready(page, "hx")
                assert await card(page, "complaints") == "6"

                assert problems == [], problems
                assert elsewhere == [], elsewhere
            finally:
                await browser.close()
