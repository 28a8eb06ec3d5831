"""Issue 20 item 4, the race an outside CI run found: an erasure that comes while an event naming the
person still waits in the outbox. The event is owed to its topic and is published, but it must not
then stay in the outbox for the relay's retention (days) as the published rows erased before it do
not."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import UnitOfWorkFactory
from shared.db.uow import OutboxMessage
from shared.erasure import clear_published_events
from shared.messaging.kafka import ensure_topics, make_producer
from shared.messaging.relay import OutboxRelay
from shared.settings import Settings, to_asyncpg_url
from shared.testing.services import read_topic

pytestmark = pytest.mark.integration

TOPIC = "security.erasure-probe"


@pytest.fixture
async def uow_factory(migrated: Settings):
    engine = create_async_engine(to_asyncpg_url(migrated.db.admin_url), pool_size=3)
    yield UnitOfWorkFactory(engine, schema="routing")
    await engine.dispose()


def row(n: int, customer: str) -> OutboxMessage:
    return OutboxMessage(topic=TOPIC, key=f"k{n}", payload=json.dumps({"n": n, "customer_id": customer}).encode(),
                         headers={}, event_id=uuid.uuid4(), event_type="Probe")


async def test_a_waiting_event_of_an_erased_customer_is_published_then_not_kept(migrated: Settings, uow_factory) -> None:
    erased, other = str(uuid.uuid4()), str(uuid.uuid4())
    await ensure_topics(migrated, [f"{migrated.topic_prefix}{TOPIC}"])
    producer = make_producer(migrated, client_id="test-erasure-waiting")
    await producer.start()
    try:
        relay = OutboxRelay(uow_factory=uow_factory, producer=producer, topic_prefix=migrated.topic_prefix)
        async with uow_factory() as uow:  # 1 published before the erasure
            uow.publish_raw(row(1, erased))
            await uow.commit()
        assert await relay.relay_once() == 1
        async with uow_factory() as uow:  # 2 (the person) and 3 (someone else) still waiting
            uow.publish_raw(row(2, erased))
            uow.publish_raw(row(3, other))
            await uow.commit()
        async with uow_factory() as uow:
            assert await clear_published_events(uow.session, uow_factory.outbox, [erased]) == 2  # 1 gone, 2 marked
            await uow.commit()
        async with uow_factory.engine.connect() as conn:
            waiting = (await conn.execute(sa.text("SELECT count(*) FROM routing.outbox"))).scalar_one()
        assert waiting == 2  # 2 and 3 wait; 1 is gone already
        assert await relay.relay_once() == 2
    finally:
        await producer.stop()
    records = await read_topic(migrated, TOPIC, until=lambda r: len(r) >= 3)
    assert sorted(json.loads(r.value)["n"] for r in records) == [1, 2, 3]  # every event reached its topic
    async with uow_factory.engine.connect() as conn:
        kept = (await conn.execute(sa.text(
            "SELECT convert_from(payload, 'UTF8')::jsonb->>'n', published_at IS NOT NULL FROM routing.outbox"))).all()
    assert kept == [("3", True)]  # the other customer's event is kept as usual, the erased person's are not
