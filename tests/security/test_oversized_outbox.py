"""Issue 20 item 5: one outbox row the broker refuses for good (2 MB on an internal topic, an illegal
topic name) must not stop the relay. Before the fix the relay raised on the whole batch, kept every
row unpublished and retried them in id order for ever (readiness red)."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import UnitOfWorkFactory
from shared.db.uow import OutboxMessage
from shared.messaging.kafka import ensure_topics, make_producer
from shared.messaging.relay import OutboxRelay
from shared.settings import Settings, to_asyncpg_url
from shared.testing.services import read_topic

pytestmark = pytest.mark.integration

TOPIC = "security.oversized-probe"


def row(n: int, payload: bytes, topic: str = TOPIC) -> OutboxMessage:
    return OutboxMessage(topic=topic, key=f"k{n}", payload=payload, headers={"n": str(n)},
                         event_id=uuid.uuid4(), event_type="Probe")


@pytest.fixture
async def uow_factory(migrated: Settings):
    engine = create_async_engine(to_asyncpg_url(migrated.db.admin_url), pool_size=3)
    yield UnitOfWorkFactory(engine, schema="intake")
    await engine.dispose()


async def test_a_2mb_row_is_parked_and_the_rows_behind_it_are_published(migrated: Settings, uow_factory) -> None:
    big = b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    async with uow_factory() as uow:
        uow.publish_raw(row(1, b'{"n": 1}'))
        uow.publish_raw(row(2, big))
        uow.publish_raw(row(3, b'{"n": 3}'))
        uow.publish_raw(row(4, b'{"n": 4}', topic="bad topic name!"))
        uow.publish_raw(row(5, b'{"n": 5}'))
        await uow.commit()
    # the probe topic exists, as every topic CareLoop publishes to does (Apache Kafka creates none
    # on its own: the parking must come from the size, not from a missing topic)
    await ensure_topics(migrated, [f"{migrated.topic_prefix}{TOPIC}"])
    producer = make_producer(migrated, client_id="test-oversized")
    await producer.start()
    try:
        relay = OutboxRelay(uow_factory=uow_factory, producer=producer, topic_prefix=migrated.topic_prefix)
        assert await relay.relay_once() == 5  # all five taken: three published, two parked
        assert await relay.relay_once() == 0  # nothing waits behind the parked ones
        assert relay.healthy
        assert relay.parked == 2
        assert relay.readiness_note()["parked_since_start"] == 2
    finally:
        await producer.stop()

    records = await read_topic(migrated, TOPIC, until=lambda r: len(r) >= 3)
    assert sorted(json.loads(r.value)["n"] for r in records) == [1, 3, 5]
    async with uow_factory.engine.connect() as conn:
        rows = (await conn.execute(sa.text(
            "SELECT headers->>'n', published_at IS NOT NULL, parked_at IS NOT NULL, parked_reason "
            "FROM intake.outbox ORDER BY id"))).all()
    state = {n: (published, parked) for n, published, parked, _ in rows}
    assert state == {"1": (True, False), "2": (False, True), "3": (True, False),
                     "4": (False, True), "5": (True, False)}
    reasons = {n: reason for n, _, _, reason in rows}
    assert reasons["2"].startswith("MessageSizeTooLargeError") and str(len(big)) in reasons["2"]
    assert "bad topic name!" in reasons["4"]
    assert "aaaa" not in reasons["2"]  # the reason names the size, never the payload


async def test_careloop_dlq_lists_parked_rows_and_hands_one_back(
    migrated: Settings, uow_factory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from shared.cli import main

    async with uow_factory() as uow:
        uow.publish_raw(row(1, b'{"n": 1}', topic="bad topic name!"))
        await uow.commit()
    producer = make_producer(migrated, client_id="test-parked")
    await producer.start()
    try:
        relay = OutboxRelay(uow_factory=uow_factory, producer=producer, topic_prefix=migrated.topic_prefix)
        await relay.relay_once()
    finally:
        await producer.stop()
    monkeypatch.setenv("CARELOOP_DB_ADMIN_URL", migrated.db.admin_url or "")
    assert await asyncio.to_thread(main, ["dlq", "parked", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["service"], r["event_type"], r["topic"]) for r in listed] == [("intake", "Probe", "bad topic name!")]
    assert "bad topic name!" in listed[0]["reason"]
    row_id = listed[0]["id"]
    assert await asyncio.to_thread(main, ["dlq", "unpark", "intake", str(row_id)]) == 0
    assert await asyncio.to_thread(main, ["dlq", "parked", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.split("handed back to the relay\n", 1)[1]) == []
    assert await asyncio.to_thread(main, ["dlq", "unpark", "intake", str(row_id)]) == 1  # no longer parked
    async with uow_factory.engine.connect() as conn:
        assert (await conn.execute(sa.text(
            "SELECT published_at IS NULL AND parked_at IS NULL FROM intake.outbox WHERE id = :id"), {"id": row_id}
        )).scalar_one()  # waiting for the relay again
