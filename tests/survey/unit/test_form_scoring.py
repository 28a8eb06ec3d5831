"""Scoring one returned form under each scheme's level table (DOMAIN.md §5)."""

from __future__ import annotations

import pytest

from services.survey.domain import InvalidAnswer, score_form
from shared.events.vocabulary import SurveyScheme


def test_satisfaction_rate_leaves_unanswered_items_out() -> None:
    # satisfied, basically satisfied, dissatisfied, unanswered → 2 of 3 answered are satisfied → 66.6667 %
    form = score_form(SurveyScheme.SATISFACTION_RATE,
                      [("q1", "satisfied"), ("q2", "basically_satisfied"), ("q3", "dissatisfied"), ("q4", None)])
    assert form.score == pytest.approx(66.6667)
    assert form.satisfied is False  # below the 96 % mark
    assert [i.satisfied for i in form.items] == [True, True, False, None]


def test_five_level_points_mean() -> None:
    # 100 + 80 + 0 = 180 over 3 items → 60
    form = score_form(SurveyScheme.FIVE_LEVEL, [("a", "very_satisfied"), ("b", "satisfied"), ("c", "very_dissatisfied")])
    assert form.score == 60


def test_unknown_level_names_the_item() -> None:
    with pytest.raises(InvalidAnswer) as info:
        score_form(SurveyScheme.THREE_LEVEL, [("q1", "satisfied"), ("q2", "great")])
    assert info.value.item_id == "q2"


def test_all_unanswered_has_no_score() -> None:
    form = score_form(SurveyScheme.THREE_LEVEL, [("q1", None)])
    assert form.score is None and form.satisfied is None
