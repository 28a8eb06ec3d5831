"""A test's topics are deleted with it: the ``settings`` fixture's teardown removes every topic
starting with the test's prefix, and only those (on the embedded broker and on Apache Kafka)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from shared.messaging.kafka import ensure_topics
from shared.settings import Settings
from shared.testing.infra import delete_test_topics

pytestmark = pytest.mark.integration


async def _listed(settings: Settings) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_the_prefix_topics_are_deleted_and_no_other(settings: Settings) -> None:
    prefix = settings.topic_prefix
    mine = [f"{prefix}feedback.received", f"{prefix}case.opened", f"{prefix}case.opened.dlq"]
    # a neighbour whose prefix merely shares the first characters is not the test's
    neighbour_settings = settings.model_copy(update={"topic_prefix": f"{prefix[:-1]}x{uuid.uuid4().hex[:4]}."})
    neighbour = f"{neighbour_settings.topic_prefix}case.opened"
    await ensure_topics(settings, [*mine, neighbour])
    assert set(mine) | {neighbour} <= await _listed(settings)

    deleted = await delete_test_topics(settings)

    assert deleted == sorted(mine)  # exactly the three, by name
    deadline = time.monotonic() + 30  # Apache Kafka deletes asynchronously: the listing catches up
    while (left := await _listed(settings)) & set(mine) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert not left & set(mine)
    assert neighbour in left
    assert await delete_test_topics(neighbour_settings) == [neighbour]
