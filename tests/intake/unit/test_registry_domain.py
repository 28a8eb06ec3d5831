"""The registry's rules: org paths and levels, project dates and counts, units, customer events."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest

from services.intake.registry import domain
from services.intake.registry.domain import CellInvalid, ProjectFacts, RegistryRefused
from shared.events import OrgPath
from shared.events.vocabulary import ProjectStage

NOW = datetime(2026, 5, 29, 9, 55, tzinfo=UTC)


def fields_of(exc: pytest.ExceptionInfo[RegistryRefused]) -> dict[str, str]:
    return {p.field: p.reason for p in exc.value.problems}


# --- org units ---


def test_the_level_follows_the_depth_of_the_path() -> None:
    assert domain.level_of("hx") == "group"
    assert domain.level_of("hx/east") == "subsidiary"
    assert domain.level_of("hx/east/lakeside") == "project"
    assert domain.parent_of("hx") is None
    assert domain.parent_of("hx/east/lakeside") == "hx/east"
    assert domain.org_of("hx/east/lakeside") == OrgPath(group="hx", subsidiary="east", project="lakeside")


@pytest.mark.parametrize("path", ["", "hx/east/lakeside/b3", "hx//east", "hx/东区", "/hx", "hx/east "])
def test_a_path_is_one_to_three_codes(path: str) -> None:
    with pytest.raises(RegistryRefused) as info:
        domain.org_path_segments(path)
    assert set(fields_of(info)) == {"path"}


def test_an_org_unit_is_accepted_with_its_level_and_type_derived() -> None:
    assert domain.check_org_unit(path="hx", level=None, unit_type=None, parent_exists=True) == ("group", "group")
    assert domain.check_org_unit(path="hx/east/lakeside", level="project", unit_type="property_office",
                                 parent_exists=True) == ("project", "property_office")
    assert domain.check_org_unit(path="hx/east/lakeside", level=None, unit_type=None,
                                 parent_exists=True) == ("project", "project_department")


def test_an_org_unit_needs_its_parent_a_matching_level_and_a_type_of_that_level() -> None:
    with pytest.raises(RegistryRefused) as info:
        domain.check_org_unit(path="hx/east", level="project", unit_type="property_office", parent_exists=False)
    reasons = fields_of(info)
    assert set(reasons) == {"level", "unit_type", "path"}  # all three at once
    assert reasons["level"] == "2 个代码的路径是子公司，不是项目"
    assert reasons["unit_type"] == "子公司的类型是子公司"
    assert reasons["path"] == "上级组织 hx 尚未登记，请先登记它"
    english = {p.field: p.reason_en for p in info.value.problems}
    assert english["level"] == "a path of 2 code(s) is a subsidiary, not a project"
    assert english["path"] == "the parent org unit hx is not registered; register it first"


def test_a_group_has_no_parent_to_check() -> None:
    assert domain.check_org_unit(path="hx", level="group", unit_type="group", parent_exists=False)[0] == "group"


# --- projects ---


def test_a_consistent_project_passes() -> None:
    domain.check_project(ProjectFacts(
        stage=ProjectStage.POST_COMPLETION, completion_date=date(2024, 6, 30), warranty_end=date(2026, 6, 30),
        households=320, occupied_units=320, buildings=("1", "2", "3"),
    ))


def test_the_warranty_cannot_end_before_completion() -> None:
    with pytest.raises(RegistryRefused) as info:
        domain.check_project(ProjectFacts(stage=ProjectStage.CONSTRUCTION, completion_date=date(2024, 6, 30),
                                          warranty_end=date(2024, 6, 29)))
    assert set(fields_of(info)) == {"warranty_end"}
    # the same day is fine (a warranty that ends at completion: nothing promised afterwards)
    domain.check_project(ProjectFacts(stage=ProjectStage.CONSTRUCTION, completion_date=date(2024, 6, 30),
                                      warranty_end=date(2024, 6, 30)))


def test_occupied_units_cannot_exceed_households() -> None:
    with pytest.raises(RegistryRefused) as info:
        domain.check_project(ProjectFacts(stage=ProjectStage.PROPERTY_MANAGEMENT, households=300, occupied_units=301))
    assert set(fields_of(info)) == {"occupied_units"}


def test_after_completion_a_project_needs_its_completion_date_and_buildings_are_unique() -> None:
    with pytest.raises(RegistryRefused) as info:
        domain.check_project(ProjectFacts(stage=ProjectStage.POST_COMPLETION, buildings=("1", "2", "1")))
    assert set(fields_of(info)) == {"completion_date", "buildings.2"}


def test_a_project_is_run_by_a_registered_project_level_org_unit() -> None:
    domain.check_project_org(org_path="hx/east/lakeside", registered_level="project")
    with pytest.raises(RegistryRefused, match="not registered"):
        domain.check_project_org(org_path="hx/east/lakeside", registered_level=None)
    with pytest.raises(RegistryRefused, match="project department or property office"):
        domain.check_project_org(org_path="hx/east", registered_level="subsidiary")


# --- units ---


def test_units_name_listed_buildings_and_appear_once() -> None:
    domain.check_units([("1", "1-101"), ("1", "1-102")], project_buildings=("1", "2"))
    domain.check_units([("9", "1-101")], project_buildings=())  # no list yet: anything goes
    with pytest.raises(RegistryRefused) as info:
        domain.check_units([("1", "1-101"), ("9", "1-101"), ("1", "1-101")], project_buildings=("1", "2"))
    assert set(fields_of(info)) == {"units.1.building", "units.2.label"}
    with pytest.raises(RegistryRefused) as info:
        domain.check_units([("9", "1-101")], project_buildings=("1",), field_prefix="")
    assert set(fields_of(info)) == {"building"}


def test_units_registered_is_split_into_events_of_at_most_500_units() -> None:
    from shared.events.catalog import UnitRecord

    units = [UnitRecord(unit_id=uuid.uuid4(), building="1", label=f"1-{i}", occupied=False) for i in range(1001)]
    events = domain.units_registered("LS-01", units, org=OrgPath(group="hx"), now=NOW, correlation_id=None)
    assert [len(e.data.units) for e in events] == [500, 500, 1]
    assert {e.aggregate_id for e in events} == {"LS-01"}  # one partition, in order after the project


# --- customers ---


def test_a_customer_needs_something_to_recognise_them_by() -> None:
    domain.check_customer(name=None, company=None, phones=["+8613800138000"], emails=[])
    with pytest.raises(RegistryRefused):
        domain.check_customer(name=None, company=None, phones=[], emails=[])


def test_customer_registered_says_whether_reachable_never_how() -> None:
    event = domain.customer_registered(
        customer_id=uuid.uuid4(), customer_kind="household", key_customer=True, project_ids=["LS-01"],
        unit_ids=[], phones=["+8613800138000"], emails=[], revision=3, org=OrgPath(group="hx"), now=NOW,
        correlation_id=None,
    )
    body = event.to_json().decode()
    assert event.data.has_phone is True and event.data.has_email is False and event.data.revision == 3
    assert "13800138000" not in body
    assert not {"phone", "phones", "email", "emails", "name"} & set(json.loads(body)["data"])


# --- cells ---


@pytest.mark.parametrize(("cell", "expected"), [
    ("是", True), ("否", False), ("yes", True), ("NO", False), ("1", True), (0, False), (1.0, True), (True, True),
    ("已入住", True), ("未入住", False), ("√", True),
])
def test_yes_no_cells(cell: object, expected: bool) -> None:
    assert domain.parse_yes_no(cell) is expected


def test_a_yes_no_cell_that_is_neither() -> None:
    with pytest.raises(CellInvalid, match="是/否"):
        domain.parse_yes_no("maybe")


@pytest.mark.parametrize("cell", ["2024-06-30", "2024/6/30", "2024.06.30", "2024年6月30日", "20240630",
                                  datetime(2024, 6, 30, 0, 0), date(2024, 6, 30), "２０２４-０６-３０"])
def test_date_cells(cell: object) -> None:
    assert domain.parse_date(cell) == date(2024, 6, 30)


@pytest.mark.parametrize(("cell", "reason"), [("2024-02-30", "calendar"), ("30/06/2024", "YYYY-MM-DD"),
                                               ("soon", "YYYY-MM-DD")])
def test_bad_date_cells(cell: str, reason: str) -> None:
    with pytest.raises(CellInvalid, match=reason):
        domain.parse_date(cell)


def test_count_stage_kind_and_list_cells() -> None:
    assert domain.parse_count("1,200") == 1200
    assert domain.parse_count(320.0) == 320
    assert domain.parse_count("320户") == 320
    with pytest.raises(CellInvalid):
        domain.parse_count("3.5")
    assert domain.parse_stage("后期") is ProjectStage.POST_COMPLETION
    assert domain.parse_stage("Construction") is ProjectStage.CONSTRUCTION
    assert domain.parse_stage("物业管理") is ProjectStage.PROPERTY_MANAGEMENT
    with pytest.raises(CellInvalid, match="前期"):
        domain.parse_stage("later")
    assert domain.parse_customer_kind("业主") == "owner"
    assert domain.split_list("1号楼、2号楼，3号楼") == ["1号楼", "2号楼", "3号楼"]
    assert domain.split_list(None) == []
    assert domain.cell_text(1201.0) == "1201"
    assert domain.cell_text("  ") is None
