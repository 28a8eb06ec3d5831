"""The rule-file classifier: categories, classes, reasons, routing, triage, validation, accuracy."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from services.routing.classification import (
    DEFAULT_RULES_PATH,
    Rules,
    RulesError,
    classify,
    load_rules,
    parse_rules,
)
from services.routing.classification.evaluate import load_examples, run, score
from shared.events.vocabulary import ComplaintCategory as Cat
from shared.events.vocabulary import Department as Dept
from shared.events.vocabulary import FeedbackKind, ProjectStage

DATA = Path(__file__).resolve().parents[1] / "data" / "labelled_complaints.jsonl"


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules()


def rule_data() -> dict[str, Any]:
    return copy.deepcopy(tomllib.loads(DEFAULT_RULES_PATH.read_text(encoding="utf-8")))


def fired_for(result, prefix: str) -> list[str]:
    return [rule for rule in result.rules_fired if rule.startswith(prefix)]


# --- subject category and class, with the reasons -------------------------------------------


@pytest.mark.parametrize(
    ("text", "stage", "category", "complaint_class"),
    [
        ("5栋1单元802卫生间天花板漏水，墙面也渗水了", ProjectStage.POST_COMPLETION, Cat.PRODUCT_QUALITY, 2),
        ("客厅地砖空鼓，墙上还有好几条裂缝", ProjectStage.POST_COMPLETION, Cat.PRODUCT_QUALITY, 2),
        ("The bathroom ceiling is leaking and the tiles are cracked.", ProjectStage.POST_COMPLETION,
         Cat.PRODUCT_QUALITY, 2),
        ("交房延期三个月了，到底什么时候能交", ProjectStage.POST_COMPLETION, Cat.PRODUCTION_DELIVERY, 1),
        ("主体结构施工进度滞后，工期已拖延一个月", ProjectStage.CONSTRUCTION, Cat.PRODUCTION_DELIVERY, 1),
        ("The precast delivery is delayed and we are behind schedule.", ProjectStage.CONSTRUCTION,
         Cat.PRODUCTION_DELIVERY, 1),
        ("请按购房合同支付逾期交房的违约金", ProjectStage.POST_COMPLETION, Cat.CONTRACT_AFTER_SALES, 1),
        ("你们施工损坏了我方围墙，现提出索赔，要求赔偿", ProjectStage.CONSTRUCTION, Cat.CONTRACT_AFTER_SALES, 1),
        ("We are lodging a formal claim for compensation under the contract.", ProjectStage.CONSTRUCTION,
         Cat.CONTRACT_AFTER_SALES, 1),
        ("物业费收费标准太高，停车费也涨价了", ProjectStage.PROPERTY_MANAGEMENT, Cat.PRICE, 1),
        ("你们的报价单价明显偏高", ProjectStage.PRE_CONSTRUCTION, Cat.PRICE, 1),
        ("Your quotation is far too expensive; please justify the fees.", ProjectStage.PRE_CONSTRUCTION, Cat.PRICE, 1),
        ("工地夜间施工噪音扰民，扬尘也很大", ProjectStage.CONSTRUCTION, Cat.SITE_SAFETY_ENVIRONMENT, 1),
        ("工人高处作业不戴安全帽，脚手架也没有防护", ProjectStage.CONSTRUCTION, Cat.SITE_SAFETY_ENVIRONMENT, 1),
        ("The dust and noise from your site are unbearable.", ProjectStage.CONSTRUCTION,
         Cat.SITE_SAFETY_ENVIRONMENT, 1),
        ("客服态度恶劣，几个部门互相推诿", ProjectStage.PROPERTY_MANAGEMENT, Cat.SERVICE_ATTITUDE, 1),
        ("保安不耐烦，打电话给管家也没人接", ProjectStage.PROPERTY_MANAGEMENT, Cat.SERVICE_ATTITUDE, 1),
        ("The front desk staff were rude and ignored my request.", ProjectStage.PROPERTY_MANAGEMENT,
         Cat.SERVICE_ATTITUDE, 1),
        ("小区门口市政道路一直在挖，公交站也搬走了", ProjectStage.PROPERTY_MANAGEMENT, Cat.EXTERNAL_ENVIRONMENT, 3),
        ("附近地铁施工太吵，学校门口也堵", ProjectStage.PROPERTY_MANAGEMENT, Cat.EXTERNAL_ENVIRONMENT, 3),
        ("The municipal bus stop outside the estate was removed.", ProjectStage.PROPERTY_MANAGEMENT,
         Cat.EXTERNAL_ENVIRONMENT, 3),
    ],
)
def test_category_and_class_come_with_their_reasons(
    rules: Rules, text: str, stage: ProjectStage, category: Cat, complaint_class: int
) -> None:
    result = classify(text, kind=FeedbackKind.COMPLAINT, project_stage=stage, rules=rules)
    assert (result.category, result.complaint_class) == (category, complaint_class)
    assert fired_for(result, f"category:{category.value}:"), result.rules_fired
    assert f"class:default:{category.value}->{complaint_class}" in result.rules_fired
    assert 0.5 <= result.confidence <= 1.0
    assert not result.needs_triage
    assert result.rules_version == rules.version
    assert result.valid is (complaint_class == 1)


def test_supporting_facilities_promised_in_the_contract_are_class_2(rules: Rules) -> None:
    result = classify("售楼时合同承诺的配套设施会所至今没建，属于违约", rules=rules)
    assert result.category is Cat.CONTRACT_AFTER_SALES
    assert result.complaint_class == 2
    assert "class:2:配套设施" in result.rules_fired
    assert not result.valid


def test_surroundings_are_external_even_though_they_say_配套(rules: Rules) -> None:
    result = classify("小区周边配套太差，附近没有学校和医院", rules=rules)
    assert (result.category, result.complaint_class) == (Cat.EXTERNAL_ENVIRONMENT, 3)
    assert "class:3:周边配套" in result.rules_fired


def test_longest_phrase_wins_and_honorifics_are_not_prices(rules: Rules) -> None:
    result = classify("贵司交付的住宅墙面开裂", rules=rules)
    assert result.category is Cat.PRODUCT_QUALITY
    assert not fired_for(result, "category:price:")


def test_a_phrase_counts_once_however_often_it_is_repeated(rules: Rules) -> None:
    once = classify("漏水", rules=rules)
    thrice = classify("漏水漏水漏水", rules=rules)
    assert once.confidence == thrice.confidence
    assert thrice.rules_fired.count("category:product_quality:漏水") == 1


def test_classification_is_pure(rules: Rules) -> None:
    text = "3栋2单元1201阳台渗水，已经报修两次"
    assert classify(text, rules=rules) == classify(text, rules=rules)


# --- negation -------------------------------------------------------------------------------


def test_negated_symptoms_do_not_count_but_are_recorded(rules: Rules) -> None:
    result = classify("卫生间没有出现漏水，但是客厅墙面开裂了", rules=rules)
    assert "negated:category:product_quality:漏水" in result.rules_fired
    assert "category:product_quality:漏水" not in result.rules_fired
    assert "category:product_quality:开裂" in result.rules_fired


def test_negation_stops_at_the_clause_and_does_not_reach_across_verbs(rules: Rules) -> None:
    result = classify("至今没有解决漏水问题", rules=rules)
    assert "category:product_quality:漏水" in result.rules_fired


def test_english_negation(rules: Rules) -> None:
    result = classify("The roof is no longer leaking, but the wall has cracks.", rules=rules)
    assert "negated:category:product_quality:leak*" in result.rules_fired
    assert "category:product_quality:crack*" in result.rules_fired


def test_topics_count_whatever_the_polarity(rules: Rules) -> None:
    result = classify("工人都没戴安全帽", project_stage=ProjectStage.CONSTRUCTION, rules=rules)
    assert result.category is Cat.SITE_SAFETY_ENVIRONMENT
    assert "category:site_safety_environment:安全帽" in result.rules_fired


def test_only_negated_evidence_means_triage(rules: Rules) -> None:
    result = classify("没有发现任何渗水", rules=rules)
    assert result.needs_triage
    assert result.confidence == 0.0


# --- importance and validity ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("卫生间漏水半年没人修，我要找媒体曝光", "important:media:"),
        ("我已经打了12345投诉施工噪音", "important:government:"),
        ("物业推诿，我只能向集团投诉", "important:group_escalation:"),
        ("这是我第三次反映墙面裂缝了", "important:repeated:"),
        ("外墙瓷砖脱落，存在安全隐患", "important:safety_hazard:"),
        ("几十户业主联名反映交房延期", "important:mass_incident:"),
        ("违约金不付我们就起诉", "important:legal:"),
        ("I have reported the leak three times and will contact the media.", "important:repeated:"),
    ],
)
def test_important_complaints_name_their_reason(rules: Rules, text: str, reason: str) -> None:
    result = classify(text, rules=rules)
    assert result.important
    assert fired_for(result, reason), result.rules_fired


def test_a_denied_hazard_is_not_important(rules: Rules) -> None:
    result = classify("墙面有细小裂缝，师傅看过说没有安全隐患", rules=rules)
    assert not result.important
    assert "negated:important:safety_hazard:安全隐患" in result.rules_fired


def test_ordinary_complaints_are_not_important(rules: Rules) -> None:
    assert not classify("卫生间地漏反味", rules=rules).important


def test_feedback_that_is_not_a_complaint_is_not_a_valid_complaint(rules: Rules) -> None:
    result = classify("建议客服人员提高服务态度", kind=FeedbackKind.SUGGESTION, rules=rules)
    assert result.category is Cat.SERVICE_ATTITUDE
    assert not result.valid
    assert "invalid:kind:suggestion" in result.rules_fired


def test_customer_caused_or_out_of_warranty_is_not_valid(rules: Rules) -> None:
    result = classify("保修期已经过了，维修还要收费，服务态度也差", rules=rules)
    assert result.complaint_class == 1
    assert not result.valid
    assert fired_for(result, "invalid:beyond_warranty:")


# --- routing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lead", "assisting"),
    [
        ("卫生间漏水", Dept.ENGINEERING_QUALITY, (Dept.BUSINESS,)),
        ("交房延期", Dept.BUSINESS, (Dept.PRODUCTION,)),
        ("索赔违约金", Dept.BUSINESS, ()),
        ("物业费涨价", Dept.BUSINESS, ()),
        ("工地扬尘太大", Dept.SAFETY_ENVIRONMENT, (Dept.PROJECT_DEPARTMENT,)),
        # service attitude: customer service leads alone (no assisting department)
        ("客服态度差", Dept.CUSTOMER_SERVICE, ()),
    ],
)
def test_default_routing_follows_the_domain_table(
    rules: Rules, text: str, lead: Dept, assisting: tuple[Dept, ...]
) -> None:
    result = classify(text, rules=rules)
    assert (result.lead_department, result.assisting_departments) == (lead, assisting)


@pytest.fixture(scope="module")
def rules_with_overrides() -> Rules:
    data = rule_data()
    data["routing"]["overrides"] = {
        "hx": {"price": {"lead": "general_affairs", "assist": ["business"]}},
        "hx/east": {"product_quality": {"lead": "construction_management", "assist": ["engineering_quality"]}},
    }
    return parse_rules(data)


def test_routing_override_is_inherited_down_the_org_path(rules_with_overrides: Rules) -> None:
    leak = classify("卫生间漏水", org_path="hx/east/lakeside", rules=rules_with_overrides)
    assert leak.lead_department is Dept.CONSTRUCTION_MANAGEMENT
    assert leak.assisting_departments == (Dept.ENGINEERING_QUALITY,)
    assert "routing:hx/east" in leak.rules_fired

    fee = classify("物业费涨价", org_path="hx/east/lakeside", rules=rules_with_overrides)
    assert fee.lead_department is Dept.GENERAL_AFFAIRS
    assert "routing:hx" in fee.rules_fired


def test_routing_falls_back_to_the_parent_then_the_default(rules_with_overrides: Rules) -> None:
    sibling = classify("卫生间漏水", org_path="hx/west", rules=rules_with_overrides)
    assert sibling.lead_department is Dept.ENGINEERING_QUALITY
    assert not fired_for(sibling, "routing:")
    other_group = classify("物业费涨价", org_path="/zj/north/", rules=rules_with_overrides)
    assert other_group.lead_department is Dept.BUSINESS
    assert rules_with_overrides.route(Cat.PRICE, "hx/")[1] == "hx"


# --- triage ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "asdf qwer zxcv", "你好，在吗？", "3栋2单元1201", "？？？！！！"])
def test_text_without_signal_goes_to_triage(rules: Rules, text: str) -> None:
    result = classify(text, rules=rules)
    assert result.needs_triage
    assert result.confidence < rules.triage_threshold
    assert result.category is rules.fallback_category
    assert f"fallback:{rules.fallback_category.value}" in result.rules_fired
    assert not result.valid


def test_context_hints_alone_never_decide(rules: Rules) -> None:
    result = classify("麻烦来看一下", kind=FeedbackKind.REPAIR_REQUEST, project_stage=ProjectStage.POST_COMPLETION,
                      rules=rules)
    assert result.category is Cat.PRODUCT_QUALITY
    assert "kind:repair_request->product_quality" in result.rules_fired
    assert result.needs_triage


def test_mixed_subjects_lower_the_confidence(rules: Rules) -> None:
    clear = classify("墙面开裂，瓷砖空鼓", rules=rules)
    mixed = classify("墙面开裂，物业费太贵", rules=rules)
    assert mixed.confidence < clear.confidence


def test_the_triage_threshold_is_a_setting() -> None:
    data = rule_data()
    data["settings"]["triage_threshold"] = 0.99
    strict = parse_rules(data)
    result = classify("卫生间漏水，墙面渗水", rules=strict)
    assert result.needs_triage
    assert "triage:confidence<0.99" in result.rules_fired


# --- rule file validation -------------------------------------------------------------------


def _broken(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    data = rule_data()
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        (("version",), ..., "version"),
        (("settings", "triage_threshold"), 1.5, "settings.triage_threshold"),
        (("settings", "fallback_category"), "noise", "settings.fallback_category"),
        (("categories", "price", "default_class"), 4, "categories.price.default_class"),
        (("categories", "price", "topics", "物业费"), "high", "categories.price.topics.物业费"),
        (("categories", "price", "symtoms"), {"贵": 1.0}, "categories.price.symtoms"),
        (("categories", "price", "stage_hints", "later"), 0.5, "categories.price.stage_hints.later"),
        (("routing", "default", "price", "lead"), "sales", "routing.default.price.lead"),
        (("routing", "default", "price"), ..., "routing.default.price"),
        (("validity", "complaint_kinds"), ["grumble"], "validity.complaint_kinds[0]"),
    ],
)
def test_invalid_rules_name_the_bad_key(path: tuple[str, ...], value: Any, key: str) -> None:
    with pytest.raises(RulesError) as error:
        parse_rules(_broken(path, value))
    assert error.value.key == key
    assert str(error.value).startswith(f"{key}:")


def test_an_override_with_an_unknown_department_names_the_org_unit() -> None:
    data = rule_data()
    data["routing"]["overrides"] = {"hx/east": {"price": {"lead": "marketing"}}}
    with pytest.raises(RulesError, match=r"routing\.overrides\.hx/east\.price\.lead"):
        parse_rules(data)


@pytest.mark.parametrize(
    ("route", "key"),
    [
        ({"lead": "customer_service", "assist": ["general_affairs"]}, "routing.overrides.hx/east.service_attitude.assist"),
        ({"lead": "business", "assist": []}, "routing.overrides.hx/east.service_attitude.lead"),
    ],
)
def test_service_attitude_is_led_by_customer_service_or_general_affairs_alone(route: dict[str, Any], key: str) -> None:
    data = rule_data()
    data["routing"]["overrides"] = {"hx/east": {"service_attitude": route}}
    with pytest.raises(RulesError) as error:
        parse_rules(data)
    assert error.value.key == key


def test_general_affairs_may_lead_service_attitude_alone() -> None:
    data = rule_data()
    data["routing"]["overrides"] = {"hx/east": {"service_attitude": {"lead": "general_affairs", "assist": []}}}
    result = classify("客服态度差", org_path="hx/east/lakeside", rules=parse_rules(data))
    assert (result.lead_department, result.assisting_departments) == (Dept.GENERAL_AFFAIRS, ())


def test_a_file_that_is_not_toml_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text('version = "x"\n[settings\n', encoding="utf-8")
    with pytest.raises(RulesError, match="not valid TOML"):
        load_rules(bad)
    with pytest.raises(RulesError, match="not found"):
        load_rules(tmp_path / "missing.toml")


def test_the_shipped_rules_are_versioned_and_load_from_a_path(tmp_path: Path) -> None:
    copy_path = tmp_path / "rules.toml"
    copy_path.write_text(DEFAULT_RULES_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    loaded = load_rules(copy_path)
    assert loaded.version == load_rules().version != ""
    assert set(loaded.routing_default) == set(Cat)


# --- the labelled set -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def examples():
    return load_examples(DATA)


def test_the_labelled_set_is_broad(examples) -> None:
    assert len(examples) >= 300
    assert {e.category for e in examples} == set(Cat)
    assert len([e for e in examples if e.split == "holdout"]) >= 100
    english = [e for e in examples if e.text.isascii()]
    assert 0.15 <= len(english) / len(examples) <= 0.25
    assert len({e.text for e in examples}) == len(examples)
    for e in examples:
        assert e.complaint_class in (1, 2, 3)
        assert not (e.valid and e.complaint_class != 1), e.id


def test_accuracy_over_the_labelled_set(rules: Rules, examples) -> None:
    overall = score("overall", run(examples, rules))
    assert overall.category >= 0.90
    assert overall.complaint_class >= 0.90
