"""Survey scoring (DOMAIN.md §5): the level tables of each scheme and a form's overall figure.

The foundation scores a single returned form; weighted items, campaign aggregation and the
project service score's sheets and deductions come with the survey service's own issue.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.events.vocabulary import SurveyScheme

# level -> (points, counts as satisfied)
LEVELS: dict[SurveyScheme, dict[str, tuple[float, bool]]] = {
    SurveyScheme.FIVE_LEVEL: {
        "very_satisfied": (100, True),
        "satisfied": (80, True),
        "basically_satisfied": (60, True),
        "dissatisfied": (30, False),
        "very_dissatisfied": (0, False),
    },
    SurveyScheme.SATISFACTION_RATE: {
        "very_satisfied": (100, True),
        "satisfied": (80, True),
        "basically_satisfied": (60, True),
        "dissatisfied": (30, False),
        "very_dissatisfied": (0, False),
    },
    SurveyScheme.PROJECT_SERVICE_SCORE: {
        "satisfied": (100, True),
        "fairly_satisfied": (90, True),
        "average": (70, False),
        "qualified": (50, False),
    },
    SurveyScheme.THREE_LEVEL: {
        "satisfied": (100, True),
        "average": (50, False),
        "dissatisfied": (0, False),
    },
}

SATISFACTION_PASS_RATE = 96.0


class InvalidAnswer(ValueError):
    def __init__(self, item_id: str, reason: str) -> None:
        super().__init__(f"{item_id}: {reason}")
        self.item_id = item_id
        self.reason = reason


@dataclass(frozen=True)
class ScoredItem:
    item_id: str
    level: str | None
    points: float | None
    satisfied: bool | None


@dataclass(frozen=True)
class ScoredForm:
    items: tuple[ScoredItem, ...]
    score: float | None
    satisfied: bool | None


def score_form(scheme: SurveyScheme, answers: list[tuple[str, str | None]]) -> ScoredForm:
    """Score one returned form. Unanswered items (level None) are left out of every figure."""
    table = LEVELS[scheme]
    items = []
    for item_id, level in answers:
        if level is None:
            items.append(ScoredItem(item_id, None, None, None))
            continue
        if level not in table:
            raise InvalidAnswer(item_id, f"level {level!r} is not one of {', '.join(table)}")
        points, satisfied = table[level]
        items.append(ScoredItem(item_id, level, points, satisfied))
    answered = [i for i in items if i.level is not None]
    if not answered:
        return ScoredForm(tuple(items), None, None)
    if scheme in (SurveyScheme.SATISFACTION_RATE, SurveyScheme.THREE_LEVEL):
        rate = 100.0 * sum(1 for i in answered if i.satisfied) / len(answered)
        passed = rate >= SATISFACTION_PASS_RATE if scheme is SurveyScheme.SATISFACTION_RATE else None
        return ScoredForm(tuple(items), round(rate, 4), passed)
    mean = sum(i.points or 0 for i in answered) / len(answered)
    return ScoredForm(tuple(items), round(mean, 4), None)
