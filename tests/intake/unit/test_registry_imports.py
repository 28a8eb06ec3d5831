"""Reading import sheets (CSV and XLSX) and checking their rows, without a database."""

from __future__ import annotations

import io
from datetime import date, datetime

import openpyxl
import pytest

from services.intake.registry import imports
from services.intake.registry.domain import RegistryRefused
from services.intake.registry.imports import ImportRefused, household_row, project_row, read_sheet, unit_row
from shared.events.vocabulary import ProjectStage


def xlsx(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def reasons(exc: pytest.ExceptionInfo[RegistryRefused]) -> dict[str, str]:
    return {p.field: p.reason for p in exc.value.problems}


# --- headers and files ---


@pytest.mark.parametrize(("header", "canonical"), [
    ("Project ID", "project_id"), ("项目编号（必填）*", "项目编号"), (" 楼栋 ", "楼栋"), ("E-mail", "e_mail"),
    ("单元/房号", "单元/房号"),
])
def test_headers_are_normalised(header: str, canonical: str) -> None:
    assert imports.normalise_header(header) == canonical


def test_a_chinese_csv_maps_its_columns_and_lists_the_ones_it_ignores() -> None:
    content = "项目编号,楼栋,单元/房号,是否入住,备注\nLS-01,3,2-1201,是,东边户\n\nLS-01,3,2-1202,否,\n".encode()
    sheet = read_sheet("units", content, filename="units.csv")
    assert sheet.ignored_columns == ["备注"]
    assert [number for number, _ in sheet.rows] == [2, 4]  # the row numbers Excel shows; blank rows skipped
    assert sheet.rows[0][1] == {"project_id": "LS-01", "building": "3", "label": "2-1201", "occupied": "是"}


def test_a_gbk_csv_from_chinese_excel_is_read() -> None:
    content = "项目编号,楼栋,房号\nLS-01,3,1201\n".encode("gb18030")
    sheet = read_sheet("units", content)
    assert sheet.rows[0][1]["building"] == "3"


def test_english_headers_and_a_tab_separated_body() -> None:
    content = b"project_id\tbuilding\tlabel\toccupied\nLS-01\t1\t1-101\tyes\n"
    [(_, cells)] = read_sheet("units", content).rows
    assert unit_row(cells)[1].occupied is True


def test_missing_columns_refuse_the_whole_file_naming_each() -> None:
    with pytest.raises(ImportRefused) as info:
        read_sheet("households", "项目编号,姓名\nLS-01,王小明\n".encode())
    missing = [p.reason for p in info.value.problems]
    assert any("building" in r for r in missing)
    assert any("label" in r for r in missing)
    assert any("phone" in r and "email" in r for r in missing)
    assert all(p.field == "columns" for p in info.value.problems)


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "empty"), (b"PK\x03\x04not really a zip", "XLSX"), (b"\xd0\xcf\x11\xe0\xa1\xb1", ".xls"),
])
def test_unreadable_files_are_refused(content: bytes, reason: str) -> None:
    with pytest.raises(ImportRefused, match=reason):
        read_sheet("units", content)


def test_two_columns_meaning_the_same_thing_are_refused() -> None:
    with pytest.raises(ImportRefused, match="two columns mean building"):
        read_sheet("units", "项目编号,楼栋,building,房号\n".encode())


# --- XLSX ---


def test_an_xlsx_sheet_keeps_typed_cells_and_reads_them() -> None:
    content = xlsx([
        ["项目编号", "项目名称", "组织路径", "阶段", "竣工日期", "保修到期", "户数", "入住户数", "楼栋"],
        ["LS-01", "湖畔花园", "hx/east/lakeside", "后期", datetime(2024, 6, 30), "2026/6/30", 320, 300.0, "1、2、3"],
    ])
    sheet = read_sheet("projects", content, filename="projects.xlsx")
    [(number, cells)] = sheet.rows
    assert number == 2
    project = project_row(cells)
    assert project.project_id == "LS-01" and project.stage is ProjectStage.POST_COMPLETION
    assert project.completion_date == date(2024, 6, 30) and project.warranty_end == date(2026, 6, 30)
    assert (project.households, project.occupied_units) == (320, 300)
    assert project.buildings == ["1", "2", "3"]
    assert project.org.as_path() == "hx/east/lakeside"


def test_an_xlsx_phone_stored_as_a_number_and_a_separate_unit_and_room() -> None:
    content = xlsx([
        ["项目编号", "楼栋", "单元", "房号", "业主姓名", "电话", "是否入住", "重点客户"],
        ["LS-01", 3, 2, 1201, "王小明", 13800138000, "是", "否"],
    ])
    [(_, cells)] = read_sheet("households", content).rows
    row = household_row(cells)
    assert (row.building, row.label) == ("3", "2-1201")
    assert row.contact.phone == "+8613800138000" and row.contact.name == "王小明"
    assert row.occupied is True and row.key_customer is False and row.customer_kind == "household"


# --- rows ---


def test_a_project_row_reports_every_bad_cell() -> None:
    cells = {"project_id": "LS 01", "name": "", "org": "hx/east", "stage": "later", "completion_date": "2024-02-30",
             "households": "many"}
    with pytest.raises(RegistryRefused) as info:
        project_row(cells)
    got = reasons(info)
    assert set(got) == {"project_id", "name", "org", "stage", "completion_date", "households"}
    assert got["completion_date"] == "不是日历上的日期" and got["households"] == "请填写整数"
    assert got["name"] == "必填"


def test_a_project_row_is_checked_against_the_domain_rules() -> None:
    cells = {"project_id": "LS-01", "name": "湖畔花园", "group": "hx", "subsidiary": "east", "org_project": "lakeside",
             "stage": "construction", "completion_date": "2024-06-30", "warranty_end": "2024-01-01",
             "households": "100", "occupied_units": "101"}
    with pytest.raises(RegistryRefused) as info:
        project_row(cells)
    assert set(reasons(info)) == {"warranty_end", "occupied_units"}


def test_a_unit_row_leaves_occupancy_alone_when_the_cell_is_blank() -> None:
    project_id, unit = unit_row({"project_id": "LS-01", "building": "3", "label": "2-1201", "occupied": None})
    assert project_id == "LS-01" and "occupied" not in unit.model_fields_set
    _, unit = unit_row({"project_id": "LS-01", "building": "3", "label": "2-1201", "occupied": "否"})
    assert unit.occupied is False and "occupied" in unit.model_fields_set
    with pytest.raises(RegistryRefused) as info:
        unit_row({"project_id": "LS-01", "building": "", "label": "2-1201", "occupied": "maybe"})
    assert set(reasons(info)) == {"building", "occupied"}


def test_a_household_row_needs_a_valid_phone_or_email_and_never_echoes_it() -> None:
    base = {"project_id": "LS-01", "building": "3", "label": "2-1201", "name": "王小明"}
    with pytest.raises(RegistryRefused) as info:
        household_row(base)
    assert set(reasons(info)) == {"phone"}
    with pytest.raises(RegistryRefused) as info:
        household_row({**base, "phone": "12345", "email": "nobody@"})
    got = reasons(info)
    assert set(got) == {"phone", "email"}
    assert "12345" not in str(got) and "nobody@" not in str(got)
    row = household_row({**base, "email": "Wang@Example.COM", "customer_kind": "业主"})
    assert row.contact.email == "Wang@example.com" and row.customer_kind == "owner"
