"""Which cases get a return visit (回访). Pure: the use cases ask here and store the answer.

- An important complaint always gets one; nobody can decide otherwise.
- For every other case the quality department chooses: a decision for the case (yes or no, with
  its reason) wins; without one, the rule setting (``RoutingSettings.return_visit_rule``) decides:
  ``important_only`` (the default: no return visit unless the quality department chooses one),
  ``class_1`` (every class-1 complaint), ``all_valid`` (every valid complaint).
- Nothing is drawn at random: the same case with the same facts gets the same answer.

The decision in force when the customer accepts the result is the one that counts: routing records
it then (``ReturnVisitDecided`` from the system) and the survey service issues the visit. A case
that was to get a return visit is closed only after it (the lifecycle's close guard).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReturnVisitRule(StrEnum):
    IMPORTANT_ONLY = "important_only"
    CLASS_1 = "class_1"
    ALL_VALID = "all_valid"


class Basis(StrEnum):
    IMPORTANT = "important"
    RULE = "rule"
    QUALITY_DEPARTMENT = "quality_department"
    NONE = "none"


#: What a person reads about a decision (the case's history, 409 reasons).
BASIS_LABELS = {
    Basis.IMPORTANT: "重要投诉，必须回访",
    Basis.RULE: "按回访规则",
    Basis.QUALITY_DEPARTMENT: "品质管理部决定",
    Basis.NONE: "无需回访（品质管理部未选择回访）",
}
RULE_LABELS = {
    ReturnVisitRule.IMPORTANT_ONLY: "仅重要投诉（其余由品质管理部逐案决定）",
    ReturnVisitRule.CLASS_1: "全部一类投诉",
    ReturnVisitRule.ALL_VALID: "全部有效投诉",
}
IMPORTANT_ALWAYS = "重要投诉必须回访，不能决定不回访"


@dataclass(frozen=True)
class ReturnVisitFacts:
    is_complaint: bool
    important: bool
    complaint_class: int | None
    valid: bool | None
    chosen: bool | None  # the quality department's decision for this case, if any


@dataclass(frozen=True)
class Decision:
    return_visit: bool
    basis: Basis

    @property
    def label(self) -> str:
        return ("回访：" if self.return_visit else "不回访：") + BASIS_LABELS[self.basis]


def by_rule(facts: ReturnVisitFacts, rule: ReturnVisitRule) -> bool:
    if not facts.is_complaint:
        return False
    if rule is ReturnVisitRule.CLASS_1:
        return facts.complaint_class == 1
    if rule is ReturnVisitRule.ALL_VALID:
        return bool(facts.valid)
    return False


def decide(facts: ReturnVisitFacts, rule: ReturnVisitRule) -> Decision:
    """Whether the case gets a return visit, and on what basis."""
    if facts.is_complaint and facts.important:
        return Decision(True, Basis.IMPORTANT)
    if facts.chosen is not None:
        return Decision(facts.chosen, Basis.QUALITY_DEPARTMENT)
    if by_rule(facts, rule):
        return Decision(True, Basis.RULE)
    return Decision(False, Basis.NONE)
