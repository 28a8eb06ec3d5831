"""The corrective-action gate (the complaint list, 客诉清单): a valid complaint closes only once its
corrective action is recorded and verified effective, or the quality department said why none is needed."""

from __future__ import annotations

import pytest

from services.routing.lifecycle import (
    Action,
    CaseFacts,
    CaseState,
    CorrectiveStatus,
    TransitionRefused,
    corrective_status,
    next_state,
)

A, S, C = Action, CaseState, CorrectiveStatus
PENDING, WORKED, FAILED = (False, None), (True, True), (True, False)


@pytest.mark.parametrize(("actions", "waived", "expected"), [
    ([], False, C.MISSING),                      # nothing recorded
    ([], True, C.NOT_NEEDED),                    # quality: none needed, with a reason
    ([PENDING], False, C.AWAITING_VERIFICATION),  # recorded, not verified
    ([FAILED], False, C.INEFFECTIVE),            # verified, did not work: a new one is needed
    ([FAILED, PENDING], False, C.AWAITING_VERIFICATION),  # the new one awaits its verification
    ([FAILED, WORKED], False, C.EFFECTIVE),      # the new one worked
    ([WORKED, FAILED], False, C.INEFFECTIVE),    # the newest verdict decides
    ([WORKED, PENDING], False, C.AWAITING_VERIFICATION),  # every action is verified before closing
    ([PENDING], True, C.AWAITING_VERIFICATION),  # an action recorded after a waiver is verified like any
    ([WORKED], True, C.EFFECTIVE),
])
def test_where_the_corrective_action_stands(actions: list, waived: bool, expected: CorrectiveStatus) -> None:
    assert corrective_status(actions, waived=waived) is expected


@pytest.mark.parametrize(("status", "reason"), [
    (C.MISSING, "有效投诉须由责任部门记录纠正措施"),
    (C.AWAITING_VERIFICATION, "尚未经品质管理部验证效果"),
    (C.INEFFECTIVE, "须由责任部门重新制定纠正措施"),
])
def test_a_valid_complaint_is_not_closed_until_the_action_is_settled(status: CorrectiveStatus, reason: str) -> None:
    with pytest.raises(TransitionRefused) as refused:
        next_state(A.CLOSE, CaseFacts(state=S.ACCEPTED, valid=True, corrective_action=status))
    assert refused.value.state is S.ACCEPTED
    assert reason in refused.value.reason


@pytest.mark.parametrize("status", [C.EFFECTIVE, C.NOT_NEEDED])
def test_a_valid_complaint_closes_once_the_action_is_settled(status: CorrectiveStatus) -> None:
    assert next_state(A.CLOSE, CaseFacts(state=S.ACCEPTED, valid=True, corrective_action=status)) is S.CLOSED
    # handed over to the developer: still our complaint's corrective action to settle
    assert next_state(A.CLOSE, CaseFacts(state=S.HANDED_OVER, valid=True, corrective_action=status)) is S.CLOSED


def test_a_handed_over_valid_complaint_is_gated_too() -> None:
    with pytest.raises(TransitionRefused, match="纠正措施"):
        next_state(A.CLOSE, CaseFacts(state=S.HANDED_OVER, valid=True))


def test_invalid_complaints_and_other_feedback_are_not_gated() -> None:
    assert next_state(A.CLOSE, CaseFacts(state=S.INVALID_EXPLAINED, valid=False)) is S.CLOSED
    assert next_state(A.CLOSE, CaseFacts(state=S.ACCEPTED, is_complaint=False, valid=None)) is S.CLOSED
    # an unclassified valid flag (None) is not a valid complaint
    assert next_state(A.CLOSE, CaseFacts(state=S.HANDED_OVER, valid=None)) is S.CLOSED


def test_the_return_visit_of_an_important_complaint_is_still_required() -> None:
    with pytest.raises(TransitionRefused, match="须回访后方可关闭"):
        next_state(A.CLOSE, CaseFacts(state=S.ACCEPTED, valid=True, important=True, corrective_action=C.EFFECTIVE))
    visited = CaseFacts(state=S.RETURN_VISITED, valid=True, important=True, return_visit_done=True)
    with pytest.raises(TransitionRefused, match="纠正措施"):
        next_state(A.CLOSE, visited)


def test_only_closing_is_gated() -> None:
    assert next_state(A.RESOLVE, CaseFacts(state=S.ACKNOWLEDGED, valid=True)) is S.RESOLVED
    # a customer declining a chargeable out-of-scope job ends the case without a corrective action
    assert next_state(A.DECLINE_SCOPE, CaseFacts(state=S.AWAITING_CONFIRMATION, valid=True)) is S.CLOSED
