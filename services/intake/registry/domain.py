"""The registry's rules: org paths and levels, project dates and counts, units, spreadsheet cells.

Pure functions only; ``service.py`` loads what a rule needs (does the parent exist? which
buildings does the project list?) and passes it in. A rule that fails raises
:class:`RegistryRefused` naming every offending field at once, so a form or an import row can
show all of its problems together.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from shared.events import OrgPath
from shared.events.catalog import (
    CustomerRegistered,
    CustomerRegisteredData,
    OrgUnitRegistered,
    OrgUnitRegisteredData,
    ProjectRegistered,
    ProjectRegisteredData,
    UnitRecord,
    UnitsRegistered,
    UnitsRegisteredData,
)
from shared.events.envelope import CODE_PATTERN
from shared.events.vocabulary import ProjectStage
from shared.http import reason_zh
from shared.pii import REASONS_ZH
from shared.i18n import pick

PRODUCER = "intake"

OrgLevel = Literal["group", "subsidiary", "project"]
OrgUnitType = Literal["group", "subsidiary", "project_department", "property_office"]
CustomerKind = Literal["owner", "household", "agent", "company", "person"]

#: Depth of a path ('hx' = 1, 'hx/east' = 2, 'hx/east/lakeside' = 3) → its level.
LEVEL_BY_DEPTH: dict[int, OrgLevel] = {1: "group", 2: "subsidiary", 3: "project"}
UNIT_TYPES_BY_LEVEL: dict[str, frozenset[str]] = {
    "group": frozenset({"group"}),
    "subsidiary": frozenset({"subsidiary"}),
    "project": frozenset({"project_department", "property_office"}),  # 项目经理部 / 管理处
}
DEFAULT_UNIT_TYPE: dict[str, OrgUnitType] = {
    "group": "group", "subsidiary": "subsidiary", "project": "project_department",
}

#: Where a customer's events go when nothing ties the customer to an org unit yet.
UNASSIGNED_ORG = OrgPath(group="unassigned")

# A UnitsRegistered event carries at most this many units; a larger change becomes several events.
UNITS_PER_EVENT = 500

_CODE = re.compile(CODE_PATTERN)

_LEVEL_ZH = {"group": "集团", "subsidiary": "子公司", "project": "项目"}
_UNIT_TYPE_ZH = {"group": "集团", "subsidiary": "子公司", "project_department": "项目经理部", "property_office": "管理处"}


@dataclass(frozen=True)
class FieldProblem:
    """What is wrong with a field: ``reason`` in Chinese (what people read by default),
    ``reason_en`` in English (``?lang=en``)."""

    field: str
    reason: str
    reason_en: str | None = None

    def for_people(self) -> str:
        """The reason in the request's language."""
        return pick(self.reason, self.reason_en)


#: shared.pii's reasons for a contact it cannot read, as people read them in Chinese.
CONTACT_REASONS_ZH = REASONS_ZH


def validation_reason(error: Any) -> tuple[str, str]:
    """A pydantic error of an import row as (Chinese, English); never the input itself."""
    english = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    return reason_zh(error), english


class RegistryRefused(ValueError):
    """A change the registry cannot accept; ``problems`` names each offending field and why."""

    def __init__(self, problems: Iterable[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.field}: {p.reason_en or p.reason}" for p in self.problems))

    @classmethod
    def one(cls, field: str, reason: str, reason_en: str | None = None) -> RegistryRefused:
        return cls([FieldProblem(field, reason, reason_en)])


#: The kinds of record as people call them (RecordNotFound.kind, revision conflicts).
RECORD_KIND_ZH = {"org unit": "组织", "project": "项目", "unit": "房屋", "customer": "客户"}


class OutOfScope(PermissionError):
    """A record, or the org unit a change would put it in, lies outside the caller's org units.

    The single-record routes answer 403 ``out_of_scope`` (the registry is readable by everyone
    signed in, so naming the record leaks nothing); an import refuses just the row, on ``field``."""

    def __init__(self, field: str, kind: str, key: str) -> None:
        self.problem = FieldProblem(field, f"{RECORD_KIND_ZH.get(kind, kind)} {key} 不在你的组织范围内",
                                    f"{kind} {key} is outside your org units")
        super().__init__(self.problem.reason_en)


class RecordNotFound(LookupError):
    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key} is not registered")
        self.kind = kind
        self.key = key


class RegistryConflict(Exception):
    """The change collides with what is stored: the record exists, a revision moved on, a phone
    number already belongs to someone else. ``reason`` is Chinese, ``reason_en`` English; a
    ``fields`` detail lists ``{field, reason, reason_en}``."""

    def __init__(self, error: str, reason: str, reason_en: str | None = None, **details: Any) -> None:
        super().__init__(reason_en or reason)
        self.error = error
        self.reason = reason
        self.reason_en = reason_en
        self.details = details

    def for_people(self) -> str:
        """The reason in the request's language."""
        return pick(self.reason, self.reason_en)


# --- org units ---------------------------------------------------------------------------------


def org_path_segments(path: str, *, field_name: str = "path") -> list[str]:
    segments = path.split("/")
    if not 1 <= len(segments) <= 3:
        raise RegistryRefused.one(field_name, "组织路径由一到三个代码组成：集团[/子公司[/项目]]",
                                  "an org path has one to three codes: group[/subsidiary[/project]]")
    bad = [s for s in segments if not _CODE.match(s)]
    if bad:
        raise RegistryRefused.one(
            field_name, "每个代码以字母或数字开头，只能含字母、数字、'_'、'.'、'-'",
            "each code starts with a letter or digit and holds only letters, digits, '_', '.', '-'",
        )
    return segments


def level_of(path: str) -> OrgLevel:
    return LEVEL_BY_DEPTH[len(org_path_segments(path))]


def parent_of(path: str) -> str | None:
    segments = org_path_segments(path)
    return "/".join(segments[:-1]) or None


def org_of(path: str) -> OrgPath:
    segments = org_path_segments(path)
    return OrgPath(**dict(zip(("group", "subsidiary", "project"), segments, strict=False)))


def check_org_unit(
    *, path: str, level: str | None, unit_type: str | None, parent_exists: bool
) -> tuple[OrgLevel, OrgUnitType]:
    """The (level, unit type) of a valid org unit; level and type may be left out and derived."""
    depth_level = level_of(path)
    problems: list[FieldProblem] = []
    if level is not None and level != depth_level:
        problems.append(FieldProblem(
            "level", f"{len(path.split('/'))} 个代码的路径是{_LEVEL_ZH[depth_level]}，不是{_LEVEL_ZH.get(level, level)}",
            f"a path of {len(path.split('/'))} code(s) is a {depth_level}, not a {level}"))
    chosen_type = unit_type or DEFAULT_UNIT_TYPE[depth_level]
    if chosen_type not in UNIT_TYPES_BY_LEVEL[depth_level]:
        allowed = " or ".join(sorted(UNIT_TYPES_BY_LEVEL[depth_level]))
        allowed_zh = "或".join(_UNIT_TYPE_ZH[t] for t in sorted(UNIT_TYPES_BY_LEVEL[depth_level]))
        problems.append(FieldProblem("unit_type", f"{_LEVEL_ZH[depth_level]}的类型是{allowed_zh}",
                                     f"a {depth_level} is a {allowed}"))
    parent = parent_of(path)
    if parent is not None and not parent_exists:
        problems.append(FieldProblem("path", f"上级组织 {parent} 尚未登记，请先登记它",
                                     f"the parent org unit {parent} is not registered; register it first"))
    if problems:
        raise RegistryRefused(problems)
    return depth_level, chosen_type  # type: ignore[return-value]


# --- projects ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectFacts:
    stage: ProjectStage
    completion_date: date | None = None
    warranty_end: date | None = None
    households: int | None = None
    occupied_units: int | None = None
    occupancy_start: date | None = None
    buildings: Sequence[str] = ()


def check_project(facts: ProjectFacts) -> None:
    problems: list[FieldProblem] = []
    if facts.warranty_end and facts.completion_date and facts.warranty_end < facts.completion_date:
        problems.append(FieldProblem("warranty_end", "保修期不能早于竣工日期结束",
                                     "the warranty cannot end before completion"))
    if facts.households is not None and facts.occupied_units is not None and facts.occupied_units > facts.households:
        problems.append(FieldProblem("occupied_units", "入住户数多于总户数",
                                     "more occupied units than households"))
    if facts.stage == ProjectStage.POST_COMPLETION and facts.completion_date is None:
        # 后期 (竣工及保修) starts at completion: the warranty is counted from that date.
        problems.append(FieldProblem("completion_date", "竣工后的项目需填写竣工日期",
                                     "a project after completion needs its completion date"))
    seen: set[str] = set()
    for i, building in enumerate(facts.buildings):
        if not building or len(building) > 32:
            problems.append(FieldProblem(f"buildings.{i}", "楼栋名称为 1 到 32 个字符",
                                         "a building is named by 1 to 32 characters"))
        elif building in seen:
            problems.append(FieldProblem(f"buildings.{i}", f"楼栋 {building} 列了两次",
                                         f"building {building} is listed twice"))
        seen.add(building)
    if problems:
        raise RegistryRefused(problems)


def check_project_org(*, org_path: str, registered_level: str | None) -> None:
    """A project is run by a registered project department or property office (level project)."""
    if registered_level is None:
        raise RegistryRefused.one("org", f"组织 {org_path} 尚未登记，请先登记它",
                                  f"org unit {org_path} is not registered; register it first")
    if registered_level != "project":
        raise RegistryRefused.one(
            "org", "项目隶属于项目经理部或管理处（集团/子公司/项目）",
            "a project belongs to a project department or property office (group/subsidiary/project)",
        )


# --- units -------------------------------------------------------------------------------------


def item_field(prefix: str, index: int, name: str) -> str:
    """'units.3.building' for an item of a request; just 'building' for an import row (prefix '')."""
    return f"{prefix}.{index}.{name}" if prefix else name


def check_units(
    units: Sequence[tuple[str, str]], *, project_buildings: Sequence[str], field_prefix: str = "units"
) -> None:
    """(building, label) pairs of one request: known buildings, no pair twice."""
    problems: list[FieldProblem] = []
    seen: set[tuple[str, str]] = set()
    for i, (building, label) in enumerate(units):
        if project_buildings and building not in project_buildings:
            problems.append(FieldProblem(
                item_field(field_prefix, i, "building"), f"楼栋 {building} 不是该项目的楼栋",
                f"building {building} is not one of the project's buildings"))
        if (building, label) in seen:
            problems.append(FieldProblem(
                item_field(field_prefix, i, "label"), f"房屋 {building}/{label} 出现了两次",
                f"unit {building}/{label} appears twice"))
        seen.add((building, label))
    if problems:
        raise RegistryRefused(problems)


# --- customers ---------------------------------------------------------------------------------


def check_customer(*, name: str | None, company: str | None, phones: Sequence[str], emails: Sequence[str]) -> None:
    if not (name or company or phones or emails):
        raise RegistryRefused.one("name", "请至少填写姓名、单位、电话或电子邮箱之一",
                                  "give at least a name, a company, a phone or an e-mail")


# --- events ------------------------------------------------------------------------------------


def org_unit_registered(
    *, path: str, level: str, name: str, unit_type: str, revision: int, now: datetime, correlation_id: uuid.UUID | None
) -> OrgUnitRegistered:
    return OrgUnitRegistered.create(
        data=OrgUnitRegisteredData(
            path=path, level=level, name=name, unit_type=unit_type, revision=revision  # type: ignore[arg-type]
        ),
        org=org_of(path), aggregate_id=path, occurred_at=now, producer=PRODUCER, correlation_id=correlation_id,
    )


def project_registered(
    data: ProjectRegisteredData, *, org: OrgPath, now: datetime, correlation_id: uuid.UUID | None
) -> ProjectRegistered:
    return ProjectRegistered.create(
        data=data, org=org, aggregate_id=data.project_id, occurred_at=now, producer=PRODUCER,
        correlation_id=correlation_id,
    )


def units_registered(
    project_id: str, units: Sequence[UnitRecord], *, org: OrgPath, now: datetime, correlation_id: uuid.UUID | None
) -> list[UnitsRegistered]:
    """One event per chunk of units, keyed by the project so that they follow its ProjectRegistered."""
    return [
        UnitsRegistered.create(
            data=UnitsRegisteredData(project_id=project_id, units=tuple(units[i : i + UNITS_PER_EVENT])),
            org=org, aggregate_id=project_id, occurred_at=now, producer=PRODUCER, correlation_id=correlation_id,
        )
        for i in range(0, len(units), UNITS_PER_EVENT)
    ]


def customer_registered(
    *,
    customer_id: uuid.UUID,
    customer_kind: str,
    key_customer: bool,
    project_ids: Sequence[str],
    unit_ids: Sequence[uuid.UUID],
    phones: Sequence[str],
    emails: Sequence[str],
    revision: int,
    org: OrgPath,
    now: datetime,
    correlation_id: uuid.UUID | None,
) -> CustomerRegistered:
    """The customer as other services may know it: ids and whether they are reachable, no contact."""
    return CustomerRegistered.create(
        data=CustomerRegisteredData(
            customer_id=customer_id, customer_kind=customer_kind, key_customer=key_customer,  # type: ignore[arg-type]
            project_ids=tuple(project_ids), unit_ids=tuple(unit_ids),
            has_phone=bool(phones), has_email=bool(emails), revision=revision,
        ),
        org=org, aggregate_id=customer_id, occurred_at=now, producer=PRODUCER, correlation_id=correlation_id,
    )


# --- spreadsheet cells -------------------------------------------------------------------------
# Imports arrive from Excel sheets typed by hand and from other systems' CSV exports: the same
# value comes as 是 / yes / 1 / TRUE, a date as 2021/6/30 or 2021年6月30日 or a real date cell.


class CellInvalid(ValueError):
    """A cell that cannot be read as what its column holds: ``reason`` in Chinese, ``reason_en``
    in English (the message)."""

    def __init__(self, reason: str, reason_en: str | None = None) -> None:
        super().__init__(reason_en or reason)
        self.reason = reason
        self.reason_en = reason_en

    def problem(self, field: str) -> FieldProblem:
        return FieldProblem(field, self.reason, self.reason_en)


EMPTY_CELL = ("为空", "is empty")


_YES = {"是", "有", "已入住", "入住", "y", "yes", "true", "t", "1", "√", "✓", "✔"}
_NO = {"否", "无", "未入住", "空置", "n", "no", "false", "f", "0", "×", "✗", "✘"}

_STAGES: dict[str, ProjectStage] = {
    **{s.value: s for s in ProjectStage},
    "前期": ProjectStage.PRE_CONSTRUCTION,
    "过程": ProjectStage.CONSTRUCTION,
    "施工": ProjectStage.CONSTRUCTION,
    "在建": ProjectStage.CONSTRUCTION,
    "后期": ProjectStage.POST_COMPLETION,
    "竣工": ProjectStage.POST_COMPLETION,
    "保修": ProjectStage.POST_COMPLETION,
    "竣工及保修": ProjectStage.POST_COMPLETION,
    "物业": ProjectStage.PROPERTY_MANAGEMENT,
    "物业管理": ProjectStage.PROPERTY_MANAGEMENT,
}

_CUSTOMER_KINDS: dict[str, CustomerKind] = {
    "owner": "owner", "业主": "owner", "household": "household", "住户": "household", "用户": "household",
    "agent": "agent", "代理商": "agent", "company": "company", "公司": "company", "单位": "company",
    "person": "person", "个人": "person",
}

_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_LIST_SEPARATORS = re.compile(r"[,，、;；|]")


def cell_text(value: object) -> str | None:
    """A cell as trimmed text, None when blank; 1201.0 from a spreadsheet reads as '1201'."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    text = unicodedata.normalize("NFKC", str(value)).strip()
    return text or None


def parse_yes_no(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = cell_text(value)
    if text is None:
        raise CellInvalid(*EMPTY_CELL)
    if text.lower() in _YES:
        return True
    if text.lower() in _NO:
        return False
    raise CellInvalid("请填写 是/否、yes/no 或 1/0", "write 是/否, yes/no or 1/0")


def parse_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = cell_text(value)
    if text is None:
        raise CellInvalid(*EMPTY_CELL)
    match = _DATE.match(text) or _COMPACT_DATE.match(text)
    if match is None:
        raise CellInvalid("日期请写成 YYYY-MM-DD", "write a date as YYYY-MM-DD")
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        raise CellInvalid("不是日历上的日期", "is not a date in the calendar") from None


def parse_count(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        text = cell_text(value)
        if text is None:
            raise CellInvalid(*EMPTY_CELL)
        text = text.replace(",", "").removesuffix("户").removesuffix("套").strip()
        if not text.isdigit():
            raise CellInvalid("请填写整数", "write a whole number")
        number = int(text)
    if number < 0:
        raise CellInvalid("不能为负数", "cannot be negative")
    return number


def parse_stage(value: object) -> ProjectStage:
    text = cell_text(value)
    if text is None:
        raise CellInvalid(*EMPTY_CELL)
    stage = _STAGES.get(text.lower()) or _STAGES.get(text)
    if stage is None:
        stages = "/".join(s.value for s in ProjectStage)
        raise CellInvalid(f"请填写 前期/过程/后期/物业管理 或 {stages}", f"write 前期/过程/后期/物业管理 or {stages}")
    return stage


def parse_customer_kind(value: object) -> CustomerKind:
    text = cell_text(value)
    kind = _CUSTOMER_KINDS.get((text or "").lower())
    if kind is None:
        raise CellInvalid("请填写 业主/住户/代理商/公司/个人 或 owner/household/agent/company/person",
                          "write 业主/住户/代理商/公司/个人 or owner/household/agent/company/person")
    return kind


def split_list(value: object) -> list[str]:
    """'1号楼、2号楼' or '1,2,3' → ['1号楼', '2号楼'] / ['1', '2', '3']."""
    text = cell_text(value)
    if text is None:
        return []
    return [part.strip() for part in _LIST_SEPARATORS.split(text) if part.strip()]


__all__ = [
    "DEFAULT_UNIT_TYPE",
    "EMPTY_CELL",
    "OutOfScope",
    "RECORD_KIND_ZH",
    "UNASSIGNED_ORG",
    "CONTACT_REASONS_ZH",
    "CellInvalid",
    "FieldProblem",
    "ProjectFacts",
    "RecordNotFound",
    "RegistryConflict",
    "RegistryRefused",
    "cell_text",
    "check_customer",
    "check_org_unit",
    "check_project",
    "check_project_org",
    "check_units",
    "customer_registered",
    "item_field",
    "level_of",
    "org_of",
    "org_path_segments",
    "parent_of",
    "parse_count",
    "parse_customer_kind",
    "parse_date",
    "parse_stage",
    "parse_yes_no",
    "project_registered",
    "split_list",
    "units_registered",
    "validation_reason",
]
