"""The case lifecycle: every path of docs/domain.md §3 and clear refusals."""

from __future__ import annotations

import pytest

from services.routing.lifecycle import (
    OPEN_STATES,
    TRANSITIONS,
    Action,
    CaseFacts,
    CaseState,
    TransitionRefused,
    allowed_actions,
    next_state,
)

A, S = Action, CaseState


def walk(actions: list[Action], *, start: CaseState = S.RECEIVED, **facts: object) -> CaseState:
    state = start
    for action in actions:
        state = next_state(action, CaseFacts(state=state, **facts))  # type: ignore[arg-type]
    return state


def test_the_main_path_to_closure() -> None:
    path = [A.CLASSIFY, A.ASSIGN, A.ACKNOWLEDGE, A.REPORT_MEASURES, A.RESOLVE, A.DELIVER_RESULT,
            A.ACCEPT_RESULT, A.CLOSE]
    assert walk(path) == S.CLOSED


def test_an_important_complaint_needs_its_return_visit_before_closing() -> None:
    accepted = walk([A.CLASSIFY, A.ASSIGN, A.ACKNOWLEDGE, A.RESOLVE, A.DELIVER_RESULT, A.ACCEPT_RESULT])
    with pytest.raises(TransitionRefused) as refused:
        next_state(A.CLOSE, CaseFacts(state=accepted, important=True))
    assert refused.value.reason == "重要投诉须回访后方可关闭"
    visited = next_state(A.COMPLETE_RETURN_VISIT, CaseFacts(state=accepted, important=True))
    assert next_state(A.CLOSE, CaseFacts(state=visited, important=True, return_visit_done=True)) == S.CLOSED


def test_a_case_decided_for_a_return_visit_needs_it_before_closing_and_one_not_decided_does_not() -> None:
    # an invalid class-1 complaint (no corrective action is asked of it), result accepted
    facts = {"state": S.ACCEPTED, "valid": False}
    with pytest.raises(TransitionRefused) as refused:
        next_state(A.CLOSE, CaseFacts(**facts, return_visit_required=True))  # type: ignore[arg-type]
    assert refused.value.reason == "该案件已决定回访，须回访后方可关闭"
    assert next_state(A.CLOSE, CaseFacts(**facts, return_visit_required=True,  # type: ignore[arg-type]
                                         return_visit_done=True)) == S.CLOSED
    assert next_state(A.CLOSE, CaseFacts(**facts)) == S.CLOSED  # type: ignore[arg-type]


def test_a_rejected_result_goes_back_to_rework() -> None:
    state = walk([A.CLASSIFY, A.ASSIGN, A.ACKNOWLEDGE, A.RESOLVE, A.DELIVER_RESULT, A.REJECT_RESULT])
    assert state == S.ACKNOWLEDGED
    assert walk([A.RESOLVE, A.DELIVER_RESULT, A.ACCEPT_RESULT, A.CLOSE], start=state) == S.CLOSED


def test_invalid_complaints_get_an_explanation_and_stay_on_record() -> None:
    assert walk([A.CLASSIFY, A.EXPLAIN_INVALID, A.CLOSE], valid=False) == S.CLOSED
    with pytest.raises(TransitionRefused, match="有效投诉不能按无效投诉解释"):
        walk([A.CLASSIFY, A.EXPLAIN_INVALID], valid=True)


def test_hand_over_and_out_of_scope_paths() -> None:
    assert walk([A.CLASSIFY, A.ASSIGN, A.HAND_OVER, A.CLOSE]) == S.CLOSED
    waiting = walk([A.CLASSIFY, A.ASSIGN, A.REQUEST_SCOPE_CONFIRMATION])
    assert waiting == S.AWAITING_CONFIRMATION
    assert next_state(A.CONFIRM_SCOPE, CaseFacts(state=waiting)) == S.ACKNOWLEDGED
    assert next_state(A.DECLINE_SCOPE, CaseFacts(state=waiting)) == S.CLOSED


def test_feedback_that_is_not_a_complaint_is_acknowledged_and_closed_directly() -> None:
    path = [A.ACKNOWLEDGE, A.RESOLVE, A.DELIVER_RESULT, A.ACCEPT_RESULT, A.CLOSE]
    assert walk(path, is_complaint=False) == S.CLOSED
    with pytest.raises(TransitionRefused, match="投诉须先分类、分派"):
        walk([A.ACKNOWLEDGE])  # a complaint is classified and routed first


def test_triage_then_classification() -> None:
    assert walk([A.SEND_TO_TRIAGE, A.CLASSIFY]) == S.CLASSIFIED


def test_reclassify_keeps_the_state() -> None:
    assert walk([A.CLASSIFY, A.ASSIGN, A.RECLASSIFY]) == S.ASSIGNED
    with pytest.raises(TransitionRefused):
        walk([A.CLASSIFY, A.ASSIGN, A.ACKNOWLEDGE, A.RESOLVE, A.RECLASSIFY])


def test_a_wrong_transition_names_the_state_and_what_is_possible() -> None:
    with pytest.raises(TransitionRefused) as info:
        next_state(A.RESOLVE, CaseFacts(state=S.ASSIGNED))
    assert info.value.state is S.ASSIGNED
    message = str(info.value)
    assert "acknowledge" in message  # what is possible now
    # people read it in Chinese by default, with the state's and the step's names; English on request
    assert info.value.reason == "处于「已分派」的案件不能处理完毕"
    assert info.value.reason_en == "cannot resolve a case that is assigned"


def test_closed_is_final_and_every_open_state_has_a_way_on() -> None:
    assert allowed_actions(S.CLOSED) == []
    for state in OPEN_STATES:
        assert allowed_actions(state), state
    reachable = {S.RECEIVED} | {target for _, target in TRANSITIONS.values() if target}
    assert reachable == set(CaseState)
