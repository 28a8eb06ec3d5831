"""A case's lifecycle (docs/domain.md §3): explicit states, the actions that move between them, and
what each action requires. Pure: the use cases load a case, ask here, and store the result.

    received ─classify─▶ classified ─assign─▶ assigned ─acknowledge─▶ acknowledged
    received ─acknowledge─▶ acknowledged   (feedback that is not a complaint)
        │                    │  └─explain_invalid─▶ invalid_explained ─close─▶ closed
        └─▶ triage ─classify─┘
    acknowledged ─report_measures─▶ measures_reported ─resolve─▶ resolved
    acknowledged ─resolve─▶ resolved ─deliver_result─▶ result_delivered
    result_delivered ─record_acceptance(accepted)─▶ accepted ─close─▶ closed
                     └record_acceptance(rejected)─▶ acknowledged   (rework)
    accepted ─complete_return_visit─▶ return_visited ─close─▶ closed   (important ones and those
                                                                       decided for: see return_visits)
    any open state ─hand_over─▶ handed_over ─close─▶ closed   (claims beyond our authority)
    assigned/acknowledged ─request_scope_confirmation─▶ awaiting_confirmation
    awaiting_confirmation ─confirm_scope(confirmed)─▶ acknowledged
                          └confirm_scope(declined, written reason)─▶ closed
    class 3 (outside our area; recorded when it is assigned):
    assigned/acknowledged ─report_to_party─▶ reported_to_party ─publish_result─▶ result_published ─close─▶ closed
    difficult, being handled ─set_quality_deadline─▶ (same state)   (the quality department's own deadline)

A valid complaint (class 1: our own service failed) is closed only when its corrective action is
settled (the complaint list, 客诉清单): the responsible department recorded a corrective action and
the quality department verified that it worked, or the quality department recorded why none is
needed. Every recorded action must be verified, and the newest one found effective: an action
judged not effective needs a new one. See :func:`corrective_status`. Only ``close`` is gated: a
customer declining a chargeable out-of-scope job (``decline_scope``) ends the case on their choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.i18n import pick
from shared.labels import name_of


class CaseState(StrEnum):
    RECEIVED = "received"
    TRIAGE = "triage"
    CLASSIFIED = "classified"
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    MEASURES_REPORTED = "measures_reported"
    RESOLVED = "resolved"
    RESULT_DELIVERED = "result_delivered"
    ACCEPTED = "accepted"
    RETURN_VISITED = "return_visited"
    INVALID_EXPLAINED = "invalid_explained"
    HANDED_OVER = "handed_over"
    #: Class 3: the special report went to the party responsible (a utility, the district office…).
    REPORTED_TO_PARTY = "reported_to_party"
    #: Class 3: that party's answer was published to the customers concerned.
    RESULT_PUBLISHED = "result_published"
    CLOSED = "closed"


class Action(StrEnum):
    CLASSIFY = "classify"
    SEND_TO_TRIAGE = "send_to_triage"
    RECLASSIFY = "reclassify"
    ASSIGN = "assign"
    ACKNOWLEDGE = "acknowledge"
    REQUEST_SCOPE_CONFIRMATION = "request_scope_confirmation"
    CONFIRM_SCOPE = "confirm_scope"
    DECLINE_SCOPE = "decline_scope"
    REPORT_MEASURES = "report_measures"
    RESOLVE = "resolve"
    DELIVER_RESULT = "deliver_result"
    ACCEPT_RESULT = "accept_result"
    REJECT_RESULT = "reject_result"
    COMPLETE_RETURN_VISIT = "complete_return_visit"
    EXPLAIN_INVALID = "explain_invalid"
    HAND_OVER = "hand_over"
    REPORT_TO_PARTY = "report_to_party"
    PUBLISH_RESULT = "publish_result"
    SET_QUALITY_DEADLINE = "set_quality_deadline"
    CLOSE = "close"


S = CaseState
OPEN_STATES = frozenset(set(CaseState) - {S.CLOSED})
BEFORE_RESOLUTION = frozenset({S.RECEIVED, S.TRIAGE, S.CLASSIFIED, S.ASSIGNED, S.ACKNOWLEDGED,
                               S.AWAITING_CONFIRMATION, S.MEASURES_REPORTED})

# action -> (states it may start from, state it leads to; None keeps the state)
TRANSITIONS: dict[Action, tuple[frozenset[CaseState], CaseState | None]] = {
    Action.CLASSIFY: (frozenset({S.RECEIVED, S.TRIAGE}), S.CLASSIFIED),
    Action.SEND_TO_TRIAGE: (frozenset({S.RECEIVED}), S.TRIAGE),
    Action.RECLASSIFY: (BEFORE_RESOLUTION - {S.RECEIVED}, None),
    Action.ASSIGN: (frozenset({S.CLASSIFIED, S.ASSIGNED, S.ACKNOWLEDGED, S.MEASURES_REPORTED}), S.ASSIGNED),
    # Feedback that is not a complaint (an inquiry, a repair request…) is acknowledged as received.
    Action.ACKNOWLEDGE: (frozenset({S.RECEIVED, S.ASSIGNED}), S.ACKNOWLEDGED),
    Action.REQUEST_SCOPE_CONFIRMATION: (frozenset({S.ASSIGNED, S.ACKNOWLEDGED}), S.AWAITING_CONFIRMATION),
    Action.CONFIRM_SCOPE: (frozenset({S.AWAITING_CONFIRMATION}), S.ACKNOWLEDGED),
    Action.DECLINE_SCOPE: (frozenset({S.AWAITING_CONFIRMATION}), S.CLOSED),
    Action.REPORT_MEASURES: (frozenset({S.ACKNOWLEDGED}), S.MEASURES_REPORTED),
    Action.RESOLVE: (frozenset({S.ACKNOWLEDGED, S.MEASURES_REPORTED}), S.RESOLVED),
    Action.DELIVER_RESULT: (frozenset({S.RESOLVED}), S.RESULT_DELIVERED),
    Action.ACCEPT_RESULT: (frozenset({S.RESULT_DELIVERED}), S.ACCEPTED),
    Action.REJECT_RESULT: (frozenset({S.RESULT_DELIVERED}), S.ACKNOWLEDGED),
    Action.COMPLETE_RETURN_VISIT: (frozenset({S.ACCEPTED}), S.RETURN_VISITED),
    Action.EXPLAIN_INVALID: (frozenset({S.CLASSIFIED, S.ASSIGNED, S.ACKNOWLEDGED}), S.INVALID_EXPLAINED),
    Action.HAND_OVER: (BEFORE_RESOLUTION, S.HANDED_OVER),
    Action.REPORT_TO_PARTY: (frozenset({S.ASSIGNED, S.ACKNOWLEDGED}), S.REPORTED_TO_PARTY),
    Action.PUBLISH_RESULT: (frozenset({S.REPORTED_TO_PARTY}), S.RESULT_PUBLISHED),
    Action.SET_QUALITY_DEADLINE: (frozenset({S.ASSIGNED, S.ACKNOWLEDGED, S.AWAITING_CONFIRMATION,
                                             S.MEASURES_REPORTED}), None),
    Action.CLOSE: (frozenset({S.ACCEPTED, S.RETURN_VISITED, S.INVALID_EXPLAINED, S.HANDED_OVER,
                              S.RESULT_PUBLISHED}), S.CLOSED),
}


class TransitionRefused(Exception):
    """The action is not possible now; ``state`` is where the case is (HTTP 409)."""

    def __init__(self, action: Action, state: CaseState, reason: str | None = None,
                 reason_en: str | None = None) -> None:
        """``reason`` as people read it (Chinese), ``reason_en`` the same in English; without either,
        the refusal says which step the state does not allow, in both."""
        allowed = sorted(a.value for a in allowed_actions(state))
        message = reason or f"处于「{name_of('state', state.value, 'zh')}」的案件不能{name_of('action', action.value, 'zh')}"
        english = reason_en or (None if reason else f"cannot {action.value} a case that is {state.value}")
        super().__init__(f"{message} (possible now: {', '.join(allowed) or 'nothing'})")
        self.action = action
        self.state = state
        self.reason = message
        self.reason_en = english

    def reason_for_people(self) -> str:
        """The reason in the request's language (Chinese unless English was asked for)."""
        return pick(self.reason, self.reason_en)


class CorrectiveStatus(StrEnum):
    """Where a complaint's corrective action stands (the complaint list, 客诉清单)."""

    MISSING = "missing"  # no action recorded, and none waived
    AWAITING_VERIFICATION = "awaiting_verification"  # an action not yet verified by quality
    INEFFECTIVE = "ineffective"  # the newest action was verified and did not work: a new one is needed
    EFFECTIVE = "effective"  # every action verified, the newest effective
    NOT_NEEDED = "not_needed"  # quality recorded why none is needed

    @property
    def settled(self) -> bool:
        return self in (CorrectiveStatus.EFFECTIVE, CorrectiveStatus.NOT_NEEDED)


# Why a valid complaint cannot be closed yet, in the words the quality department uses.
CORRECTIVE_REFUSALS = {
    CorrectiveStatus.MISSING: "有效投诉须由责任部门记录纠正措施并经品质管理部验证效果（或由品质管理部说明无需纠正措施的理由）后方可关闭",
    CorrectiveStatus.AWAITING_VERIFICATION: "纠正措施尚未经品质管理部验证效果，有效投诉暂不能关闭",
    CorrectiveStatus.INEFFECTIVE: "纠正措施经品质管理部验证无效，须由责任部门重新制定纠正措施并再次验证后方可关闭",
}


def corrective_status(actions: list[tuple[bool, bool | None]], *, waived: bool) -> CorrectiveStatus:
    """``actions``: (verified, effective) for each recorded action, oldest first; ``waived``: the
    quality department recorded that none is needed. An action recorded after a waiver counts (someone
    thought one worthwhile, so it is verified like any other)."""
    if not actions:
        return CorrectiveStatus.NOT_NEEDED if waived else CorrectiveStatus.MISSING
    if not all(verified for verified, _ in actions):
        return CorrectiveStatus.AWAITING_VERIFICATION
    return CorrectiveStatus.EFFECTIVE if actions[-1][1] else CorrectiveStatus.INEFFECTIVE


@dataclass(frozen=True)
class CaseFacts:
    """What the guards need to know besides the state."""

    state: CaseState
    is_complaint: bool = True
    important: bool = False
    valid: bool | None = None
    return_visit_done: bool = False
    corrective_action: CorrectiveStatus = CorrectiveStatus.MISSING
    complaint_class: int | None = None
    difficult: bool = False
    #: a return visit was decided for the case (services.routing.return_visits)
    return_visit_required: bool = False


def allowed_actions(state: CaseState) -> list[Action]:
    return [action for action, (sources, _) in TRANSITIONS.items() if state in sources]


def next_state(action: Action, facts: CaseFacts) -> CaseState:
    """The state after ``action``, or TransitionRefused naming the current state."""
    sources, target = TRANSITIONS[action]
    if facts.state not in sources:
        raise TransitionRefused(action, facts.state)
    if (action is Action.CLOSE and facts.state is S.ACCEPTED and not facts.return_visit_done
            and (facts.important or facts.return_visit_required)):
        raise TransitionRefused(action, facts.state, "重要投诉须回访后方可关闭" if facts.important
                                else "该案件已决定回访，须回访后方可关闭")
    if (action is Action.CLOSE and facts.is_complaint and facts.valid
            and not facts.corrective_action.settled):
        raise TransitionRefused(action, facts.state, CORRECTIVE_REFUSALS[facts.corrective_action])
    if action is Action.ACKNOWLEDGE and facts.state is S.RECEIVED and facts.is_complaint:
        raise TransitionRefused(action, facts.state, "投诉须先分类、分派，再作首次响应",
                                "a complaint is classified and assigned before it is acknowledged")
    if action in (Action.REPORT_TO_PARTY, Action.PUBLISH_RESULT) and facts.complaint_class != 3:
        raise TransitionRefused(action, facts.state, "只有三类投诉（外部环境、公共设施）才向相关方专题报告并公布结果")
    if action is Action.SET_QUALITY_DEADLINE and not facts.difficult:
        raise TransitionRefused(action, facts.state, "质量部跟踪期限只为已标记疑难的投诉设定")
    if action is Action.EXPLAIN_INVALID and facts.valid:
        raise TransitionRefused(action, facts.state, "有效投诉不能按无效投诉解释了结",
                                "a valid complaint cannot be explained away as invalid")
    return target or facts.state
