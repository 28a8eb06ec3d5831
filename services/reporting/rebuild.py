"""Rebuild reporting's views from the topics: replay every topic from the start into a fresh
schema and swap it in.

Run it with the reporting service stopped: every running replica holds a shared advisory lock
(``LIVE_LOCK``) and the rebuild takes it exclusively, so it refuses while any replica runs and no
replica can start during it. The fresh schema's inbox holds every replayed event id, so the
service, started again, resumes from its own committed offsets and skips what the replay applied.
Records that cannot be decoded are skipped: they were dead-lettered when they first arrived.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import asyncpg
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from services.reporting.config import SERVICE
from services.reporting.handlers import HANDLERS
from services.reporting.models import metadata
from shared.db.migrate import grant_service_rights, owner_role_name
from shared.db.uow import UnitOfWorkFactory
from shared.events import UndecodableEvent, decode_event
from shared.messaging.kafka import bootstrap, topic_partitions
from shared.settings import Settings, role_name, to_asyncpg_url
from shared.topics import prefixed, topic_for

log = logging.getLogger(__name__)

CONSUMER = "reporting.views"
FRESH = "reporting_rebuild"
PREVIOUS = "reporting_previous"


class RebuildRefused(RuntimeError):
    pass


@dataclass
class RebuildReport:
    records: int = 0
    projected: int = 0
    skipped: int = 0
    offsets: dict[str, int] = field(default_factory=dict)


def reporting_topics(settings: Settings) -> list[str]:
    return sorted({prefixed(topic_for(t), settings.topic_prefix) for t in HANDLERS})


def live_lock_key(settings: Settings) -> str:
    return f"careloop:{settings.topic_prefix}reporting:live"


async def hold_live_lock(settings: Settings) -> None:
    """Run by every reporting replica for its lifetime: a shared lock that a rebuild must wait for."""
    conn = await asyncpg.connect(to_asyncpg_url(settings.db.service_url(SERVICE)).replace("+asyncpg", ""),
                                 **settings.db.connect_args())
    try:
        await conn.execute("SELECT pg_advisory_lock_shared(hashtext($1))", live_lock_key(settings))
        await asyncio.Event().wait()
    finally:
        await conn.close()


async def _fresh_schema(settings: Settings) -> None:
    """An empty copy of every reporting table (and the migration version) in ``reporting_rebuild``."""
    engine = create_async_engine(to_asyncpg_url(settings.db.admin_url or ""), poolclass=NullPool,
                                 connect_args=settings.db.connect_args())
    # owned by the migration role like the schema it replaces; the service role gets its usual rights
    owner = owner_role_name(SERVICE)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {FRESH} CASCADE"))
            await conn.execute(sa.text(f"CREATE SCHEMA {FRESH} AUTHORIZATION {owner}"))
            await conn.execute(sa.text(f"REVOKE ALL ON SCHEMA {FRESH} FROM PUBLIC"))
            await conn.execute(sa.text(f"SET LOCAL ROLE {owner}"))
            for table in [*metadata.sorted_tables, sa.table("alembic_version")]:
                await conn.execute(sa.text(
                    f"CREATE TABLE {FRESH}.{table.name} (LIKE {SERVICE}.{table.name} INCLUDING ALL)"))
            await conn.execute(sa.text(
                f"INSERT INTO {FRESH}.alembic_version SELECT * FROM {SERVICE}.alembic_version"))
            await grant_service_rights(conn, schema=FRESH, role=role_name(SERVICE))
    finally:
        await engine.dispose()


async def _swap(settings: Settings) -> None:
    engine = create_async_engine(to_asyncpg_url(settings.db.admin_url or ""), poolclass=NullPool,
                                 connect_args=settings.db.connect_args())
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {PREVIOUS} CASCADE"))
            await conn.execute(sa.text(f"ALTER SCHEMA {SERVICE} RENAME TO {PREVIOUS}"))
            await conn.execute(sa.text(f"ALTER SCHEMA {FRESH} RENAME TO {SERVICE}"))
            await conn.execute(sa.text(f"DROP SCHEMA {PREVIOUS} CASCADE"))
    finally:
        await engine.dispose()


async def rebuild(settings: Settings, *, batch_size: int = 1000, wait_idle_s: float = 30) -> RebuildReport:
    if not settings.db.admin_url:
        raise RebuildRefused("a rebuild needs CARELOOP_DB_ADMIN_URL: it creates and swaps a schema")
    lock = await asyncpg.connect(to_asyncpg_url(settings.db.admin_url).replace("+asyncpg", ""),
                                 **settings.db.connect_args())
    try:
        deadline = asyncio.get_running_loop().time() + wait_idle_s
        while not await lock.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", live_lock_key(settings)):
            if asyncio.get_running_loop().time() >= deadline:
                raise RebuildRefused("the reporting service is running: stop every replica first")
            await asyncio.sleep(0.5)
        return await _replay(settings, batch_size=batch_size)
    finally:
        await lock.close()  # releases the lock


async def _replay(settings: Settings, *, batch_size: int) -> RebuildReport:
    await _fresh_schema(settings)

    engine = create_async_engine(
        settings.db.service_url(SERVICE), poolclass=NullPool, connect_args=settings.db.connect_args()
    ).execution_options(schema_translate_map={SERVICE: FRESH})
    uow_factory = UnitOfWorkFactory(engine, schema=SERVICE)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap(settings), enable_auto_commit=False,
                                auto_offset_reset="earliest",
                                **settings.kafka.client_options())  # type: ignore[arg-type]
    report = RebuildReport()
    await consumer.start()
    try:
        partitions = []
        for topic in reporting_topics(settings):
            # asked by name (the admin client): on Apache Kafka a consumer's topic listing leaves
            # the topic out of its own partition metadata
            for p in await topic_partitions(settings, topic):
                partitions.append(TopicPartition(topic, p))
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        # Read until every partition has reached the end offset it had at the start and the
        # topics have gone quiet. (Some Kafka-compatible brokers report end offsets short of the
        # last record of a batch, so the end offset alone is not a safe place to stop.)
        quiet_polls = 0
        while quiet_polls < 2 or any([await consumer.position(tp) < end for tp, end in ends.items()]):
            batch = await consumer.getmany(timeout_ms=1000, max_records=batch_size)
            quiet_polls = 0 if batch else quiet_polls + 1
            if not batch:
                continue
            async with uow_factory() as uow:
                for records in batch.values():
                    for record in records:
                        report.records += 1
                        try:
                            event = decode_event(record.value or b"")
                        except UndecodableEvent:
                            report.skipped += 1
                            continue
                        if event.event_type in HANDLERS and await uow.claim(CONSUMER, event.event_id):
                            await HANDLERS[event.event_type](event, uow)
                            report.projected += 1
                await uow.commit()
        report.offsets = {f"{tp.topic}:{tp.partition}": await consumer.position(tp) for tp in partitions}
        await _swap(settings)
    finally:
        await consumer.stop()
        await engine.dispose()
    log.info("reporting rebuilt", extra={"records": report.records, "projected": report.projected,
                                         "skipped": report.skipped})
    return report

