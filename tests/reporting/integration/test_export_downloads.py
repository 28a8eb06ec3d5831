"""Every report view as a CSV and an XLSX download, on the real broker and PostgreSQL, checked
against the hand-worked history of dashboard_history.py."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from dashboard_history import EXPECTED, PERIOD, STAFF, FixedClock, history, publish
from openpyxl import load_workbook

from services.reporting.app import create_app
from shared.settings import Settings
from shared.testing.services import eventually, running_service

pytestmark = pytest.mark.integration

VIEWS: dict[str, dict[str, Any]] = {
    "complaint-counts": {"period": PERIOD, "org": "hx"},
    "monthly-summary": {"period": PERIOD, "org": "hx"},
    "pareto": {"quarter": "2026-Q2", "org": "hx"},
    "deadline-compliance": {"period": PERIOD, "org": "hx"},
    "open-cases": {"org": "hx/east/lakeside"},
    "satisfaction": {"period": PERIOD, "org": "hx"},
    "survey-counts": {"period": PERIOD, "org": "hx"},
    "trend": {"until": PERIOD, "org": "hx"},
    "org-units": {"period": PERIOD, "org": "hx"},
    "repairs": {"period": PERIOD, "org": "hx"},
    "distribution": {"round_period": "2026H1", "org": "hx"},
    "project-scores": {"year": "2026", "org": "hx"},
    "customer-managers": {"period": PERIOD, "org": "hx"},
}


def csv_blocks(body: bytes) -> dict[str, list[list[str]]]:
    """The CSV's blocks by title (the first one under "main"), each a list of rows without its header."""
    assert body.startswith(b"\xef\xbb\xbf"), "Excel needs the UTF-8 byte-order mark to show Chinese"
    blocks: dict[str, list[list[str]]] = {}
    title, rows = "main", []
    for row in csv.reader(io.StringIO(body.decode("utf-8-sig"))):
        if not row:
            continue
        if len(row) == 1 and row[0].startswith("# "):
            blocks[title], title, rows = rows[1:], row[0][2:], []
        else:
            rows.append(row)
    blocks[title] = rows[1:]
    return blocks


async def test_every_view_downloads_as_csv_and_xlsx_with_the_hand_worked_figures(migrated: Settings) -> None:
    async with running_service(create_app(migrated, clock=FixedClock())) as reporting:
        await publish(migrated, history())

        async def projected() -> tuple[int, int, int]:
            summary = (await reporting.get("/api/v1/reports/monthly-summary", params=VIEWS["monthly-summary"])).json()
            cases = (await reporting.get("/api/v1/reports/open-cases", params=VIEWS["open-cases"])).json()
            sat = (await reporting.get("/api/v1/reports/satisfaction", params=VIEWS["satisfaction"])).json()
            deadlines = sum(k["total"] for k in summary["deadlines"].values())
            return summary["closed"] + deadlines, cases["count"], sat["responses"]

        await eventually(projected, until=lambda r: r == (2 + 8, 3, 3), timeout=60)

        downloads: dict[tuple[str, str], httpx.Response] = {}
        for view, params in VIEWS.items():
            for export_format in ("csv", "xlsx"):
                response = await reporting.get(f"/api/v1/reports/{view}", params={**params, "format": export_format})
                assert response.status_code == 200, (view, export_format, response.text)
                disposition = response.headers["content-disposition"]
                assert disposition.startswith("attachment;") and f"careloop-{view}-" in disposition
                assert disposition.split('filename="')[1].split('"')[0].endswith(f".{export_format}")
                downloads[view, export_format] = response
        assert downloads["monthly-summary", "csv"].headers["content-type"] == "text/csv; charset=utf-8"
        assert 'filename="careloop-monthly-summary-2026-05-hx.csv"' in \
            downloads["monthly-summary", "csv"].headers["content-disposition"]
        assert downloads["pareto", "xlsx"].headers["content-type"] == \
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

        default = await reporting.get("/api/v1/reports/monthly-summary", params=VIEWS["monthly-summary"])
        assert default.headers["content-type"] == "application/json" and default.json()["complaints"] == 6
        wrong = await reporting.get("/api/v1/reports/pareto", params={**VIEWS["pareto"], "format": "pdf"})
        assert wrong.status_code == 422 and wrong.json()["fields"][0]["field"] == "query.format"

    # The monthly summary: rows per department × class, then the totals, categories and deadlines.
    summary = csv_blocks(downloads["monthly-summary", "csv"].content)
    assert list(summary) == ["main", "合计 totals", "内容分类 by category", "时限 deadlines"]
    nonzero = {(r[2], r[4]): int(r[6]) for r in summary["main"] if r[6] != "0"}
    # A B F engineering quality class 2; C customer service class 1, E class 3; D business class 1
    assert nonzero == {("engineering_quality", "2"): 3, ("customer_service", "1"): 1,
                       ("customer_service", "3"): 1, ("business", "1"): 1}
    assert summary["main"][0][:4] == ["2026-05", "hx", "business", "经营部"]
    totals = {r[2]: int(r[4]) for r in summary["合计 totals"]}
    assert (totals["complaints"], totals["open"], totals["closed"], totals["class_2"]) == (6, 4, 2, 3)
    first_response = next(r for r in summary["时限 deadlines"] if r[2] == "first_response")
    assert first_response[3:] == ["首次响应", "6", "3", "1", "2", "0", "50.0"]

    compliance = csv_blocks(downloads["deadline-compliance", "csv"].content)["main"]
    assert [(r[2], r[-1]) for r in compliance] == [("first_response", "50.0"), ("difficult_escalation", ""),
                                                   ("measures_report", ""), ("result_delivery", "100.0"),
                                                   ("quality_department", ""),  # none set in this month
                                                   ("repair_response", ""), ("repair_finish", "")]

    pareto = load_workbook(io.BytesIO(downloads["pareto", "xlsx"].content))
    sheet = pareto["排列图 pareto"]
    assert sheet["A1"].value == "季度 (quarter)"
    assert [(r[3], r[5], r[7]) for r in sheet.iter_rows(min_row=2, values_only=True)] == EXPECTED["pareto"]
    assert [r[4] for r in sheet.iter_rows(min_row=2, values_only=True)][0] == "产品质量与技术"

    satisfaction = load_workbook(io.BytesIO(downloads["satisfaction", "xlsx"].content))
    items = list(satisfaction.worksheets[0].iter_rows(min_row=2, values_only=True))
    assert [(r[3], r[7], r[9]) for r in items] == [
        ("q1", 100.0, True), ("q2", 66.67, False), ("q3", 100.0, True), ("overall", EXPECTED["satisfaction"], False)]
    assert list(satisfaction["汇总 summary"].iter_rows(min_row=2, values_only=True))[0][3] == 3  # responses

    units = csv_blocks(downloads["org-units", "csv"].content)["main"]
    assert [(r[1], r[2], r[7], r[8], r[9]) for r in units] == [
        ("hx/east", "4", "2", "2", "83.33"), ("hx/south", "2", "2", "1", "100.0")]

    trend = load_workbook(io.BytesIO(downloads["trend", "xlsx"].content)).worksheets[0]
    assert [(r[1], r[2]) for r in trend.iter_rows(min_row=2, values_only=True)] == EXPECTED["trend"]

    cases = load_workbook(io.BytesIO(downloads["open-cases", "xlsx"].content)).worksheets[0]
    rows = list(cases.iter_rows(min_row=2, values_only=True))
    assert [(r[2], r[5].strftime("%m-%d %H:%M"), r[14]) for r in rows] == [
        ("投诉", "05-05 09:00", None), ("投诉", "05-07 09:00", "first_response"), ("问询", "05-12 09:00", None)]

    for (view, export_format), response in downloads.items():
        text = response.content.decode("utf-8-sig") if export_format == "csv" else \
            repr([list(s.values) for s in load_workbook(io.BytesIO(response.content)).worksheets])
        # No customer in any download, and no staff member outside the scorecards, which are kept per
        # staff id by design (seed 004 §6.3) and never carry a name or contact details.
        if view == "customer-managers":
            assert STAFF in text
        else:
            assert STAFF not in text, view
