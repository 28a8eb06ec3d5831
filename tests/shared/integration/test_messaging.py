"""Outbox relay, inbox and dead-letter path on the real broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaConnectionError
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import UnitOfWork, UnitOfWorkFactory
from shared.events import Event, FeedbackReceived, FeedbackReceivedData, OrgPath
from shared.events.cases import CaseOpened, CaseOpenedData
from shared.messaging.consumer import EventConsumer
from shared.messaging.kafka import make_broker, make_producer
from shared.messaging.relay import OutboxRelay
from shared.settings import Settings, to_asyncpg_url
from shared.testing.services import eventually, publish_raw, read_topic
from shared.topics import FEEDBACK_RECEIVED

pytestmark = pytest.mark.integration

NOW = datetime(2026, 5, 29, 9, 55, tzinfo=UTC)
ORG = OrgPath(group="hx", subsidiary="east", project="lakeside")


def feedback(text: str = "卫生间漏水") -> FeedbackReceived:
    data = FeedbackReceivedData(feedback_id=uuid.uuid4(), kind="complaint", channel="phone", text=text,
                                received_at=NOW, received_by="cs-1")
    return FeedbackReceived.create(data=data, org=ORG, aggregate_id=data.feedback_id, occurred_at=NOW,
                                   producer="test")


@pytest.fixture
async def uow_factory(migrated: Settings):
    # The plumbing is the same in every schema; intake's is used here, with an effects table beside it.
    engine = create_async_engine(to_asyncpg_url(migrated.db.admin_url), pool_size=5)
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE intake.test_effects (event_id uuid, text text)"))
    yield UnitOfWorkFactory(engine, schema="intake")
    await engine.dispose()


async def unpublished(factory: UnitOfWorkFactory) -> int:
    async with factory.engine.connect() as conn:
        return (await conn.execute(sa.text("SELECT count(*) FROM intake.outbox WHERE published_at IS NULL"))).scalar_one()


async def test_relay_publishes_committed_events_with_key_and_headers(migrated: Settings, uow_factory) -> None:
    events = [feedback(f"t{i}") for i in range(20)]
    async with uow_factory() as uow:
        uow.publish(*events)
        await uow.commit()
    producer = make_producer(migrated, client_id="test")
    await producer.start()
    try:
        relay = OutboxRelay(uow_factory=uow_factory, producer=producer, topic_prefix=migrated.topic_prefix)
        assert await relay.relay_once() == 20
        assert await relay.relay_once() == 0
    finally:
        await producer.stop()
    records = await read_topic(migrated, FEEDBACK_RECEIVED, until=lambda r: len(r) >= 20)
    assert sorted(json.loads(r.value)["event_id"] for r in records) == sorted(str(e.event_id) for e in events)
    by_id = {str(e.event_id): e for e in events}
    for record in records:
        event = by_id[json.loads(record.value)["event_id"]]
        assert record.key == event.key
        headers = dict(record.headers)
        assert headers["correlation_id"] == str(event.correlation_id).encode()
        assert headers["event_type"] == b"FeedbackReceived"
    assert await unpublished(uow_factory) == 0


async def test_a_rolled_back_transaction_leaves_nothing_to_publish(uow_factory) -> None:
    async with uow_factory() as uow:
        uow.publish(feedback())
        # no commit: leaving the block rolls back
    async with uow_factory() as uow:
        uow.publish(feedback())
        await uow.rollback()
    assert await unpublished(uow_factory) == 0


async def relay_with_a_working_producer(settings: Settings, factory: UnitOfWorkFactory) -> int:
    """One relay batch through a real producer; how many rows it published."""
    producer = make_producer(settings, client_id="test")
    await producer.start()
    try:
        return await OutboxRelay(uow_factory=factory, producer=producer, topic_prefix=settings.topic_prefix).relay_once()
    finally:
        await producer.stop()


class FailingProducer:
    async def send(self, *args: object, **kwargs: object) -> asyncio.Future:
        raise KafkaConnectionError("broker unreachable")


async def test_relay_keeps_rows_on_broker_errors_and_sends_them_later(migrated: Settings, uow_factory) -> None:
    async with uow_factory() as uow:
        uow.publish(feedback(), feedback())
        await uow.commit()
    failing = OutboxRelay(uow_factory=uow_factory, producer=FailingProducer(), topic_prefix=migrated.topic_prefix)  # type: ignore[arg-type]
    with pytest.raises(KafkaConnectionError):
        await failing.relay_once()
    assert await unpublished(uow_factory) == 2
    assert await relay_with_a_working_producer(migrated, uow_factory) == 2
    assert await unpublished(uow_factory) == 0


class StalledProducer:
    def __init__(self) -> None:
        self.sending = asyncio.Event()

    async def send(self, *args: object, **kwargs: object) -> asyncio.Future:
        self.sending.set()
        await asyncio.Event().wait()  # the broker never answers
        raise AssertionError("unreachable")


async def test_a_relay_stopped_mid_batch_leaves_its_rows_and_no_open_transaction(
        migrated: Settings, uow_factory) -> None:
    async with uow_factory() as uow:
        uow.publish(feedback(), feedback())
        await uow.commit()
    stalled = StalledProducer()
    relay = OutboxRelay(uow_factory=uow_factory, producer=stalled, topic_prefix=migrated.topic_prefix)  # type: ignore[arg-type]
    task = asyncio.create_task(relay.relay_once())
    await asyncio.wait_for(stalled.sending.wait(), timeout=10)  # it holds the rows' locks now
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # No connection is left inside the relay's transaction (holding the rows' locks), and the rows
    # wait for the next relay.
    async with uow_factory.engine.connect() as conn:
        assert (await conn.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND state LIKE 'idle in transaction%'"))).scalar_one() == 0
    assert await unpublished(uow_factory) == 2
    assert await relay_with_a_working_producer(migrated, uow_factory) == 2


class GatedProducer:
    """Sends once the gate opens, through a real producer."""

    def __init__(self, producer: object) -> None:
        self.producer, self.sending, self.gate = producer, asyncio.Event(), asyncio.Event()

    async def send(self, *args: object, **kwargs: object) -> asyncio.Future:
        self.sending.set()
        await self.gate.wait()
        return await self.producer.send(*args, **kwargs)  # type: ignore[attr-defined]


async def test_a_relay_whose_connection_died_mid_batch_goes_on_on_a_new_one(migrated: Settings, uow_factory) -> None:
    async with uow_factory() as uow:
        uow.publish(feedback(), feedback())
        await uow.commit()
    # the relay's own engine, of one connection: the dead one must not be handed out again
    engine = create_async_engine(to_asyncpg_url(migrated.db.admin_url), pool_size=1, max_overflow=0)
    producer = make_producer(migrated, client_id="test")
    await producer.start()
    try:
        factory = UnitOfWorkFactory(engine, schema="intake")
        gated = GatedProducer(producer)
        relay = OutboxRelay(uow_factory=factory, producer=gated, topic_prefix=migrated.topic_prefix)  # type: ignore[arg-type]
        task = asyncio.create_task(relay.relay_once())
        await asyncio.wait_for(gated.sending.wait(), timeout=10)
        async with uow_factory.engine.connect() as conn:  # the database drops the relay's connection
            assert (await conn.execute(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"))).scalar_one() == 1
        gated.gate.set()
        with pytest.raises(Exception):  # noqa: B017 - whichever error the driver gives for a lost connection
            await task
        assert relay.published == 0
        assert await relay.relay_once() == 2  # the rows were kept; published again, on a new connection
    finally:
        await producer.stop()
        await engine.dispose()
    assert await unpublished(uow_factory) == 0


async def test_competing_relays_claim_disjoint_rows(migrated: Settings, uow_factory) -> None:
    events = [feedback(f"t{i}") for i in range(600)]
    async with uow_factory() as uow:
        uow.publish(*events)
        await uow.commit()
    producers = [make_producer(migrated, client_id=f"test-{i}") for i in range(3)]
    for producer in producers:
        await producer.start()
    try:
        relays = [OutboxRelay(uow_factory=uow_factory, producer=p, topic_prefix=migrated.topic_prefix,
                              batch_size=50) for p in producers]

        async def drain(relay: OutboxRelay) -> int:
            total = 0
            while n := await relay.relay_once():
                total += n
            return total

        counts = await asyncio.gather(*(drain(r) for r in relays))
    finally:
        for producer in producers:
            await producer.stop()
    assert sum(counts) == 600
    records = await read_topic(migrated, FEEDBACK_RECEIVED, until=lambda r: len(r) >= 600)
    ids = [json.loads(r.value)["event_id"] for r in records]
    assert len(ids) == len(set(ids)) == 600


async def test_consumer_dedupes_dead_letters_poison_and_keeps_going(migrated: Settings, uow_factory) -> None:
    attempts: dict[str, int] = {}

    async def handler(event: Event, uow: UnitOfWork) -> None:
        assert isinstance(event, FeedbackReceived)
        attempts[event.data.text] = attempts.get(event.data.text, 0) + 1
        if event.data.text == "always fails":
            raise RuntimeError("cannot apply this one")
        await uow.session.execute(
            sa.text("INSERT INTO intake.test_effects VALUES (:id, :text)"),
            {"id": event.event_id, "text": event.data.text},
        )

    consumer = EventConsumer(name="test.consumer", handlers={"FeedbackReceived": handler},
                             uow_factory=uow_factory, topic_prefix=migrated.topic_prefix,
                             max_attempts=3, backoff_initial_s=0.01, backoff_max_s=0.05)
    broker = make_broker(migrated, client_id="test")
    topic = f"{migrated.topic_prefix}{FEEDBACK_RECEIVED}"
    consumer.subscribe(broker, topics=[topic], group_id=f"{migrated.topic_prefix}test")
    producer = make_producer(migrated, client_id="test-relay")
    await producer.start()
    relay = OutboxRelay(uow_factory=uow_factory, producer=producer, topic_prefix=migrated.topic_prefix,
                        poll_interval_s=0.05)
    relay.start()
    try:
        # all on one partition before the consumer starts: one batch, whatever the timing
        first, poison, later = feedback("first"), feedback("always fails"), feedback("later")
        await publish_raw(migrated, FEEDBACK_RECEIVED, first.to_json(), key=first.key)
        await publish_raw(migrated, FEEDBACK_RECEIVED, first.to_json(), key=first.key)  # redelivery
        await publish_raw(migrated, FEEDBACK_RECEIVED, b'{"event_type": "FeedbackReceived", "data": 1}', key=first.key)
        await publish_raw(migrated, FEEDBACK_RECEIVED, b"\xff\xfe not json", key=first.key)
        await publish_raw(migrated, FEEDBACK_RECEIVED, poison.to_json(), key=first.key)
        await publish_raw(migrated, FEEDBACK_RECEIVED, later.to_json(), key=first.key)
        await broker.start()

        async def effects() -> list[str]:
            async with uow_factory.engine.connect() as conn:
                rows = await conn.execute(sa.text("SELECT text FROM intake.test_effects ORDER BY text"))
                return [r[0] for r in rows]

        assert await eventually(effects, until=lambda e: "later" in e) == ["first", "later"]
        dead = await read_topic(migrated, f"{FEEDBACK_RECEIVED}.dlq", until=lambda r: len(r) >= 3)
    finally:
        await broker.stop()
        await relay.stop()
        await producer.stop()

    # the whole batch is tried once and rolled back by the failing one; then each event alone:
    # "first" applied (its effect once, above), its redelivered copy skipped by the inbox, the
    # failing one three times (bounded, backed off), then the DLQ
    assert attempts["first"] == 2
    assert attempts["always fails"] == 4
    assert len(dead) == 3
    by_kind: dict[str, list[dict[str, str]]] = {}
    for record in dead:
        headers = {k: v.decode() for k, v in record.headers}
        by_kind.setdefault(headers["x-dlq-kind"], []).append(headers)
        assert headers["x-original-topic"] == topic
        assert headers["x-dlq-consumer"] == "test.consumer"
        assert headers["x-original-partition"].isdigit() and headers["x-original-offset"].isdigit()
    assert len(by_kind["schema-invalid"]) == 2
    assert {h["x-dlq-reason"][:8] for h in by_kind["schema-invalid"]} >= {"not JSON"}
    [failed] = by_kind["handler-failed"]
    assert failed["x-dlq-reason"] == "RuntimeError: cannot apply this one"
    assert failed["x-dlq-attempts"] == "4"
    assert failed["x-original-event-id"] == str(poison.event_id)
    # the dead-lettered payload is the original, byte for byte
    assert sorted(r.value for r in dead if dict(r.headers)[b"x-dlq-kind".decode()] == b"handler-failed") == [poison.to_json()]


async def test_infrastructure_failures_are_retried_not_dead_lettered(migrated: Settings, uow_factory) -> None:
    calls = 0

    async def flaky(event: Event, uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1
        if calls <= 5:
            raise ConnectionError("database went away")
        await uow.session.execute(sa.text("INSERT INTO intake.test_effects VALUES (:id, 'ok')"), {"id": event.event_id})

    consumer = EventConsumer(name="test.flaky", handlers={"FeedbackReceived": flaky}, uow_factory=uow_factory,
                             topic_prefix=migrated.topic_prefix, max_attempts=2, backoff_initial_s=0.01,
                             backoff_max_s=0.05)
    broker = make_broker(migrated, client_id="test")
    consumer.subscribe(broker, topics=[f"{migrated.topic_prefix}{FEEDBACK_RECEIVED}"],
                       group_id=f"{migrated.topic_prefix}flaky")
    await broker.start()
    try:
        event = feedback()
        await publish_raw(migrated, FEEDBACK_RECEIVED, event.to_json(), key=event.key)

        async def effects() -> int:
            async with uow_factory.engine.connect() as conn:
                return (await conn.execute(sa.text("SELECT count(*) FROM intake.test_effects"))).scalar_one()

        assert await eventually(effects, until=lambda n: n == 1, timeout=30) == 1
    finally:
        await broker.stop()
    assert calls == 6  # five failures rewound the batch, the sixth attempt applied it
    assert consumer.dead_lettered == 0
    assert await unpublished(uow_factory) == 0


def as_record(event: Event, offset: int) -> ConsumerRecord:
    return ConsumerRecord(topic=event.event_type, partition=0, offset=offset, timestamp=0, timestamp_type=0,
                          key=event.key, value=event.to_json(), checksum=None, serialized_key_size=0,
                          serialized_value_size=0, headers=())


async def test_a_batch_handler_takes_each_run_of_its_type_and_falls_back_one_by_one(
    migrated: Settings, uow_factory
) -> None:
    runs: list[list[str]] = []
    singles: list[str] = []

    async def effect(uow: UnitOfWork, event: Event, text: str) -> None:
        await uow.session.execute(sa.text("INSERT INTO intake.test_effects VALUES (:id, :text)"),
                                  {"id": event.event_id, "text": text})

    async def one(event: Event, uow: UnitOfWork) -> None:
        text = event.data.text if isinstance(event, FeedbackReceived) else "opened"
        singles.append(text)
        if text == "poison":
            raise RuntimeError("cannot apply this one")
        await effect(uow, event, text)

    async def many(events: Sequence[Event], uow: UnitOfWork) -> None:
        runs.append([e.data.text for e in events if isinstance(e, FeedbackReceived)])
        for event in events:
            assert isinstance(event, FeedbackReceived)
            if event.data.text == "poison":
                raise RuntimeError("cannot apply this one")
            await effect(uow, event, event.data.text)

    consumer = EventConsumer(name="test.batches", handlers={"FeedbackReceived": one, "CaseOpened": one},
                             batch_handlers={"FeedbackReceived": many}, uow_factory=uow_factory,
                             topic_prefix=migrated.topic_prefix, max_attempts=1, backoff_initial_s=0.01)
    a, b, c, d = (feedback(t) for t in "abcd")
    opened = CaseOpened.create(
        data=CaseOpenedData(case_id=uuid.uuid4(), feedback_id=a.data.feedback_id, kind="complaint",
                            received_at=NOW, first_contact_owner="cs-1"),
        org=ORG, aggregate_id=uuid.uuid4(), occurred_at=NOW, producer="test")
    await consumer.process([as_record(e, i) for i, e in enumerate([a, b, a, opened, c, d])])  # a twice
    assert runs == [["a", "b"], ["c", "d"]]  # the copy of a is not handed over again
    assert singles == ["opened"]

    # a run that fails is applied one event at a time, through the one-event handler
    runs.clear()
    singles.clear()
    e, poison, f = feedback("e"), feedback("poison"), feedback("f")
    await consumer.process([as_record(x, 10 + i) for i, x in enumerate([e, poison, f, c])])  # c: done before
    assert runs == [["e", "poison", "f"]] and singles == ["e", "poison", "f"]
    assert consumer.dead_lettered == 1
    async with uow_factory.engine.connect() as conn:
        texts = [r[0] for r in await conn.execute(sa.text("SELECT text FROM intake.test_effects ORDER BY text"))]
    assert texts == ["a", "b", "c", "d", "e", "f", "opened"]


def test_a_batch_handler_needs_a_handler_for_one_event() -> None:
    async def many(events: Sequence[Event], uow: UnitOfWork) -> None: ...

    with pytest.raises(ValueError, match="FeedbackReceived"):
        EventConsumer(name="x", handlers={}, batch_handlers={"FeedbackReceived": many}, uow_factory=None)  # type: ignore[arg-type]
