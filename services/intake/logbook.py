"""Bulk import of the paper logbooks (工作信息记录本, 顾客沟通登记表) from CSV or XLSX.

A logbook row is one piece of customer information written down by hand: when it came, by which
channel, what kind, what was said, who took it, for which project and unit, whom to call back.
Columns are named in Chinese or English (日期 / 时间 / received_at, 来源 / channel, 类别 / kind,
内容 / 事由 / text, 接待人 / 记录人 / received_by, 项目 / project_id, 楼栋单元 / unit, 联系人 / 电话,
编号 / external_id, 组织 or 集团 / 子公司 / 项目部), and so are the values (来电 → phone, 投诉 →
complaint…). A title row above the header (“顾客沟通登记表”) is skipped.

Every row goes through the same ``receive_feedback`` use case as HTTP, as source system
``logbook`` with an external id (the row's 编号 within its org unit, else a hash of what the row
says), each in its own savepoint: a refused row leaves nothing behind, and importing the same
file again takes nothing twice and reports those rows as already imported. The report names rows
by number and feedback id, never by a person's name or contact details.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import IntegrityError

from services.intake import domain, service
from services.intake.api import StaffFeedbackSubmission
from services.intake.registry import domain as registry_domain
from services.intake.registry.api import _IMPORT_BODY, FieldReason, _uploaded_file
from services.intake.registry.domain import (
    EMPTY_CELL,
    CellInvalid,
    FieldProblem,
    RegistryConflict,
    RegistryRefused,
    cell_text,
)
from services.intake.registry.imports import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
    ImportRefused,
    Sheet,
    _RowScope,
    detect_format,
    normalise_header,
    read_csv,
    read_xlsx,
)
from services.intake.registry.models import Project
from shared.auth import Principal, Role, require
from shared.calendar import BusinessCalendar
from shared.db import UnitOfWork, UnitOfWorkFactory
from shared.events import OrgPath
from shared.events.envelope import CODE_PATTERN
from shared.events.inbound import SUBMISSION_NAMESPACE
from shared.events.vocabulary import Channel, FeedbackKind, ProjectStage

log = logging.getLogger(__name__)

SOURCE_SYSTEM = "logbook"

#: Canonical column → the headers that mean it (compared after ``normalise_header``).
COLUMNS: dict[str, tuple[str, ...]] = {
    "received_at": ("received_at", "datetime", "日期时间", "接收时间", "登记时间", "记录时间"),
    "date": ("date", "日期", "登记日期", "记录日期", "来电日期", "来访日期"),
    "time": ("time", "时间", "时刻"),
    "channel": ("channel", "source", "来源", "渠道", "方式", "来源渠道", "信息来源", "沟通方式"),
    "kind": ("kind", "type", "类别", "类型", "信息类别", "性质"),
    "text": ("text", "content", "description", "内容", "事由", "主要内容", "信息内容", "沟通内容", "记录内容",
             "内容摘要"),
    "received_by": ("received_by", "recorder", "接待人", "记录人", "接收人", "受理人", "登记人", "首问负责人"),
    "project_id": ("project_id", "project", "项目", "项目编号", "项目编码", "项目名称"),
    "project_stage": ("project_stage", "stage", "阶段", "项目阶段"),
    "unit": ("unit", "楼栋单元", "楼栋/单元", "单元/房号", "楼栋单元房号", "房号", "房屋"),
    # One cell with both, as paper forms often have it: "王先生 138 0013 8000".
    "contact": ("contact", "联系人/电话", "联系人及电话", "联系人电话", "联系方式"),
    "contact_name": ("contact_name", "联系人", "姓名", "顾客姓名", "客户姓名", "来访人", "来电人"),
    "contact_phone": ("phone", "contact_phone", "mobile", "telephone", "电话", "联系电话", "手机", "手机号",
                      "手机号码"),
    "contact_email": ("email", "e_mail", "contact_email", "邮箱", "电子邮箱"),
    "contact_company": ("company", "contact_company", "单位", "公司", "顾客单位", "客户单位"),
    "external_id": ("external_id", "编号", "记录编号", "登记编号"),
    "org": ("org", "org_path", "组织", "组织路径", "所属组织"),
    "group": ("group", "集团", "集团公司"),
    "subsidiary": ("subsidiary", "子公司", "分公司", "分/子公司"),
    "org_project": ("org_project", "department", "项目部", "项目经理部", "管理处"),
}

#: Each entry is a list of alternatives; one alternative's columns together suffice.
REQUIRED: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("received_at",), ("date",), ("time",)),
    (("channel",),),
    (("kind",),),
    (("text",),),
    (("received_by",),),
    (("org",), ("group",), ("project_id",)),
)

# A header row names at least this many known columns; rows above it are a form's title.
_HEADER_MIN_COLUMNS = 3
_HEADER_SEARCH_ROWS = 10


# --- reading the file --------------------------------------------------------------------------


def _blank(cells: Sequence[object]) -> bool:
    return all(cell_text(c) is None for c in cells)


def _lookup() -> dict[str, str]:
    return {normalise_header(alias): name for name, aliases in COLUMNS.items() for alias in aliases}


def read_logbook(content: bytes, *, filename: str | None = None, content_type: str | None = None) -> Sheet:
    """Parse an uploaded logbook into rows keyed by canonical column; refuses the file as a whole."""
    if not content.strip():
        raise ImportRefused([FieldProblem("file", "文件为空", "is empty")])
    if len(content) > MAX_IMPORT_BYTES:
        raise ImportRefused([FieldProblem("file", f"大于 {MAX_IMPORT_BYTES // (1024 * 1024)} MB",
                                             f"is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB")])
    fmt = detect_format(content, filename=filename, content_type=content_type)
    table = [(n, cells) for n, cells in (read_xlsx(content) if fmt == "xlsx" else read_csv(content))
             if not _blank(cells)]
    if not table:
        raise ImportRefused([FieldProblem("file", "没有表头行", "has no header row")])
    lookup = _lookup()
    header_at = next(
        (i for i, (_, cells) in enumerate(table[:_HEADER_SEARCH_ROWS])
         if len({lookup.get(normalise_header(cell_text(c) or "")) for c in cells} - {None}) >= _HEADER_MIN_COLUMNS),
        0,
    )
    header, body = table[header_at][1], table[header_at + 1:]
    if len(body) > MAX_IMPORT_ROWS:
        raise ImportRefused([FieldProblem("file", f"超过 {MAX_IMPORT_ROWS} 行：请拆分",
                                             f"has more than {MAX_IMPORT_ROWS} rows: split it")])
    columns, ignored = _map_columns(header, lookup)
    rows = [
        (number, {name: cells[i] if i < len(cells) else None for i, name in columns.items()})
        for number, cells in body
    ]
    return Sheet(kind="feedback", rows=rows, ignored_columns=ignored)


def _map_columns(header: Sequence[object], lookup: Mapping[str, str]) -> tuple[dict[int, str], list[str]]:
    columns: dict[int, str] = {}
    ignored: list[str] = []
    problems: list[FieldProblem] = []
    for i, cell in enumerate(header):
        title = cell_text(cell)
        if title is None:
            continue
        name = lookup.get(normalise_header(title))
        if name is None:
            ignored.append(title)
        elif name in columns.values():
            problems.append(FieldProblem("columns", f"有两列都表示 {name}", f"two columns mean {name}"))
        else:
            columns[i] = name
    present = set(columns.values())
    for alternatives in REQUIRED:
        if not any(set(group) <= present for group in alternatives):
            groups = [" + ".join(f"{c} ({COLUMNS[c][1]})" for c in group) for group in alternatives]
            problems.append(FieldProblem("columns", f"缺少列 {' 或 '.join(groups)}",
                                         f"missing column {' or '.join(groups)}"))
    if problems:
        raise ImportRefused(problems)
    return columns, ignored


# --- reading cells -----------------------------------------------------------------------------
# Hand-typed values: 来电 / 电话 / phone, 意见/建议, 2024年3月5日 下午3:30, an Excel date cell.


def _word(value: object) -> str | None:
    text = cell_text(value)
    return re.sub(r"[\s\-]+", "_", text.lower()) if text else None


_CHANNELS: dict[str, Channel] = {
    **{c.value: c for c in Channel if c is not Channel.SYSTEM},  # a logbook is written by people
    "来电": Channel.PHONE, "电话": Channel.PHONE, "电话来访": Channel.PHONE,
    "来函": Channel.LETTER, "信函": Channel.LETTER, "来文": Channel.LETTER, "函件": Channel.LETTER,
    "来访": Channel.WALK_IN, "上门": Channel.WALK_IN,
    "回访": Channel.RETURN_VISIT, "主动回访": Channel.RETURN_VISIT,
    "座谈会": Channel.SOLICITATION, "家访": Channel.SOLICITATION, "意见征询": Channel.SOLICITATION,
    "传真": Channel.FAX,
    "邮件": Channel.EMAIL, "电子邮件": Channel.EMAIL, "e_mail": Channel.EMAIL,
    "网站": Channel.WEB, "网络": Channel.WEB, "网上": Channel.WEB,
    "微信": Channel.WECHAT,
    "现场例会": Channel.SITE_MEETING, "例会": Channel.SITE_MEETING,
}

_KINDS: dict[str, FeedbackKind] = {
    **{k.value: k for k in FeedbackKind},
    "投诉": FeedbackKind.COMPLAINT,
    "意见": FeedbackKind.SUGGESTION, "建议": FeedbackKind.SUGGESTION, "意见建议": FeedbackKind.SUGGESTION,
    "要求": FeedbackKind.REQUIREMENT,
    "问询": FeedbackKind.INQUIRY, "咨询": FeedbackKind.INQUIRY, "询问": FeedbackKind.INQUIRY,
    "表扬": FeedbackKind.PRAISE, "评价": FeedbackKind.PRAISE, "感谢": FeedbackKind.PRAISE,
    "报修": FeedbackKind.REPAIR_REQUEST, "维修": FeedbackKind.REPAIR_REQUEST, "repair": FeedbackKind.REPAIR_REQUEST,
    "满意度调查": FeedbackKind.SURVEY_REMARK,
}

_ALTERNATIVES = re.compile(r"[/、,，;；|]")


def _vocabulary(value: object, words: Mapping[str, Any], hint: tuple[str, str]) -> Any:
    word = _word(value)
    if word is None:
        raise CellInvalid(*EMPTY_CELL)
    if word in words:
        return words[word]
    # "意见/建议": alternatives that all mean the same thing.
    meanings = {words.get(part.strip(" _")) for part in _ALTERNATIVES.split(word) if part.strip(" _")}
    if len(meanings) == 1 and None not in meanings:
        return meanings.pop()
    raise CellInvalid(*hint)


def parse_channel(value: object) -> Channel:
    words = "来电/来函/来访/回访/座谈会/家访/传真/邮件/网站/微信/现场例会"
    codes = "/".join(c.value for c in Channel if c is not Channel.SYSTEM)
    return _vocabulary(value, _CHANNELS, (f"请填写 {words} 或 {codes}", f"write {words} or {codes}"))  # type: ignore[no-any-return]


def parse_kind(value: object) -> FeedbackKind:
    words = "投诉/意见/建议/要求/问询/咨询/表扬/评价/报修"
    codes = "/".join(k.value for k in FeedbackKind)
    return _vocabulary(value, _KINDS, (f"请填写 {words} 或 {codes}", f"write {words} or {codes}"))  # type: ignore[no-any-return]


_DATE_PREFIX = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[\sT]+|$)")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:\s+|$)")
_CLOCK = re.compile(
    r"^(?P<half>上午|下午|中午|晚上|凌晨)?\s*(?P<h>\d{1,2})\s*(?:[:时点]\s*(?P<m>\d{1,2})?\s*分?"
    r"(?:\s*[:]\s*(?P<s>\d{1,2})\s*秒?)?)?\s*(?P<ampm>am|pm)?$",
    re.IGNORECASE,
)
_EXCEL_EPOCH = datetime(1899, 12, 30)


def parse_clock(value: object) -> time:
    """'9:30', '14:05:00', '下午3点20分', '3:20 pm', a time cell, or an Excel fraction of a day."""
    if isinstance(value, datetime):
        return value.time()
    if isinstance(value, time):
        return value
    if isinstance(value, float | int) and not isinstance(value, bool) and 0 <= value < 1:
        return (datetime.min + timedelta(seconds=round(value * 86400))).time()
    text = cell_text(value)
    match = _CLOCK.match(text or "")
    if match is None:
        raise CellInvalid("时间请写成 HH:MM", "write a time as HH:MM")
    hour, minute, second = (int(match[g] or 0) for g in ("h", "m", "s"))
    afternoon = match["half"] in ("下午", "晚上") or (match["ampm"] or "").lower() == "pm"
    if (afternoon or (match["half"] == "中午" and hour < 11)) and hour < 12:
        hour += 12
    elif (match["ampm"] or "").lower() == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or second > 59:
        raise CellInvalid("不是一天中的时刻", "is not a time of day")
    return time(hour, minute, second)


def parse_moment(value: object) -> tuple[datetime, bool]:
    """A date, or a date and time, as written; returns (moment, whether a time of day was given).

    The moment is naive (the org unit's local time) unless the cell names its offset."""
    if isinstance(value, datetime):
        return value, value.time() != time(0)
    if isinstance(value, date):
        return datetime.combine(value, time(0)), False
    if isinstance(value, float | int) and not isinstance(value, bool) and value >= 1:
        moment = _EXCEL_EPOCH + timedelta(days=float(value))  # a date cell formatted as a number
        return moment, moment.time() != time(0)
    text = cell_text(value)
    if text is None:
        raise CellInvalid(*EMPTY_CELL)
    try:
        moment = datetime.fromisoformat(text)
        return moment, "T" in text or ":" in text
    except ValueError:
        pass
    match = _DATE_PREFIX.match(text) or _COMPACT_DATE.match(text)
    if match is None:
        raise CellInvalid("日期请写成 YYYY-MM-DD，知道时间的写上时间（YYYY-MM-DD HH:MM）",
                          "write a date as YYYY-MM-DD, with the time if known (YYYY-MM-DD HH:MM)")
    try:
        day = date(*(int(g) for g in match.groups()))
    except ValueError:
        raise CellInvalid("不是日历上的日期", "is not a date in the calendar") from None
    rest = text[match.end():].strip()
    if not rest:
        return datetime.combine(day, time(0)), False
    return datetime.combine(day, parse_clock(rest)), True


_PHONE_IN_TEXT = re.compile(r"\+?\d[\d\s\-()]{5,}\d")
_EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+")
_CONTACT_LABELS = re.compile(r"(联系电话|电话|手机|邮箱|tel|phone|mobile|e-?mail)\s*[:：]?", re.IGNORECASE)
_CONTACT_SEPARATORS = re.compile(r"[\s,，/、:：;；()（）]+")


def split_contact(value: object) -> dict[str, str]:
    """'王先生 138-0013-8000' → name and phone; an e-mail address is recognised too."""
    text = cell_text(value)
    if text is None:
        return {}
    found: dict[str, str] = {}
    if phone := _PHONE_IN_TEXT.search(text):
        found["phone"] = phone.group().strip()
        text = text.replace(phone.group(), " ")
    if email := _EMAIL_IN_TEXT.search(text):
        found["email"] = email.group()
        text = text.replace(email.group(), " ")
    name = _CONTACT_SEPARATORS.sub(" ", _CONTACT_LABELS.sub(" ", text)).strip()
    if name:
        found["name"] = name
    return found


# --- reading rows ------------------------------------------------------------------------------


class EntryRefused(ValueError):
    """A logbook row that cannot be taken; ``problems`` names each offending column and why."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.field}: {p.reason_en or p.reason}" for p in self.problems))


@dataclass(frozen=True)
class LogbookEntry:
    """One row as written, before the registry places its project."""

    received_at: datetime  # naive: the org unit's local time
    channel: Channel
    kind: FeedbackKind
    text: str
    received_by: str
    project: str | None = None  # a project code or name, as written
    project_stage: ProjectStage | None = None
    unit: str | None = None
    contact: Mapping[str, str] = field(default_factory=dict)  # personal data
    number: str | None = None  # 编号
    org: OrgPath | None = None


class _Cells:
    """Reads one row's cells, collecting the first reason per column that cannot be read."""

    def __init__(self, cells: Mapping[str, object]) -> None:
        self.cells = cells
        self.problems: dict[str, FieldProblem] = {}

    def refuse(self, name: str, reason: str, reason_en: str | None = None) -> None:
        self.problems.setdefault(name, FieldProblem(name, reason, reason_en))

    def text(self, name: str, *, required: str | tuple[str, str] | None = None) -> str | None:
        """``required``: what the column holds, one text for both languages or (Chinese, English)."""
        value = cell_text(self.cells.get(name))
        if value is not None or required is None:
            return value
        hint_zh, hint_en = (required, required) if isinstance(required, str) else required
        self.refuse(name, f"必填（{hint_zh}）", f"is required ({hint_en})")
        return None

    def parsed(self, name: str, parse: Callable[[object], Any], *,
               required: str | tuple[str, str] | None = None) -> Any:
        if cell_text(self.cells.get(name)) is None:
            return self.text(name, required=required)
        try:
            return parse(self.cells[name])
        except CellInvalid as exc:
            self.refuse(name, exc.reason, exc.reason_en)
            return None


def entry_of(cells: Mapping[str, object]) -> LogbookEntry:
    """Read one row; raises EntryRefused naming every column that cannot be read."""
    row = _Cells(cells)
    received_at = _received_at(row)
    channel = row.parsed("channel", parse_channel, required=("来源：来电/来函/来访…", "来源: 来电/来函/来访…"))
    kind = row.parsed("kind", parse_kind, required=("类别：投诉/意见/要求…", "类别: 投诉/意见/要求…"))
    text = row.text("text", required="内容/事由")
    received_by = row.text("received_by", required=("接待人/记录人：首问负责人", "接待人/记录人: who received it (首问负责人)"))
    contact = split_contact(cells.get("contact"))
    for part in ("name", "phone", "email", "company"):
        if (value := row.text(f"contact_{part}")) is not None:
            contact[part] = value
    project_stage = row.parsed("project_stage", registry_domain.parse_stage)
    org = _org(row)
    if row.problems:
        raise EntryRefused(list(row.problems.values()))
    assert received_at and channel and kind and text and received_by
    return LogbookEntry(
        received_at=received_at, channel=channel, kind=kind, text=text, received_by=received_by,
        project=row.text("project_id"), project_stage=project_stage, unit=row.text("unit"), contact=contact,
        number=row.text("external_id"), org=org,
    )


def _received_at(row: _Cells) -> datetime | None:
    """日期 and 时间 in two columns, or together in one; a date alone is taken as 00:00."""
    written = next((n for n in ("received_at", "date") if cell_text(row.cells.get(n)) is not None), None)
    clock_given = cell_text(row.cells.get("time")) is not None
    if written is None and not clock_given:
        column = next(n for n in ("received_at", "date", "time") if n in row.cells)
        row.refuse(column, "必填（日期）：记录的时间", "is required (日期): when the entry was written")
        return None
    try:
        moment, has_time = parse_moment(row.cells[written or "time"])
    except CellInvalid as exc:
        # A 时间 column without a 日期 column must carry the date itself.
        if written:
            row.refuse(written, exc.reason, exc.reason_en)
        else:
            row.refuse("time", "请同时填写日期：2024-03-05 09:30", "give the date too: 2024-03-05 09:30")
        return None
    if written and clock_given and not has_time:
        try:
            moment = datetime.combine(moment.date(), parse_clock(row.cells["time"]), moment.tzinfo)
        except CellInvalid as exc:
            # Some sheets repeat the date in the 时间 column: "2024-03-05 09:30".
            with contextlib.suppress(CellInvalid):
                whole, whole_has_time = parse_moment(row.cells["time"])
                if whole_has_time and whole.date() == moment.date():
                    return whole
            row.refuse("time", exc.reason, exc.reason_en)
            return None
    return moment


def _org(row: _Cells) -> OrgPath | None:
    written = row.text("org")
    if written is None:
        levels = [row.text("group"), row.text("subsidiary"), row.text("org_project")]
        while levels and levels[-1] is None:
            levels.pop()
        if None in levels:
            row.refuse("org", "请写明所填层级之上的每一级：集团/子公司/项目经理部",
                       "name every level above the one given: group/subsidiary/project department")
            return None
        written = "/".join(levels) or None  # type: ignore[arg-type]
    if written is None:
        return None  # the registered project may place it
    try:
        segments = registry_domain.org_path_segments(written.replace("\\", "/"), field_name="org")
    except RegistryRefused as exc:
        row.refuse("org", exc.problems[0].reason, exc.problems[0].reason_en)
        return None
    return OrgPath(**dict(zip(("group", "subsidiary", "project"), segments, strict=False)))


# --- from a row to a submission ----------------------------------------------------------------


def external_id_of(entry: LogbookEntry, *, org: OrgPath, project_id: str | None, received_at: datetime) -> str:
    """The row's 编号 within its org unit (books of different units restart their numbering), else
    a hash of what the row says, so that importing it again is recognised. Contact details are
    left out of the hash: an external id is no place for a guessable digest of a phone number."""
    if entry.number:
        return f"{org.as_path()}#{entry.number}"
    said = {
        "received_at": received_at.astimezone(UTC).isoformat(), "channel": entry.channel.value,
        "kind": entry.kind.value, "text": entry.text, "received_by": entry.received_by,
        "org": org.as_path(), "project_id": project_id, "unit": entry.unit,
    }
    digest = hashlib.sha256(json.dumps(said, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return f"row-{digest[:32]}"


def _reason(error: Mapping[str, Any]) -> tuple[str, str]:
    """(Chinese, English). Reasons only, never the input: contact cells are personal data."""
    if error.get("type") == "string_pattern_mismatch":
        return ("请填写由字母、数字、'_'、'.'、'-' 组成的代码（以字母或数字开头）",
                "write a code of letters, digits, '_', '.', '-' (starting with a letter or digit)")
    return registry_domain.validation_reason(error)


def submission_of(
    entry: LogbookEntry, *, org: OrgPath, project_id: str | None, zone: tzinfo
) -> StaffFeedbackSubmission:
    """The same submission staff tools send over HTTP, checked by the same model."""
    received_at = entry.received_at if entry.received_at.tzinfo else entry.received_at.replace(tzinfo=zone)
    values: dict[str, Any] = {
        "kind": entry.kind, "channel": entry.channel, "text": entry.text, "org": org,
        "received_at": received_at, "received_by": entry.received_by, "project_id": project_id,
        "project_stage": entry.project_stage, "unit": entry.unit, "contact": dict(entry.contact) or None,
        "source_system": SOURCE_SYSTEM,
        "external_id": external_id_of(entry, org=org, project_id=project_id, received_at=received_at),
    }
    try:
        return StaffFeedbackSubmission.model_validate(values)
    except ValidationError as exc:
        problems: dict[str, FieldProblem] = {}
        for error in exc.errors():
            loc = [str(p) for p in error["loc"]] or ["(row)"]
            name = ".".join(loc[:2]) if loc[0] == "contact" else loc[0]  # org.group is the org column's
            problems.setdefault(name, FieldProblem(name, *_reason(error)))
        raise EntryRefused(list(problems.values())) from None


# --- applying rows -----------------------------------------------------------------------------

RowStatus = Literal["taken", "already_imported", "refused"]


@dataclass(frozen=True)
class LogbookRowReport:
    row: int
    status: RowStatus
    feedback_id: uuid.UUID | None = None
    external_id: str | None = None
    repeats_row: int | None = None  # an already imported row that an earlier row of this file took
    reasons: tuple[FieldProblem, ...] = ()


@dataclass
class LogbookReport:
    dry_run: bool
    ignored_columns: list[str]
    rows: list[LogbookRowReport] = field(default_factory=list)

    def count(self, status: RowStatus) -> int:
        return sum(r.status == status for r in self.rows)


@dataclass(frozen=True)
class _Placed:
    project_id: str | None
    org: OrgPath | None


class _Projects:
    """Registered projects by code or by name, looked up once per import."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.session = uow.session
        self.found: dict[str, _Placed | FieldProblem] = {}

    async def place(self, written: str) -> _Placed:
        if written not in self.found:
            self.found[written] = await self._lookup(written)
        placed = self.found[written]
        if isinstance(placed, FieldProblem):
            raise EntryRefused([placed])
        return placed

    async def _lookup(self, written: str) -> _Placed | FieldProblem:
        rows = (await self.session.execute(
            sa.select(Project.project_id, Project.name, Project.org_group, Project.org_subsidiary, Project.org_project)
            .where(sa.or_(Project.project_id == written, Project.name == written))
        )).all()
        by_code = [r for r in rows if r.project_id == written]
        matches = by_code or rows
        if len(matches) == 1:
            (match,) = matches
            return _Placed(match.project_id, OrgPath(group=match.org_group, subsidiary=match.org_subsidiary,
                                                     project=match.org_project))
        if matches:
            return FieldProblem("project_id", "有多个已登记项目叫这个名称：请填写项目编号",
                                "several registered projects have this name: write the project code")
        if re.match(CODE_PATTERN, written):
            return _Placed(written, None)  # not registered: taken as written, as over HTTP
        return FieldProblem("project_id", "没有已登记项目使用这个编号或名称",
                            "no registered project has this code or name")


async def import_logbook(
    sheet: Sheet,
    *,
    uow: UnitOfWork,
    receive: service.Receiver,
    zone_of: Callable[[str], tzinfo],
    dry_run: bool = False,
) -> LogbookReport:
    """Take every row through ``receive_feedback`` in its own savepoint; the caller's unit of
    work commits (or, for a dry run, does not). ``zone_of(org path)`` is the local time zone of
    an org unit, for the times the logbook wrote without one."""
    report = LogbookReport(dry_run=dry_run, ignored_columns=sheet.ignored_columns)
    projects = _Projects(uow)
    first_row_of: dict[str, int] = {}
    for number, cells in sheet.rows:
        scope = _RowScope(uow)
        try:
            entry = entry_of(cells)
            placed = await projects.place(entry.project) if entry.project else _Placed(None, None)
            org = entry.org or placed.org
            if org is None:
                raise EntryRefused([FieldProblem("org", "请写明组织（组织：集团/子公司/项目）或已登记的项目",
                                                 "name the org unit (组织: group/subsidiary/project) "
                                                 "or a registered project")])
            submission = submission_of(entry, org=org, project_id=placed.project_id, zone=zone_of(org.as_path()))
            correlation_id = uuid.uuid5(SUBMISSION_NAMESPACE, f"corr:{SOURCE_SYSTEM}:{submission.external_id}")
            async with uow.session.begin_nested():
                receipt = await receive(submission, uow=scope, correlation_id=correlation_id, staff_required=True)
                await uow.session.flush()
        except EntryRefused as exc:
            report.rows.append(LogbookRowReport(number, "refused", reasons=exc.problems))
        except domain.SubmissionRefused as exc:
            report.rows.append(LogbookRowReport(number, "refused", reasons=(FieldProblem(exc.field, exc.reason, exc.reason_en),)))
        except domain.IdempotencyConflict:
            clash = FieldProblem("external_id", "此编号以前导入过且内容不同；重新导入不会更改它",
                                 "this 编号 was imported before with different content; a re-import does not change it")
            report.rows.append(LogbookRowReport(number, "refused", reasons=(clash,)))
        except (RegistryRefused, RegistryConflict) as exc:
            problems = exc.problems if isinstance(exc, RegistryRefused) else (FieldProblem("contact", exc.reason, exc.reason_en),)
            report.rows.append(LogbookRowReport(number, "refused", reasons=problems))
        except IntegrityError:
            clash = FieldProblem("(row)", "与已存数据冲突", "conflicts with what is stored")
            report.rows.append(LogbookRowReport(number, "refused", reasons=(clash,)))
        else:
            external_id = str(submission.external_id)
            if receipt.created:
                uow.publish(*scope.events)
                first_row_of[external_id] = number
                report.rows.append(LogbookRowReport(number, "taken", receipt.feedback_id, external_id))
            else:
                report.rows.append(LogbookRowReport(number, "already_imported", receipt.feedback_id, external_id,
                                                    repeats_row=first_row_of.get(external_id)))
    log.info("logbook import", extra={
        "rows": len(report.rows), "taken": report.count("taken"), "already_imported": report.count("already_imported"),
        "refused": report.count("refused"), "dry_run": dry_run,
    })
    return report


# --- HTTP --------------------------------------------------------------------------------------


class LogbookRowOut(BaseModel):
    row: int = Field(description="the row number a spreadsheet shows")
    status: RowStatus
    feedback_id: uuid.UUID | None = None
    external_id: str | None = Field(default=None, description="the row's 编号 in its org unit, or a hash of the row")
    repeats_row: int | None = Field(default=None, description="an earlier row of this file with the same entry")
    reasons: list[FieldReason] = []


class LogbookReportOut(BaseModel):
    kind: Literal["feedback"] = "feedback"
    dry_run: bool
    total: int
    taken: int
    already_imported: int
    refused: int
    ignored_columns: list[str]
    rows: list[LogbookRowOut]

    @classmethod
    def of(cls, report: LogbookReport) -> LogbookReportOut:
        return cls(
            dry_run=report.dry_run, total=len(report.rows), taken=report.count("taken"),
            already_imported=report.count("already_imported"), refused=report.count("refused"),
            ignored_columns=report.ignored_columns,
            rows=[
                LogbookRowOut(row=r.row, status=r.status, feedback_id=r.feedback_id, external_id=r.external_id,
                              repeats_row=r.repeats_row,
                              reasons=[FieldReason(field=p.field, reason=p.for_people()) for p in r.reasons])
                for r in report.rows
            ],
        )


IMPORT_LOGBOOK = require(Role.CUSTOMER_SERVICE, Role.QUALITY, Role.ADMINISTRATOR)


def build_router(*, uow_factory: UnitOfWorkFactory, receive: service.Receiver, calendar: BusinessCalendar) -> APIRouter:
    """``POST /api/v1/imports/feedback``. Include it before the registry's ``/imports/{kind}``."""
    router = APIRouter(prefix="/api/v1", tags=["imports"])

    @router.post("/imports/feedback", response_model=LogbookReportOut, openapi_extra=_IMPORT_BODY)
    async def post_logbook_import(request: Request, caller: Annotated[Principal, Depends(IMPORT_LOGBOOK)],
                                  dry_run: bool = False) -> LogbookReportOut:
        """Import a paper logbook (工作信息记录本, 顾客沟通登记表) from a CSV or XLSX file: multipart
        form field `file`, or the file as the raw body. Each row is taken, recognised as already
        imported, or refused with its reasons; `dry_run=true` checks everything and keeps nothing."""
        content, filename, content_type = await _uploaded_file(request)
        try:
            sheet = read_logbook(content, filename=filename, content_type=content_type)
        except ImportRefused as exc:
            fields = [{"field": p.field, "reason": p.for_people()} for p in exc.problems]
            raise HTTPException(422, {"error": "validation_failed", "fields": fields}) from exc
        async def receive_in_scope(submission: StaffFeedbackSubmission, **kwargs: Any) -> Any:
            # A row for an org unit outside the caller's is refused like any other bad row.
            if not caller.may_see(submission.org.as_path()):
                raise domain.SubmissionRefused("org", "不在你的组织范围内", "outside your org units")
            return await receive(submission, **kwargs)

        async with uow_factory() as uow:
            report = await import_logbook(
                sheet, uow=uow, receive=receive_in_scope, zone_of=lambda path: calendar.for_unit(path).zone, dry_run=dry_run
            )
            if not dry_run:
                await uow.commit()
        return LogbookReportOut.of(report)

    return router


__all__ = [
    "COLUMNS",
    "SOURCE_SYSTEM",
    "EntryRefused",
    "LogbookEntry",
    "LogbookReport",
    "LogbookRowReport",
    "build_router",
    "entry_of",
    "external_id_of",
    "import_logbook",
    "parse_channel",
    "parse_clock",
    "parse_kind",
    "parse_moment",
    "read_logbook",
    "split_contact",
    "submission_of",
]
