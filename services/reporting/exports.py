"""Every report view as flat tables, for CSV and XLSX downloads (``?format=csv|xlsx``).

A view becomes one or more blocks, each a plain table with one header row: the first block is the
view's main table (rows per department × class, per category, per deadline kind, per item…), the
others hold its totals and breakdowns. A CSV carries the blocks one after another, separated by a
blank line and a ``# title`` line, so that the file opens as a table in Excel and still reads as
one; an XLSX workbook has one sheet per block. Headers are Chinese with the English key beside
them; coded values (categories, departments…) keep their stable code in one column and get their
Chinese name in the next. CSV is UTF-8 with a byte-order mark, which Excel needs to show Chinese.

The views contain no personal data; nothing is added here.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
import xlsxwriter

from shared.clock import CHINA
from shared.labels import labels
from shared.labels import name_of as shared_name_of

ExportFormat = Literal["json", "csv", "xlsx"]

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# For the OpenAPI document: what ``?format=`` turns a view into.
RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": {
    "application/json": {}, "text/csv": {"schema": {"type": "string"}},
    XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
}}}

def name_of(vocabulary: str, code: Any) -> str:
    """A code's Chinese name, as exports write it (shared/labels.json, the file the dashboard reads)."""
    return shared_name_of(vocabulary, code, "zh")


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    kind: Literal["text", "int", "percent", "bool", "datetime"] = "text"

    @property
    def header(self) -> str:
        return f"{self.zh} ({self.key})"


@dataclass
class Block:
    title: str  # also the sheet's name: 31 characters at most
    columns: Sequence[Column]
    rows: list[Sequence[Any]] = field(default_factory=list)


# --- columns used by several views ---------------------------------------------------------------

PERIOD = Column("period", "期间")
QUARTER = Column("quarter", "季度")
ORG = Column("org", "组织")
COMPLAINTS = Column("complaints", "投诉数", "int")
CLASS = Column("complaint_class", "投诉类别")
CLASS_NAME = Column("complaint_class_name", "类别名称")
CATEGORY = Column("category", "投诉内容分类")
CATEGORY_NAME = Column("category_name", "分类名称")
DEADLINE_COLUMNS = (
    Column("deadline_kind", "时限"), Column("deadline_name", "时限名称"), Column("total", "应办数", "int"),
    Column("met_on_time", "按时完成", "int"), Column("met_late", "超时完成", "int"),
    Column("overdue_open", "超期未办", "int"), Column("pending", "未到期", "int"),
    Column("on_time_rate_pct", "时限达成率 %", "percent"),
)


def deadline_rows(prefix: Sequence[Any], deadlines: dict[str, dict[str, Any]]) -> list[Sequence[Any]]:
    return [(*prefix, kind, name_of("deadline", kind), d["total"], d["met_on_time"], d["met_late"],
             d["overdue_open"], d["pending"], d["on_time_rate"]) for kind, d in deadlines.items()]


# --- one tabulation per view ---------------------------------------------------------------------

def complaint_counts(view: dict[str, Any]) -> list[Block]:
    prefix = (view["period"], view["org"])
    rows: list[Sequence[Any]] = [(*prefix, cls, name_of("complaint_class", cls), n)
                                 for cls, n in view["by_class"].items()]
    rows.append((*prefix, "total", "合计", view["total"]))
    return [Block("投诉类别 by class", (PERIOD, ORG, CLASS, CLASS_NAME, COMPLAINTS), rows)]


SUMMARY_MEASURES = (
    ("complaints", "投诉总数"), ("valid", "有效投诉"), ("important", "重要投诉"), ("closed", "已关闭"),
    ("open", "未关闭"), ("handed_over", "已移交"), ("in_triage", "待人工分类"), ("reclassified", "重新分类"),
    ("return_visits_done", "已回访"),
)


# Complaints that also reached an outside body (logged in routing), counted apart in the summary.
REACHED_BODY_NAMES = {"group": "投诉至集团公司", "government": "投诉至政府部门", "media": "投诉至媒体"}


def monthly_summary(view: dict[str, Any]) -> list[Block]:
    prefix = (view["period"], view["org"])
    by_department: list[Sequence[Any]] = []
    for department, counts in view["by_department"].items():
        for cls in ("1", "2", "3"):
            by_department.append((*prefix, department, name_of("department", department), cls,
                                  name_of("complaint_class", cls), counts[cls]))
        unclassified = counts["total"] - sum(counts[cls] for cls in ("1", "2", "3"))
        if unclassified:
            by_department.append((*prefix, department, name_of("department", department), "", "未分类",
                                  unclassified))
    totals: list[Sequence[Any]] = [(*prefix, key, zh, view[key]) for key, zh in SUMMARY_MEASURES]
    totals += [(*prefix, f"class_{cls}", name_of("complaint_class", cls), n) for cls, n in view["by_class"].items()]
    totals += [(*prefix, f"reached_{body}", REACHED_BODY_NAMES[body], n)
               for body, n in view.get("reached_external_body", {}).items()]
    return [
        Block("部门×类别 by department×class",
              (PERIOD, ORG, Column("department", "责任部门"), Column("department_name", "部门名称"), CLASS,
               CLASS_NAME, COMPLAINTS), by_department),
        Block("合计 totals", (PERIOD, ORG, Column("measure", "指标"), Column("measure_name", "指标名称"),
                            Column("value", "数值", "int")), totals),
        Block("内容分类 by category", (PERIOD, ORG, CATEGORY, CATEGORY_NAME, COMPLAINTS),
              [(*prefix, k, name_of("category", k), n) for k, n in view["by_category"].items()]),
        Block("时限 deadlines", (PERIOD, ORG, *DEADLINE_COLUMNS), deadline_rows(prefix, view["deadlines"])),
    ]


def pareto(view: dict[str, Any]) -> list[Block]:
    return [Block("排列图 pareto", (
        QUARTER, ORG, Column("rank", "排序", "int"), CATEGORY, CATEGORY_NAME, COMPLAINTS,
        Column("share_pct", "占比 %", "percent"), Column("cumulative_share_pct", "累计占比 %", "percent"),
    ), [(view["quarter"], view["org"], rank, bar["category"], name_of("category", bar["category"]),
         bar["complaints"], bar["share"], bar["cumulative_share"])
        for rank, bar in enumerate(view["categories"], start=1)])]


def deadline_compliance(view: dict[str, Any]) -> list[Block]:
    return [Block("时限达成率 compliance", (PERIOD, ORG, *DEADLINE_COLUMNS),
                  deadline_rows((view["period"], view["org"]), view["deadlines"]))]


def open_cases(view: dict[str, Any]) -> list[Block]:
    rows: list[Sequence[Any]] = []
    for case in view["cases"]:
        received = datetime.fromisoformat(case["received_at"]) if case["received_at"] else None
        rows.append((
            case["case_id"], case["kind"], name_of("kind", case["kind"]), case["org"], case["period"],
            received.astimezone(CHINA).replace(tzinfo=None) if received else None,
            case["category"], name_of("category", case["category"]),
            case["complaint_class"], name_of("complaint_class", case["complaint_class"]),
            case["lead_department"], name_of("department", case["lead_department"]),
            case["state"], name_of("state", case["state"]),
            ";".join(case["overdue"]) or None, "；".join(name_of("deadline", k) for k in case["overdue"]) or None,
        ))
    return [Block("未关闭案件 open cases", (
        Column("case_id", "案件编号"), Column("kind", "类型"), Column("kind_name", "类型名称"), ORG, PERIOD,
        Column("received_at", "受理时间 (北京时间)", "datetime"), CATEGORY, CATEGORY_NAME,
        Column("complaint_class", "投诉类别", "int"), CLASS_NAME, Column("lead_department", "责任部门"),
        Column("lead_department_name", "部门名称"), Column("state", "状态"), Column("state_name", "状态名称"),
        Column("overdue", "超期时限"), Column("overdue_names", "超期时限名称"),
    ), rows)]


def satisfaction(view: dict[str, Any]) -> list[Block]:
    prefix = (view["period"], view["org"], view["template_id"])
    pass_mark = view["pass_mark"]
    rows: list[Sequence[Any]] = []
    for item in view["items"]:
        answered = item["satisfied"] + item["dissatisfied"]
        # against the exact rate, not the rounded one: 95.996 % is not 96 %
        rows.append((*prefix, item["item_id"], item["satisfied"], item["dissatisfied"], answered, item["rate"],
                     pass_mark, 100 * item["satisfied"] >= pass_mark * answered))
    # The overall rate is the mean of the item rates, not a ratio of counts: its counts stay empty.
    rows.append((*prefix, "overall", None, None, None, view["overall_rate"], pass_mark, view["qualified"]))
    template = Column("template_id", "问卷模板")
    return [
        Block("满意度 satisfaction", (
            PERIOD, ORG, template, Column("item_id", "调查项目"), Column("satisfied", "满意", "int"),
            Column("dissatisfied", "不满意", "int"), Column("answered", "有效回答", "int"),
            Column("rate_pct", "满意率 %", "percent"), Column("pass_mark_pct", "合格线 %", "percent"),
            Column("qualified", "达标", "bool"),
        ), rows),
        Block("汇总 summary", (
            PERIOD, ORG, template, Column("responses", "回收问卷", "int"),
            Column("overall_rate_pct", "总体满意率 %", "percent"), Column("pass_mark_pct", "合格线 %", "percent"),
            Column("qualified", "达标", "bool"),
        ), [(*prefix, view["responses"], view["overall_rate"], pass_mark, view["qualified"])]),
    ]


def survey_counts(view: dict[str, Any]) -> list[Block]:
    prefix = (view["period"], view["org"])
    rows: list[Sequence[Any]] = [(*prefix, scheme, name_of("scheme", scheme), n)
                                 for scheme, n in sorted(view["by_scheme"].items())]
    rows.append((*prefix, "total", "合计", view["total"]))
    return [Block("问卷数 survey counts", (PERIOD, ORG, Column("scheme", "评价方案"), Column("scheme_name", "方案名称"),
                                        Column("responses", "回收问卷", "int")), rows)]


def trend(view: dict[str, Any]) -> list[Block]:
    return [Block("月度趋势 trend", (
        ORG, PERIOD, COMPLAINTS, *(Column(f"class_{c}", name_of("complaint_class", c), "int") for c in "123"),
    ), [(view["org"], m["period"], m["complaints"], m["by_class"]["1"], m["by_class"]["2"], m["by_class"]["3"])
        for m in view["months"]])]


def classifier_accuracy(view: dict[str, Any]) -> list[Block]:
    return [Block("分类准确率 classifier accuracy", (
        ORG, PERIOD, Column("category", "分类器判定的主题"), Column("classified", "分类器自动分类", "int"),
        Column("corrected_subject", "人工改判主题", "int"), Column("corrected_class", "人工改判类别", "int"),
        Column("corrected", "人工改判", "int"), Column("accuracy_pct", "准确率 %", "percent"),
    ), [(view["org"], m["period"], name_of("category", c["category"]), c["classified"], c["corrected_subject"],
         c["corrected_class"], c["corrected"], c["accuracy"]) for m in view["months"] for c in m["by_category"]])]


def org_units(view: dict[str, Any]) -> list[Block]:
    return [Block("下级单位 org units", (
        PERIOD, Column("org", "单位"), COMPLAINTS,
        *(Column(f"class_{c}", name_of("complaint_class", c), "int") for c in "123"),
        Column("closed", "已关闭", "int"), Column("open", "未关闭", "int"), Column("overdue", "当前超期案件", "int"),
        Column("satisfaction_rate_pct", "满意率 %", "percent"), Column("qualified", "满意度达标", "bool"),
    ), [(view["period"], u["org"], u["complaints"], u["by_class"]["1"], u["by_class"]["2"], u["by_class"]["3"],
         u["closed"], u["open"], u["overdue"], u["satisfaction_rate"], u["qualified"]) for u in view["units"]])]


def repairs(view: dict[str, Any]) -> list[Block]:
    prefix = (view["period"], view["org"])
    hours = view["hours_to_acceptance"]
    measures = (
        ("requested", "报修数", view["requested"]), ("in_warranty", "保修期内", view["in_warranty"]),
        ("chargeable", "有偿维修", view["chargeable"]), ("from_complaints", "由投诉转来", view["from_complaints"]),
        ("households", "涉及案件", view["households"]), ("accepted", "联合验收", view["accepted"]),
        ("accepted_first_time", "一次验收通过", view["accepted_first_time"]),
        ("rejected_acceptances", "验收不通过次数", view["rejected_acceptances"]),
        ("quality_verified", "质量部门验证", view["quality_verified"]), ("open", "未完成", view["open"]),
        ("hours_to_acceptance_mean", "至验收平均小时", hours["mean"]),
        ("hours_to_acceptance_median", "至验收中位小时", hours["median"]),
        ("hours_to_acceptance_max", "至验收最长小时", hours["max"]),
    )
    return [
        Block("维修 repairs", (PERIOD, ORG, Column("measure", "指标"), Column("measure_name", "指标名称"),
                             Column("value", "数值")), [(*prefix, k, zh, v) for k, zh, v in measures]),
        Block("时限 deadlines", (PERIOD, ORG, *DEADLINE_COLUMNS), deadline_rows(prefix, view["deadlines"])),
        Block("缺陷类型 defect kinds", (PERIOD, ORG, Column("defect_kind", "缺陷类型"), Column("work_orders", "工单数", "int")),
              [(*prefix, k, n) for k, n in view["by_defect_kind"].items()]),
        Block("质量通病 recurring defects", (
            PERIOD, ORG, Column("remediation_id", "整改编号"), Column("project_id", "项目"),
            Column("defect_kind", "缺陷类型"), Column("occurrences", "发生次数", "int"),
            Column("detected_at", "发现时间"), Column("accepted_at", "验收时间"), Column("effective", "整改有效", "bool"),
        ), [(*prefix, x["remediation_id"], x["project_id"], x["defect_kind"], x["occurrences"], x["detected_at"],
             x["accepted_at"], x["effective"]) for x in view["recurring_defects"]]),
    ]


def distribution(view: dict[str, Any]) -> list[Block]:
    round_period = Column("round_period", "调查轮次")
    t = view["totals"]
    return [
        Block("发放与回收 campaigns", (
            round_period, Column("org", "组织"), Column("project_id", "项目"), Column("rule", "抽样规则"),
            Column("households", "户数", "int"), Column("occupied_units", "入住户数", "int"),
            Column("required", "应发放", "int"), Column("distributed", "已发放", "int"),
            Column("returned", "回收", "int"), Column("return_rate_pct", "回收率 %", "percent"),
            Column("return_target_pct", "回收率目标 %", "percent"), Column("return_ok", "回收达标", "bool"),
            Column("distribution_ok", "发放达标", "bool"), Column("annual_coverage_ok", "全年覆盖", "bool"),
            Column("score", "满意度", "percent"), Column("satisfied", "满意度达标", "bool"),
        ), [(view["round_period"], c["org"], c["project_id"], c["rule"], c["households"], c["occupied_units"],
             c["required"], c["distributed"], c["returned"], c["return_rate"], c["return_target"], c["return_ok"],
             c["distribution_ok"], c["annual_coverage_ok"], c["score"], c["satisfied"]) for c in view["campaigns"]]),
        Block("合计 totals", (round_period, ORG, Column("measure", "指标"), Column("value", "数值")),
              [(view["round_period"], view["org"], k, v) for k, v in t.items()]),
    ]


def project_scores(view: dict[str, Any]) -> list[Block]:
    year = Column("year", "年度")
    rows: list[Sequence[Any]] = []
    for p in view["projects"]:
        sheets = p["sheets"]
        rows.append((view["year"], p["org"], p["project_id"], p["evaluations"], p["overdue"],
                     *(sheets.get(stage, {}).get("score") for stage in ("pre_construction", "construction",
                                                                         "post_completion")),
                     p["project_score"], p["project_grade"], p["satisfaction_project"],
                     ";".join(f["flag"] for f in p["flags"]) or None))
    return [Block("项目服务评分 project scores", (
        year, Column("org", "组织"), Column("project_id", "项目"), Column("evaluations", "评价次数", "int"),
        Column("overdue", "逾期评价", "int"), Column("pre_construction", "开工前", "percent"),
        Column("construction", "过程", "percent"), Column("post_completion", "竣工后", "percent"),
        Column("project_score", "项目得分", "percent"), Column("project_grade", "等级"),
        Column("satisfaction_project", "顾客服务满意工程", "bool"), Column("flags", "警示"),
    ), rows)]


def customer_managers(view: dict[str, Any]) -> list[Block]:
    return [Block("客户经理考核 scorecards", (
        PERIOD, ORG, Column("owner", "首问负责人"), Column("cases", "受理", "int"), COMPLAINTS,
        Column("closed", "已关闭", "int"), Column("return_visits_done", "已回访", "int"),
        Column("first_response_on_time_pct", "首次响应及时率 %", "percent"),
        Column("result_delivery_on_time_pct", "结果反馈及时率 %", "percent"),
        Column("answered_items", "有效回答", "int"), Column("satisfaction_rate_pct", "满意率 %", "percent"),
    ), [(view["period"], view["org"], m["owner"], m["cases"], m["complaints"], m["closed"], m["return_visits_done"],
         m["deadlines"]["first_response"]["on_time_rate"], m["deadlines"]["result_delivery"]["on_time_rate"],
         m["answered_items"], m["satisfaction_rate"]) for m in view["managers"]])]


class PlainColumn(Column):
    """A column headed in Chinese only (the complaint list is read by people, not matched by key)."""

    @property
    def header(self) -> str:
        return self.zh


def _beijing(iso: str | None) -> datetime | None:
    return datetime.fromisoformat(iso).astimezone(CHINA).replace(tzinfo=None) if iso else None


def deadline_header(kind: str) -> str:
    name = name_of("deadline", kind)
    return name if name.endswith(("时限", "期限")) else f"{name}时限"


def complaint_list(view: dict[str, Any]) -> list[Block]:
    """Every value in Chinese words (no codes, no TRUE/FALSE), times in Beijing time."""
    kinds = view["deadline_kinds"]
    rows: list[Sequence[Any]] = []
    for x in view["complaints"]:
        rows.append((
            x["case_id"], x["org"], _beijing(x["received_at"]), x["complaint_class_name"], x["category_name"],
            x["validity_name"], x["important_name"], x["lead_department_name"], x["state_name"],
            *(x["deadline_names"].get(kind, "不适用") for kind in kinds), x["deadlines_summary_name"],
            x["corrective_action_status_name"], x["corrective_department_name"], x["corrective_description"],
            _beijing(x["corrective_recorded_at"]), x["corrective_actions"], x["verification_name"] or "未验证",
            _beijing(x["corrective_verified_at"]), x["customer_acceptance_name"], x["acceptance_rejections"],
            x["return_visit_name"], x["publication_name"], _beijing(x["published_at"]), _beijing(x["closed_at"]),
        ))
    f = view["filters"]
    return [
        Block("客诉清单", (
            PlainColumn("case_id", "案件编号"), PlainColumn("org", "单位"),
            PlainColumn("received_at", "受理时间（北京时间）", "datetime"), PlainColumn("class", "投诉类别"),
            PlainColumn("category", "投诉内容分类"), PlainColumn("valid", "有效性"),
            PlainColumn("important", "重要投诉"), PlainColumn("lead_department", "责任部门"),
            PlainColumn("state", "状态"),
            *(PlainColumn(f"deadline_{kind}", deadline_header(kind)) for kind in kinds),
            PlainColumn("deadlines", "时限达成"), PlainColumn("corrective_status", "纠正措施状态"),
            PlainColumn("corrective_department", "纠正措施责任部门"), PlainColumn("corrective_action", "纠正措施"),
            PlainColumn("corrective_recorded_at", "纠正措施记录时间", "datetime"),
            PlainColumn("corrective_actions", "纠正措施次数", "int"), PlainColumn("verification", "效果验证"),
            PlainColumn("verified_at", "验证时间", "datetime"), PlainColumn("acceptance", "顾客认可"),
            PlainColumn("rejections", "不认可次数", "int"), PlainColumn("return_visit", "回访"),
            PlainColumn("publication", "发布"), PlainColumn("published_at", "发布时间", "datetime"),
            PlainColumn("closed_at", "关闭时间", "datetime"),
        ), rows),
        Block("筛选条件", (
            PlainColumn("period", "期间"), PlainColumn("org", "组织"), PlainColumn("class", "投诉类别"),
            PlainColumn("category", "投诉内容分类"), PlainColumn("department", "责任部门"), PlainColumn("state", "状态"),
            PlainColumn("count", "投诉件数", "int"),
        ), [(view["period"], view["org"],
             name_of("complaint_class", f["complaint_class"]) if f["complaint_class"] else "全部",
             name_of("category", f["category"]) if f["category"] else "全部",
             name_of("department", f["department"]) if f["department"] else "全部",
             name_of("state", f["state"]) if f["state"] else "全部", view["count"])]),
    ]


TABULATIONS: dict[str, Callable[[dict[str, Any]], list[Block]]] = {
    "complaint-list": complaint_list,
    "repairs": repairs,
    "distribution": distribution,
    "project-scores": project_scores,
    "customer-managers": customer_managers,
    "complaint-counts": complaint_counts,
    "monthly-summary": monthly_summary,
    "pareto": pareto,
    "deadline-compliance": deadline_compliance,
    "open-cases": open_cases,
    "satisfaction": satisfaction,
    "survey-counts": survey_counts,
    "trend": trend,
    "classifier-accuracy": classifier_accuracy,
    "org-units": org_units,
}


# --- writing -------------------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value  # a code from another system must never run as a spreadsheet formula
    return str(value)


def to_csv(blocks: Sequence[Block]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for index, block in enumerate(blocks):
        if index:
            writer.writerow([])
            writer.writerow([f"# {block.title}"])
        writer.writerow([c.header for c in block.columns])
        writer.writerows([_csv_cell(v) for v in row] for row in block.rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _display_width(value: Any) -> int:
    text = _csv_cell(value)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)  # CJK characters take two columns


# Characters XML 1.0 (hence XLSX) cannot hold.
ILLEGAL_CHARACTERS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def to_xlsx(blocks: Sequence[Block], *, title: str) -> bytes:
    """One sheet per block: a bold header row frozen above a filter, columns as wide as their
    contents, percentages with two decimals, times as Excel date-times; every string stays text
    (never a formula, a link or a number)."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                            "strings_to_urls": False, "strings_to_numbers": False})
    workbook.set_properties({"title": title, "author": "CareLoop"})
    header = workbook.add_format({"bold": True, "bg_color": "#E8EEF7", "text_wrap": True, "valign": "vcenter"})
    formats = {"percent": workbook.add_format({"num_format": "0.00"}),
               "datetime": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})}
    for block in blocks:
        sheet = workbook.add_worksheet(re.sub(r"[\[\]:*?/\\]", "_", block.title)[:31])
        sheet.write_row(0, 0, [c.header for c in block.columns], header)
        for r, row in enumerate(block.rows, start=1):
            for c, (column, value) in enumerate(zip(block.columns, row, strict=True)):
                if value is None:
                    continue
                if isinstance(value, str):
                    sheet.write_string(r, c, ILLEGAL_CHARACTERS_RE.sub("", value))
                elif isinstance(value, bool):
                    sheet.write_boolean(r, c, value)
                elif isinstance(value, datetime):
                    sheet.write_datetime(r, c, value, formats["datetime"])
                elif isinstance(value, int | float):
                    sheet.write_number(r, c, value, formats.get(column.kind))
                else:
                    sheet.write_string(r, c, str(value))
        for c, column in enumerate(block.columns):
            widest = max([_display_width(column.header), *(_display_width(r[c]) for r in block.rows)])
            sheet.set_column(c, c, min(max(widest + 2, 8), 48))
        sheet.freeze_panes(1, 0)
        if block.rows:
            sheet.autofilter(0, 0, len(block.rows), len(block.columns) - 1)
    workbook.close()
    return buffer.getvalue()


def filename(view_name: str, view: dict[str, Any], extension: str) -> str:
    """``careloop-<view>-<period>-<org>.<ext>``, the org path with '/' turned into '_'."""
    when = view.get("period") or view.get("quarter") or view.get("round_period") or view.get("year") or \
        view.get("until") or ""
    org = str(view.get("org", "")).strip("/").replace("/", "_")
    parts = ["careloop", view_name, *(p for p in (when, org) if p)]
    return "-".join(re.sub(r"[^\w.-]", "_", p) for p in parts) + f".{extension}"


def content_disposition(name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


class ViewJSON(JSONResponse):
    """A view is plain data already: dumped straight to JSON, without FastAPI walking every value of
    every row first (which costs more than the query for a list of 500 open cases)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                          default=jsonable_encoder).encode("utf-8")


def respond(view_name: str, view: dict[str, Any], export_format: ExportFormat) -> Response:
    """The view as JSON or as a CSV / XLSX download."""
    if export_format == "json":
        return ViewJSON(view)
    blocks = TABULATIONS[view_name](view)
    name = filename(view_name, view, export_format)
    if export_format == "csv":
        body, media_type = to_csv(blocks), CSV_MEDIA_TYPE
    else:
        body, media_type = to_xlsx(blocks, title=name.rsplit(".", 1)[0]), XLSX_MEDIA_TYPE
    return Response(body, media_type=media_type, headers={"Content-Disposition": content_disposition(name)})
