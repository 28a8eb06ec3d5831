"""Intake's acceptance rules and the FeedbackReceived it emits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.intake.domain import ReceiveFeedback, accept, feedback_received
from shared.events import OrgPath
from shared.events.vocabulary import Channel, FeedbackKind

NOW = datetime(2026, 5, 29, 9, 55, tzinfo=UTC)


def command(**overrides: object) -> ReceiveFeedback:
    values: dict[str, object] = dict(
        kind=FeedbackKind.COMPLAINT, channel=Channel.LETTER, text="外墙裂缝", received_by="cs-7",
        org=OrgPath(group="hx", subsidiary="east", project="lakeside"), correlation_id=uuid.uuid4(),
    )
    values.update(overrides)
    return ReceiveFeedback(**values)  # type: ignore[arg-type]


def test_received_at_defaults_to_now_and_may_be_earlier() -> None:
    assert accept(command(), now=NOW, feedback_id=uuid.uuid4()).received_at == NOW
    earlier = NOW - timedelta(days=2)  # a letter logged two days after it arrived
    assert accept(command(received_at=earlier), now=NOW, feedback_id=uuid.uuid4()).received_at == earlier


def test_received_at_in_the_future_is_refused() -> None:
    with pytest.raises(ValueError, match="future"):
        accept(command(received_at=NOW + timedelta(minutes=5)), now=NOW, feedback_id=uuid.uuid4())


def test_the_event_carries_what_routing_needs_and_the_correlation_id() -> None:
    cmd = command(unit="3-2-1201", attachments=("s3://photos/a.jpg",))
    feedback = accept(cmd, now=NOW, feedback_id=uuid.uuid4())
    event = feedback_received(feedback, now=NOW)
    assert event.aggregate_id == str(feedback.id)
    assert event.correlation_id == cmd.correlation_id
    assert event.data.project_id == "lakeside"  # from the org path when not given
    assert event.data.received_by == "cs-7" and event.data.unit == "3-2-1201"
    assert event.data.attachments == ("s3://photos/a.jpg",)
