"""Kafka clients built from settings: the FastStream broker, a producer, topic creation."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError
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

    The idempotent producer stays off: correctness comes from the outbox and idempotent
    consumers, and some Kafka-compatible brokers (Tansu) do not implement it.
    """
    return KafkaBroker(
        bootstrap(settings),
        client_id=client_id,
        enable_idempotence=False,
        acks="all",
        request_timeout_ms=settings.kafka.request_timeout_ms,
        logger=logging.getLogger(f"careloop.{client_id}.broker"),
        security=settings.kafka.faststream_security(),  # type: ignore[arg-type]
    )


def make_producer(settings: Settings, *, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap(settings),
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
        request_timeout_ms=settings.kafka.request_timeout_ms,
        **settings.kafka.client_options(),  # type: ignore[arg-type]
    )


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
