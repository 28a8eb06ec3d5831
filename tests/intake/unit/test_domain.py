"""Intake's rules: receivers, retries, likely duplicates and incident groups (hand-worked)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.intake.domain import (
    DuplicatePolicy,
    PriorFeedback,
    SubmissionRefused,
    feedback_received,
    fingerprint,
    idempotency_key_of,
    link,
    received_at_of,
    received_by_of,
    text_similarity,
)
from services.intake.domain import Links
from shared.events.inbound import FeedbackSubmission
from shared.events.vocabulary import FeedbackKind

NOW = datetime(2026, 5, 29, 9, 55, tzinfo=UTC)
ORG = {"group": "hx", "subsidiary": "east", "project": "lakeside"}


def submission(**overrides: object) -> FeedbackSubmission:
    values: dict[str, object] = {"kind": "complaint", "channel": "letter", "text": "外墙裂缝", "org": ORG}
    values.update(overrides)
    return FeedbackSubmission.model_validate(values)


def prior(text: str, *, unit: str | None = None, customer: uuid.UUID | None = None, hours_ago: float = 1,
          kind: str = "complaint", duplicate_of: uuid.UUID | None = None,
          group: uuid.UUID | None = None) -> PriorFeedback:
    return PriorFeedback(uuid.uuid4(), kind, customer, unit, text, NOW - timedelta(hours=hours_ago),
                         duplicate_of, group)


def test_staff_must_name_the_receiver_systems_receive_themselves() -> None:
    assert received_by_of(submission(received_by="cs-7"), staff_required=True) == "cs-7"
    with pytest.raises(SubmissionRefused) as info:
        received_by_of(submission(), staff_required=True)
    assert info.value.field == "received_by"
    assert received_by_of(submission(source_system="callcentre"), staff_required=False) == "system:callcentre"


def test_received_at_defaults_to_now_and_may_not_lie_in_the_future() -> None:
    assert received_at_of(submission(), now=NOW) == NOW
    earlier = NOW - timedelta(days=2)  # a letter logged two days after it arrived
    assert received_at_of(submission(received_at=earlier), now=NOW) == earlier
    with pytest.raises(SubmissionRefused, match="future"):
        received_at_of(submission(received_at=NOW + timedelta(hours=1)), now=NOW)


def test_idempotency_key_from_header_or_source_and_external_id() -> None:
    assert idempotency_key_of(submission(), "abc") == "key:abc"
    assert idempotency_key_of(submission(source_system="erp", external_id="T-1"), None) == "ext:erp:T-1"
    assert idempotency_key_of(submission(source_system="erp"), None) is None


def test_fingerprint_is_stable_and_tells_different_requests_apart() -> None:
    assert fingerprint(submission()) == fingerprint(submission())
    assert fingerprint(submission()) != fingerprint(submission(text="外墙开裂"))


def test_text_similarity_by_character_bigrams() -> None:
    # "卫生间漏水" → {卫生, 生间, 间漏, 漏水}; "卫生间渗水" → {卫生, 生间, 间渗, 渗水}: 2 shared of 6 → 1/3
    assert text_similarity("卫生间漏水", "卫生间渗水") == pytest.approx(1 / 3)
    assert text_similarity("卫生间 漏水！", "卫生间漏水") == 1.0  # spaces and punctuation do not count
    assert text_similarity("", "漏水") == 0.0


def test_same_unit_near_identical_text_is_a_likely_duplicate() -> None:
    earlier = prior("3栋1201卫生间漏水，天花板滴水", unit="3-1201")
    links = link(kind=FeedbackKind.COMPLAINT, customer_id=None, unit="3-1201", text="3栋1201卫生间漏水,天花板滴水",
                 received_at=NOW, prior=[earlier], policy=DuplicatePolicy())
    assert links == Links(duplicate_of=earlier.id)


def test_a_duplicate_points_at_the_original_not_at_another_duplicate() -> None:
    original = uuid.uuid4()
    second = prior("卫生间漏水严重", customer=(c := uuid.uuid4()), duplicate_of=original)
    links = link(kind=FeedbackKind.COMPLAINT, customer_id=c, unit=None, text="卫生间漏水严重",
                 received_at=NOW, prior=[second], policy=DuplicatePolicy())
    assert links.duplicate_of == original


def test_outside_the_window_nothing_is_linked() -> None:
    earlier = prior("卫生间漏水严重", unit="3-1201", hours_ago=73)
    links = link(kind=FeedbackKind.COMPLAINT, customer_id=None, unit="3-1201", text="卫生间漏水严重",
                 received_at=NOW, prior=[earlier], policy=DuplicatePolicy(window=timedelta(hours=72)))
    assert links == Links()


def test_other_households_reporting_the_same_defect_form_one_incident_group() -> None:
    founder = prior("3栋顶楼屋面漏水，雨天渗到家里", unit="3-1801")
    links = link(kind=FeedbackKind.COMPLAINT, customer_id=None, unit="3-1802", text="3栋顶楼屋面漏水，雨天渗到家里了",
                 received_at=NOW, prior=[founder], policy=DuplicatePolicy())
    assert links == Links(incident_group_id=founder.id, group_founder=founder.id)
    member = prior("3栋顶楼屋面漏水，雨天渗到家里", unit="3-1802", group=founder.id)
    third = link(kind=FeedbackKind.REPAIR_REQUEST, customer_id=None, unit="3-1803", text="3栋顶楼屋面漏水，雨天渗到家里",
                 received_at=NOW, prior=[member], policy=DuplicatePolicy())
    assert third == Links(incident_group_id=founder.id)


def test_praise_never_joins_an_incident_group() -> None:
    earlier = prior("维修师傅很及时，表扬", unit="1-101", kind="praise")
    links = link(kind=FeedbackKind.PRAISE, customer_id=None, unit="1-102", text="维修师傅很及时，表扬",
                 received_at=NOW, prior=[earlier], policy=DuplicatePolicy())
    assert links == Links()


def test_the_event_carries_what_routing_needs() -> None:
    sub = submission(unit="3-2-1201", attachments=["s3://photos/a.jpg"], source_system="erp", external_id="T-9")
    feedback_id, correlation_id = uuid.uuid4(), uuid.uuid4()
    event = feedback_received(sub, feedback_id=feedback_id, received_at=NOW, received_by="cs-7", customer_id=None,
                              in_working_time=True, links=Links(incident_group_id=feedback_id),
                              correlation_id=correlation_id, now=NOW)
    assert event.aggregate_id == str(feedback_id) and event.correlation_id == correlation_id
    assert event.data.project_id == "lakeside"  # from the org path when not given
    assert (event.data.unit, event.data.in_working_time, event.data.received_by) == ("3-2-1201", True, "cs-7")
    assert event.data.attachments == ("s3://photos/a.jpg",)
    assert (event.data.source_system, event.data.external_id) == ("erp", "T-9")


def test_only_feedback_with_a_party_or_a_groupable_kind_can_be_linked() -> None:
    from services.intake.domain import can_link

    assert can_link(kind=FeedbackKind.INQUIRY, customer_id=None, unit="3-1201")
    assert can_link(kind=FeedbackKind.PRAISE, customer_id=uuid.uuid4(), unit=None)
    assert can_link(kind=FeedbackKind.COMPLAINT, customer_id=None, unit=None)
    assert can_link(kind=FeedbackKind.REPAIR_REQUEST, customer_id=None, unit=None)
    assert not can_link(kind=FeedbackKind.INQUIRY, customer_id=None, unit=None)
    assert not can_link(kind=FeedbackKind.SUGGESTION, customer_id=None, unit=None)


def _link_by_definition(*, kind: FeedbackKind, customer_id: uuid.UUID | None, unit: str | None, text: str,
                        received_at: datetime, prior: list[PriorFeedback], policy: DuplicatePolicy) -> Links:
    """The linking rule as written down, every pair's similarity computed: ``link`` skips pairs
    whose text lengths already rule them out, and must come to the same answer."""
    groupable = kind in {FeedbackKind.COMPLAINT, FeedbackKind.REPAIR_REQUEST}
    duplicates, incidents = [], []
    for earlier in prior:
        if abs(received_at - earlier.received_at) > policy.window:
            continue
        same_party = (customer_id is not None and customer_id == earlier.customer_id) or (
            unit is not None and unit == earlier.unit)
        similarity = text_similarity(text, earlier.text)
        if same_party and similarity >= policy.duplicate_similarity:
            duplicates.append((similarity, earlier))
        elif not same_party and groupable and earlier.kind in {"complaint", "repair_request"} \
                and similarity >= policy.incident_similarity:
            incidents.append((similarity, earlier))
    if duplicates:  # the most similar; of equals, the earliest in the list
        original = max(duplicates, key=lambda pair: pair[0])[1]
        return Links(duplicate_of=original.duplicate_of or original.id, incident_group_id=original.incident_group_id)
    if incidents:
        earlier = max(incidents, key=lambda pair: pair[0])[1]
        if earlier.incident_group_id is not None:
            return Links(incident_group_id=earlier.incident_group_id)
        return Links(incident_group_id=earlier.id, group_founder=earlier.id)
    return Links()


@pytest.mark.parametrize("thresholds", [(0.6, 0.5), (0.0, 0.0), (1.0, 1.0), (0.3, 0.8)])
def test_linking_finds_what_comparing_every_pair_finds(thresholds: tuple[float, float]) -> None:
    import random

    rng = random.Random(20261202)
    words = ["卫生间", "漏水", "渗水", "吊顶", "外墙", "裂缝", "！", " ", ""]
    kinds = ["complaint", "repair_request", "inquiry", "praise"]
    customers = [uuid.uuid4() for _ in range(3)] + [None]
    units = ["1-1-101", "1-1-102", None]
    policy = DuplicatePolicy(window=timedelta(hours=72), duplicate_similarity=thresholds[0],
                             incident_similarity=thresholds[1])
    linked = {"duplicate": 0, "group": 0}
    for _ in range(1000):
        history = [
            prior("".join(rng.choices(words, k=rng.randint(0, 3))), unit=rng.choice(units),
                  customer=rng.choice(customers), hours_ago=rng.uniform(-10, 90), kind=rng.choice(kinds),
                  duplicate_of=rng.choice([None, None, uuid.uuid4()]), group=rng.choice([None, uuid.uuid4()]))
            for _ in range(rng.randint(0, 25))
        ]
        case = {"kind": FeedbackKind(rng.choice(kinds)), "customer_id": rng.choice(customers),
                "unit": rng.choice(units), "text": "".join(rng.choices(words, k=rng.randint(0, 3))),
                "received_at": NOW, "prior": history, "policy": policy}
        expected = _link_by_definition(**case)
        assert link(**case) == expected
        linked["duplicate"] += expected.duplicate_of is not None
        linked["group"] += expected.duplicate_of is None and expected.incident_group_id is not None
    assert min(linked.values()) >= 10  # the cases did exercise both kinds of link
