"""Many households, one defect: the place and defect kind read from a report, and the score (with
its reason in Chinese) that links a household's report to an open work order.

Expected scores are worked by hand from the rule in ``domain.score_link``: 0.60 for the same
building and defect kind; entrance +0.10 the same / −0.25 another; the same shared part +0.30;
otherwise floors d apart +0.30 − 0.05·d within the span (2), −0.20 beyond it. Threshold 0.70.
"""

from __future__ import annotations

import tomllib
import uuid
from pathlib import Path

import pytest

from services.routing.repairs import domain
from services.routing.repairs.defects import DEFAULT_VOCABULARY_PATH, load_vocabulary
from services.routing.repairs.domain import RepairPolicy, Report

POLICY = RepairPolicy()
VOCABULARY = load_vocabulary()
PHRASINGS = tomllib.loads((Path(__file__).with_name("household_phrasings.toml")).read_text("utf-8"))["phrasing"]


# --- the place: building, entrance, floor, shared part -------------------------------------------


@pytest.mark.parametrize(("unit", "text", "part"), [
    (None, "3号楼外墙渗水", "exterior_wall"),
    (None, "外立面瓷砖脱落", "exterior_wall"),
    (None, "屋頂漏雨", "roof"),  # traditional 頂
    (None, "顶层天台积水往下渗", "roof"),
    (None, "地库顶板滴水", "garage"),
    (None, "B2停车场地面开裂", "garage"),
    (None, "2单元电梯井进水", "lift"),
    (None, "楼道灯不亮", "stairwell"),
    (None, "water coming down the stairwell wall", "stairwell"),
    (None, "卫生间墙里面往外渗", None),  # 外 alone is not the facade
    ("3-2-1201", "卧室墙面裂缝", None),
    ("3号楼外墙", "一下雨就渗", "exterior_wall"),  # the unit field names the part
])
def test_the_shared_part_is_read_from_the_unit_and_the_text(unit: str | None, text: str, part: str | None) -> None:
    found = domain.read_shared_part(unit, text)
    assert (found.key if found else None) == part


def test_traditional_characters_are_read_as_simplified_in_the_address_too() -> None:
    from services.routing.repairs.defects import fold_variants

    assert domain.parse_location(None, fold_variants("3號樓2單元1201衛生間滲水")) == domain.Location("3", "2", 12, "1201")


# --- the score and its reason ---------------------------------------------------------------------


def at(unit: str | None, *, kind: str = "leak", part: str | None = None, group: uuid.UUID | None = None,
       project: str = "lakeside") -> Report:
    return Report(project_id=project, defect_kind=kind, location=domain.parse_location(unit),
                  incident_group_id=group, shared_part=part)


GROUP = uuid.uuid4()


@pytest.mark.parametrize(("mine", "theirs", "score", "explanation", "links"), [
    # 0.60 + (0.30 − 0.05·1) = 0.85: the example of the issue
    (at("3-1201"), at("3-1101"), 0.85, "同一楼栋（3号楼）、同类缺陷（渗漏）、楼层相距 1 层：0.85", True),
    # 0.60 + 0.10 + 0.30 = 1.00
    (at("3-2-1201"), at("3-2-1202"), 1.0, "同一楼栋（3号楼）、同一单元（2单元）、同类缺陷（渗漏）、同一楼层：1.00", True),
    # 0.60 + 0.10 + (0.30 − 0.10) = 0.90
    (at("3-2-1001"), at("3-2-1201"), 0.9, "同一楼栋（3号楼）、同一单元（2单元）、同类缺陷（渗漏）、楼层相距 2 层：0.90", True),
    # 0.60 + 0.10 − 0.20 = 0.50: three floors is beyond the span of 2
    (at("3-2-901"), at("3-2-1201"), 0.5,
     "同一楼栋（3号楼）、同一单元（2单元）、同类缺陷（渗漏）、楼层相距 3 层（超过 2 层）：0.50", False),
    # 0.60 − 0.25 + 0.25 = 0.60: another entrance
    (at("3-1-1101"), at("3-2-1201"), 0.6,
     "同一楼栋（3号楼）、不同单元（2单元、1单元）、同类缺陷（渗漏）、楼层相距 1 层：0.60", False),
    # the facade: 0.60 + 0.30 = 0.90, whatever the entrance and the floors
    (at("3-1-302", part="exterior_wall"), at("3-2-1501", part="exterior_wall"), 0.9,
     "同一楼栋（3号楼）、同类缺陷（渗漏）、同一共用部位（外墙）：0.90", True),
    # one entrance's lift: 0.60 + 0.10 + 0.30 = 1.00; another entrance's lift is another lift, the
    # floors count instead: 0.60 − 0.25 + 0.30 = 0.65
    (at("3-2-801", part="lift"), at("3-2-1501", part="lift"), 1.0,
     "同一楼栋（3号楼）、同一单元（2单元）、同类缺陷（渗漏）、同一共用部位（电梯）：1.00", True),
    (at("3-1-801", part="lift"), at("3-2-801", part="lift"), 0.65,
     "同一楼栋（3号楼）、不同单元（2单元、1单元）、同类缺陷（渗漏）、同一楼层：0.65", False),
    # the underground garage is the estate's: 0.60 + 0.30 = 0.90 without a building
    (at(None, part="garage"), at("5-1-101", part="garage"), 0.9, "同一项目共用部位（地下车库）、同类缺陷（渗漏）：0.90", True),
    # the building only: 0.60, below the threshold
    (Report("lakeside", "leak", domain.Location("3")), at("3-2-1201"), 0.6, "同一楼栋（3号楼）、同类缺陷（渗漏）：0.60",
     False),
    (at("4-2-1201"), at("3-2-1201"), 0.0, "不同楼栋（3号楼、4号楼）：0.00", False),
    (at(None), at("3-2-1201"), 0.0, "楼栋不明：0.00", False),
    (at("3-2-1201", kind="crack"), at("3-2-1201"), 0.0, "缺陷类别不同或未识别：0.00", False),
    (at("3-2-1201", kind="other"), at("3-2-1201", kind="other"), 0.0, "缺陷类别不同或未识别：0.00", False),
    (at("3-2-1201", project="hillside"), at("3-2-1201"), 0.0, "不同项目：0.00", False),
    # intake's incident group: 1.00 whatever the words and the place
    (at("5-1-301", kind="crack", group=GROUP), at("3-2-1201", group=GROUP), 1.0, "受理时已归入同一事件组：1.00", True),
])
def test_a_link_is_scored_with_a_reason_a_person_can_check(mine: Report, theirs: Report, score: float,
                                                           explanation: str, links: bool) -> None:
    result = domain.score_link(mine, theirs, defect_kind="leak", policy=POLICY, kind_label="渗漏")
    assert result.score == pytest.approx(score)
    assert result.explanation == explanation
    assert result.links(POLICY) is links


def test_the_threshold_and_the_floor_span_are_settings() -> None:
    # 0.60 + 0.10 − 0.20 = 0.50 with the span of 2; with a span of 5: 0.60 + 0.10 + (0.30 − 0.15) = 0.85
    wider = RepairPolicy(link_floor_span=5)
    result = domain.score_link(at("3-2-901"), at("3-2-1201"), defect_kind="leak", policy=wider, kind_label="渗漏")
    assert (result.score, result.links(wider)) == (pytest.approx(0.85), True)
    # the building only (0.60) links once the threshold is 0.60
    building_only = Report("lakeside", "leak", domain.Location("3"))
    assert domain.score_link(building_only, at("3-2-1201"), defect_kind="leak", policy=POLICY).links(
        RepairPolicy(link_threshold=0.6))
    with pytest.raises(ValueError, match="link_threshold"):
        RepairPolicy(link_threshold=0)
    with pytest.raises(ValueError, match="link_threshold"):
        RepairPolicy(link_threshold=1.2)


def test_a_report_is_scored_against_the_best_matching_report_on_the_order() -> None:
    # against 3-2-901 (0.50: 3 floors) and 3-2-1102 (0.60 + 0.10 + 0.25 = 0.95): the best is 0.95
    on_order = [at("3-2-901"), at("3-2-1102")]
    best = domain.best_link(at("3-2-1201"), on_order, defect_kind="leak", policy=POLICY, kind_label="渗漏")
    assert best is not None and best.score == pytest.approx(0.95)
    assert best.explanation == "同一楼栋（3号楼）、同一单元（2单元）、同类缺陷（渗漏）、楼层相距 1 层：0.95"
    assert domain.best_link(at("3-2-601"), on_order, defect_kind="leak", policy=POLICY) is None  # 3 and 5 floors


# --- held-apart household phrasings ---------------------------------------------------------------


def test_the_phrasings_are_held_apart_from_the_vocabulary() -> None:
    vocabulary = DEFAULT_VOCABULARY_PATH.read_text("utf-8")
    assert len(PHRASINGS) >= 30
    assert [p["text"] for p in PHRASINGS if f'"{p["text"]}"' in vocabulary] == []


@pytest.mark.parametrize("phrasing", PHRASINGS, ids=[p["text"][:16] for p in PHRASINGS])
def test_the_defect_kind_and_the_shared_part_are_read_from_households_own_words(phrasing: dict) -> None:
    assert VOCABULARY.classify(phrasing["text"]).kind == phrasing["kind"]
    part = domain.read_shared_part(phrasing["text"])
    assert (part.key if part else None) == phrasing.get("part")
