"""Scoring of schemes A–D (docs/domain.md §5; seeds 001–003), against figures worked out by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.survey.scoring import (
    AGE_BASED_RETURN_PERCENT,
    SEED_001_PRODUCT_QUALITY,
    SEED_001_UNIT_PRICE,
    FiveLevel,
    FiveLevelTemplate,
    FlagLevel,
    FlagReason,
    FormFinding,
    FormItem,
    FormProblem,
    Hazard,
    InvalidForm,
    ManagerFlag,
    ProjectGrade,
    RejectedForm,
    ReturnedForm,
    ServiceLevel,
    Sheet,
    SheetItem,
    annual_coverage_gap,
    annual_coverage_ok,
    check_form,
    distribution_ok,
    distribution_ok_by_age,
    item_satisfaction_rate,
    project_grade,
    project_manager_flags,
    project_score,
    required_sample_size,
    required_sample_size_by_age,
    return_rate,
    return_rate_ok,
    satisfaction_rate,
    score_campaign,
    score_form,
    three_level_rate,
    weighted_points,
)
from shared.events.vocabulary import ProjectStage

VS, S, BS, D, VD = (FiveLevel.VERY_SATISFIED, FiveLevel.SATISFIED, FiveLevel.BASICALLY_SATISFIED,
                    FiveLevel.DISSATISFIED, FiveLevel.VERY_DISSATISFIED)
FAIL, QUALIFIED, EXCELLENT = ProjectGrade.FAIL, ProjectGrade.QUALIFIED, ProjectGrade.EXCELLENT
PRE, PROCESS, POST = ProjectStage.PRE_CONSTRUCTION, ProjectStage.CONSTRUCTION, ProjectStage.POST_COMPLETION


# ---- Scheme A: five levels -------------------------------------------------------------------

PLAIN = FiveLevelTemplate((FormItem("q1"), FormItem("q2"), FormItem("q3", required=False)))


def test_plain_form_is_the_mean_of_level_points() -> None:
    # 100 + 80 + 0 = 180 of 3 × 100 = 300 → 60.00
    assert score_form(PLAIN, ReturnedForm("f", {"q1": VS, "q2": S, "q3": VD})) == Decimal("60.00")


def test_blank_optional_item_is_left_out() -> None:
    # q3 blank: 80 + 30 = 110 of 2 × 100 = 200 → 55.00 (not 110 / 300 = 36.67)
    assert score_form(PLAIN, ReturnedForm("f", {"q1": S, "q2": D, "q3": None})) == Decimal("55.00")


def test_seed_001_table_with_the_missing_cell_derived() -> None:
    # Seed: "产品单价 10 10 9 8 6 4", "产品品质 50 50 45 40 24" (cut off). Missing cell: 40 % × 50 = 20.
    assert SEED_001_UNIT_PRICE.points == (10, 9, 8, 6, 4)
    assert SEED_001_PRODUCT_QUALITY.points == (50, 45, 40, 24, 20)
    # The fallback rule from the unit-price row: 40 × 100/90/80/60/40 % = 40, 36, 32, 24, 16;
    # for 50 it gives 30 for dissatisfied where the seed says 24, which is why the table wins.
    assert weighted_points(40) == (40, 36, 32, 24, 16)
    assert weighted_points(50)[3] == 30


def test_weighted_form_adds_points_when_weights_total_100() -> None:
    template = FiveLevelTemplate((SEED_001_UNIT_PRICE, SEED_001_PRODUCT_QUALITY,
                                  FormItem("service", weighted_points(40))))
    # unit price 2nd column 9, quality 4th column 24, service 3rd column 32 → 65 of 100 → 65.00
    form = ReturnedForm("f", {"unit_price": S, "product_quality": D, "service": BS})
    assert score_form(template, form) == Decimal("65.00")


def test_weighted_form_of_only_the_seed_rows_is_scaled_to_100() -> None:
    template = FiveLevelTemplate((SEED_001_UNIT_PRICE, SEED_001_PRODUCT_QUALITY))
    # 9 + 24 = 33 of 10 + 50 = 60 → 33 / 60 × 100 = 55.00
    assert score_form(template, ReturnedForm("f", {"unit_price": S, "product_quality": D})) == Decimal("55.00")


def test_validity_lists_every_reason() -> None:
    template = FiveLevelTemplate((FormItem("q1"), FormItem("q2"), FormItem("q3")))
    form = ReturnedForm("f", {"q1": (S, D), "q3": "great", "q9": S})
    assert check_form(template, form).findings == (
        FormFinding(FormProblem.UNKNOWN_ITEM, "q9"),
        FormFinding(FormProblem.SEVERAL_LEVELS, "q1"),
        FormFinding(FormProblem.REQUIRED_UNANSWERED, "q2"),
        FormFinding(FormProblem.UNKNOWN_LEVEL, "q3"),
    )
    assert not check_form(template, form).valid
    with pytest.raises(InvalidForm) as info:
        score_form(template, form)
    assert info.value.form_id == "f" and len(info.value.findings) == 4


def test_a_form_with_nothing_answered_is_not_valid() -> None:
    optional = FiveLevelTemplate((FormItem("q1", required=False),))
    assert check_form(optional, ReturnedForm("f", {"q1": ()})).findings == (FormFinding(FormProblem.NOTHING_ANSWERED),)
    assert check_form(optional, ReturnedForm("f", {"q1": [S]})).valid


def test_campaign_is_the_mean_of_valid_forms_and_lists_the_rejected() -> None:
    forms = [
        ReturnedForm("f1", {"q1": VS, "q2": S, "q3": VD}),  # 180 / 300 → 60
        ReturnedForm("f2", {"q1": S, "q2": S, "q3": BS}),  # 220 / 300 → 73.333…
        ReturnedForm("f3", {"q1": S}),  # q2 is required and blank → rejected
    ]
    campaign = score_campaign(PLAIN, forms)
    # (180/3 + 220/3) / 2 = 400/6 = 66.666… → 66.67
    assert campaign.score == Decimal("66.67")
    assert campaign.forms_counted == 2
    assert campaign.rejected == (RejectedForm("f3", (FormFinding(FormProblem.REQUIRED_UNANSWERED, "q2"),)),)
    assert score_campaign(PLAIN, forms[2:]).score is None


def test_points_must_not_rise_for_a_worse_level() -> None:
    with pytest.raises(ValueError):
        FormItem("x", (10, 9, 8, 4, 6))


# ---- Scheme B: satisfaction rate ------------------------------------------------------------


def test_overall_is_the_mean_of_item_rates() -> None:
    forms = [
        {"a": VS, "b": S, "c": BS},
        {"a": S, "b": BS, "c": S},
        {"a": BS, "b": VS, "c": D},
        {"a": S, "b": D, "c": VD},
    ]
    result = satisfaction_rate(["a", "b", "c"], forms)
    # a 4/4 = 100, b 3/4 = 75, c 2/4 = 50 → (100 + 75 + 50) / 3 = 75.00, below 96 → not qualified
    assert [i.rate for i in result.items] == [Decimal("100.00"), Decimal("75.00"), Decimal("50.00")]
    assert (result.overall, result.qualified) == (Decimal("75.00"), False)


def test_unanswered_items_are_left_out_and_the_mean_uses_exact_rates() -> None:
    forms = [{"a": S, "b": S, "c": None}, {"a": VS, "b": S}, {"a": BS, "b": D}, {"a": S, "b": None}]
    result = satisfaction_rate(["a", "b", "c"], forms)
    # a 4/4 = 100; b (one blank) 2/3 = 66.666… → 66.67; c nobody answered → no rate, not in the mean
    assert [(i.satisfied, i.dissatisfied, i.rate) for i in result.items] == [
        (4, 0, Decimal("100.00")), (2, 1, Decimal("66.67")), (0, 0, None)]
    # (100 + 200/3) / 2 = 250/3 = 83.333… → 83.33 (the rounded rates would give 83.335 → 83.34)
    assert result.overall == Decimal("83.33")


def test_qualified_service_at_96_percent_exactly() -> None:
    # 24 / 25 = 96.00 % → qualified (≥ 96)
    result = satisfaction_rate(["x"], [{"x": S}] * 24 + [{"x": D}])
    assert (result.overall, result.qualified) == (Decimal("96.00"), True)


def test_rounding_does_not_lift_a_rate_to_96() -> None:
    # 23,999 / 25,000 = 95.996 % → shown as 96.00 but it did not reach 96
    result = satisfaction_rate(["x"], [{"x": S}] * 23_999 + [{"x": VD}] * 1_001)
    assert (result.overall, result.qualified) == (Decimal("96.00"), False)


def test_no_answers_at_all() -> None:
    assert item_satisfaction_rate(0, 0) is None
    result = satisfaction_rate(["x"], [{"x": None}])
    assert (result.overall, result.qualified) == (None, None)


def test_semiannual_round_reaches_85_percent_of_occupied_units() -> None:
    # 1,000 households, all occupied: 1,000 × 85 % = 850
    assert required_sample_size(occupied_units=1000, total_households=1000) == 850
    assert distribution_ok(850, occupied_units=1000, total_households=1000)
    assert not distribution_ok(849, occupied_units=1000, total_households=1000)
    # 400 households, 280 occupied: 280 × 85 % = 238
    assert required_sample_size(occupied_units=280, total_households=400) == 238
    # 301 households: 301 × 85 % = 255.85 → rounded up to 256
    assert required_sample_size(occupied_units=301, total_households=301) == 256


def test_estates_of_300_households_or_fewer_get_every_unit() -> None:
    # 250 households → 100 % = 250; 300 is "300户以下" too
    assert required_sample_size(occupied_units=250, total_households=250) == 250
    assert not distribution_ok(249, occupied_units=250, total_households=250)
    assert required_sample_size(occupied_units=300, total_households=300) == 300


def test_every_unit_is_reached_within_the_year() -> None:
    occupied = {"101", "102", "103", "104"}
    assert annual_coverage_ok(occupied, [{"101", "102", "103"}, {"102", "103", "104"}])
    assert annual_coverage_gap(occupied, [{"101", "102", "103"}, {"101", "102"}]) == {"104"}


def test_age_based_variant_30_and_15_percent() -> None:
    # 1,000 households: under 5 years → 30 % = 300; 5 years or more → 15 % = 150
    assert required_sample_size_by_age(1000, years_occupied=4) == 300
    assert required_sample_size_by_age(1000, years_occupied=5) == 150
    # 333 households: 333 × 30 % = 99.9 → 100; 333 × 15 % = 49.95 → 50
    assert required_sample_size_by_age(333, years_occupied=0) == 100
    assert required_sample_size_by_age(333, years_occupied=12) == 50
    assert not distribution_ok_by_age(299, households=1000, years_occupied=4)
    assert distribution_ok_by_age(300, households=1000, years_occupied=4)


def test_return_rates() -> None:
    # 600 / 1,000 = 60.00 % meets 60 %; 599 / 1,000 = 59.90 % does not
    assert return_rate(600, 1000) == Decimal("60.00") and return_rate_ok(600, 1000)
    assert return_rate(599, 1000) == Decimal("59.90") and not return_rate_ok(599, 1000)
    # age-based variant, 75 %: 225 / 300 = 75 % meets it; 224 / 300 = 74.666… % does not
    assert return_rate_ok(225, 300, target_percent=AGE_BASED_RETURN_PERCENT)
    assert not return_rate_ok(224, 300, target_percent=AGE_BASED_RETURN_PERCENT)
    # 2 / 3 = 66.666… → 66.67; 1 / 800 = 0.125 → half up → 0.13
    assert return_rate(2, 3) == Decimal("66.67")
    assert return_rate(1, 800) == Decimal("0.13")
    with pytest.raises(ValueError):
        return_rate(0, 0)


# ---- Scheme C: project service score --------------------------------------------------------


def one_item_sheet(stage: ProjectStage, level: ServiceLevel) -> Sheet:
    return Sheet(stage, (SheetItem("all", Decimal(100), level),))


def test_levels_earn_100_90_70_50_percent() -> None:
    sheet = Sheet(PRE, (
        SheetItem("p1", Decimal(40), ServiceLevel.SATISFIED),  # 40 × 100 % = 40
        SheetItem("p2", Decimal(30), ServiceLevel.FAIRLY_SATISFIED),  # 30 × 90 % = 27
        SheetItem("p3", Decimal(20), ServiceLevel.AVERAGE),  # 20 × 70 % = 14
        SheetItem("p4", Decimal(10), ServiceLevel.QUALIFIED),  # 10 × 50 % = 5
    ))
    assert sheet.score == 86  # 40 + 27 + 14 + 5


def test_hazard_goes_below_zero_on_the_item_and_off_the_sheet_total() -> None:
    pre = Sheet(PRE, (
        SheetItem("p1", Decimal(40), ServiceLevel.SATISFIED),
        SheetItem("p2", Decimal(30), ServiceLevel.FAIRLY_SATISFIED),
        SheetItem("p3", Decimal(20), ServiceLevel.AVERAGE),
        SheetItem("p4", Decimal(10), ServiceLevel.QUALIFIED),
    ))  # 86
    hazard = SheetItem("c3", Decimal(20), Hazard(Decimal(8)))
    assert hazard.score == -8
    process = Sheet(PROCESS, (
        SheetItem("c1", Decimal(50), ServiceLevel.SATISFIED),  # 50
        SheetItem("c2", Decimal(30), ServiceLevel.FAIRLY_SATISFIED),  # 27
        hazard,  # −8
    ), hazard_deduction=Decimal(10))  # 50 + 27 − 8 − 10 = 59
    assert process.score == 59
    result = project_score([pre, process, one_item_sheet(POST, ServiceLevel.SATISFIED)], meets_basic_conditions=True)
    # 86 × 0.2 + 59 × 0.5 + 100 × 0.3 = 17.2 + 29.5 + 30 = 76.70 → qualified
    assert result.sheet_scores == {PRE: Decimal("86.00"), PROCESS: Decimal("59.00"), POST: Decimal("100.00")}
    assert (result.score, result.grade, result.satisfaction_project) == (Decimal("76.70"), QUALIFIED, False)


@pytest.mark.parametrize("deduction", [Decimal(4), Decimal("10.5")])
def test_item_hazard_costs_5_to_10(deduction: Decimal) -> None:
    with pytest.raises(ValueError):
        Hazard(deduction)


def test_sheet_deduction_is_5_to_20_and_only_with_a_hazard() -> None:
    items = (SheetItem("c1", Decimal(80), ServiceLevel.SATISFIED), SheetItem("c2", Decimal(20), Hazard(Decimal(5))))
    assert Sheet(PROCESS, items, Decimal(5)).score == 80 - 5 - 5
    assert Sheet(PROCESS, items, Decimal(20)).score == 80 - 5 - 20
    for deduction in (Decimal(0), Decimal(4), Decimal(21)):
        with pytest.raises(ValueError):
            Sheet(PROCESS, items, deduction)
    with pytest.raises(ValueError):
        Sheet(PROCESS, (SheetItem("c1", Decimal(100), ServiceLevel.SATISFIED),), Decimal(5))


def test_a_sheet_is_100_points() -> None:
    with pytest.raises(ValueError):
        Sheet(PRE, (SheetItem("p1", Decimal(90), ServiceLevel.SATISFIED),))


def test_excellent_overall_but_a_sheet_under_80_is_no_satisfaction_project() -> None:
    pre = Sheet(PRE, (SheetItem("p1", Decimal(50), ServiceLevel.SATISFIED),  # 50
                      SheetItem("p2", Decimal(50), ServiceLevel.QUALIFIED)))  # 25 → 75
    post = Sheet(POST, (SheetItem("h1", Decimal(50), ServiceLevel.SATISFIED),  # 50
                        SheetItem("h2", Decimal(50), ServiceLevel.FAIRLY_SATISFIED)))  # 45 → 95
    result = project_score([pre, one_item_sheet(PROCESS, ServiceLevel.SATISFIED), post], meets_basic_conditions=True)
    # 75 × 0.2 + 100 × 0.5 + 95 × 0.3 = 15 + 50 + 28.5 = 93.50 → excellent, but 75 < 80
    assert (result.score, result.grade, result.satisfaction_project) == (Decimal("93.50"), EXCELLENT, False)


def test_satisfaction_project_with_a_sheet_at_exactly_80() -> None:
    pre = Sheet(PRE, (SheetItem("p1", Decimal(60), ServiceLevel.SATISFIED),  # 60
                      SheetItem("p2", Decimal(40), ServiceLevel.QUALIFIED)))  # 20 → 80
    sheets = [pre, one_item_sheet(PROCESS, ServiceLevel.FAIRLY_SATISFIED), one_item_sheet(POST, ServiceLevel.SATISFIED)]
    # 80 × 0.2 + 90 × 0.5 + 100 × 0.3 = 16 + 45 + 30 = 91.00 → excellent; no sheet under 80
    result = project_score(sheets, meets_basic_conditions=True)
    assert (result.score, result.grade, result.satisfaction_project) == (Decimal("91.00"), EXCELLENT, True)
    assert not project_score(sheets, meets_basic_conditions=False).satisfaction_project


def test_exactly_90_is_qualified_yet_a_satisfaction_project() -> None:
    sheets = [one_item_sheet(stage, ServiceLevel.FAIRLY_SATISFIED) for stage in (PRE, PROCESS, POST)]
    # 90 × 0.2 + 90 × 0.5 + 90 × 0.3 = 18 + 45 + 27 = 90.00: "90分以上优良" read as > 90; "达到90分以上" as ≥ 90
    result = project_score(sheets, meets_basic_conditions=True)
    assert (result.score, result.grade, result.satisfaction_project) == (Decimal("90.00"), QUALIFIED, True)


def test_exactly_70_is_qualified() -> None:
    sheets = [one_item_sheet(stage, ServiceLevel.AVERAGE) for stage in (PRE, PROCESS, POST)]
    # 70 × 0.2 + 70 × 0.5 + 70 × 0.3 = 14 + 35 + 21 = 70.00
    assert project_score(sheets, meets_basic_conditions=True).grade is QUALIFIED


@pytest.mark.parametrize(("score", "grade"), [
    ("69.99", FAIL), ("70", QUALIFIED), ("90", QUALIFIED), ("90.01", EXCELLENT), ("-3", FAIL)])
def test_grade_boundaries(score: str, grade: ProjectGrade) -> None:
    assert project_grade(Decimal(score)) is grade


def test_a_project_score_needs_all_three_sheets() -> None:
    with pytest.raises(ValueError):
        project_score([one_item_sheet(PRE, ServiceLevel.SATISFIED)], meets_basic_conditions=True)


def test_two_fails_in_a_row_across_a_year_end() -> None:
    history = [(date(2023, 12, 31), FAIL), (date(2024, 3, 31), FAIL)]
    assert project_manager_flags(history) == (
        ManagerFlag(date(2024, 3, 31), FlagLevel.FLAG, (FlagReason.TWO_FAILS_IN_A_ROW,)),)


def test_two_fails_in_one_year_not_in_a_row() -> None:
    history = [(date(2024, 3, 31), FAIL), (date(2024, 6, 30), QUALIFIED), (date(2024, 9, 30), FAIL)]
    assert project_manager_flags(history) == (
        ManagerFlag(date(2024, 9, 30), FlagLevel.FLAG, (FlagReason.TWO_FAILS_IN_A_YEAR,)),)


def test_two_fails_in_different_years_not_in_a_row_raise_nothing() -> None:
    history = [(date(2023, 9, 30), FAIL), (date(2023, 12, 31), EXCELLENT), (date(2024, 3, 31), FAIL)]
    assert project_manager_flags(history) == ()


def test_three_in_a_row_is_a_strong_flag() -> None:
    history = [
        (date(2023, 12, 31), FAIL),  # run 1, 2023: 1
        (date(2024, 3, 31), FAIL),  # run 2, 2024: 1 → two in a row
        (date(2024, 6, 30), FAIL),  # run 3, 2024: 2 → three in a row (and two in a row, two in 2024)
        (date(2024, 9, 30), EXCELLENT),  # run ends
        (date(2024, 12, 31), FAIL),  # run 1, 2024: 3 → two in a year
    ]
    assert project_manager_flags(history) == (
        ManagerFlag(date(2024, 3, 31), FlagLevel.FLAG, (FlagReason.TWO_FAILS_IN_A_ROW,)),
        ManagerFlag(date(2024, 6, 30), FlagLevel.STRONG, (
            FlagReason.TWO_FAILS_IN_A_ROW, FlagReason.TWO_FAILS_IN_A_YEAR, FlagReason.THREE_FAILS_IN_A_ROW)),
        ManagerFlag(date(2024, 12, 31), FlagLevel.FLAG, (FlagReason.TWO_FAILS_IN_A_YEAR,)),
    )


def test_evaluations_must_be_in_order() -> None:
    with pytest.raises(ValueError):
        project_manager_flags([(date(2024, 6, 30), FAIL), (date(2024, 3, 31), FAIL)])


# ---- Scheme D: three levels -----------------------------------------------------------------


def test_three_level_rate_below_target_calls_for_review() -> None:
    responses = ["satisfied"] * 7 + ["average"] * 2 + ["dissatisfied"] + [None]
    # 7 satisfied of 10 answers (the blank left out) = 70.00 %; "average" is not satisfied
    below = three_level_rate(responses, target_percent=Decimal(80))
    assert (below.satisfied, below.average, below.dissatisfied) == (7, 2, 1)
    assert (below.rate, below.needs_review) == (Decimal("70.00"), True)
    # at the target is not below it
    assert three_level_rate(responses, target_percent=Decimal(70)).needs_review is False


def test_three_level_rate_rounds_and_handles_no_answers() -> None:
    # 2 of 3 = 66.666… → 66.67
    assert three_level_rate(["satisfied", "satisfied", "average"], target_percent=90).rate == Decimal("66.67")
    empty = three_level_rate([None], target_percent=90)
    assert (empty.rate, empty.needs_review) == (None, None)
