"""Routing's subscribers on FastStream's in-memory broker: fast feedback on decoding, dispatch,
the inbox and the dead-letter path, with the use cases replaced by recorders.

The real-broker, real-database proof of the same path is in tests/routing/integration and tests/e2e.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.routing import handlers, service
from shared.events import FeedbackReceived, FeedbackReceivedData, OrgPath, SurveyReturned, SurveyReturnedData
from shared.messaging.consumer import EventConsumer

NOW = datetime(2026, 5, 29, 9, 55, tzinfo=UTC)


class FakeUnitOfWork:
    """Commits what handlers queued; the inbox remembers event ids across units of work."""

    def __init__(self, seen: set[tuple[str, uuid.UUID]], committed: list[Any]) -> None:
        self.seen, self.committed = seen, committed

    async def __aenter__(self) -> FakeUnitOfWork:
        self.queued: list[Any] = []
        self.claims: list[tuple[str, uuid.UUID]] = []
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def claim(self, consumer: str, event_id: uuid.UUID) -> bool:
        return event_id in await self.claim_many(consumer, [event_id])

    async def claim_many(self, consumer: str, event_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        claimed = set()
        for event_id in event_ids:
            key = (consumer, event_id)
            if key not in self.seen and key not in self.claims:
                self.claims.append(key)
                claimed.add(event_id)
        return claimed

    def publish_raw(self, message: Any) -> None:
        self.queued.append(message)

    async def flush(self) -> None:
        return None

    async def commit(self) -> None:
        self.seen.update(self.claims)
        self.committed.extend(self.queued)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    calls: dict[str, list[Any]] = {"open_case": [], "return_visit_done": []}

    async def open_case(event: Any, *, uow: Any, deps: Any) -> None:
        calls["open_case"].append(event)

    async def return_visit_done(case_id: Any, *, uow: Any, deps: Any, caused_by: Any) -> bool:
        calls["return_visit_done"].append(case_id)
        return True

    monkeypatch.setattr(service, "open_case", open_case)
    monkeypatch.setattr(service, "return_visit_done", return_visit_done)
    return calls


def subscribe() -> tuple[KafkaBroker, EventConsumer, list[Any]]:
    broker, seen, committed = KafkaBroker(), set(), []
    consumer = EventConsumer(name="routing.cases", handlers=handlers.build_handlers(deps=None),  # type: ignore[arg-type]
                             uow_factory=lambda: FakeUnitOfWork(seen, committed))  # type: ignore[arg-type]
    consumer.subscribe(broker, topics=["feedback.received", "survey.returned"], group_id="routing")
    return broker, consumer, committed


def feedback(text: str) -> FeedbackReceived:
    data = FeedbackReceivedData(feedback_id=uuid.uuid4(), kind="complaint", channel="phone", text=text,
                                received_at=NOW, received_by="cs-1")
    return FeedbackReceived.create(data=data, org=OrgPath(group="hx", subsidiary="east", project="p1"),
                                   aggregate_id=data.feedback_id, occurred_at=NOW, producer="intake")


async def test_each_feedback_opens_one_case_even_when_redelivered(recorded: dict[str, list[Any]]) -> None:
    broker, consumer, _ = subscribe()
    first, second = feedback("卫生间漏水"), feedback("态度差")
    async with TestKafkaBroker(broker) as test_broker:
        for event in (first, first, second):
            await test_broker.publish(event.to_json(), "feedback.received", key=event.key)
    assert [e.event_id for e in recorded["open_case"]] == [first.event_id, second.event_id]
    assert consumer.processed == 2


async def test_a_survey_answer_on_a_case_completes_its_return_visit(recorded: dict[str, list[Any]]) -> None:
    broker, _, _ = subscribe()
    case_id = uuid.uuid4()
    answer = SurveyReturned.create(
        data=SurveyReturnedData(response_id=uuid.uuid4(), template_id="return-visit", template_version=1,
                                scheme="D", case_id=case_id, returned_at=NOW, answers=()),
        org=OrgPath(group="hx"), aggregate_id=uuid.uuid4(), occurred_at=NOW, producer="survey")
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(answer.to_json(), "survey.returned")
    assert recorded["return_visit_done"] == [case_id]


async def test_an_invalid_payload_is_dead_lettered_not_retried(recorded: dict[str, list[Any]]) -> None:
    broker, consumer, committed = subscribe()
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b'{"event_type": "FeedbackReceived"}', "feedback.received")
    [letter] = committed
    assert letter.topic == "feedback.received.dlq"
    assert letter.headers["x-dlq-kind"] == "schema-invalid"
    assert consumer.dead_lettered == 1 and recorded["open_case"] == []
