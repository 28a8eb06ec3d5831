"""Issue 20 item 5: oversized input at the edge.

A 5 MB record on ``inbound.feedback`` used to become a dead letter carrying the whole 5 MB, which
the relay could never publish (1 MB producer limit): every later event of intake waited behind it,
so a normal feedback sent next never reached routing. Now the record is dead-lettered undecoded
with a bounded excerpt and a reference, and the next feedback flows. An HTTP body over the limit is
refused with 413 before it is read whole."""

from __future__ import annotations

import hashlib
import json
import time

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.intake.app import create_app as intake_app
from services.routing.app import create_app as routing_app
from shared.messaging.kafka import bootstrap
from shared.settings import Settings
from shared.testing.services import eventually, read_topic, running_service
from shared.topics import INBOUND_FEEDBACK

pytestmark = pytest.mark.integration

ORG = {"group": "hx", "subsidiary": "east", "project": "lakeside"}


def inbound(external_id: str, text: str) -> bytes:
    return json.dumps({"source_system": "callcentre", "external_id": external_id, "kind": "complaint",
                       "channel": "phone", "text": text, "org": ORG}, ensure_ascii=False).encode()


async def register_org_units(settings: Settings) -> None:
    conn = await asyncpg.connect(settings.db.admin_url)
    try:
        for path, level, kind, parent in [("hx", "group", "group", None), ("hx/east", "subsidiary", "subsidiary", "hx"),
                                          ("hx/east/lakeside", "project", "project_department", "hx/east")]:
            await conn.execute("INSERT INTO intake.org_units (path, level, name, unit_type, parent_path) "
                               "VALUES ($1, $2, $1, $3, $4)", path, level, kind, parent)
    finally:
        await conn.close()


async def send_large(settings: Settings, topic: str, value: bytes) -> None:
    """As a foreign system with a larger producer limit would, on a topic whose broker limit lets it
    through (Apache Kafka refuses records over 1 MB unless the topic's ``max.message.bytes`` is
    raised, as an operator may have done; the embedded broker has no such limit)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap(settings))
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, f"{settings.topic_prefix}{topic}",
                                                  {"max.message.bytes": str(8 * 1024 * 1024)})])
    except Exception:  # the embedded broker may not take topic configs: it needs none
        pass
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap(settings), enable_idempotence=False, acks="all",
                                max_request_size=8 * 1024 * 1024)
    await producer.start()
    try:
        await producer.send_and_wait(f"{settings.topic_prefix}{topic}", value=value)
    finally:
        await producer.stop()


async def dead_letters_in_outbox(settings: Settings) -> int:
    conn = await asyncpg.connect(settings.db.admin_url)
    try:
        return await conn.fetchval("SELECT count(*) FROM intake.outbox WHERE event_type = 'DeadLetter'")
    finally:
        await conn.close()


async def cases_with(settings: Settings, text: str) -> int:
    conn = await asyncpg.connect(settings.db.admin_url)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM routing.cases c JOIN intake.feedback f ON f.id = c.feedback_id WHERE f.text = $1", text)
    finally:
        await conn.close()


async def test_a_5mb_inbound_record_is_dead_lettered_bounded_and_the_next_feedback_reaches_routing(
        migrated: Settings) -> None:
    await register_org_units(migrated)
    huge = inbound("CC-HUGE", "漏" * (5 * 1024 * 1024 // 3))
    assert len(huge) > 5 * 1024 * 1024
    async with running_service(intake_app(migrated)) as intake, running_service(routing_app(migrated)):
        await send_large(migrated, INBOUND_FEEDBACK, huge)
        # The dead letter is in intake's outbox before the next feedback comes: the next one's event
        # is behind it in the relay's order (before the fix it waited there for ever).
        await eventually(lambda: dead_letters_in_outbox(migrated), until=lambda n: n == 1, timeout=20)
        await send_large(migrated, INBOUND_FEEDBACK, inbound("CC-NEXT", "大堂门禁坏了"))
        started = time.monotonic()
        await eventually(lambda: cases_with(migrated, "大堂门禁坏了"), until=lambda n: n == 1, timeout=20)
        assert time.monotonic() - started < 20
        ready = (await intake.get("/health/ready")).json()
        assert ready["status"] == "ready", ready
        [letter] = await read_topic(migrated, f"{INBOUND_FEEDBACK}.dlq", until=lambda r: len(r) >= 1)
    headers = {k: v.decode() for k, v in letter.headers}
    assert headers["x-dlq-kind"] == "too-large"
    assert str(len(huge)) in headers["x-dlq-reason"] and "1048576" in headers["x-dlq-reason"]
    assert headers["x-original-size"] == str(len(huge))
    assert headers["x-original-sha256"] == hashlib.sha256(huge).hexdigest()
    assert headers["x-dlq-excerpt"] == "true"
    assert letter.value == huge[:4096]  # the first 4 KiB, not a copy
    # replaying it would publish the truncation: `careloop dlq replay` refuses
    from shared.messaging import dlq

    [record] = await dlq.dead_letters(migrated, quiet_s=0.5)
    with pytest.raises(dlq.ReplayRefused, match="only an excerpt"):
        await dlq.replay(migrated, [record])


async def test_an_http_body_over_the_limit_is_refused_with_413_before_it_is_read(migrated: Settings) -> None:
    migrated = migrated.model_copy(update={"http_max_body_bytes": 64 * 1024})
    body = json.dumps({"kind": "complaint", "channel": "phone", "text": "漏" * 40_000, "received_by": "cs-1",
                       "org": ORG}, ensure_ascii=False).encode()
    assert len(body) > 64 * 1024
    read: list[int] = []

    async def chunks():
        for i in range(0, len(body), 8192):
            read.append(i)
            yield body[i:i + 8192]

    async with running_service(intake_app(migrated)) as intake:
        declared = await intake.post("/api/v1/feedback", content=body, headers={"content-type": "application/json"})
        chunked = await intake.post("/api/v1/feedback", content=chunks(), headers={"content-type": "application/json"})
        small = await intake.post("/api/v1/feedback", json={"kind": "complaint", "channel": "phone", "text": "门禁坏了",
                                                               "received_by": "cs-1", "org": ORG})
    for answer in (declared, chunked):
        assert answer.status_code == 413, answer.text
        assert answer.json()["fields"][0]["field"] == "body"
        assert answer.json()["reason"] == "请求体过大：最多 65536 字节"
    assert len(read) <= 64 * 1024 // 8192 + 1  # the chunked body was not read past the limit
    assert small.status_code in (201, 202), small.text
