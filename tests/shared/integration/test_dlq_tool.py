"""``careloop dlq``: dead letters listed with their reasons, replayed after a fix, once."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import asyncpg
import pytest

from services.intake.app import create_app as intake_app
from services.intake.config import IntakeSettings
from shared.cli import main
from shared.messaging import dlq
from shared.settings import Settings
from shared.testing.registry import register_org_units
from shared.testing.services import eventually, publish_raw, running_service
from shared.topics import INBOUND_FEEDBACK

pytestmark = pytest.mark.integration


def submission(source: str, external_id: str) -> bytes:
    return json.dumps({
        "message_type": "FeedbackSubmission", "schema_version": 1, "source_system": source,
        "external_id": external_id, "kind": "complaint", "channel": "phone", "text": "卫生间漏水",
        "received_at": datetime.now(UTC).isoformat(),
        "org": {"group": "hx", "subsidiary": "east", "project": "lakeside"}}).encode()


async def feedback_from(settings: Settings, source: str) -> int:
    conn = await asyncpg.connect(settings.db.admin_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM intake.feedback WHERE source_system = $1", source))
    finally:
        await conn.close()


async def cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_list_show_and_replay_after_the_fix_once(
    migrated: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARELOOP_TOPIC_PREFIX", migrated.topic_prefix)
    monkeypatch.setenv("CARELOOP_KAFKA_BOOTSTRAP_SERVERS", migrated.kafka.bootstrap_servers or "")
    monkeypatch.setenv("CARELOOP_KAFKA_IDEMPOTENT_PRODUCER", str(migrated.kafka.idempotent_producer).lower())
    await register_org_units(migrated, "hx", "hx/east", "hx/east/lakeside")  # else dead-lettered for its org
    await publish_raw(migrated, INBOUND_FEEDBACK, submission("newvendor", "nv-1"), key=b"nv-1")
    await publish_raw(migrated, INBOUND_FEEDBACK, b"\xff not json", key=b"broken-1")
    async with running_service(intake_app(migrated)):
        letters = await eventually(lambda: dlq.dead_letters(migrated, quiet_s=0.5), until=lambda ls: len(ls) >= 2,
                                   timeout=60)
    assert await feedback_from(migrated, "newvendor") == 0
    kinds = {letter.kind: letter for letter in letters}
    assert set(kinds) == {"rejected-source", "schema-invalid"}
    refused = kinds["rejected-source"]
    assert "newvendor" in refused.reason and refused.consumer == "intake.inbound"
    assert refused.original_topic == f"{migrated.topic_prefix}{INBOUND_FEEDBACK}" and refused.key == b"nv-1"

    capsys.readouterr()
    assert await cli("dlq", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert {(d["kind"], d["replayed"]) for d in listed} == {("rejected-source", False), ("schema-invalid", False)}
    assert await cli("dlq", "show", refused.letter_id[:8]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["payload"]["external_id"] == "nv-1" and shown["headers"]["x-dlq-kind"] == "rejected-source"

    # The fix: the new source system is allowed. Then its letter is replayed, and applied once.
    fixed = IntakeSettings(**{**dict(migrated), "inbound_sources": ["callcentre", "newvendor"]})
    async with running_service(intake_app(fixed)):
        assert await cli("dlq", "replay", "--all", "--kind", "rejected-source") == 0
        assert "1 replayed" in capsys.readouterr().out
        await eventually(lambda: feedback_from(migrated, "newvendor"), until=lambda n: n == 1, timeout=60)

        assert await cli("dlq", "replay", refused.letter_id) == 2  # not twice by accident
        assert "already replayed" in capsys.readouterr().err
        assert await cli("dlq", "replay", "--again", refused.letter_id) == 0  # on purpose: deduped by the inbox
        await asyncio.sleep(2)
    assert await feedback_from(migrated, "newvendor") == 1

    capsys.readouterr()
    assert await cli("dlq", "list", "--pending", "--json") == 0
    assert [d["kind"] for d in json.loads(capsys.readouterr().out)] == ["schema-invalid"]
    [letter] = [x for x in await dlq.dead_letters(migrated) if x.letter_id == refused.letter_id]
    assert len(letter.replays) == 2 and letter.replays[0]["to"].startswith(f"{migrated.topic_prefix}{INBOUND_FEEDBACK}:")


async def test_a_replayed_event_that_fails_again_is_dead_lettered_again(migrated: Settings) -> None:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    from shared.db import UnitOfWorkFactory
    from shared.events import FeedbackReceived, FeedbackReceivedData, OrgPath
    from shared.messaging.consumer import EventConsumer, PermanentError
    from shared.messaging.kafka import make_broker, make_producer
    from shared.messaging.relay import OutboxRelay
    from shared.settings import to_asyncpg_url
    from shared.topics import FEEDBACK_RECEIVED

    async def always_fails(event: object, uow: object) -> None:
        raise PermanentError("still broken")

    engine = create_async_engine(to_asyncpg_url(migrated.db.admin_url), pool_size=5)
    factory = UnitOfWorkFactory(engine, schema="intake")
    consumer = EventConsumer(name="test.replayed", handlers={"FeedbackReceived": always_fails}, uow_factory=factory,
                             topic_prefix=migrated.topic_prefix, max_attempts=1)
    broker = make_broker(migrated, client_id="test")
    consumer.subscribe(broker, topics=[f"{migrated.topic_prefix}{FEEDBACK_RECEIVED}"],
                       group_id=f"{migrated.topic_prefix}replayed")
    producer = make_producer(migrated, client_id="test-relay")
    await producer.start()
    relay = OutboxRelay(uow_factory=factory, producer=producer, topic_prefix=migrated.topic_prefix,
                        poll_interval_s=0.05)
    relay.start()
    await broker.start()
    try:
        now = datetime.now(UTC)
        data = FeedbackReceivedData(feedback_id=__import__("uuid").uuid4(), kind="complaint", channel="phone",
                                    text="x", received_at=now, received_by="cs-1")
        event = FeedbackReceived.create(data=data, org=OrgPath(group="hx"), aggregate_id=data.feedback_id,
                                        occurred_at=now, producer="test")
        await publish_raw(migrated, FEEDBACK_RECEIVED, event.to_json(), key=event.key)
        [letter] = await eventually(lambda: dlq.dead_letters(migrated, quiet_s=0.5), until=lambda ls: len(ls) == 1,
                                    timeout=30)
        await dlq.replay(migrated, [letter])
        await asyncio.sleep(3)
        async with engine.connect() as conn:
            letters = (await conn.execute(sa.text(
                "SELECT count(*) FROM intake.outbox WHERE event_type = 'DeadLetter'"))).scalar_one()
        assert letters == 2, "the replay failed again and left no dead letter"
    finally:
        await broker.stop()
        await relay.stop()
        await producer.stop()
        await engine.dispose()
