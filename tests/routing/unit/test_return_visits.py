"""Which cases get a return visit (回访): important complaints always; for the others the quality
department's decision for the case, else the rule setting. Never a random sample."""

from __future__ import annotations

import pytest

from services.routing.return_visits import Basis, Decision, ReturnVisitFacts, ReturnVisitRule, decide

R = ReturnVisitRule


def complaint(*, important: bool = False, complaint_class: int | None = 1, valid: bool | None = True,
              chosen: bool | None = None) -> ReturnVisitFacts:
    return ReturnVisitFacts(is_complaint=True, important=important, complaint_class=complaint_class, valid=valid,
                            chosen=chosen)


@pytest.mark.parametrize("rule", list(R))
@pytest.mark.parametrize("chosen", [None, True, False])
def test_an_important_complaint_always_gets_one_whatever_the_rule_or_choice(rule: R, chosen: bool | None) -> None:
    assert decide(complaint(important=True, chosen=chosen), rule) == Decision(True, Basis.IMPORTANT)


@pytest.mark.parametrize(("facts", "rule", "expected"), [
    # default: nothing but the important ones unless the quality department chooses
    (complaint(), R.IMPORTANT_ONLY, Decision(False, Basis.NONE)),
    (complaint(chosen=True), R.IMPORTANT_ONLY, Decision(True, Basis.QUALITY_DEPARTMENT)),
    # every class-1 complaint, valid or not; not a class-2 one
    (complaint(valid=False), R.CLASS_1, Decision(True, Basis.RULE)),
    (complaint(complaint_class=2, valid=False), R.CLASS_1, Decision(False, Basis.NONE)),
    # every valid complaint; not an invalid one
    (complaint(), R.ALL_VALID, Decision(True, Basis.RULE)),
    (complaint(valid=False), R.ALL_VALID, Decision(False, Basis.NONE)),
    # the decision for the case wins over the rule, both ways
    (complaint(chosen=False), R.CLASS_1, Decision(False, Basis.QUALITY_DEPARTMENT)),
    (complaint(complaint_class=2, valid=False, chosen=True), R.CLASS_1, Decision(True, Basis.QUALITY_DEPARTMENT)),
    # not a complaint (an inquiry): only by choice
    (ReturnVisitFacts(is_complaint=False, important=False, complaint_class=None, valid=None, chosen=None),
     R.ALL_VALID, Decision(False, Basis.NONE)),
    (ReturnVisitFacts(is_complaint=False, important=False, complaint_class=None, valid=None, chosen=True),
     R.IMPORTANT_ONLY, Decision(True, Basis.QUALITY_DEPARTMENT)),
])
def test_the_others_follow_the_quality_departments_choice_then_the_rule(
        facts: ReturnVisitFacts, rule: R, expected: Decision) -> None:
    assert decide(facts, rule) == expected


def test_the_same_case_decides_alike_every_time() -> None:
    # no sampling: a thousand ordinary complaints under the default rule get no return visit at all
    assert {decide(complaint(), R.IMPORTANT_ONLY) for _ in range(1000)} == {Decision(False, Basis.NONE)}


def test_the_decision_reads_in_chinese() -> None:
    assert Decision(True, Basis.IMPORTANT).label == "回访：重要投诉，必须回访"
    assert Decision(False, Basis.QUALITY_DEPARTMENT).label == "不回访：品质管理部决定"
