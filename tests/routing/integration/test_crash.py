"""Killing a routing replica in the middle of a batch loses no case and doubles no effect."""

from __future__ import annotations

import json
import signal
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from shared.devstack import free_port
from shared.events import FeedbackReceived, FeedbackReceivedData, OrgPath
from shared.messaging.kafka import make_producer
from shared.settings import Settings
from shared.testing.services import eventually, read_topic, spawn_service
from shared.topics import CASE_OPENED, FEEDBACK_RECEIVED

pytestmark = pytest.mark.integration

N = 400


async def count_cases(settings: Settings) -> tuple[int, int]:
    conn = await asyncpg.connect(settings.db.admin_url)
    try:
        row = await conn.fetchrow("SELECT count(*) AS n, count(DISTINCT feedback_id) AS d FROM routing.cases")
        return int(row["n"]), int(row["d"])
    finally:
        await conn.close()


async def test_sigkill_mid_batch_loses_no_case_and_doubles_none(migrated: Settings) -> None:
    org = OrgPath(group="hx", subsidiary="east", project="lakeside")
    now = datetime.now(UTC)
    events = []
    for i in range(N):
        data = FeedbackReceivedData(feedback_id=uuid.uuid4(), kind="complaint", channel="system",
                                    text=f"第{i}户卫生间漏水", received_at=now, received_by="erp")
        events.append(FeedbackReceived.create(data=data, org=org, aggregate_id=data.feedback_id, occurred_at=now,
                                              producer="erp"))
    producer = make_producer(migrated, client_id="test")
    await producer.start()
    try:
        for event in events:
            await producer.send(f"{migrated.topic_prefix}{FEEDBACK_RECEIVED}", event.to_json(), key=event.key)
        await producer.flush()
    finally:
        await producer.stop()

    first = await spawn_service(migrated, "routing", port=free_port())
    try:
        await eventually(lambda: count_cases(migrated), until=lambda c: c[0] >= 40, timeout=60, every=0.02)
    finally:
        first.send_signal(signal.SIGKILL)  # no shutdown: mid-batch, mid-relay
        first.wait()
    killed_at = (await count_cases(migrated))[0]
    assert killed_at < N, "the replica finished before it could be killed; raise N"

    second = await spawn_service(migrated, "routing", port=free_port())
    try:
        cases, distinct = await eventually(lambda: count_cases(migrated), until=lambda c: c[0] >= N, timeout=120)
        opened = await read_topic(migrated, CASE_OPENED, until=lambda r: len({json.loads(x.value)["data"]["feedback_id"] for x in r}) >= N,
                                  timeout=60)
    finally:
        second.terminate()
        second.wait(timeout=30)
    assert cases == distinct == N  # every feedback has exactly one case
    by_feedback: dict[str, set[str]] = {}
    for record in opened:
        event = json.loads(record.value)
        by_feedback.setdefault(event["data"]["feedback_id"], set()).add(event["event_id"])
    # The relay may publish a row twice after a crash (at least once), but never two different
    # openings of one feedback: the effect happened once.
    assert len(by_feedback) == N and all(len(ids) == 1 for ids in by_feedback.values())
