"""Topics keep their whole history: CareLoop creates them without retention limits, and
`careloop topics check` finds a topic that would lose history (and `--fix` lifts the limit)."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.cli import main
from shared.messaging.kafka import bootstrap, topic_history_problems, topic_partitions
from shared.settings import Settings
from shared.testing.infra import choose_kind
from shared.testing.services import eventually
from shared.topics import all_topics

pytestmark = pytest.mark.integration


async def test_created_topics_keep_history_and_check_finds_a_limited_one(
    migrated: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # which broker the suite runs on, asked before the test points the CLI at it through the
    # environment (which would make any broker look like an external one)
    embedded = choose_kind() == "embedded"
    names = all_topics(migrated.topic_prefix)
    assert await topic_history_problems(migrated, names) == {}

    # a topic made by hand with the broker's usual seven days, as an operator might have done
    limited = f"{migrated.topic_prefix}extra.limited"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap(migrated))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(limited, num_partitions=1, replication_factor=1,
                                            topic_configs={"retention.ms": str(7 * 24 * 3600 * 1000)})])
    finally:
        await admin.close()
    await eventually(lambda: topic_partitions(migrated, limited), until=bool, timeout=30)
    assert await topic_history_problems(migrated, [limited, f"{migrated.topic_prefix}extra.absent"]) == {
        limited: "retention.ms=604800000 (history older or larger than that is deleted)",
        f"{migrated.topic_prefix}extra.absent": "missing",
    }

    monkeypatch.setenv("CARELOOP_TOPIC_PREFIX", migrated.topic_prefix)
    monkeypatch.setenv("CARELOOP_KAFKA_BOOTSTRAP_SERVERS", bootstrap(migrated))
    assert await asyncio.to_thread(main, ["topics", "check"]) == 0
    assert f"all {len(names)} topics keep their whole history" in capsys.readouterr().out

    # a deployment whose topics were made with a one-day limit on one of them: check says so
    other = migrated.model_copy(update={"topic_prefix": f"{migrated.topic_prefix}old."})
    old_names = all_topics(other.topic_prefix)
    victim = old_names[0]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap(migrated))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, num_partitions=1, replication_factor=1, topic_configs=(
            {"retention.ms": "86400000"} if n == victim else {"retention.ms": "-1", "retention.bytes": "-1"}))
            for n in old_names])
    finally:
        await admin.close()
    for name in old_names:
        await eventually(lambda name=name: topic_partitions(migrated, name), until=bool, timeout=30)
    monkeypatch.setenv("CARELOOP_TOPIC_PREFIX", other.topic_prefix)
    assert await asyncio.to_thread(main, ["topics", "check"]) == 1
    out = capsys.readouterr()
    assert out.out.strip() == f"{victim}: retention.ms=86400000 (history older or larger than that is deleted)"
    assert f"1 of {len(old_names)} topics would lose event history" in out.err
    # --fix lifts the limit where the broker can change a topic's settings (Apache Kafka); the
    # embedded broker cannot, and says so
    fixed = await asyncio.to_thread(main, ["topics", "check", "--fix"])
    if embedded:
        assert fixed == 2
        assert "cannot change a topic's settings" in capsys.readouterr().err
    else:
        assert fixed == 0
        assert await topic_history_problems(other, [victim]) == {}

