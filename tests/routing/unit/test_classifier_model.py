"""The complaint model beside the rules: reproducible, explainable, deterministic, versioned, and
measured by figures worked out by hand."""

from __future__ import annotations

import json

import pytest

from services.routing.classification import classify, load_rules
from services.routing.classification.classifier import Classification
from services.routing.classification.evaluate import LabelledComplaint
from services.routing.classification.figures import figures
from services.routing.classification.model import ComplaintModel, ModelError, default_model, explain
from services.routing.classification.train import HELDOUT_FILE, TRAINING_FILES, load_training
from shared.events.vocabulary import ComplaintCategory as Cat
from shared.events.vocabulary import Department as Dept


@pytest.fixture(scope="module")
def model() -> ComplaintModel:
    return default_model()


def test_training_never_reads_the_held_out_complaints() -> None:
    assert HELDOUT_FILE not in TRAINING_FILES
    with pytest.raises(ValueError, match="evaluation only"):
        load_training([*TRAINING_FILES, HELDOUT_FILE])


def test_the_model_file_names_what_it_was_built_from(model: ComplaintModel) -> None:
    data = json.loads(open(model.source, encoding="utf-8").read())
    assert data["trained_on"]["complaints"] == len(load_training())
    assert data["trained_on"]["rules_version"] == load_rules().version
    assert data["version"] == model.version and model.version.startswith("m-")


def test_a_decision_is_deterministic_and_names_its_reasons_in_chinese(model: ComplaintModel) -> None:
    text = "楼上卫生间漏水，我家天花板都泡了，已经是第三次报修了"
    first = classify(text, model=model)
    assert all(classify(text, model=model) == first for _ in range(3))
    assert first.rules_version == f"{load_rules().version}+model:{model.version}"
    assert any(f.startswith(f"model:{model.version}:") for f in first.rules_fired)
    sentence = explain(first.rules_fired)
    assert sentence is not None and sentence.startswith(f"模型 {model.version} 判为")
    assert "起作用最大的是" in sentence and "%" in sentence
    # the rules' own findings stay listed beside the model's
    assert "category:product_quality:漏水" in first.rules_fired


def test_without_a_model_the_rules_decide_alone() -> None:
    result = classify("楼上卫生间漏水，我家天花板都泡了")
    assert not any(f.startswith("model:") for f in result.rules_fired)
    assert explain(result.rules_fired) is None
    assert "+model:" not in result.rules_version


def test_a_model_file_that_is_not_one_is_refused() -> None:
    with pytest.raises(ModelError):
        ComplaintModel.from_json({"version": "x", "heads": {}})


def _example(n: int, category: Cat, klass: int, *, valid: bool = False, important: bool = False,
             ambiguous: bool = False) -> LabelledComplaint:
    return LabelledComplaint(id=f"e{n}", text="…", kind="complaint", channel=None, project_stage=None,
                             category=category, complaint_class=klass, valid=valid, important=important,
                             split="heldout", ambiguous=ambiguous)


def _said(category: Cat, klass: int, *, valid: bool = False, important: bool = False,
          triage: bool = False, lead: Dept = Dept.CUSTOMER_SERVICE) -> Classification:
    return Classification(category=category, complaint_class=klass, valid=valid, important=important,
                          confidence=0.9, rules_fired=(), rules_version="t", needs_triage=triage,
                          lead_department=lead, assisting_departments=())


def test_the_figures_of_a_table_worked_by_hand() -> None:
    """Five complaints, worked out on paper:

    | # | label                        | classifier said                 | subject | class | valid | lead          |
    |---|------------------------------|---------------------------------|---------|-------|-------|---------------|
    | 1 | quality/2, important         | quality/2, important            | ok      | ok    | ok    | ok (eng.)     |
    | 2 | service/1 valid              | price/1 valid                   | wrong   | ok    | ok    | wrong: business ≠ customer service |
    | 3 | site/1 valid, important      | site/1 invalid, not important   | ok      | ok    | wrong | ok            |
    | 4 | external/3, ambiguous        | service/1 valid, to triage      | wrong   | wrong | wrong | not counted: a person routes it |
    | 5 | contract/1 valid             | quality/2, important            | wrong   | wrong | wrong | wrong: engineering ≠ business |

    subject 2/5 = 40 %, class 3/5 = 60 %, valid 2/5 = 40 %; important: 2 labelled, 1 found → recall
    50 %; 2 flagged, 1 truly → precision 50 %; wrong lead department 2/5 = 40 %; triage 1/5 = 20 %,
    and the one sent is one of the ambiguous.
    """
    pairs = [
        (_example(1, Cat.PRODUCT_QUALITY, 2, important=True), _said(Cat.PRODUCT_QUALITY, 2, important=True)),
        (_example(2, Cat.SERVICE_ATTITUDE, 1, valid=True), _said(Cat.PRICE, 1, valid=True)),
        (_example(3, Cat.SITE_SAFETY_ENVIRONMENT, 1, valid=True, important=True),
         _said(Cat.SITE_SAFETY_ENVIRONMENT, 1)),
        (_example(4, Cat.EXTERNAL_ENVIRONMENT, 3, ambiguous=True), _said(Cat.SERVICE_ATTITUDE, 1, valid=True,
                                                                         triage=True)),
        (_example(5, Cat.CONTRACT_AFTER_SALES, 1, valid=True), _said(Cat.PRODUCT_QUALITY, 2, important=True)),
    ]
    f = figures(pairs, load_rules())
    assert f.values == {"category": 0.4, "class": 0.6, "valid": 0.4, "important_recall": 0.5,
                        "important_precision": 0.5, "wrong_lead": 0.4, "triage": 0.2}
    assert (f.triaged, f.triaged_ambiguous, f.ambiguous) == (1, 1, 1)
    assert f.confusion[(Cat.SERVICE_ATTITUDE, Cat.PRICE)] == 1
    assert set(f.missed()) >= {"category 40.0% < 90%", "triage 20.0% > 15%"}


def test_the_committed_model_is_what_the_training_files_build_byte_for_byte(tmp_path) -> None:
    from services.routing.classification import train

    out = tmp_path / "model.json"
    out.write_text(open(default_model().source, encoding="utf-8").read(), encoding="utf-8")
    assert train.main(["--check", "--out", str(out)]) == 0
