"""Tabulating the report views for CSV and XLSX: pure, on view payloads written out by hand."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from urllib.parse import unquote

from openpyxl import load_workbook

from services.reporting import exports

SUMMARY = {
    "period": "2026-05", "org": "hx/east", "complaints": 4, "valid": 1, "important": 0, "closed": 1, "open": 3,
    "handed_over": 0, "in_triage": 0, "reclassified": 0, "return_visits_done": 0,
    "by_class": {"1": 1, "2": 2, "3": 0},
    "by_category": {"product_quality": 2, "price": 1, "service_attitude": 1},
    # engineering quality has one complaint still unclassified (in triage): 3 in total, 2 of class 2
    "by_department": {"business": {"total": 1, "1": 1, "2": 0, "3": 0},
                      "engineering_quality": {"total": 3, "1": 0, "2": 2, "3": 0}},
    "deadlines": {kind: {"total": 0, "met_on_time": 0, "met_late": 0, "overdue_open": 0, "pending": 0,
                         "on_time_rate": None}
                  for kind in ("first_response", "difficult_escalation", "measures_report", "result_delivery")},
}


def test_the_monthly_summary_is_rows_per_department_and_class_then_its_totals() -> None:
    blocks = exports.monthly_summary(SUMMARY)
    assert [b.title for b in blocks] == ["部门×类别 by department×class", "合计 totals", "内容分类 by category",
                                         "时限 deadlines"]
    assert [tuple(r[2:]) for r in blocks[0].rows] == [
        ("business", "经营部", "1", "一类投诉", 1), ("business", "经营部", "2", "二类投诉", 0),
        ("business", "经营部", "3", "三类投诉", 0),
        ("engineering_quality", "工程质量部", "1", "一类投诉", 0), ("engineering_quality", "工程质量部", "2", "二类投诉", 2),
        ("engineering_quality", "工程质量部", "3", "三类投诉", 0), ("engineering_quality", "工程质量部", "", "未分类", 1),
    ]
    totals = {r[2]: r[4] for r in blocks[1].rows}
    assert (totals["complaints"], totals["open"], totals["class_2"]) == (4, 3, 2)
    assert [r[2] for r in blocks[3].rows] == ["first_response", "difficult_escalation", "measures_report",
                                              "result_delivery"]


def test_csv_has_a_byte_order_mark_one_header_per_block_and_blank_lines_between() -> None:
    body = exports.to_csv(exports.monthly_summary(SUMMARY))
    assert body.startswith("\ufeff".encode())
    lines = body.decode("utf-8-sig").split("\r\n")
    assert lines[0] == "期间 (period),组织 (org),责任部门 (department),部门名称 (department_name)," \
                       "投诉类别 (complaint_class),类别名称 (complaint_class_name),投诉数 (complaints)"
    assert lines[1] == "2026-05,hx/east,business,经营部,1,一类投诉,1"
    assert lines[8:11] == ["", "# 合计 totals", "期间 (period),组织 (org),指标 (measure),指标名称 (measure_name),数值 (value)"]
    deadlines = lines[lines.index("# 时限 deadlines") + 2]
    assert deadlines == "2026-05,hx/east,first_response,首次响应,0,0,0,0,0,"  # no rate when nothing fell due


def test_a_code_that_looks_like_a_formula_stays_text_in_both_formats() -> None:
    view = {"period": "2026-05", "org": "hx", "template_id": "=HYPERLINK(\"http://x\")", "responses": 1,
            "items": [{"item_id": "-1+2", "satisfied": 1, "dissatisfied": 0, "rate": 100.0}],
            "overall_rate": 100.0, "pass_mark": 96.0, "qualified": True}
    blocks = exports.satisfaction(view)
    text = exports.to_csv(blocks).decode("utf-8-sig")
    assert "'=HYPERLINK" in text and ",'-1+2," in text
    sheet = load_workbook(io.BytesIO(exports.to_xlsx(blocks, title="t"))).worksheets[0]
    assert sheet["C2"].value == '=HYPERLINK("http://x")' and sheet["C2"].data_type == "s"
    assert [c.value for c in sheet[3]][3:] == ["overall", None, None, None, 100.0, 96.0, True]


def test_xlsx_has_one_sheet_per_block_a_frozen_header_and_numbers_as_numbers() -> None:
    pareto = {"quarter": "2026-Q2", "org": "hx", "complaints": 3, "categories": [
        {"category": "product_quality", "complaints": 2, "share": 66.67, "cumulative_share": 66.67},
        {"category": "price", "complaints": 1, "share": 33.33, "cumulative_share": 100.0}]}
    workbook = load_workbook(io.BytesIO(exports.to_xlsx(exports.pareto(pareto), title="careloop-pareto")))
    sheet = workbook["排列图 pareto"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:H3"
    assert [c.value for c in sheet[2]] == ["2026-Q2", "hx", 1, "product_quality", "产品质量与技术", 2, 66.67, 66.67]
    assert sheet["G2"].number_format == "0.00"
    assert workbook.properties.title == "careloop-pareto"


def test_an_empty_view_still_has_its_headers() -> None:
    view = {"org": "hx/east/lakeside", "cases": [], "count": 0}
    assert exports.to_csv(exports.open_cases(view)).decode("utf-8-sig").count("\r\n") == 1
    sheet = load_workbook(io.BytesIO(exports.to_xlsx(exports.open_cases(view), title="t"))).worksheets[0]
    assert sheet.max_row == 1 and sheet["A1"].value == "案件编号 (case_id)"


def test_the_download_is_named_after_the_view_period_and_org() -> None:
    response = exports.respond("pareto", {"quarter": "2026-Q2", "org": "hx/east", "complaints": 0, "categories": []},
                               "csv")
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"careloop-pareto-2026-Q2-hx_east.csv\"; "
        "filename*=UTF-8''careloop-pareto-2026-Q2-hx_east.csv")
    # an org code in Chinese keeps its name for browsers that read filename*, and an ASCII stand-in
    name = exports.filename("trend", {"until": "2026-05", "org": "华东/湖畔"}, "xlsx")
    assert name == "careloop-trend-2026-05-华东_湖畔.xlsx"
    disposition = exports.content_disposition(name)
    assert 'filename="careloop-trend-2026-05-_____.xlsx"' in disposition
    assert unquote(disposition.split("UTF-8''")[1]) == name
    as_json = exports.respond("trend", {"org": "hx", "rate": Decimal("96.5"), "名": "东区"}, "json")
    assert as_json.media_type == "application/json"
    assert json.loads(as_json.body) == {"org": "hx", "rate": 96.5, "名": "东区"}


def test_an_item_is_qualified_on_its_exact_rate_not_the_rounded_one() -> None:
    # 2399 of 2499 is 95.998 %: shown as 96.0, still below the mark
    view = {"period": "2026-05", "org": "hx", "template_id": None, "responses": 2499,
            "items": [{"item_id": "q1", "satisfied": 2399, "dissatisfied": 100, "rate": 96.0},
                      {"item_id": "q2", "satisfied": 24, "dissatisfied": 1, "rate": 96.0}],
            "overall_rate": 96.0, "pass_mark": 96.0, "qualified": False}
    rows = exports.satisfaction(view)[0].rows
    assert [(r[3], r[-1]) for r in rows] == [("q1", False), ("q2", True), ("overall", False)]
