"""Warranty repairs (docs/domain.md §4): pure rules and state changes; no I/O, no framework.

A work order's lifecycle, each step an explicit state with who did what and when:

    opened ─investigate─▶ investigated ─agree_plan─▶ plan_agreed               (free)
                                       └agree_plan─▶ awaiting_fee_confirmation (chargeable)
    awaiting_fee_confirmation ─confirm_fee─▶ plan_agreed
                              └decline_fee─▶ declined                          (no work is done)
    plan_agreed ─complete_work─▶ work_done ─self_inspect─▶ self_inspected
                                           └fail_self_inspection─▶ rework
    self_inspected ─accept─▶ accepted ─archive─▶ archived     (joint acceptance, signed by both)
                   └reject_acceptance─▶ rework                (with the owner's reason)
    rework ─complete_work─▶ work_done;  rework ─agree_plan─▶ plan_agreed (a revised plan, at our cost)
    opened ─cancel─▶ cancelled     (every linked case was reclassified away before any work)
    accepted: verify_quality (the quality department's verification, state unchanged; recorded once,
              and a work order is archived only after it)
    any open state: assign, attach_photos (state unchanged)

Warranty: the project's warranty period (routing's copy of intake's ProjectRegistered) decides.
In warranty the service is free and round the clock: a site response within
``RepairPolicy.response_hours`` (24) of the request, and the work finishes by the time the
customer asked for. Out of warranty, or out of scope (e.g. damage the household caused), the
repair is chargeable: the plan carries a quoted fee that the customer confirms before any work.
An unknown warranty (project not yet known to routing, or no warranty end registered) is served as
in warranty — the stricter choice for the company — and checked again at the site investigation.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo

from shared.labels import name_of

CHINA = ZoneInfo("Asia/Shanghai")
K = TypeVar("K")


@dataclass(frozen=True)
class RepairPolicy:
    """The settings of the repairs module (``RoutingSettings.repair_policy()``)."""

    response_hours: float = 24.0
    recurrence_threshold: int = 3
    recurrence_window_days: int = 90
    link_floor_span: int = 2
    link_threshold: float = 0.7

    def __post_init__(self) -> None:
        if self.response_hours <= 0:
            raise ValueError("response_hours must be positive")
        if not 0 < self.link_threshold <= 1:
            raise ValueError("link_threshold is a score between 0 (exclusive) and 1")
        if self.recurrence_threshold < 2:
            raise ValueError("a defect recurs from its second repair: recurrence_threshold must be at least 2")
        if self.recurrence_window_days < 1 or self.link_floor_span < 0:
            raise ValueError("recurrence_window_days must be positive and link_floor_span not negative")


# --- where a defect is ---------------------------------------------------------------------------

_UNIT_SPLIT = re.compile(r"\s*[-/]\s*")
_TEXT_ADDRESS = re.compile(
    r"(?P<building>[0-9]+|[A-Za-z][0-9]*)\s*(?:号楼|号|栋|幢|座|#楼|#)"
    r"\s*(?:(?P<entrance>[0-9]+)\s*(?:单元|门))?"
    r"\s*(?:(?P<room>[0-9]{3,4})\s*(?:室|房|号)?)?"
)


@dataclass(frozen=True)
class Location:
    """Building, entrance (单元), floor and room of a report, as far as they are known."""

    building: str | None = None
    entrance: str | None = None
    floor: int | None = None
    room: str | None = None

    @property
    def label(self) -> str | None:
        parts = [p for p in (self.building, self.entrance, self.room) if p]
        return "-".join(parts) if self.building else None


def _floor_of(room: str | None) -> int | None:
    if room and room.isdigit() and 3 <= len(room) <= 4:
        return int(room[:-2])
    return None


def parse_location(unit: str | None, text: str = "") -> Location:
    """'3-2-1201' (building-entrance-room), '3-1201' or, without a unit, '3号楼2单元1201' in the text."""
    if unit and unit.strip():
        parts = [p for p in _UNIT_SPLIT.split(unit.strip()) if p]
        if len(parts) >= 3:
            return Location(parts[0], parts[1], _floor_of(parts[-1]), parts[-1])
        if len(parts) == 2:
            return Location(parts[0], None, _floor_of(parts[1]), parts[1])
        from_text = parse_location(None, unit)
        if from_text.building:
            return from_text
    match = _TEXT_ADDRESS.search(text or "")
    if match is None:
        return Location()
    room = match.group("room")
    return Location(match.group("building").upper(), match.group("entrance"), _floor_of(room), room)


def same_area(a: Location, b: Location, *, floor_span: int) -> bool:
    """Same building, same entrance where both are known, floors within ``floor_span`` where both
    are known (a leak runs down a riser; a crack spreads over neighbouring floors)."""
    if not a.building or not b.building or a.building != b.building:
        return False
    if a.entrance and b.entrance and a.entrance != b.entrance:
        return False
    if a.floor is not None and b.floor is not None and abs(a.floor - b.floor) > floor_span:
        return False
    return True


@dataclass(frozen=True)
class SharedPart:
    """A part of the estate several households share: one defect there is one repair.

    ``scope``: ``building`` (the facade, the roof: the whole building's, whatever the entrance),
    ``entrance`` (a lift, a stairwell: one entrance's), ``project`` (the underground garage: the
    estate's, whatever the building)."""

    key: str
    label: str
    scope: str
    phrases: tuple[str, ...]


#: Read from the unit field and the text (simplified, lower case); the first part listed whose
#: phrase appears is the one.
SHARED_PARTS: tuple[SharedPart, ...] = (
    SharedPart("exterior_wall", "外墙", "building", ("外墙", "外立面", "exterior wall", "outer wall", "facade")),
    SharedPart("roof", "屋面", "building", ("屋面", "屋顶", "天台", "楼顶", "顶楼平台", "roof")),
    SharedPart("garage", "地下车库", "project", ("地下车库", "地库", "车库", "停车场", "garage", "car park",
                                             "parking")),
    SharedPart("lift", "电梯", "entrance", ("电梯", "梯井", "lift", "elevator")),
    SharedPart("stairwell", "楼道", "entrance", ("楼道", "楼梯间", "走廊", "过道", "大堂", "门厅", "stairwell",
                                             "corridor", "hallway", "lobby")),
)
_PARTS_BY_KEY = {part.key: part for part in SHARED_PARTS}


def read_shared_part(*texts: str | None) -> SharedPart | None:
    """The shared part a report names, if any (``None`` for a household's own rooms)."""
    from services.routing.repairs.defects import fold_variants

    text = " ".join(fold_variants(t) for t in texts if t)
    for part in SHARED_PARTS:
        if any(phrase in text for phrase in part.phrases):
            return part
    return None


def shared_part(key: str | None) -> SharedPart | None:
    return _PARTS_BY_KEY.get(key) if key else None


@dataclass(frozen=True)
class Report:
    """What one household's case says about a defect (no text, no contact details)."""

    project_id: str
    defect_kind: str
    location: Location
    incident_group_id: uuid.UUID | None = None
    shared_part: str | None = None  # SharedPart.key


@dataclass(frozen=True)
class LinkScore:
    """How likely two reports are about one defect, with the reason a person can check.

    ``reason``: ``incident_group`` or ``same_area`` (the link's code); ``score`` between 0 and 1;
    ``explanation``: the facts that made the score, in Chinese, ending with the score.
    """

    reason: str
    score: float
    explanation: str

    def links(self, policy: RepairPolicy) -> bool:
        return round(self.score * 100) >= round(policy.link_threshold * 100)


# The score, in hundredths: the same recognised defect kind in the same building is the base; the
# entrance and the floors (or the same shared part) move it up or down.
BASE_SAME_BUILDING = 60       # 同一楼栋 + 同类缺陷
SAME_ENTRANCE = 10            # both entrances known and equal
OTHER_ENTRANCE = -25          # both known and different (not for a building's or the estate's part)
SAME_PART = 30                # both name the same shared part: the floors do not matter
SAME_FLOOR = 30               # floors within the span: 30 less 5 per floor apart
PER_FLOOR_APART = 5
BEYOND_SPAN = -20             # floors farther apart than the span


def score_link(report: Report, other: Report, *, defect_kind: str, policy: RepairPolicy,
               kind_label: str | None = None, fallback_kind: str = "other") -> LinkScore:
    """Whether ``report`` is about the same defect as ``other`` (a report on a work order about
    ``defect_kind``), scored:

    - another project: 0; intake put both in one incident group: 1.00;
    - a defect kind that is the fallback (not recognised) or not the work order's: 0;
    - both name the same part of the estate the households share (``project`` scope, e.g. 地下车库):
      0.60 + 0.30 = 0.90, whatever the building;
    - another building, or either building unknown: 0;
    - otherwise 0.60 for the same building and defect kind, then
      - entrance: +0.10 the same, −0.25 another (not counted for the same facade or roof), 0 unknown;
      - the same shared part (外墙, 屋面; 电梯, 楼道 of the same entrance): +0.30; otherwise floors d
        apart, both known:
        +0.30 − 0.05·d within ``link_floor_span``, −0.20 beyond it; 0 unknown;
    - bounded to 0…1. The report joins when the score reaches ``link_threshold``.
    """
    label = kind_label or defect_kind
    if report.project_id != other.project_id:
        return LinkScore("same_area", 0.0, "不同项目：0.00")
    if report.incident_group_id is not None and report.incident_group_id == other.incident_group_id:
        return LinkScore("incident_group", 1.0, "受理时已归入同一事件组：1.00")
    if report.defect_kind == fallback_kind or report.defect_kind != defect_kind:
        return LinkScore("same_area", 0.0, "缺陷类别不同或未识别：0.00")
    mine, theirs = report.location, other.location
    part = shared_part(report.shared_part) if report.shared_part == other.shared_part else None
    if (part is not None and part.scope == "entrance" and mine.entrance and theirs.entrance
            and mine.entrance != theirs.entrance):
        part = None  # another entrance's lift or stairwell is another one
    if part is not None and part.scope == "project":
        points = BASE_SAME_BUILDING + SAME_PART
        return LinkScore("same_area", points / 100,
                         f"同一项目共用部位（{part.label}）、同类缺陷（{label}）：{points / 100:.2f}")
    if not mine.building or not theirs.building:
        return LinkScore("same_area", 0.0, "楼栋不明：0.00")
    if mine.building != theirs.building:
        return LinkScore("same_area", 0.0, f"不同楼栋（{theirs.building}号楼、{mine.building}号楼）：0.00")
    points = BASE_SAME_BUILDING
    facts = [f"同一楼栋（{mine.building}号楼）"]
    if mine.entrance and theirs.entrance:
        if mine.entrance == theirs.entrance:
            points += SAME_ENTRANCE
            facts.append(f"同一单元（{mine.entrance}单元）")
        elif part is None or part.scope != "building":
            points += OTHER_ENTRANCE
            facts.append(f"不同单元（{theirs.entrance}单元、{mine.entrance}单元）")
    facts.append(f"同类缺陷（{label}）")
    if part is not None:
        points += SAME_PART
        facts.append(f"同一共用部位（{part.label}）")
    elif mine.floor is not None and theirs.floor is not None:
        apart = abs(mine.floor - theirs.floor)
        if apart <= policy.link_floor_span:
            points += SAME_FLOOR - PER_FLOOR_APART * apart
            facts.append("同一楼层" if apart == 0 else f"楼层相距 {apart} 层")
        else:
            points += BEYOND_SPAN
            facts.append(f"楼层相距 {apart} 层（超过 {policy.link_floor_span} 层）")
    points = max(0, min(100, points))
    return LinkScore("same_area", points / 100, f"{'、'.join(facts)}：{points / 100:.2f}")


def best_link(report: Report, linked: Sequence[Report], *, defect_kind: str, policy: RepairPolicy,
              kind_label: str | None = None, fallback_kind: str = "other") -> LinkScore | None:
    """The best score of ``report`` against the reports on a work order; None when none links."""
    scores = [score_link(report, other, defect_kind=defect_kind, policy=policy, kind_label=kind_label,
                         fallback_kind=fallback_kind) for other in linked]
    best = max(scores, key=lambda s: s.score, default=None)
    return best if best is not None and best.links(policy) else None


def link_reason(report: Report, linked: Sequence[Report], *, defect_kind: str, policy: RepairPolicy,
                fallback_kind: str = "other") -> str | None:
    """Why a report joins a work order whose cases are ``linked``; None when it does not.

    - ``incident_group``: intake linked the households' feedback about one defect;
    - ``same_area``: the same (recognised) defect kind in the same place, scored (``score_link``).
    """
    best = best_link(report, linked, defect_kind=defect_kind, policy=policy, fallback_kind=fallback_kind)
    return best.reason if best is not None else None


# --- warranty ------------------------------------------------------------------------------------


class WarrantyStatus(StrEnum):
    IN_WARRANTY = "in_warranty"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ProjectWarranty:
    completion_date: date | None
    warranty_end: date | None


@dataclass(frozen=True)
class WarrantyDecision:
    status: WarrantyStatus
    warranty_end: date | None
    explanation: str

    @property
    def in_warranty(self) -> bool:
        """Unknown is served as in warranty until the project's period is known."""
        return self.status is not WarrantyStatus.EXPIRED


def check_warranty(project: ProjectWarranty | None, requested_at: datetime) -> WarrantyDecision:
    """The warranty on the day (China time) the household reported the defect."""
    day = requested_at.astimezone(CHINA).date()
    if project is None:
        return WarrantyDecision(WarrantyStatus.UNKNOWN, None, "the project is not known to routing yet")
    if project.warranty_end is None:
        return WarrantyDecision(WarrantyStatus.UNKNOWN, None, "the project has no registered warranty end")
    if day > project.warranty_end:
        return WarrantyDecision(WarrantyStatus.EXPIRED, project.warranty_end,
                                f"reported {day.isoformat()}, warranty ended {project.warranty_end.isoformat()}")
    if project.completion_date is not None and day < project.completion_date:
        return WarrantyDecision(WarrantyStatus.IN_WARRANTY, project.warranty_end,
                                f"reported {day.isoformat()} before completion: the contractor's to put right")
    return WarrantyDecision(WarrantyStatus.IN_WARRANTY, project.warranty_end,
                            f"reported {day.isoformat()}, warranty until {project.warranty_end.isoformat()}")


def respond_by(decision: WarrantyDecision, requested_at: datetime, policy: RepairPolicy) -> datetime | None:
    """In warranty the service runs 24 hours a day: calendar time, not working time."""
    if not decision.in_warranty:
        return None
    return requested_at + timedelta(hours=policy.response_hours)


OUT_OF_SCOPE_RESPONSIBILITIES = frozenset({"household", "third_party"})


def chargeable(*, in_warranty: bool, in_scope: bool | None) -> bool:
    return not in_warranty or in_scope is False


# --- the work order's lifecycle ------------------------------------------------------------------


class WorkOrderState(StrEnum):
    OPENED = "opened"
    INVESTIGATED = "investigated"
    AWAITING_FEE_CONFIRMATION = "awaiting_fee_confirmation"
    PLAN_AGREED = "plan_agreed"
    WORK_DONE = "work_done"
    SELF_INSPECTED = "self_inspected"
    REWORK = "rework"
    ACCEPTED = "accepted"
    ARCHIVED = "archived"
    DECLINED = "declined"
    CANCELLED = "cancelled"


class Step(StrEnum):
    INVESTIGATE = "investigate"
    AGREE_PLAN = "agree_plan"
    CONFIRM_FEE = "confirm_fee"
    DECLINE_FEE = "decline_fee"
    COMPLETE_WORK = "complete_work"
    SELF_INSPECT = "self_inspect"
    FAIL_SELF_INSPECTION = "fail_self_inspection"
    ACCEPT = "accept"
    REJECT_ACCEPTANCE = "reject_acceptance"
    ARCHIVE = "archive"
    VERIFY_QUALITY = "verify_quality"
    ASSIGN = "assign"
    ATTACH_PHOTOS = "attach_photos"
    CANCEL = "cancel"


W = WorkOrderState
#: Before the joint acceptance: new households' reports of the same defect still join.
LINKABLE_STATES = frozenset({W.OPENED, W.INVESTIGATED, W.AWAITING_FEE_CONFIRMATION, W.PLAN_AGREED,
                             W.WORK_DONE, W.SELF_INSPECTED, W.REWORK})
FINISHED_STATES = frozenset({W.ACCEPTED, W.ARCHIVED, W.DECLINED, W.CANCELLED})

# step -> (states it may start from, state it leads to; None keeps the state)
TRANSITIONS: dict[Step, tuple[frozenset[WorkOrderState], WorkOrderState | None]] = {
    Step.INVESTIGATE: (frozenset({W.OPENED}), W.INVESTIGATED),
    Step.AGREE_PLAN: (frozenset({W.INVESTIGATED, W.REWORK}), W.PLAN_AGREED),
    Step.CONFIRM_FEE: (frozenset({W.AWAITING_FEE_CONFIRMATION}), W.PLAN_AGREED),
    Step.DECLINE_FEE: (frozenset({W.AWAITING_FEE_CONFIRMATION}), W.DECLINED),
    Step.COMPLETE_WORK: (frozenset({W.PLAN_AGREED, W.REWORK}), W.WORK_DONE),
    Step.SELF_INSPECT: (frozenset({W.WORK_DONE}), W.SELF_INSPECTED),
    Step.FAIL_SELF_INSPECTION: (frozenset({W.WORK_DONE}), W.REWORK),
    Step.ACCEPT: (frozenset({W.SELF_INSPECTED}), W.ACCEPTED),
    Step.REJECT_ACCEPTANCE: (frozenset({W.SELF_INSPECTED}), W.REWORK),
    Step.ARCHIVE: (frozenset({W.ACCEPTED}), W.ARCHIVED),
    Step.VERIFY_QUALITY: (frozenset({W.ACCEPTED}), None),
    Step.ASSIGN: (LINKABLE_STATES, None),
    Step.ATTACH_PHOTOS: (LINKABLE_STATES | {W.ACCEPTED, W.ARCHIVED}, None),
    Step.CANCEL: (frozenset({W.OPENED}), W.CANCELLED),
}


#: Steps only routing itself takes (a work order whose cases were all reclassified away).
SYSTEM_STEPS = frozenset({Step.CANCEL})


def allowed_steps(state: WorkOrderState, *, include_system: bool = False,
                  quality_verified: bool | None = None) -> list[Step]:
    """What people may do next (the system's own steps only when asked for). Given whether the
    quality department verified the repair, an accepted one offers the verification or the archive."""
    steps = [step for step, (sources, _) in TRANSITIONS.items()
             if state in sources and (include_system or step not in SYSTEM_STEPS)]
    if quality_verified is not None:
        steps = [s for s in steps if s is not (Step.VERIFY_QUALITY if quality_verified else Step.ARCHIVE)]
    return steps


class StepRefused(Exception):
    """The step is not possible in the work order's state (HTTP 409 naming the state)."""

    def __init__(self, step: Step, state: WorkOrderState, reason: str | None = None, *,
                 quality_verified: bool | None = None) -> None:
        message = reason or (f"处于「{name_of('work_order_state', state.value, 'zh')}」的工单不能"
                             f"{name_of('repair_step', step.value, 'zh')}")
        self.allowed = allowed_steps(state, quality_verified=quality_verified)
        allowed = ", ".join(s.value for s in self.allowed)
        super().__init__(f"{message} (possible now: {allowed or 'nothing'})")
        self.step, self.state, self.reason = step, state, message
        self.reason_en = None if reason else f"cannot {step.value} a work order that is {state.value}"


class StepInvalid(ValueError):
    """The step is possible but what was given breaks a rule (HTTP 422 naming the field)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True)
class PlanTerms:
    """A repair plan as proposed, to be checked against the warranty rules."""

    at: datetime
    duration_hours: float
    planned_finish: datetime | None
    customer_requested_by: datetime | None
    quoted_fee: Decimal | None

    def finish(self) -> datetime:
        return self.planned_finish or self.at + timedelta(hours=self.duration_hours)


#: Why archiving or verifying is refused, in the words the quality department uses.
NOT_VERIFIED = "维修须经品质管理部验证后方可归档"
VERIFIED_ONCE = "品质管理部已验证过该维修，验证只记录一次"


def next_state(step: Step, state: WorkOrderState, *, chargeable: bool = False,
               quality_verified: bool | None = None) -> WorkOrderState:
    """The state after ``step``, or StepRefused naming the current state.

    A first plan of a chargeable repair waits for the customer's fee confirmation; a revised plan
    after a rejected acceptance is our own cost and needs none. An accepted repair is archived only
    after the quality department's verification (``quality_verified``), which is recorded once.
    """
    sources, target = TRANSITIONS[step]
    if state not in sources:
        raise StepRefused(step, state, quality_verified=quality_verified)
    if step is Step.ARCHIVE and not quality_verified:
        raise StepRefused(step, state, NOT_VERIFIED, quality_verified=quality_verified)
    if step is Step.VERIFY_QUALITY and quality_verified:
        raise StepRefused(step, state, VERIFIED_ONCE, quality_verified=quality_verified)
    if step is Step.AGREE_PLAN and chargeable and state is W.INVESTIGATED:
        return W.AWAITING_FEE_CONFIRMATION
    return target or state


def check_plan(terms: PlanTerms, *, in_warranty: bool, chargeable: bool, first_plan: bool) -> datetime:
    """The plan's due time; StepInvalid where it breaks the warranty or fee rules."""
    finish = terms.finish()
    if finish <= terms.at:
        raise StepInvalid("planned_finish", "the plan must finish after it is agreed")
    if chargeable and first_plan and (terms.quoted_fee is None or terms.quoted_fee <= 0):
        raise StepInvalid("quoted_fee", "a chargeable repair needs the fee quoted to the customer")
    if not chargeable and terms.quoted_fee:
        raise StepInvalid("quoted_fee", "a repair in warranty and in scope is free")
    if in_warranty and terms.customer_requested_by is not None:
        if finish > terms.customer_requested_by:
            raise StepInvalid(
                "planned_finish",
                "in warranty the work finishes within the time the customer asks for "
                f"({terms.customer_requested_by.isoformat()})",
            )
        return terms.customer_requested_by
    return finish


# --- recurring defects (质量通病) ------------------------------------------------------------------


def recurring_set(
    repairs: Sequence[tuple[K, datetime]], *, at: datetime, defect_kind: str, policy: RepairPolicy,
    fallback_kind: str = "other",
) -> list[K]:
    """The repairs (keys, request times) that make a defect recurrent together with the one
    requested ``at``: at least the threshold within one window of ``recurrence_window_days`` that
    includes it. Empty when there is no such window.

    Counted in work orders, not cases: ten households reporting one leak are one repair. Any
    window that includes the new repair counts, not only the one ending at it, so the answer does
    not depend on the order in which repairs were reported to routing.
    """
    if defect_kind == fallback_kind:
        return []
    window = timedelta(days=policy.recurrence_window_days)
    ordered = sorted(repairs, key=lambda repair: repair[1])
    best: list[tuple[K, datetime]] = []
    for _, start in ordered:
        if not start <= at < start + window:
            continue
        members = [repair for repair in ordered if start <= repair[1] < start + window]
        if len(members) > len(best):
            best = members
    return [key for key, _ in best] if len(best) >= policy.recurrence_threshold else []


def recurrence_search_span(at: datetime, policy: RepairPolicy) -> tuple[datetime, datetime]:
    """The request times a window including ``at`` can reach."""
    window = timedelta(days=policy.recurrence_window_days)
    return at - window, at + window


class RemediationState(StrEnum):
    RAISED = "raised"
    PLANNED = "planned"
    IMPLEMENTED = "implemented"
    ACCEPTED = "accepted"


class RemediationStep(StrEnum):
    PLAN = "plan"
    COMPLETE = "complete"
    ACCEPT = "accept"
    REJECT = "reject"


R = RemediationState
REMEDIATION_TRANSITIONS: dict[RemediationStep, tuple[frozenset[RemediationState], RemediationState]] = {
    RemediationStep.PLAN: (frozenset({R.RAISED, R.PLANNED}), R.PLANNED),
    RemediationStep.COMPLETE: (frozenset({R.PLANNED}), R.IMPLEMENTED),
    RemediationStep.ACCEPT: (frozenset({R.IMPLEMENTED}), R.ACCEPTED),
    RemediationStep.REJECT: (frozenset({R.IMPLEMENTED}), R.PLANNED),
}


def allowed_remediation_steps(state: RemediationState) -> list[RemediationStep]:
    return [s for s, (sources, _) in REMEDIATION_TRANSITIONS.items() if state in sources]


class RemediationRefused(Exception):
    def __init__(self, step: RemediationStep, state: RemediationState) -> None:
        allowed = ", ".join(s.value for s in allowed_remediation_steps(state))
        self.reason = (f"处于「{name_of('remediation_state', state.value, 'zh')}」的整改项不能"
                       f"{name_of('remediation_step', step.value, 'zh')}")
        self.reason_en = f"cannot {step.value} a remediation item that is {state.value}"
        super().__init__(f"{self.reason_en} (possible now: {allowed or 'nothing'})")
        self.step, self.state = step, state


def next_remediation_state(step: RemediationStep, state: RemediationState) -> RemediationState:
    sources, target = REMEDIATION_TRANSITIONS[step]
    if state not in sources:
        raise RemediationRefused(step, state)
    return target


def photo_problems(photos: Iterable[str]) -> list[str]:
    """Photos are references (object keys or URLs), never the pictures themselves."""
    problems = []
    for i, ref in enumerate(photos):
        if not ref or len(ref) > 1024 or any(c.isspace() for c in ref) or ref.lower().startswith("data:"):
            problems.append(f"photos.{i}")
    return problems
