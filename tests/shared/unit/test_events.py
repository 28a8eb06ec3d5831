"""The envelope, decoding with upcasting, and the org path."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.events import (
    FeedbackReceived,
    FeedbackReceivedData,
    OrgPath,
    UndecodableEvent,
    decode_event,
)
from shared.events.upcasting import unregister, upcast, upcaster
from shared.topics import EVENT_TOPICS, all_topics, dead_letter, topic_for

NOW = datetime(2026, 5, 29, 9, 55, tzinfo=UTC)
ORG = OrgPath(group="hx", subsidiary="east", project="lakeside")


def feedback_event(**overrides: object) -> FeedbackReceived:
    data = FeedbackReceivedData(
        feedback_id=uuid.uuid4(), kind="complaint", channel="phone", text="卫生间漏水",
        received_at=NOW, received_by="cs-1",
    )
    return FeedbackReceived.create(
        data=data, org=ORG, aggregate_id=data.feedback_id, occurred_at=NOW, producer="intake", **overrides
    )


def test_create_fills_the_envelope() -> None:
    event = feedback_event()
    assert event.event_type == "FeedbackReceived"
    assert event.schema_version == 1
    assert event.aggregate_id == str(event.data.feedback_id)
    assert event.key == str(event.data.feedback_id).encode()
    assert event.causation_id is None


def test_caused_by_carries_the_correlation_and_sets_causation() -> None:
    parent = feedback_event()
    child = feedback_event(caused_by=parent)
    assert child.correlation_id == parent.correlation_id
    assert child.causation_id == parent.event_id
    assert child.event_id != parent.event_id


def test_events_are_frozen() -> None:
    event = feedback_event()
    with pytest.raises(ValidationError):
        event.producer = "someone-else"  # type: ignore[misc]


def test_round_trip_through_json() -> None:
    event = feedback_event()
    assert decode_event(event.to_json()) == event


def test_unknown_fields_from_a_newer_producer_are_ignored() -> None:
    raw = json.loads(feedback_event().to_json())
    raw["data"]["a_field_added_later"] = "x"
    raw["another_envelope_field"] = 1
    assert decode_event(raw).data.text == "卫生间漏水"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"event_type": "Nope"}', "unknown event_type"),
    ],
)
def test_undecodable_records_say_why(value: bytes, reason: str) -> None:
    with pytest.raises(UndecodableEvent, match=reason):
        decode_event(value)


def test_schema_violations_name_the_field_without_echoing_values() -> None:
    raw = json.loads(feedback_event().to_json())
    raw["data"]["kind"] = "13800138000"
    del raw["data"]["text"]
    with pytest.raises(UndecodableEvent) as info:
        decode_event(raw)
    message = str(info.value)
    assert "data.kind" in message and "data.text" in message
    assert "13800138000" not in message


def test_naive_timestamps_are_refused() -> None:
    raw = json.loads(feedback_event().to_json())
    raw["occurred_at"] = "2026-05-29T09:55:00"
    with pytest.raises(UndecodableEvent, match="occurred_at"):
        decode_event(raw)


def test_upcaster_brings_an_old_version_to_the_current_one() -> None:
    @upcaster("Widget", 1)
    def upcast_v1_v2(raw: dict) -> dict:
        raw["size"] = raw.pop("length")
        raw["schema_version"] = 2
        return raw

    try:
        assert upcast({"event_type": "Widget", "schema_version": 1, "length": 3}, target_version=2) == {
            "event_type": "Widget", "schema_version": 2, "size": 3,
        }
        with pytest.raises(ValueError, match="no upcaster"):
            upcast({"event_type": "Widget", "schema_version": 0}, target_version=2)
    finally:
        unregister("Widget", 1)


def test_org_path_levels_roll_up_from_project_to_group() -> None:
    assert ORG.levels() == [("group", "hx"), ("subsidiary", "hx/east"), ("project", "hx/east/lakeside")]
    assert OrgPath(group="hx").as_path() == "hx"
    with pytest.raises(ValidationError, match="subsidiary"):
        OrgPath(group="hx", project="lakeside")
    with pytest.raises(ValidationError):
        OrgPath(group="hx/../x")


def test_topic_names_live_in_one_place() -> None:
    assert topic_for("FeedbackReceived") == "feedback.received"
    assert set(EVENT_TOPICS.values()) >= {
        "feedback.received", "complaint.classified", "repair.accepted", "survey.returned",
    }
    assert len(set(EVENT_TOPICS.values())) == len(EVENT_TOPICS)  # one topic per event type
    assert dead_letter("acme.feedback.received") == "acme.feedback.received.dlq"
    assert "acme.survey.returned.dlq" in all_topics("acme.")
    with pytest.raises(KeyError):
        topic_for("Nope")


def test_records_decode_as_their_parsed_json_does() -> None:
    # bytes take the fast path (one validation against every current event type); a dict the
    # upcasting path: the same event, and the same refusals with the same reasons
    event = feedback_event()
    assert decode_event(event.to_json()) == decode_event(json.loads(event.to_json())) == event
    raw = json.loads(event.to_json())
    raw["data"]["kind"] = "13800138000"
    raw["occurred_at"] = "2026-05-29T09:55:00"
    reasons = []
    for value in (raw, json.dumps(raw).encode()):
        with pytest.raises(UndecodableEvent) as info:
            decode_event(value)
        reasons.append(str(info.value))
    assert reasons[0] == reasons[1] and "data.kind" in reasons[0] and "occurred_at" in reasons[0]
    assert "13800138000" not in reasons[1]


def test_a_record_of_an_older_version_is_upcast_when_decoded() -> None:
    @upcaster("FeedbackReceived", 0)
    def upcast_v0_v1(raw: dict) -> dict:
        raw["data"]["text"] = raw["data"].pop("content")
        raw["schema_version"] = 1
        return raw

    try:
        current = feedback_event()
        old = json.loads(current.to_json())
        old["schema_version"] = 0
        old["data"]["content"] = old["data"].pop("text")
        assert decode_event(json.dumps(old).encode()) == current
    finally:
        unregister("FeedbackReceived", 0)


def test_an_inbound_submissions_event_id_follows_its_source_and_external_id() -> None:
    from shared.events.inbound import InboundFeedback

    message = InboundFeedback.model_validate({"source_system": "cc", "external_id": "A-1", "kind": "complaint",
                                              "channel": "phone", "text": "卫生间漏水", "org": {"group": "hx"}})
    first = message.event_id
    assert message.event_id == first and "event_id" not in message.model_dump()
    other = message.model_copy(update={"external_id": "A-2"})
    assert other.event_id != first
    assert other.event_id == InboundFeedback.model_validate({**message.model_dump(), "external_id": "A-2"}).event_id
    # a retry is the same message whatever its correlation id; other content under the same id is not
    assert message.model_copy(update={"correlation_id": uuid.uuid4()}).event_id == first
    assert message.model_copy(update={"text": "卫生间还在漏水"}).event_id != first
