"""Routing's subscriber on FastStream's in-memory broker: fast feedback, with a fake unit of work.

The real-broker proof of the same path is in tests/e2e and tests/shared/integration.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.routing.handlers import build_handlers
from shared.events import FeedbackReceived, FeedbackReceivedData, OrgPath
from shared.messaging.consumer import EventConsumer

NOW = datetime(2026, 5, 29, 9, 55, tzinfo=UTC)


class FakeResult:
    def __init__(self, row: Any) -> None:
        self._row = row

    def first(self) -> Any:
        return self._row


class FakeSession:
    def __init__(self) -> None:
        self.statements: list[Any] = []

    async def execute(self, statement: Any, *args: Any) -> FakeResult:
        self.statements.append(statement)
        return FakeResult(("case-id",))


class FakeUnitOfWork:
    """Records what a handler did; the inbox remembers event ids across units of work."""

    seen: set[tuple[str, uuid.UUID]] = set()
    committed: list[list[Any]] = []

    async def __aenter__(self) -> FakeUnitOfWork:
        self.session = FakeSession()
        self.published: list[Any] = []
        self._claims: list[tuple[str, uuid.UUID]] = []
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def claim(self, consumer: str, event_id: uuid.UUID) -> bool:
        key = (consumer, event_id)
        if key in self.seen or key in self._claims:
            return False
        self._claims.append(key)
        return True

    def publish(self, *events: Any) -> None:
        self.published.extend(events)

    def publish_raw(self, message: Any) -> None:
        self.published.append(message)

    async def commit(self) -> None:
        self.seen.update(self._claims)
        self.committed.append(self.published)


def feedback(text: str, kind: str = "complaint") -> FeedbackReceived:
    data = FeedbackReceivedData(feedback_id=uuid.uuid4(), kind=kind, channel="phone", text=text,
                                received_at=NOW, received_by="cs-1")
    return FeedbackReceived.create(data=data, org=OrgPath(group="hx", subsidiary="east", project="p1"),
                                   aggregate_id=data.feedback_id, occurred_at=NOW, producer="intake")


async def test_a_complaint_opens_a_case_and_emits_one_classification() -> None:
    FakeUnitOfWork.seen, FakeUnitOfWork.committed = set(), []
    broker = KafkaBroker()
    consumer = EventConsumer(name="routing.cases", handlers=build_handlers(clock=lambda: NOW),
                             uow_factory=FakeUnitOfWork)  # type: ignore[arg-type]
    consumer.subscribe(broker, topics=["feedback.received"], group_id="routing")
    event = feedback("卫生间漏水")
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(event.to_json(), "feedback.received", key=event.key)
        await test_broker.publish(event.to_json(), "feedback.received", key=event.key)  # redelivered
        await test_broker.publish(feedback("咨询交房时间", kind="inquiry").to_json(), "feedback.received")
    emitted = [e for batch in FakeUnitOfWork.committed for e in batch]
    assert [e.event_type for e in emitted] == ["ComplaintClassified"]
    [classified] = emitted
    assert classified.correlation_id == event.correlation_id
    assert classified.causation_id == event.event_id
    assert classified.data.complaint_class == 2 and classified.data.category == "product_quality"
    assert consumer.processed == 2  # the complaint and the inquiry; the duplicate changed nothing


async def test_an_invalid_payload_is_dead_lettered_not_retried() -> None:
    FakeUnitOfWork.seen, FakeUnitOfWork.committed = set(), []
    broker = KafkaBroker()
    consumer = EventConsumer(name="routing.cases", handlers=build_handlers(clock=lambda: NOW),
                             uow_factory=FakeUnitOfWork)  # type: ignore[arg-type]
    consumer.subscribe(broker, topics=["feedback.received"], group_id="routing")
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b'{"event_type": "FeedbackReceived"}', "feedback.received")
    [[letter]] = FakeUnitOfWork.committed
    assert letter.topic == "feedback.received.dlq"
    assert letter.headers["x-dlq-kind"] == "schema-invalid"
    assert consumer.dead_lettered == 1 and consumer.processed == 0
