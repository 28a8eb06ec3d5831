"""Warranty repairs' pure rules: the defect vocabulary, places, linking, warranty, the lifecycle."""

from __future__ import annotations

from shared.labels import name_of

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from services.routing.repairs import domain
from services.routing.repairs.defects import VocabularyError, load_vocabulary, parse_vocabulary
from services.routing.repairs.domain import (
    Location,
    PlanTerms,
    RemediationRefused,
    RemediationState,
    RemediationStep,
    RepairPolicy,
    Report,
    Step,
    StepInvalid,
    StepRefused,
    WarrantyStatus,
    WorkOrderState,
)

CN = ZoneInfo("Asia/Shanghai")
W = WorkOrderState
POLICY = RepairPolicy()
VOCABULARY = load_vocabulary()


# --- the defect vocabulary ------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "kind"), [
    ("3号楼2单元1201卫生间漏水，楼下天花板渗水", "leak"),
    ("窗户漏雨", "leak"),  # a tie (漏雨 3, 窗户 3) goes to the kind listed first
    ("卧室墙面出现裂缝", "crack"),
    ("客厅墙面空鼓，敲起来是空的", "hollow_plaster"),
    ("入户门关不上", "door_window"),
    ("插座没电，总是跳闸", "electrical"),
    ("厨房水管漏水", "plumbing"),  # the longer "水管漏" wins over "漏水"
    ("卫生间地漏堵塞反味", "plumbing"),
    ("卫生间不漏水了，但是墙面开裂", "crack"),  # the negated leak does not count
    ("一直不停地漏水", "leak"),  # 不停 is not a negation
    ("The bathroom ceiling is leaking", "leak"),
    ("no longer leaking, but the wall has cracks", "crack"),
    ("物业人员态度很差", "other"),
])
def test_the_defect_kind_is_read_from_the_text(text: str, kind: str) -> None:
    match = VOCABULARY.classify(text)
    assert match.kind == kind
    assert match.vocabulary_version == VOCABULARY.version
    assert match.recognised is (kind != "other")


def test_the_vocabulary_is_configurable_and_checked() -> None:
    custom = parse_vocabulary({"version": "t-1", "fallback": "misc",
                               "kinds": {"lift": {"label": "电梯", "phrases": {"电梯": 3, "elevator*": 3}}}})
    assert custom.classify("电梯停在半层").kind == "lift"
    assert custom.classify("elevators broken again").kind == "lift"
    assert custom.classify("漏水").kind == "misc"
    with pytest.raises(VocabularyError, match="weight"):
        parse_vocabulary({"version": "t", "kinds": {"leak": {"phrases": {"漏": 0}}}})
    with pytest.raises(VocabularyError, match="fallback"):
        parse_vocabulary({"version": "t", "fallback": "leak", "kinds": {"leak": {"phrases": {"漏": 1}}}})


# --- places and linking ---------------------------------------------------------------------------


@pytest.mark.parametrize(("unit", "text", "expected"), [
    ("3-2-1201", "", Location("3", "2", 12, "1201")),
    ("3-502", "", Location("3", None, 5, "502")),
    (None, "3号楼2单元1201卫生间漏水", Location("3", "2", 12, "1201")),
    (None, "5栋302室墙面裂缝", Location("5", None, 3, "302")),
    (None, "B座漏水", Location("B", None, None, None)),
    (None, "楼道灯不亮", Location()),
])
def test_locations_are_read_from_the_unit_or_the_text(unit: str | None, text: str, expected: Location) -> None:
    assert domain.parse_location(unit, text) == expected


def report(unit: str, kind: str = "leak", group: uuid.UUID | None = None, project: str = "lakeside") -> Report:
    return Report(project_id=project, defect_kind=kind, location=domain.parse_location(unit), incident_group_id=group)


def test_reports_join_by_incident_group_or_by_kind_and_nearby_floors() -> None:
    group = uuid.uuid4()
    on_order = [report("3-2-1201", group=group)]
    # intake grouped them: the same defect whatever the words and the floor
    assert domain.link_reason(report("3-2-301", kind="crack", group=group), on_order, defect_kind="leak",
                              policy=POLICY) == "incident_group"
    # same kind, same building and entrance, two floors down (a leak runs down the riser)
    assert domain.link_reason(report("3-2-1001"), on_order, defect_kind="leak", policy=POLICY) == "same_area"
    assert domain.link_reason(report("3-2-901"), on_order, defect_kind="leak", policy=POLICY) is None  # 3 floors
    assert domain.link_reason(report("3-1-1101"), on_order, defect_kind="leak", policy=POLICY) is None  # entrance
    assert domain.link_reason(report("4-2-1201"), on_order, defect_kind="leak", policy=POLICY) is None  # building
    assert domain.link_reason(report("3-2-1101", kind="crack"), on_order, defect_kind="leak", policy=POLICY) is None
    assert domain.link_reason(report("3-2-1101", project="hillside"), on_order, defect_kind="leak",
                              policy=POLICY) is None
    # an unrecognised defect never joins by place
    other = [report("3-2-1201", kind="other")]
    assert domain.link_reason(report("3-2-1201", kind="other"), other, defect_kind="other", policy=POLICY) is None
    wider = RepairPolicy(link_floor_span=5)
    assert domain.link_reason(report("3-2-901"), on_order, defect_kind="leak", policy=wider) == "same_area"


# --- warranty -------------------------------------------------------------------------------------


def test_the_warranty_is_decided_on_the_day_the_household_reported() -> None:
    project = domain.ProjectWarranty(completion_date=date(2024, 6, 30), warranty_end=date(2026, 6, 30))
    last_day = datetime(2026, 6, 30, 23, 30, tzinfo=CN)
    assert domain.check_warranty(project, last_day).status is WarrantyStatus.IN_WARRANTY
    # 2026-06-30 16:30 UTC is already 1 July in China: expired
    expired = domain.check_warranty(project, datetime(2026, 6, 30, 16, 30, tzinfo=ZoneInfo("UTC")))
    assert expired.status is WarrantyStatus.EXPIRED and not expired.in_warranty
    assert "2026-06-30" in expired.explanation
    unknown = domain.check_warranty(None, last_day)
    assert unknown.status is WarrantyStatus.UNKNOWN and unknown.in_warranty  # served as in warranty
    assert domain.check_warranty(domain.ProjectWarranty(date(2024, 6, 30), None), last_day).status is (
        WarrantyStatus.UNKNOWN)


def test_in_warranty_the_response_is_due_in_24_calendar_hours_and_the_repair_is_free() -> None:
    decision = domain.check_warranty(domain.ProjectWarranty(None, date(2030, 1, 1)), datetime(2026, 6, 6, tzinfo=CN))
    saturday_night = datetime(2026, 6, 6, 22, 0, tzinfo=CN)
    assert domain.respond_by(decision, saturday_night, POLICY) == datetime(2026, 6, 7, 22, 0, tzinfo=CN)
    expired = domain.check_warranty(domain.ProjectWarranty(None, date(2020, 1, 1)), saturday_night)
    assert domain.respond_by(expired, saturday_night, POLICY) is None
    assert domain.chargeable(in_warranty=True, in_scope=None) is False
    assert domain.chargeable(in_warranty=True, in_scope=False) is True  # e.g. the household's own damage
    assert domain.chargeable(in_warranty=False, in_scope=True) is True


# --- the lifecycle --------------------------------------------------------------------------------


def walk(*steps: Step, chargeable: bool = False) -> WorkOrderState:
    state, verified = W.OPENED, False
    for step in steps:
        state = domain.next_state(step, state, chargeable=chargeable, quality_verified=verified)
        verified = verified or step is Step.VERIFY_QUALITY
    return state


def test_a_free_repair_walks_every_step_through_a_rejected_acceptance() -> None:
    assert walk(Step.INVESTIGATE, Step.AGREE_PLAN, Step.COMPLETE_WORK, Step.SELF_INSPECT, Step.REJECT_ACCEPTANCE,
                Step.COMPLETE_WORK, Step.SELF_INSPECT, Step.ACCEPT, Step.VERIFY_QUALITY, Step.ARCHIVE) is W.ARCHIVED
    assert walk(Step.INVESTIGATE, Step.AGREE_PLAN, Step.COMPLETE_WORK, Step.FAIL_SELF_INSPECTION) is W.REWORK


def test_a_chargeable_repair_waits_for_the_fee_before_any_work() -> None:
    assert walk(Step.INVESTIGATE, Step.AGREE_PLAN, chargeable=True) is W.AWAITING_FEE_CONFIRMATION
    with pytest.raises(StepRefused) as refused:
        walk(Step.INVESTIGATE, Step.AGREE_PLAN, Step.COMPLETE_WORK, chargeable=True)
    assert refused.value.state is W.AWAITING_FEE_CONFIRMATION
    assert "处于「待客户确认费用」的工单" in str(refused.value) and "confirm_fee" in str(refused.value)
    assert walk(Step.INVESTIGATE, Step.AGREE_PLAN, Step.CONFIRM_FEE, Step.COMPLETE_WORK,
                chargeable=True) is W.WORK_DONE
    assert walk(Step.INVESTIGATE, Step.AGREE_PLAN, Step.DECLINE_FEE, chargeable=True) is W.DECLINED
    # a revised plan after rework is our own cost: no second confirmation
    assert domain.next_state(Step.AGREE_PLAN, W.REWORK, chargeable=True) is W.PLAN_AGREED


def test_an_accepted_repair_is_archived_only_after_the_quality_verification_recorded_once() -> None:
    accepted = (Step.INVESTIGATE, Step.AGREE_PLAN, Step.COMPLETE_WORK, Step.SELF_INSPECT, Step.ACCEPT)
    with pytest.raises(StepRefused) as unverified:
        walk(*accepted, Step.ARCHIVE)
    assert (unverified.value.state, unverified.value.reason) == (W.ACCEPTED, "维修须经品质管理部验证后方可归档")
    assert unverified.value.allowed == [Step.VERIFY_QUALITY, Step.ATTACH_PHOTOS]
    with pytest.raises(StepRefused) as twice:
        walk(*accepted, Step.VERIFY_QUALITY, Step.VERIFY_QUALITY)
    assert (twice.value.state, twice.value.reason) == (W.ACCEPTED, "品质管理部已验证过该维修，验证只记录一次")
    assert twice.value.allowed == [Step.ARCHIVE, Step.ATTACH_PHOTOS]
    # once archived, there is nothing left to verify
    with pytest.raises(StepRefused):
        domain.next_state(Step.VERIFY_QUALITY, W.ARCHIVED, quality_verified=True)
    assert domain.allowed_steps(W.ACCEPTED, quality_verified=False) == [Step.VERIFY_QUALITY, Step.ATTACH_PHOTOS]
    assert domain.allowed_steps(W.ACCEPTED, quality_verified=True) == [Step.ARCHIVE, Step.ATTACH_PHOTOS]


@pytest.mark.parametrize(("step", "state"), [
    (Step.COMPLETE_WORK, W.OPENED), (Step.ACCEPT, W.WORK_DONE), (Step.ARCHIVE, W.SELF_INSPECTED),
    (Step.INVESTIGATE, W.ARCHIVED), (Step.VERIFY_QUALITY, W.REWORK), (Step.ASSIGN, W.ACCEPTED),
    (Step.CANCEL, W.INVESTIGATED),
])
def test_a_wrong_step_is_refused_naming_the_state(step: Step, state: WorkOrderState) -> None:
    with pytest.raises(StepRefused) as refused:
        domain.next_state(step, state)
    assert refused.value.state is state and state.value in refused.value.reason_en
    # people read the state's and the step's names in Chinese
    assert refused.value.reason == (f"处于「{name_of('work_order_state', state.value, 'zh')}」的工单不能"
                                    f"{name_of('repair_step', step.value, 'zh')}")


def test_every_state_is_reachable_and_the_finished_ones_take_no_work() -> None:
    reachable = {W.OPENED} | {target for _, target in domain.TRANSITIONS.values() if target}
    reachable.add(domain.next_state(Step.AGREE_PLAN, W.INVESTIGATED, chargeable=True))
    assert reachable == set(WorkOrderState)
    for state in (W.DECLINED, W.CANCELLED):
        assert domain.allowed_steps(state) == []


def test_a_plan_in_warranty_finishes_by_the_time_the_customer_asked_for() -> None:
    now = datetime(2026, 6, 1, 9, 0, tzinfo=CN)
    asked = now + timedelta(hours=30)
    terms = PlanTerms(at=now, duration_hours=24, planned_finish=None, customer_requested_by=asked, quoted_fee=None)
    assert domain.check_plan(terms, in_warranty=True, chargeable=False, first_plan=True) == asked
    late = PlanTerms(at=now, duration_hours=48, planned_finish=None, customer_requested_by=asked, quoted_fee=None)
    with pytest.raises(StepInvalid) as invalid:
        domain.check_plan(late, in_warranty=True, chargeable=False, first_plan=True)
    assert invalid.value.field == "planned_finish"
    # out of warranty the customer's time is a wish, the plan's finish is the due time
    assert domain.check_plan(
        PlanTerms(at=now, duration_hours=48, planned_finish=None, customer_requested_by=asked,
                  quoted_fee=Decimal("800")),
        in_warranty=False, chargeable=True, first_plan=True) == now + timedelta(hours=48)


def test_a_chargeable_plan_quotes_a_fee_and_a_free_one_does_not() -> None:
    now = datetime(2026, 6, 1, 9, 0, tzinfo=CN)
    no_fee = PlanTerms(at=now, duration_hours=4, planned_finish=None, customer_requested_by=None, quoted_fee=None)
    with pytest.raises(StepInvalid) as invalid:
        domain.check_plan(no_fee, in_warranty=False, chargeable=True, first_plan=True)
    assert invalid.value.field == "quoted_fee"
    fee = PlanTerms(at=now, duration_hours=4, planned_finish=None, customer_requested_by=None,
                    quoted_fee=Decimal("350.00"))
    with pytest.raises(StepInvalid):
        domain.check_plan(fee, in_warranty=True, chargeable=False, first_plan=True)
    backwards = PlanTerms(at=now, duration_hours=4, planned_finish=now - timedelta(hours=1),
                          customer_requested_by=None, quoted_fee=None)
    with pytest.raises(StepInvalid):
        domain.check_plan(backwards, in_warranty=True, chargeable=False, first_plan=True)


# --- recurring defects and their remediation ------------------------------------------------------


def test_a_defect_kind_recurs_from_the_threshold_within_the_window() -> None:
    day = datetime(2026, 1, 1, 9, 0, tzinfo=CN)
    repairs = [("a", day), ("b", day + timedelta(days=40))]
    at = day + timedelta(days=89)
    assert domain.recurring_set(repairs, at=at, defect_kind="leak", policy=POLICY) == []  # two so far
    assert domain.recurring_set([*repairs, ("c", at)], at=at, defect_kind="leak", policy=POLICY) == ["a", "b", "c"]
    # 90 days apart is outside "3 in 90 days"
    late = day + timedelta(days=90)
    assert domain.recurring_set([*repairs, ("c", late)], at=late, defect_kind="leak", policy=POLICY) == []
    # the order repairs reach routing in does not matter: an earlier one found last completes the set
    assert domain.recurring_set([("b", day + timedelta(days=40)), ("c", at), ("a", day)], at=day,
                                defect_kind="leak", policy=POLICY) == ["a", "b", "c"]
    assert domain.recurring_set([("a", day), ("b", day), ("c", day)], at=day, defect_kind="other",
                                policy=POLICY) == []  # an unrecognised defect is never a 质量通病
    assert domain.recurring_set(repairs, at=day + timedelta(days=40), defect_kind="leak",
                                policy=RepairPolicy(recurrence_threshold=2)) == ["a", "b"]
    with pytest.raises(ValueError):
        RepairPolicy(recurrence_threshold=1)


def test_a_remediation_is_planned_done_and_accepted_with_the_representative() -> None:
    R, S = RemediationState, RemediationStep
    state = R.RAISED
    for step in (S.PLAN, S.COMPLETE, S.REJECT, S.PLAN, S.COMPLETE, S.ACCEPT):
        state = domain.next_remediation_state(step, state)
    assert state is R.ACCEPTED
    with pytest.raises(RemediationRefused) as refused:
        domain.next_remediation_state(S.ACCEPT, R.RAISED)
    assert refused.value.state is R.RAISED


def test_photos_are_references_never_pictures() -> None:
    assert domain.photo_problems(["repairs/2026/06/wo-1/before.jpg", "https://oss.example.com/a.jpg"]) == []
    assert domain.photo_problems(["data:image/jpeg;base64,/9j/4AAQ", "a b.jpg", ""]) == [
        "photos.0", "photos.1", "photos.2"]
