"""Applying the schemes to a template and a returned form, against figures worked out by hand."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.survey import builtin
from services.survey.domain import (
    Answer,
    AnswersRefused,
    PassMarks,
    Template,
    TemplateDefinition,
    ad_hoc_template,
    campaign_figure,
    feedback_for,
    looks_like_token,
    new_token,
    score_answers,
    token_hash,
)
from shared.events.vocabulary import ProjectStage, SurveyScheme
from shared.i18n import reset_language, set_language


def registered(template_id: str, version: int = 1) -> Template:
    return Template(template_id, version, builtin.BUILTIN_TEMPLATES[template_id])


REPAIR = registered(builtin.REPAIR_RETURN_VISIT)
WEIGHTED = registered(builtin.CUSTOMER_SATISFACTION_WEIGHTED)
PRE_SHEET = registered(builtin.SHEET_TEMPLATES[ProjectStage.PRE_CONSTRUCTION])
THREE = registered(builtin.SERVICE_THREE_LEVEL)


def test_scheme_b_form_rate_leaves_unanswered_items_out() -> None:
    household = registered(builtin.HOUSEHOLD_SATISFACTION)
    # satisfied, basically satisfied, dissatisfied, rest unanswered → 2 of 3 → 66.67 %, below 96 %
    form = score_answers(household, [Answer("cleaning", "satisfied"), Answer("security", "basically_satisfied"),
                                     Answer("greenery", "dissatisfied")])
    assert form.score == Decimal("66.67") and form.satisfied is False
    assert [i.item_id for i in form.dissatisfied_items()] == ["greenery"]
    assert {i.item_id: i.satisfied for i in form.items}["property_service"] is None


def test_repair_return_visit_needs_all_three_items() -> None:
    with pytest.raises(AnswersRefused) as info:
        score_answers(REPAIR, [Answer("attitude", "satisfied"), Answer("quality", None)])
    reasons = {p.reason for p in info.value.problems}
    assert reasons == {"必答题 'punctuality' 未作答", "必答题 'quality' 未作答"}
    english = {p.reason_en for p in info.value.problems}
    assert english == {"required item 'punctuality' is not answered", "required item 'quality' is not answered"}


def test_out_of_range_level_unknown_item_and_repeats_are_named() -> None:
    with pytest.raises(AnswersRefused) as info:
        score_answers(REPAIR, [Answer("attitude", "great"), Answer("punctuality", "satisfied"),
                               Answer("quality", "satisfied"), Answer("price", "satisfied"),
                               Answer("quality", "satisfied")])
    fields = [p.field for p in info.value.problems]
    assert fields == ["answers.0.level", "answers.3.item_id", "answers.4.item_id"]


def test_scheme_a_weighted_form_is_the_sum_of_points() -> None:
    # unit price satisfied 9, quality very satisfied 50, delivery basically satisfied 16 (80 % of 20),
    # service dissatisfied 12 (60 % of 20): 87 of 100 → 87.00, pass mark 80 → passes
    form = score_answers(WEIGHTED, [Answer("unit_price", "satisfied"), Answer("product_quality", "very_satisfied"),
                                    Answer("delivery", "basically_satisfied"), Answer("service", "dissatisfied")])
    assert form.score == Decimal("87.00") and form.satisfied is True
    assert [i.points for i in form.items] == [Decimal(9), Decimal(50), Decimal(16), Decimal(12)]
    assert [i.item_id for i in form.dissatisfied_items()] == ["service"]
    assert score_answers(WEIGHTED, [Answer("unit_price", "satisfied"), Answer("product_quality", "dissatisfied"),
                                    Answer("delivery", "satisfied"), Answer("service", "satisfied")],
                         marks=PassMarks(five_level_score=Decimal(80))).satisfied is False  # 9+24+18+18 = 69


def test_scheme_c_sheet_with_a_hazard() -> None:
    d = PRE_SHEET.definition
    answers = [Answer(i.item_id, "satisfied") for i in d.items]
    # pre-construction sheet: all satisfied = 100; one 15-point item fairly satisfied → 100 - 1.5 = 98.5
    answers[0] = Answer(d.items[0].item_id, "fairly_satisfied")
    assert score_answers(PRE_SHEET, answers).score == Decimal("98.5")
    # a 10-point item (staffing) with a hazard of 8 → -8 instead of 10, and 10 off the total:
    # 98.5 - 10 - 8 - 10 = 70.5, qualified (≥ 70)
    answers[1] = Answer(d.items[1].item_id, "hazard", deduction=Decimal(8))
    form = score_answers(PRE_SHEET, answers, hazard_deduction=Decimal(10))
    assert form.score == Decimal("70.5") and form.satisfied is True
    assert form.dissatisfied_items()[0].item_id == d.items[1].item_id
    with pytest.raises(AnswersRefused) as info:
        score_answers(PRE_SHEET, answers)  # a hazard but no deduction from the total
    assert [p.field for p in info.value.problems] == ["hazard_deduction"]
    answers[1] = Answer(d.items[1].item_id, "hazard", deduction=Decimal(12))
    with pytest.raises(AnswersRefused) as info:
        score_answers(PRE_SHEET, answers, hazard_deduction=Decimal(10))
    assert [p.field for p in info.value.problems] == ["answers.1.deduction"]


def test_scheme_c_sheet_needs_every_item() -> None:
    d = PRE_SHEET.definition
    with pytest.raises(AnswersRefused) as info:
        score_answers(PRE_SHEET, [Answer(d.items[0].item_id, "satisfied")])
    assert len(info.value.problems) == len(d.items) - 1


def test_scheme_d_against_its_target() -> None:
    # service satisfied, communication average → 1 of 2 = 50 % < 90 % → needs review (not satisfied)
    form = score_answers(THREE, [Answer("service", "satisfied"), Answer("communication", "average")])
    assert form.score == Decimal("50.00") and form.satisfied is False
    assert form.dissatisfied_items() == ()  # "average" is not a complaint


def test_ad_hoc_form_keeps_the_foundation_contract() -> None:
    template = ad_hoc_template("household", 1, SurveyScheme.SATISFACTION_RATE, ["q1", "q2"])
    form = score_answers(template, [Answer("q1", "satisfied"), Answer("q2", None)])
    assert form.score == Decimal("100.00") and form.satisfied is True
    with pytest.raises(AnswersRefused) as info:
        score_answers(ad_hoc_template("t", 1, SurveyScheme.THREE_LEVEL, ["q1"]), [Answer("q1", "great")])
    assert info.value.problems[0].field == "answers.0.level"


def test_template_definitions_are_checked() -> None:
    base = {"scheme": "C", "stage": "construction", "title_zh": "表", "title_en": "sheet"}
    ninety = {**base, "items": [
        {"item_id": "a", "label_zh": "甲", "label_en": "a", "standard_points": 60},
        {"item_id": "b", "label_zh": "乙", "label_en": "b", "standard_points": 30}]}
    with pytest.raises(ValidationError, match="评分表的标准分合计须为 100，而不是 90"):
        TemplateDefinition.model_validate(ninety)
    token = set_language("en")  # a request that asked for English
    try:
        with pytest.raises(ValidationError, match="a sheet's standard points add up to 100, not 90"):
            TemplateDefinition.model_validate(ninety)
    finally:
        reset_language(token)
    with pytest.raises(ValidationError, match="较差等级不得高于较好等级"):
        TemplateDefinition.model_validate({"scheme": "A", "title_zh": "表", "title_en": "form", "items": [
            {"item_id": "a", "label_zh": "甲", "label_en": "a", "points": [10, 9, 12, 6, 4]}]})
    with pytest.raises(ValidationError, match="target"):
        TemplateDefinition.model_validate({"scheme": "D", "title_zh": "表", "title_en": "form", "items": [
            {"item_id": "a", "label_zh": "甲", "label_en": "a"}]})


def test_campaign_figures_per_scheme() -> None:
    household = registered(builtin.HOUSEHOLD_SATISFACTION)
    # cleaning: 3 satisfied, 1 dissatisfied → 75 %; security: 2 satisfied → 100 %; mean 87.5 % < 96 %
    forms = [{"cleaning": "satisfied", "security": "very_satisfied"}, {"cleaning": "basically_satisfied"},
             {"cleaning": "satisfied", "security": "satisfied"}, {"cleaning": "very_dissatisfied"}]
    figure = campaign_figure(household, forms)
    assert figure.score == Decimal("87.50") and figure.satisfied is False
    assert dict((i, f) for i, f, _ in figure.items)["cleaning"] == Decimal("75.00")
    # scheme A: forms of 87 and 69 → mean 78.00 < 80
    weighted = campaign_figure(WEIGHTED, [
        {"unit_price": "satisfied", "product_quality": "very_satisfied", "delivery": "basically_satisfied",
         "service": "dissatisfied"},
        {"unit_price": "satisfied", "product_quality": "dissatisfied", "delivery": "satisfied", "service": "satisfied"},
    ])
    assert weighted.score == Decimal("78.00") and weighted.satisfied is False


def test_feedback_per_dissatisfied_item() -> None:
    response_id = uuid.uuid4()
    form = score_answers(REPAIR, [Answer("attitude", "satisfied"), Answer("punctuality", "dissatisfied", remark="迟到"),
                                  Answer("quality", "very_dissatisfied")])
    visit = feedback_for(REPAIR, form, response_id=response_id, return_visit=True)
    assert [(f.external_id, f.kind, f.channel) for f in visit] == [
        (f"{response_id}:punctuality", "complaint", "return_visit"),
        (f"{response_id}:quality", "complaint", "return_visit")]
    assert "迟到" in visit[0].text
    campaign = feedback_for(REPAIR, form, response_id=response_id, return_visit=False)
    assert [(f.kind, f.channel) for f in campaign] == [("survey_remark", "solicitation"), ("complaint", "solicitation")]


def test_tokens_are_long_random_and_stored_hashed() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100 and all(len(t) >= 43 and looks_like_token(t) for t in tokens)
    token = next(iter(tokens))
    assert token_hash(token) != token and len(token_hash(token)) == 64
    assert not looks_like_token("../../etc/passwd")
