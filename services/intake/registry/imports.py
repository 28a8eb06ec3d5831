"""Bulk import of projects, units and households from CSV or XLSX sheets.

A sheet's first non-blank row names its columns, in English or Chinese (项目编号 / project_id,
楼栋 / building, 单元/房号 / label, 是否入住 / occupied, 业主姓名 / name, 电话 / phone…); other
columns are listed as ignored. Each row is read, checked and applied in its own savepoint, so a
refused row leaves nothing behind and never stops the rows after it. The report gives, per row,
its number as a spreadsheet shows it (the header is row 1 when it is the first line), taken or
refused, and the reason for each offending field. Reports and logs name records by their codes
and ids, never by a person's name or contact details.

Each row passes the checks of the single-record route it stands for (``POST /projects``,
``POST /projects/{id}/units``, ``POST /customers``), for the importing caller, dry runs too. Who may
import a kind at all is the route's role check: the whole request is refused (403) as that route
would refuse it. What lies outside the caller's org units (a project created or moved outside them,
one of another unit moved in, units or households written into another unit's project, a household
whose phone or e-mail belongs to a customer the caller may not reach) refuses just that row, with
a reason on the offending field, where the single-record route answers 403 ``out_of_scope``.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from services.intake.registry import domain, service
from services.intake.registry.domain import (
    CellInvalid,
    CustomerKind,
    FieldProblem,
    OutOfScope,
    RecordNotFound,
    RegistryConflict,
    RegistryRefused,
)
from services.intake.registry.models import Project
from shared.auth.principal import Principal
from shared.clock import Clock
from shared.db import UnitOfWork
from shared.events import Event, OrgPath
from shared.events.catalog import UnitRecord
from shared.events.inbound import ContactDetails

log = logging.getLogger(__name__)

ImportKind = Literal["projects", "units", "households"]
IMPORT_KINDS: tuple[str, ...] = get_args(ImportKind)

MAX_IMPORT_BYTES = 10 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000

#: Canonical column → the headers that mean it (compared after :func:`normalise_header`).
COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "projects": {
        "project_id": ("project_id", "project_code", "项目编号", "项目编码", "项目代码"),
        "name": ("name", "project_name", "项目名称"),
        "org": ("org", "org_path", "组织", "组织路径", "所属组织", "所属单位"),
        "group": ("group", "集团", "集团公司"),
        "subsidiary": ("subsidiary", "子公司", "分公司", "分/子公司"),
        "org_project": ("org_project", "department", "项目部", "项目经理部", "管理处"),
        "contract_number": ("contract_number", "contract_no", "合同编号", "合同号"),
        "stage": ("stage", "阶段", "项目阶段"),
        "completion_date": ("completion_date", "竣工日期"),
        "warranty_end": ("warranty_end", "保修到期", "保修到期日", "保修截止日期", "保修期至"),
        "households": ("households", "户数", "总户数"),
        "occupied_units": ("occupied_units", "入住户数", "已入住户数"),
        "occupancy_start": ("occupancy_start", "入住日期", "入住开始日期", "交房日期"),
        "buildings": ("buildings", "楼栋", "楼栋列表"),
    },
    "units": {
        "project_id": ("project_id", "project_code", "项目编号", "项目编码", "项目代码"),
        "building": ("building", "楼栋", "楼号", "栋号"),
        "label": ("label", "unit_label", "单元/房号", "单元房号", "房屋编号", "户号"),
        "entrance": ("entrance", "单元", "单元号"),
        "room": ("room", "房号", "房间号", "门牌号"),
        "occupied": ("occupied", "是否入住", "入住", "入住状态"),
    },
    "households": {
        "project_id": ("project_id", "project_code", "项目编号", "项目编码", "项目代码"),
        "building": ("building", "楼栋", "楼号", "栋号"),
        "label": ("label", "unit_label", "单元/房号", "单元房号", "房屋编号", "户号"),
        "entrance": ("entrance", "单元", "单元号"),
        "room": ("room", "房号", "房间号", "门牌号"),
        "occupied": ("occupied", "是否入住", "入住", "入住状态"),
        "name": ("name", "owner_name", "业主姓名", "姓名", "住户姓名", "客户姓名"),
        "company": ("company", "公司", "公司名称"),
        "phone": ("phone", "mobile", "telephone", "电话", "联系电话", "手机", "手机号", "手机号码"),
        "email": ("email", "e_mail", "邮箱", "电子邮箱", "电子邮件"),
        "customer_kind": ("customer_kind", "kind", "客户类型", "类型"),
        "key_customer": ("key_customer", "重点客户"),
    },
}

# Each alternative is a set of columns that together suffice.
REQUIRED: dict[str, tuple[tuple[tuple[str, ...], ...], ...]] = {
    "projects": ((("project_id",),), (("name",),), (("stage",),), (("org",), ("group", "subsidiary", "org_project"))),
    "units": ((("project_id",),), (("building",),), (("label",), ("entrance",), ("room",))),
    "households": (
        (("project_id",),), (("building",),), (("label",), ("entrance",), ("room",)), (("phone",), ("email",)),
    ),
}


class ImportRefused(ValueError):
    """The file as a whole cannot be imported (unreadable, too big, columns missing)."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.field}: {p.reason_en or p.reason}" for p in self.problems))


# --- reading a sheet ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sheet:
    kind: str
    rows: list[tuple[int, dict[str, object]]]  # (row number, canonical column → cell)
    ignored_columns: list[str] = field(default_factory=list)


_PARENTHETICAL = re.compile(r"\s*\([^)]*\)\s*$")


def normalise_header(header: object) -> str:
    """'Project ID' → 'project_id'; '项目编号（必填）*' → '项目编号' (full-width forms folded)."""
    text = unicodedata.normalize("NFKC", str(header or "")).strip().rstrip("*").strip()
    text = _PARENTHETICAL.sub("", text) or text
    return re.sub(r"[\s\-]+", "_", text.lower())


def detect_format(content: bytes, *, filename: str | None, content_type: str | None) -> Literal["csv", "xlsx"]:
    name = (filename or "").lower()
    ctype = (content_type or "").lower()
    if content.startswith(b"\xd0\xcf\x11\xe0") or name.endswith(".xls"):
        raise ImportRefused([FieldProblem("file", "不读取旧版 .xls 工作簿：请另存为 .xlsx 或 .csv",
                                            "old .xls workbooks are not read: save it as .xlsx or .csv")])
    if content.startswith(b"PK\x03\x04") or name.endswith(".xlsx") or "spreadsheetml" in ctype:
        return "xlsx"
    return "csv"


def _decode(content: bytes) -> str:
    # Excel on Chinese Windows saves CSV in GB18030 (GBK); everything else sends UTF-8.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportRefused([FieldProblem("file", "既不是 UTF-8 也不是 GB18030 编码的文本",
                                        "is neither UTF-8 nor GB18030 text")])


def read_csv(content: bytes) -> list[tuple[int, list[object]]]:
    text = _decode(content)
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return [(number, list(cells)) for number, cells in enumerate(reader, start=1)]
    except csv.Error as exc:
        raise ImportRefused([FieldProblem("file", f"不是可读的 CSV（{exc}）", f"is not readable CSV ({exc})")]) from None


def read_xlsx(content: bytes) -> list[tuple[int, list[object]]]:
    """The first worksheet's rows; cells keep their types (dates, numbers, booleans)."""
    import openpyxl  # imported here: only XLSX imports need it

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:
        raise ImportRefused([FieldProblem("file", "不是可读的 XLSX 工作簿", "is not a readable XLSX workbook")]) from None
    try:
        sheet = workbook.worksheets[0]
        rows = []
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            rows.append((number, list(cells)))
            if len(rows) > MAX_IMPORT_ROWS + 50:
                break
        return rows
    finally:
        workbook.close()


def _blank(cells: Sequence[object]) -> bool:
    return all(domain.cell_text(c) is None for c in cells)


def read_sheet(kind: str, content: bytes, *, filename: str | None = None, content_type: str | None = None) -> Sheet:
    """Parse an uploaded file into rows keyed by canonical column; refuses the file as a whole."""
    if kind not in COLUMNS:
        raise ImportRefused([FieldProblem("kind", f"可导入的类型：{', '.join(IMPORT_KINDS)}",
                                             f"import one of {', '.join(IMPORT_KINDS)}")])
    if not content.strip():
        raise ImportRefused([FieldProblem("file", "文件为空", "is empty")])
    if len(content) > MAX_IMPORT_BYTES:
        raise ImportRefused([FieldProblem("file", f"大于 {MAX_IMPORT_BYTES // (1024 * 1024)} MB",
                                             f"is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB")])
    fmt = detect_format(content, filename=filename, content_type=content_type)
    table = read_xlsx(content) if fmt == "xlsx" else read_csv(content)
    table = [(number, cells) for number, cells in table if not _blank(cells)]
    if not table:
        raise ImportRefused([FieldProblem("file", "没有表头行", "has no header row")])
    (_, header), body = table[0], table[1:]
    if len(body) > MAX_IMPORT_ROWS:
        raise ImportRefused([FieldProblem("file", f"超过 {MAX_IMPORT_ROWS} 行：请拆分",
                                             f"has more than {MAX_IMPORT_ROWS} rows: split it")])
    columns, ignored = _map_columns(kind, header)
    rows = [
        (number, {name: cells[i] if i < len(cells) else None for i, name in columns.items()})
        for number, cells in body
    ]
    return Sheet(kind=kind, rows=rows, ignored_columns=ignored)


def _map_columns(kind: str, header: Sequence[object]) -> tuple[dict[int, str], list[str]]:
    lookup = {normalise_header(alias): name for name, aliases in COLUMNS[kind].items() for alias in aliases}
    columns: dict[int, str] = {}
    ignored: list[str] = []
    problems: list[FieldProblem] = []
    for i, cell in enumerate(header):
        title = domain.cell_text(cell)
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
    for alternatives in REQUIRED[kind]:
        if not any(set(group) <= present for group in alternatives):
            groups = [
                " + ".join(f"{c} ({COLUMNS[kind][c][2] if len(COLUMNS[kind][c]) > 2 else c})" for c in group)
                for group in alternatives
            ]
            problems.append(FieldProblem("columns", f"缺少列 {' 或 '.join(groups)}",
                                         f"missing column {' or '.join(groups)}"))
    if problems:
        raise ImportRefused(problems)
    return columns, ignored


# --- reading rows ------------------------------------------------------------------------------


class _Row:
    """Reads one row's cells, collecting a reason for each cell that cannot be read."""

    def __init__(self, cells: Mapping[str, object]) -> None:
        self.cells = cells
        self.problems: list[FieldProblem] = []

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = domain.cell_text(self.cells.get(name))
        if value is None and required:
            self.problems.append(FieldProblem(name, "必填", "is required"))
        return value

    def parsed(self, name: str, parse: Callable[[object], Any]) -> Any:
        if domain.cell_text(self.cells.get(name)) is None:
            return None
        try:
            return parse(self.cells[name])
        except CellInvalid as exc:
            self.problems.append(exc.problem(name))
            return None

    def label(self) -> str | None:
        label = self.text("label")
        if label is not None:
            return label
        parts = [p for p in (self.text("entrance"), self.text("room")) if p]
        if not parts:
            self.problems.append(FieldProblem("label", "必填（单元/房号）", "is required (单元/房号)"))
            return None
        return "-".join(parts)

    def validated(self, model: type[Any], values: dict[str, Any]) -> Any:
        try:
            return model.model_validate(values)
        except ValidationError as exc:
            self.problems += [
                FieldProblem(".".join(str(p) for p in e["loc"]) or "(row)", *domain.validation_reason(e))
                for e in exc.errors()
            ]
            return None

    def done(self) -> None:
        if self.problems:
            # The first reason per field: a cell that cannot be read also fails the model's check.
            first: dict[str, FieldProblem] = {}
            for problem in self.problems:
                first.setdefault(problem.field, problem)
            raise RegistryRefused(first.values())


def project_row(cells: Mapping[str, object]) -> service.ProjectInput:
    row = _Row(cells)
    org_text = row.text("org")
    if org_text is None:
        parts = [row.text("group"), row.text("subsidiary"), row.text("org_project")]
        org_text = "/".join(p for p in parts if p) or None
    org: OrgPath | None = None
    if org_text is None:
        row.problems.append(FieldProblem("org", "必填：集团/子公司/项目经理部",
                                         "is required: group/subsidiary/project department"))
    else:
        try:
            segments = domain.org_path_segments(org_text.replace("\\", "/"), field_name="org")
            if len(segments) != 3:
                row.problems.append(FieldProblem("org", "请写明集团、子公司和项目经理部",
                                                 "name the group, subsidiary and project department"))
            else:
                org = domain.org_of("/".join(segments))
        except RegistryRefused as exc:
            row.problems += exc.problems
    values: dict[str, Any] = {
        "project_id": row.text("project_id", required=True),
        "name": row.text("name", required=True),
        "contract_number": row.text("contract_number"),
        "stage": row.parsed("stage", domain.parse_stage),
        "completion_date": row.parsed("completion_date", domain.parse_date),
        "warranty_end": row.parsed("warranty_end", domain.parse_date),
        "households": row.parsed("households", domain.parse_count),
        "occupied_units": row.parsed("occupied_units", domain.parse_count),
        "occupancy_start": row.parsed("occupancy_start", domain.parse_date),
        "buildings": domain.split_list(cells.get("buildings")),
    }
    if values["stage"] is None and domain.cell_text(cells.get("stage")) is None:
        row.problems.append(FieldProblem("stage", "必填（前期/过程/后期/物业管理）", "is required (前期/过程/后期/物业管理)"))
    command = row.validated(service.ProjectInput, {**values, "org": org})
    if command is not None:
        try:
            domain.check_project(service.project_facts(command))
        except RegistryRefused as exc:
            row.problems += exc.problems
    row.done()
    return command  # type: ignore[no-any-return]


def unit_row(cells: Mapping[str, object]) -> tuple[str, service.UnitInput]:
    row = _Row(cells)
    project_id = row.text("project_id", required=True)
    values: dict[str, Any] = {"building": row.text("building", required=True), "label": row.label()}
    occupied = row.parsed("occupied", domain.parse_yes_no)
    if occupied is not None:
        values["occupied"] = occupied  # a blank cell keeps what is stored
    unit = row.validated(service.UnitInput, values)
    row.done()
    return project_id, unit  # type: ignore[return-value]


@dataclass(frozen=True)
class HouseholdRow:
    project_id: str
    building: str
    label: str
    contact: ContactDetails
    customer_kind: CustomerKind = "household"
    key_customer: bool | None = None
    occupied: bool | None = None


def household_row(cells: Mapping[str, object]) -> HouseholdRow:
    row = _Row(cells)
    project_id = row.text("project_id", required=True)
    building = row.text("building", required=True)
    label = row.label()
    contact = row.validated(ContactDetails, {
        "name": row.text("name"), "company": row.text("company"), "phone": row.text("phone"),
        "email": row.text("email"),
    })
    if contact is not None and not (contact.phone or contact.email):
        row.problems.append(FieldProblem("phone", "请填写电话或电子邮箱，以便联系住户",
                                         "give a phone or an e-mail, so the household can be reached"))
    kind = row.parsed("customer_kind", domain.parse_customer_kind) or "household"
    key_customer = row.parsed("key_customer", domain.parse_yes_no)
    occupied = row.parsed("occupied", domain.parse_yes_no)
    if building and label:
        row.validated(service.UnitInput, {"building": building, "label": label})
    row.done()
    assert project_id and building and label and contact is not None
    return HouseholdRow(project_id=project_id, building=building, label=label, contact=contact,
                        customer_kind=kind, key_customer=key_customer, occupied=occupied)


# --- applying rows -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RowReport:
    row: int
    status: Literal["taken", "refused"]
    record: str | None = None  # project id, unit or customer id: never a name or contact detail
    outcome: str | None = None  # created | updated | unchanged
    reasons: tuple[FieldProblem, ...] = ()


@dataclass
class ImportReport:
    kind: str
    dry_run: bool
    ignored_columns: list[str]
    rows: list[RowReport] = field(default_factory=list)

    @property
    def taken(self) -> int:
        return sum(r.status == "taken" for r in self.rows)

    @property
    def refused(self) -> int:
        return sum(r.status == "refused" for r in self.rows)


class _RowScope:
    """A row's view of the unit of work: its events wait until its savepoint has held."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.session = uow.session
        self.events: list[Event] = []

    def publish(self, *events: Event) -> None:
        self.events.extend(events)


@dataclass
class _Pending:
    """Units changed by the import, announced per project once all rows are in."""

    org: dict[str, OrgPath] = field(default_factory=dict)
    units: dict[str, dict[uuid.UUID, UnitRecord]] = field(default_factory=dict)

    def add(self, outcome: service.UnitsOutcome) -> None:
        self.org[outcome.project_id] = outcome.org
        self.units.setdefault(outcome.project_id, {}).update({u.unit_id: u for u in outcome.changed})


Applied = tuple[str, str]  # (record, outcome)
Apply = Callable[..., Awaitable[Applied]]


async def _apply_project(cells: Mapping[str, object], *, uow: Any, clock: Clock, correlation_id: uuid.UUID | None,
                         pending: _Pending, caller: Principal | None) -> Applied:
    command = project_row(cells)
    project, outcome = await service.save_project(command, uow=uow, clock=clock, correlation_id=correlation_id,
                                                  caller=caller)
    return project.project_id, outcome


async def _apply_unit(cells: Mapping[str, object], *, uow: Any, clock: Clock, correlation_id: uuid.UUID | None,
                      pending: _Pending, caller: Principal | None) -> Applied:
    project_id, unit = unit_row(cells)
    outcome = await service.apply_units(project_id, [unit], uow=uow, clock=clock, correlation_id=correlation_id,
                                        field_prefix="", caller=caller)
    pending.add(outcome)
    return f"{project_id} {unit.building}/{unit.label}", _unit_outcome(outcome)


async def _apply_household(cells: Mapping[str, object], *, uow: Any, clock: Clock,
                           correlation_id: uuid.UUID | None, pending: _Pending, caller: Principal | None) -> Applied:
    household = household_row(cells)
    project = await uow.session.get(Project, household.project_id)
    if project is None:
        raise RecordNotFound("project", household.project_id)
    if caller is not None and not caller.may_see(project.org_path):
        raise OutOfScope("project_id", "project", household.project_id)
    unit = await service.find_unit(household.project_id, household.building, household.label, uow=uow)
    if unit is None:
        where = f"{household.building}/{household.label} in project {household.project_id}"
        raise RegistryRefused.one(
            "label", f"项目 {household.project_id} 没有房屋 {household.building}/{household.label}：请先导入房屋",
            f"no unit {where}: import the units first")
    customer_id = await service.match_or_register_customer(
        household.contact, customer_kind=household.customer_kind, project_id=household.project_id, uow=uow,
        clock=clock, org=service.project_org(project), correlation_id=correlation_id,
        key_customer=household.key_customer, unit_id=unit.unit_id, caller=caller,
    )
    values: dict[str, Any] = {"building": household.building, "label": household.label, "household_id": customer_id}
    if household.occupied is not None:
        values["occupied"] = household.occupied
    outcome = await service.apply_units(
        household.project_id, [service.UnitInput(**values)], uow=uow, clock=clock, correlation_id=correlation_id,
        field_prefix="", caller=caller,
    )
    pending.add(outcome)
    record = f"{household.project_id} {household.building}/{household.label} customer {customer_id}"
    return record, _unit_outcome(outcome)


def _unit_outcome(outcome: service.UnitsOutcome) -> str:
    return "created" if outcome.created else "updated" if outcome.updated else "unchanged"


APPLY: dict[str, Apply] = {"projects": _apply_project, "units": _apply_unit, "households": _apply_household}

_FIELD_OF_MISSING = {"project": "project_id", "customer": "household_id", "org unit": "org", "unit": "label"}


async def run_import(
    sheet: Sheet,
    *,
    uow: UnitOfWork,
    clock: Clock,
    correlation_id: uuid.UUID | None = None,
    dry_run: bool = False,
    caller: Principal | None = None,
) -> ImportReport:
    """Apply every row in its own savepoint and queue the events of the rows taken.

    ``caller``: whose org units bound every row (None: intake itself, trusted). The caller's unit
    of work commits (or, for a dry run, does not)."""
    report = ImportReport(kind=sheet.kind, dry_run=dry_run, ignored_columns=sheet.ignored_columns)
    apply = APPLY[sheet.kind]
    pending = _Pending()
    for number, cells in sheet.rows:
        scope = _RowScope(uow)
        try:
            async with uow.session.begin_nested():
                record, outcome = await apply(cells, uow=scope, clock=clock, correlation_id=correlation_id,
                                              pending=pending, caller=caller)
                await uow.session.flush()
        except OutOfScope as exc:
            report.rows.append(RowReport(number, "refused", reasons=(exc.problem,)))
        except RegistryRefused as exc:
            report.rows.append(RowReport(number, "refused", reasons=exc.problems))
        except RecordNotFound as exc:
            missing = FieldProblem(_FIELD_OF_MISSING.get(exc.kind, exc.kind),
                                   f"{domain.RECORD_KIND_ZH.get(exc.kind, exc.kind)} {exc.key} 尚未登记",
                                   f"{exc.kind} {exc.key} is not registered")
            report.rows.append(RowReport(number, "refused", reasons=(missing,)))
        except RegistryConflict as exc:
            fields = exc.details.get("fields") or [{"field": "(row)", "reason": exc.reason, "reason_en": exc.reason_en}]
            reasons = tuple(FieldProblem(f["field"], f["reason"], f.get("reason_en")) for f in fields)
            report.rows.append(RowReport(number, "refused", reasons=reasons))
        except IntegrityError:
            clash = FieldProblem("(row)", "与已存数据冲突", "conflicts with what is stored")
            report.rows.append(RowReport(number, "refused", reasons=(clash,)))
        else:
            uow.publish(*scope.events)
            report.rows.append(RowReport(number, "taken", record=record, outcome=outcome))
    now = clock()
    for project_id, units in pending.units.items():
        if units:
            uow.publish(*domain.units_registered(
                project_id, list(units.values()), org=pending.org[project_id], now=now, correlation_id=correlation_id
            ))
    log.info("registry import", extra={"kind": sheet.kind, "rows": len(report.rows), "taken": report.taken,
                                        "refused": report.refused, "dry_run": dry_run})
    return report


__all__ = [
    "COLUMNS",
    "IMPORT_KINDS",
    "MAX_IMPORT_BYTES",
    "HouseholdRow",
    "ImportKind",
    "ImportRefused",
    "ImportReport",
    "RowReport",
    "Sheet",
    "detect_format",
    "household_row",
    "normalise_header",
    "project_row",
    "read_sheet",
    "run_import",
    "unit_row",
]
