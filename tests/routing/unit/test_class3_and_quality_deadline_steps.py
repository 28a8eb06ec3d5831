"""Class 3 (outside our area) has steps of its own, and the quality department's deadline is set
only on a difficult complaint that is still being handled."""

from __future__ import annotations

import pytest

from services.routing.lifecycle import Action as A
from services.routing.lifecycle import CaseFacts, CaseState as S, TransitionRefused, next_state


def test_a_class_3_complaint_is_reported_to_the_party_its_result_published_then_closed() -> None:
    state = S.ASSIGNED
    for action, expected in [(A.ACKNOWLEDGE, S.ACKNOWLEDGED), (A.REPORT_TO_PARTY, S.REPORTED_TO_PARTY),
                             (A.PUBLISH_RESULT, S.RESULT_PUBLISHED), (A.CLOSE, S.CLOSED)]:
        state = next_state(action, CaseFacts(state=state, complaint_class=3, valid=False))
        assert state is expected


def test_only_class_3_goes_to_a_party_and_nothing_is_published_before_the_report() -> None:
    with pytest.raises(TransitionRefused, match="只有三类投诉"):
        next_state(A.REPORT_TO_PARTY, CaseFacts(state=S.ACKNOWLEDGED, complaint_class=1))
    with pytest.raises(TransitionRefused) as refused:
        next_state(A.PUBLISH_RESULT, CaseFacts(state=S.ACKNOWLEDGED, complaint_class=3))
    assert refused.value.state is S.ACKNOWLEDGED


def test_the_quality_deadline_needs_a_difficult_complaint_being_handled() -> None:
    assert next_state(A.SET_QUALITY_DEADLINE, CaseFacts(state=S.MEASURES_REPORTED, difficult=True)) is S.MEASURES_REPORTED
    with pytest.raises(TransitionRefused, match="疑难"):
        next_state(A.SET_QUALITY_DEADLINE, CaseFacts(state=S.ACKNOWLEDGED, difficult=False))
    with pytest.raises(TransitionRefused):  # handling has ended
        next_state(A.SET_QUALITY_DEADLINE, CaseFacts(state=S.RESOLVED, difficult=True))
