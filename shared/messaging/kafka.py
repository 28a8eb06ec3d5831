"""Kafka clients built from settings: the FastStream broker, a producer, topic creation."""

from __future__ import annotations

import asyncio
import logging
import random
import struct
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    IncompatibleBrokerVersion,
    KafkaConnectionError,
    TopicAlreadyExistsError,
    UnknownTopicOrPartitionError,
)
from faststream.kafka import KafkaBroker

from shared.settings import Settings

log = logging.getLogger(__name__)


def bootstrap(settings: Settings) -> str:
    servers = settings.kafka.bootstrap_servers
    if not servers:
        raise RuntimeError("no Kafka broker: set CARELOOP_KAFKA_BOOTSTRAP_SERVERS (or KAFKA_BOOTSTRAP_SERVERS)")
    return servers


def make_broker(settings: Settings, *, client_id: str) -> KafkaBroker:
    """The FastStream broker a service consumes with.

    The idempotent producer is a setting (``CARELOOP_KAFKA_IDEMPOTENT_PRODUCER``): on for Apache
    Kafka, off for the embedded broker (Tansu does not implement it). Correctness never depends on it:
    it comes from the outbox and idempotent consumers.
    """
    return KafkaBroker(
        bootstrap(settings),
        client_id=client_id,
        enable_idempotence=settings.kafka.idempotent_producer,
        acks="all",
        request_timeout_ms=settings.kafka.request_timeout_ms,
        metadata_max_age_ms=settings.kafka.metadata_max_age_ms,
        logger=logging.getLogger(f"careloop.{client_id}.broker"),
        security=settings.kafka.faststream_security(),  # type: ignore[arg-type]
    )


_M, _WORD = 0x5BD1E995, 0xFFFFFFFF
_words: dict[int, struct.Struct] = {}


def murmur2(data: bytes) -> int:
    """The Java client's murmur2 of a key (``org.apache.kafka.common.utils.Utils.murmur2``), as
    aiokafka's partitioner computes it, in about half its time (every relayed event has a key)."""
    length = len(data)
    h = 0x9747B28C ^ length
    count = length >> 2
    words = _words.get(count)
    if words is None:
        words = _words[count] = struct.Struct(f"<{count}I")
    for k in words.unpack_from(data):
        k = (k * _M) & _WORD
        k ^= k >> 24
        h = ((h * _M) & _WORD) ^ ((k * _M) & _WORD)
    tail, extra = length & ~3, length & 3
    if extra >= 3:
        h ^= data[tail + 2] << 16
    if extra >= 2:
        h ^= data[tail + 1] << 8
    if extra:
        h = ((h ^ data[tail]) * _M) & _WORD
    h ^= h >> 13
    h = (h * _M) & _WORD
    return h ^ (h >> 15)


def partition_for(key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
    """The partition the Java client (and aiokafka's default) picks: the same key, the same partition,
    whichever producer sends it; a record without a key goes to any available one."""
    if key is None:
        return random.choice(available or all_partitions)
    return all_partitions[(murmur2(key) & 0x7FFFFFFF) % len(all_partitions)]


def make_producer(settings: Settings, *, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap(settings),
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.kafka.idempotent_producer,
        linger_ms=2,
        partitioner=partition_for,
        request_timeout_ms=settings.kafka.request_timeout_ms,
        metadata_max_age_ms=settings.kafka.metadata_max_age_ms,
        **settings.kafka.client_options(),  # type: ignore[arg-type]
    )


def topic_configs(settings: Settings) -> dict[str, str]:
    """The settings every topic CareLoop creates gets: its history is kept without a time limit
    (``retention.ms=-1``, ``CARELOOP_KAFKA_TOPIC_RETENTION_MS``) and without a size limit, because the
    event history is what reporting is rebuilt from; a broker's default (seven days on Apache Kafka)
    would silently drop the start of it."""
    return {"retention.ms": str(settings.kafka.topic_retention_ms), "retention.bytes": "-1"}


async def ensure_topics(settings: Settings, names: list[str], *, attempts: int = 30) -> None:
    """Create the topics that do not exist yet; waits for the broker to come up."""
    for attempt in range(1, attempts + 1):
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap(settings),
            request_timeout_ms=settings.kafka.request_timeout_ms,
            **settings.kafka.client_options(),  # type: ignore[arg-type]
        )
        try:
            await admin.start()
        except KafkaConnectionError:
            if attempt == attempts:
                raise
            await asyncio.sleep(0.5)
            continue
        try:
            existing = set(await admin.list_topics())
            missing = [n for n in names if n not in existing]
            if missing:
                try:
                    await admin.create_topics(
                        [
                            NewTopic(
                                name,
                                num_partitions=settings.kafka.partitions,
                                replication_factor=settings.kafka.replication_factor,
                                topic_configs=topic_configs(settings),
                            )
                            for name in missing
                        ]
                    )
                except TopicAlreadyExistsError:
                    pass
                log.info("created topics", extra={"topics": missing})
            return
        finally:
            await admin.close()


async def topic_partitions(settings: Settings, name: str) -> list[int]:
    """The partitions of topic ``name`` (full name, prefix included), [] when it does not exist.

    Asked of the cluster by a metadata request that names the topic (the admin client), so it holds
    on Apache Kafka, whose answer to a consumer's topic listing does not fill in that consumer's
    partition metadata, as on the embedded broker (which answers with every topic)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap(settings), request_timeout_ms=settings.kafka.request_timeout_ms,
        **settings.kafka.client_options(),  # type: ignore[arg-type]
    )
    await admin.start()
    try:
        described = await admin.describe_topics([name])
    finally:
        await admin.close()
    for topic in described:
        if topic.get("topic") == name and not topic.get("error_code"):
            return sorted(p["partition"] for p in topic.get("partitions", ()))
    return []


async def topic_history_problems(settings: Settings, names: list[str]) -> dict[str, str]:
    """Topics whose settings would lose event history, each with the reason: missing, or a time or
    size limit on retention (``retention.ms``/``retention.bytes`` other than -1), or a compacting
    cleanup policy. Raises RuntimeError when the broker does not report topic settings."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap(settings), request_timeout_ms=settings.kafka.request_timeout_ms,
        **settings.kafka.client_options(),  # type: ignore[arg-type]
    )
    await admin.start()
    try:
        # presence from the cluster's topic list: some brokers (the embedded one) describe the
        # settings of a topic that does not exist as if it did
        existing = set(await admin.list_topics())
        present = [name for name in names if name in existing]
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in present]) if present else []
    finally:
        await admin.close()
    problems: dict[str, str] = {name: "missing" for name in names if name not in existing}
    seen: set[str] = set()
    for response in responses:
        for error_code, error_message, _type, name, entries in (tuple(r)[:5] for r in response.resources):
            if error_code == UnknownTopicOrPartitionError.errno:
                problems[name] = "missing"
                seen.add(name)
                continue
            if error_code:
                raise RuntimeError(f"the broker did not report the settings of {name}: {error_message or error_code}")
            seen.add(name)
            values = {entry[0]: entry[1] for entry in entries}
            reasons = []
            for key in ("retention.ms", "retention.bytes"):
                value = values.get(key)
                if value is not None and value != "-1":
                    reasons.append(f"{key}={value} (history older or larger than that is deleted)")
            if "compact" in (values.get("cleanup.policy") or ""):
                # compaction keeps only the last record per key: earlier events would be lost
                reasons.append(f"cleanup.policy={values['cleanup.policy']} (older events of a key are removed)")
            if reasons:
                problems[name] = "; ".join(reasons)
    for name in present:
        if name not in seen:
            raise RuntimeError(f"the broker did not report the settings of {name}")
    return problems


async def keep_topic_history(settings: Settings, names: list[str]) -> None:
    """Set the retention of existing topics to :func:`topic_configs` (no limit by default)."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap(settings), request_timeout_ms=settings.kafka.request_timeout_ms,
        **settings.kafka.client_options(),  # type: ignore[arg-type]
    )
    await admin.start()
    try:
        try:
            responses = await admin.alter_configs(
                [ConfigResource(ConfigResourceType.TOPIC, name, topic_configs(settings)) for name in names])
        except IncompatibleBrokerVersion as exc:
            raise RuntimeError("this broker cannot change a topic's settings (AlterConfigs): "
                               "recreate the topic, or change it with the broker's own tools") from exc
        for response in responses:
            for error_code, error_message, *_ in (tuple(r) for r in response.resources):
                if error_code:
                    raise RuntimeError(f"the broker refused to change a topic's retention: {error_message or error_code}")
    finally:
        await admin.close()
