"""Run services in-process against real infrastructure, and read what they publish."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from shared.db.migrate import migrate_service
from shared.messaging.kafka import bootstrap, ensure_topics, make_producer, topic_partitions
from shared.settings import Settings
from shared.testing.auth import operator_headers, test_auth_env
from shared.topics import all_topics, topic_for

T = TypeVar("T")


async def migrate(settings: Settings, services: Iterable[str]) -> None:
    await ensure_topics(settings, all_topics(settings.topic_prefix))
    for service in services:
        await migrate_service(settings, service)


@contextlib.asynccontextmanager
async def running_service(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Start a service app (broker, consumers, relay) and give an HTTP client bound to it.

    The client carries the test operator's token (every role, every group); pass other
    ``headers=`` (``shared.testing.auth.bearer(...)``) per request to act as someone else."""
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service",
                                     headers=operator_headers()) as client:
            yield client


async def eventually(
    probe: Callable[[], Awaitable[T]], *, until: Callable[[T], bool], timeout: float = 20, every: float = 0.1
) -> T:
    """Poll ``probe`` until ``until(result)``; returns the last result or fails with it."""
    deadline = time.monotonic() + timeout
    result = await probe()
    while not until(result):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last result: {result!r}")
        await asyncio.sleep(every)
        result = await probe()
    return result


async def read_topic(
    settings: Settings,
    topic: str,
    *,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    timeout: float = 30,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` (prefixed) from the beginning, read without a consumer group."""
    name = f"{settings.topic_prefix}{topic}"
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap(settings), enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        partitions = await topic_partitions(settings, name)
        deadline = time.monotonic() + timeout
        while not partitions:
            if time.monotonic() > deadline:
                raise AssertionError(f"topic {name} does not exist")
            await asyncio.sleep(0.1)
            partitions = await topic_partitions(settings, name)
        consumer.assign([TopicPartition(name, p) for p in sorted(partitions)])
        await consumer.seek_to_beginning()
        while not until(records):
            if time.monotonic() > deadline:
                raise AssertionError(f"{name}: condition not met within {timeout}s; {len(records)} records")
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
    finally:
        await consumer.stop()
    return records


def event_json(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    return json.loads(record.value)  # type: ignore[arg-type]


async def publish_raw(
    settings: Settings, topic: str, value: bytes, *, key: bytes | None = None,
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    """Publish bytes as another system would (prefix applied), waiting for the broker's ack."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap(settings), enable_idempotence=False, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(f"{settings.topic_prefix}{topic}", value=value, key=key, headers=headers or [])
    finally:
        await producer.stop()


def service_env(settings: Settings, service: str, port: int) -> dict[str, str]:
    """The environment that makes ``careloop serve <service>`` use this test's infrastructure."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARELOOP_", "KAFKA_"))}
    env.update({
        "CARELOOP_ENVIRONMENT": "test",
        "CARELOOP_TOPIC_PREFIX": settings.topic_prefix,
        "CARELOOP_KAFKA_BOOTSTRAP_SERVERS": bootstrap(settings),
        "CARELOOP_KAFKA_IDEMPOTENT_PRODUCER": str(settings.kafka.idempotent_producer).lower(),
        # its own role's URL: the admin URL stays with the migration step (the test itself)
        f"CARELOOP_DB_URL_{service.upper()}": settings.db.service_url(service),
        f"CARELOOP_PORT_{service.upper()}": str(port),
        **test_auth_env(),
        "CARELOOP_RELAY_POLL_INTERVAL_S": "0.05",
        "CARELOOP_CONSUMER_FETCH_MAX_WAIT_MS": str(settings.consumer_fetch_max_wait_ms),
        "CARELOOP_LOG_LEVEL": "WARNING",
    })
    return env


async def spawn_service(settings: Settings, service: str, *, port: int, timeout: float = 60) -> subprocess.Popen[bytes]:
    """Run a service as its own process (as operators do) and wait until it is ready."""
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "shared.cli", "serve", service],
                            env=service_env(settings, service, port), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"{service} exited with code {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"http://127.0.0.1:{port}/health/ready", timeout=1)).status_code == 200:
                    return proc
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"{service} was not ready within {timeout}s")
            await asyncio.sleep(0.2)


async def publish_events(settings: Settings, events: Iterable[Any]) -> None:
    """Send events to their topics as a producing service's relay would (keyed by aggregate)."""
    producer = make_producer(settings, client_id="test")
    await producer.start()
    try:
        for event in events:
            await producer.send(f"{settings.topic_prefix}{topic_for(event.event_type)}", event.to_json(), key=event.key)
        await producer.flush()
    finally:
        await producer.stop()
