"""Rebuild reporting's views from the topics, without ever putting views built from less history in
place of the live ones.

A rebuild happens in steps an operator can check:

1. ``stage``: every topic the views read is replayed from its start into a new schema
   ``reporting_rebuild_<id>`` (``id`` is the UTC time it began, ``20261203t184055z``). The live
   ``reporting`` schema is not touched.
2. The rebuild is compared with what the live views consumed and with what the producers recorded:

   * per topic and partition: the offsets it read against the live consumer group's committed
     offsets. A topic that is missing, a partition whose earliest offset is above 0 (records were
     deleted: topics are created without a time limit on retention) or whose end offset is below the
     offset the live group had committed is history the rebuild did not see;
   * per event: every event recorded in the live views' inbox must have been read again
     (counted per event type);
   * per producer: every row a producing service's outbox still keeps as published to one of
     these topics must have been read again (outboxes drop published rows after a while, so this
     counts only what is kept; a service whose outbox cannot be read is skipped with a note).

   Each shortfall is listed. A rebuild with a shortfall is *refused*: it stays staged for
   inspection, and it can be swapped in only with ``accept_missing_history``.
3. ``confirm``: the staged schema catches up with anything published since it was built, is checked
   again against the live inbox, takes over the rows that are not derived from events (the outbox,
   the published reports and their revisions, the broker watch), and is renamed to ``reporting``.
   The schema it replaces is kept as ``reporting_previous_<time of the swap>``.
4. ``rollback``: the latest previous schema catches up with what was published since it was set
   aside and is swapped back in (the schema it replaces becomes a previous schema in turn, so a
   rollback can be undone the same way). Previous and staged schemas are dropped with ``drop``.

Every step runs with the reporting service stopped: every running replica holds a shared advisory
lock (:func:`hold_live_lock`) and each step takes it exclusively, so it refuses while any replica
runs and no replica can start during it. A rebuilt schema's inbox holds every replayed event id, so
the service, started again, resumes from its own committed offsets and skips what the replay
applied. Records that cannot be decoded are skipped: they were dead-lettered when they first arrived.

What a staged or previous schema is, what it was built from and the positions it has read to are
kept as JSON in the schema's comment (``COMMENT ON SCHEMA``), so that the steps can run from
separate commands.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

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
from shared.settings import SERVICES, Settings, role_name, to_asyncpg_url
from shared.topics import prefixed, topic_for

log = logging.getLogger(__name__)

CONSUMER = "reporting.views"
STAGED = f"{SERVICE}_rebuild_"
PREVIOUS = f"{SERVICE}_previous_"
#: Rows that no event rebuilds: the swap carries them from the schema it replaces.
CARRIED_OVER = ("outbox", "published_reports", "broker_watch")
_SCAN = "rebuild_scan"  # what the replay read (event id, type, where): dropped at the swap
_NAME = re.compile(rf"^{SERVICE}_(rebuild|previous)_[0-9]{{8}}t[0-9]{{6}}z$")


class RebuildRefused(RuntimeError):
    pass


@dataclass
class PartitionRead:
    topic: str
    partition: int
    earliest: int  # the partition's first offset now
    end: int  # the offset after its last record now
    first_read: int | None  # offsets of the first and last record the replay read
    last_read: int | None
    records: int
    live_committed: int | None  # the live consumer group's committed offset (None: none known)


@dataclass
class RebuildReport:
    rebuild_id: str = ""
    schema: str = ""
    started_at: str = ""
    records: int = 0
    projected: int = 0
    skipped: int = 0
    offsets: dict[str, int] = field(default_factory=dict)  # "topic:partition" -> position reached
    partitions: list[PartitionRead] = field(default_factory=list)
    #: per event type: events read again (distinct ids) and events the live views had applied
    events: dict[str, dict[str, int]] = field(default_factory=dict)
    live_events: int = 0
    live_events_missing: int = 0
    #: per producing service: {"published": n, "missing": m} or {"skipped": why}
    producers: dict[str, dict[str, Any]] = field(default_factory=dict)
    shortfalls: list[str] = field(default_factory=list)
    swapped: bool = False
    previous_schema: str | None = None

    @property
    def complete(self) -> bool:
        return not self.shortfalls

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["complete"] = self.complete
        return out

    def summary(self) -> str:
        """One line in Chinese (then English) saying what was rebuilt from and what happens next."""
        topics = len({p.topic for p in self.partitions})
        head = (f"重建 {self.rebuild_id}：从 {topics} 个主题 {len(self.partitions)} 个分区读取 {self.records} 条记录，"
                f"{sum(v['replayed'] for v in self.events.values())} 个事件（现有视图已处理 {self.live_events} 个）")
        if self.swapped:
            return (f"{head}；已替换现有视图，原视图保留为 {self.previous_schema}"
                    f"（撤回：careloop rebuild-reporting --rollback）。"
                    f" / Swapped in; the previous views are kept as {self.previous_schema}.")
        if self.shortfalls:
            return (f"{head}；历史不完整，拒绝替换现有视图（{len(self.shortfalls)} 项缺失，见 shortfalls）。"
                    f"现有视图未改动；新视图保留在 {self.schema} 供查看，仅在确认接受缺失时才可替换："
                    f"careloop rebuild-reporting --confirm {self.rebuild_id} --accept-missing-history。"
                    f" / Refused: the topics hold less history than the live views consumed; "
                    f"the live views are untouched.")
        return (f"{head}；历史完整。新视图在 {self.schema}，现有视图未改动；"
                f"确认替换：careloop rebuild-reporting --confirm {self.rebuild_id}。"
                f" / Staged; swap it in with --confirm {self.rebuild_id}.")


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


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dt%H%M%Sz")


def _admin_dsn(settings: Settings) -> str:
    if not settings.db.admin_url:
        raise RebuildRefused("重建需要 CARELOOP_DB_ADMIN_URL（它创建并替换 schema） / "
                             "a rebuild needs CARELOOP_DB_ADMIN_URL: it creates and swaps a schema")
    return to_asyncpg_url(settings.db.admin_url).replace("+asyncpg", "")


@asynccontextmanager
async def _exclusive(settings: Settings, wait_idle_s: float) -> AsyncIterator[asyncpg.Connection]:
    """An admin connection holding the live lock exclusively (no reporting replica runs)."""
    conn = await asyncpg.connect(_admin_dsn(settings), **settings.db.connect_args())
    try:
        deadline = asyncio.get_running_loop().time() + wait_idle_s
        while not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", live_lock_key(settings)):
            if asyncio.get_running_loop().time() >= deadline:
                raise RebuildRefused("报表服务正在运行：请先停止所有副本 / "
                                     "the reporting service is running: stop every replica first")
            await asyncio.sleep(0.5)
        yield conn
    finally:
        await conn.close()  # releases the lock


# --- the schemas -------------------------------------------------------------------------------


async def _describe(conn: asyncpg.Connection, schema: str) -> dict[str, Any] | None:
    raw = await conn.fetchval("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = $1",
                              schema)
    return json.loads(raw) if raw else None


async def _set_description(conn: asyncpg.Connection, schema: str, description: dict[str, Any]) -> None:
    text = json.dumps(description, ensure_ascii=False).replace("'", "''")
    await conn.execute(f"COMMENT ON SCHEMA {schema} IS '{text}'")


async def _exists(conn: asyncpg.Connection, schema: str) -> bool:
    return bool(await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema))


async def list_schemas(settings: Settings) -> list[dict[str, Any]]:
    """The staged and previous schemas, newest first, each with what its comment says of it."""
    conn = await asyncpg.connect(_admin_dsn(settings), **settings.db.connect_args())
    try:
        names = [r["nspname"] for r in await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 OR nspname LIKE $2",
            f"{STAGED}%", f"{PREVIOUS}%")]
        out = []
        for name in names:
            if not _NAME.match(name):
                continue
            about = await _describe(conn, name) or {}
            out.append({"schema": name, "kind": "rebuild" if name.startswith(STAGED) else "previous",
                        "at": name.rsplit("_", 1)[1], "complete": about.get("complete"),
                        "shortfalls": len(about.get("shortfalls") or ()), "records": about.get("records")})
        return sorted(out, key=lambda s: s["at"], reverse=True)
    finally:
        await conn.close()


async def drop_schema(settings: Settings, name: str) -> None:
    """Drop a staged or previous schema (never the live one)."""
    if not _NAME.match(name):
        raise RebuildRefused(f"只能删除 {STAGED}… 或 {PREVIOUS}… schema / only a staged or previous schema "
                             f"can be dropped, not {name!r}")
    conn = await asyncpg.connect(_admin_dsn(settings), **settings.db.connect_args())
    try:
        if not await _exists(conn, name):
            raise RebuildRefused(f"schema {name} 不存在 / does not exist")
        await conn.execute(f"DROP SCHEMA {name} CASCADE")
    finally:
        await conn.close()


async def _fresh_schema(settings: Settings, schema: str) -> None:
    """An empty copy of every reporting table (and the migration version) in ``schema``."""
    engine = create_async_engine(to_asyncpg_url(settings.db.admin_url or ""), poolclass=NullPool,
                                 connect_args=settings.db.connect_args())
    # owned by the migration role like the schema it replaces; the service role gets its usual rights
    owner = owner_role_name(SERVICE)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            await conn.execute(sa.text(f"CREATE SCHEMA {schema} AUTHORIZATION {owner}"))
            await conn.execute(sa.text(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC"))
            await conn.execute(sa.text(f"SET LOCAL ROLE {owner}"))
            for table in [*metadata.sorted_tables, sa.table("alembic_version")]:
                await conn.execute(sa.text(
                    f"CREATE TABLE {schema}.{table.name} (LIKE {SERVICE}.{table.name} INCLUDING ALL)"))
            await conn.execute(sa.text(
                f"INSERT INTO {schema}.alembic_version SELECT * FROM {SERVICE}.alembic_version"))
            await conn.execute(sa.text(
                f"CREATE UNLOGGED TABLE {schema}.{_SCAN} (event_id uuid NOT NULL, event_type text NOT NULL, "
                f"topic text NOT NULL, partition integer NOT NULL, \"offset\" bigint NOT NULL)"))
            await grant_service_rights(conn, schema=schema, role=role_name(SERVICE))
    finally:
        await engine.dispose()


# --- reading the topics ------------------------------------------------------------------------


async def _live_committed(settings: Settings, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    """The live consumer group's committed offsets, read by a consumer of the group that does not
    join it (the admin client's OffsetFetch version is one the embedded broker does not answer)."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap(settings), group_id=settings.group_id(CONSUMER),
                              enable_auto_commit=False, **settings.kafka.client_options())  # type: ignore[arg-type]
    await reader.start()
    try:
        out = {}
        for tp in partitions:
            offset = await reader.committed(tp)
            if offset is not None and offset >= 0:
                out[tp] = offset
        return out
    finally:
        await reader.stop()


async def _partitions(settings: Settings) -> tuple[list[TopicPartition], list[str]]:
    """The partitions of every topic the views read, and the topics that do not exist."""
    partitions, missing = [], []
    for topic in reporting_topics(settings):
        # asked by name (the admin client): on Apache Kafka a consumer's topic listing leaves
        # the topic out of its own partition metadata
        found = await topic_partitions(settings, topic)
        if not found:
            missing.append(topic)
        partitions += [TopicPartition(topic, p) for p in found]
    return partitions, missing


async def _replay(settings: Settings, schema: str, *, start: dict[str, int] | None, batch_size: int,
                  admin: asyncpg.Connection, report: RebuildReport) -> dict[TopicPartition, tuple[int, int]]:
    """Apply every record of the views' topics into ``schema``, from ``start`` ("topic:partition" ->
    offset; the beginning where it names none or names an offset the partition no longer has),
    noting each in ``schema``'s scan table when it has one. Returns the (earliest, end) offsets
    found at the start and fills ``report`` with what was read."""
    engine = create_async_engine(
        settings.db.service_url(SERVICE), poolclass=NullPool, connect_args=settings.db.connect_args()
    ).execution_options(schema_translate_map={SERVICE: schema})
    uow_factory = UnitOfWorkFactory(engine, schema=SERVICE)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap(settings), enable_auto_commit=False,
                                auto_offset_reset="earliest",
                                **settings.kafka.client_options())  # type: ignore[arg-type]
    scanning = bool(await admin.fetchval(
        "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = $2", schema, _SCAN))
    partitions, _missing = await _partitions(settings)
    await consumer.start()
    read: dict[TopicPartition, list[int | None]] = {}
    try:
        if not partitions:
            return {}
        consumer.assign(partitions)
        earliest = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            at = (start or {}).get(f"{tp.topic}:{tp.partition}")
            if at is not None and earliest[tp] <= at <= ends[tp]:
                consumer.seek(tp, at)
            else:
                await consumer.seek_to_beginning(tp)
            read[tp] = [None, None, 0]
        # Read until every partition has reached the end offset it had at the start and the
        # topics have gone quiet. (Some Kafka-compatible brokers report end offsets short of the
        # last record of a batch, so the end offset alone is not a safe place to stop.)
        quiet_polls = 0
        while quiet_polls < 2 or any([await consumer.position(tp) < end for tp, end in ends.items()]):
            batch = await consumer.getmany(timeout_ms=1000, max_records=batch_size)
            quiet_polls = 0 if batch else quiet_polls + 1
            if not batch:
                continue
            scanned = []
            async with uow_factory() as uow:
                for tp, records in batch.items():
                    for record in records:
                        report.records += 1
                        seen = read.setdefault(tp, [None, None, 0])
                        seen[0] = record.offset if seen[0] is None else seen[0]
                        seen[1] = record.offset
                        seen[2] = int(seen[2] or 0) + 1
                        try:
                            event = decode_event(record.value or b"")
                        except UndecodableEvent:
                            report.skipped += 1
                            continue
                        scanned.append((event.event_id, event.event_type, tp.topic, tp.partition, record.offset))
                        if event.event_type in HANDLERS and await uow.claim(CONSUMER, event.event_id):
                            await HANDLERS[event.event_type](event, uow)
                            report.projected += 1
                await uow.commit()
            if scanning and scanned:
                await admin.copy_records_to_table(_SCAN, schema_name=schema, records=scanned)
        report.offsets = {f"{tp.topic}:{tp.partition}": await consumer.position(tp) for tp in partitions}
        committed = await _live_committed(settings, partitions)
        # the end is where the replay got to when that is further (see above: brokers that report short)
        report.partitions = [
            PartitionRead(topic=tp.topic, partition=tp.partition, earliest=earliest[tp],
                          end=max(ends[tp], report.offsets[f"{tp.topic}:{tp.partition}"]),
                          first_read=read[tp][0], last_read=read[tp][1], records=int(read[tp][2] or 0),
                          live_committed=committed.get(tp))
            for tp in partitions]
        return {tp: (earliest[tp], ends[tp]) for tp in partitions}
    finally:
        await consumer.stop()
        await engine.dispose()


# --- the comparison ----------------------------------------------------------------------------


async def _outbox_union(conn: asyncpg.Connection, report: RebuildReport) -> str | None:
    """The published outbox rows of every producing service that can be read, as one SQL source
    (service, event_id, event_type, topic); the others are noted in ``report.producers``."""
    parts = []
    for service in SERVICES:
        present = await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 'outbox'",
                                      service)
        if not present:
            report.producers[service] = {"skipped": "没有 outbox 表 / no outbox table"}
            continue
        try:
            await conn.fetchval(f"SELECT 1 FROM {service}.outbox LIMIT 1")
        except asyncpg.PostgresError as exc:
            report.producers[service] = {"skipped": f"无法读取 outbox / outbox not readable: {type(exc).__name__}"}
            continue
        parts.append(f"SELECT '{service}'::text AS service, event_id, event_type, topic FROM {service}.outbox "
                     f"WHERE published_at IS NOT NULL")
    return " UNION ALL ".join(parts) or None


async def _compare(settings: Settings, conn: asyncpg.Connection, schema: str, report: RebuildReport,
                   missing_topics: list[str]) -> None:
    """Fill in ``report.events``, ``producers`` and ``shortfalls`` (see the module's docstring)."""
    shortfalls = report.shortfalls
    for topic in missing_topics:
        shortfalls.append(f"主题 {topic} 不存在 / topic {topic} is missing")
    for p in report.partitions:
        where = f"{p.topic}[{p.partition}]"
        if p.earliest > 0:
            shortfalls.append(f"{where} 最早的偏移量是 {p.earliest}：之前的 {p.earliest} 条记录已被删除 / "
                              f"earliest offset {p.earliest}: the records before it were deleted")
        if p.live_committed is not None and p.end < p.live_committed:
            shortfalls.append(f"{where} 现在只到偏移量 {p.end}，现有视图已消费到 {p.live_committed} / "
                              f"ends at offset {p.end}, below the {p.live_committed} the live views had consumed")
    logical = sorted({topic_for(t) for t in HANDLERS})
    outbox = await _outbox_union(conn, report)
    outbox_types = (f"LEFT JOIN (SELECT DISTINCT event_id, event_type FROM ({outbox}) o) o ON o.event_id = l.event_id"
                    if outbox else "LEFT JOIN (SELECT NULL::uuid AS event_id, NULL::text AS event_type) o ON false")
    replayed = {r["event_type"]: r["n"] for r in await conn.fetch(
        f"SELECT event_type, count(DISTINCT event_id) AS n FROM {schema}.{_SCAN} GROUP BY event_type")}
    live = await conn.fetch(
        f"""SELECT coalesce(s.event_type, o.event_type, '(未知 unknown)') AS event_type, count(*) AS n,
                   count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM {schema}.inbox r
                                                      WHERE r.consumer = l.consumer AND r.event_id = l.event_id))
                     AS missing
            FROM {SERVICE}.inbox l
            LEFT JOIN (SELECT DISTINCT event_id, event_type FROM {schema}.{_SCAN}) s ON s.event_id = l.event_id
            {outbox_types}
            WHERE l.consumer = $1 GROUP BY 1""", CONSUMER)
    types = sorted(set(replayed) | {r["event_type"] for r in live})
    live_by_type = {r["event_type"]: r for r in live}
    report.events = {t: {"replayed": int(replayed.get(t, 0)),
                         "live": int(live_by_type[t]["n"]) if t in live_by_type else 0,
                         "live_missing": int(live_by_type[t]["missing"]) if t in live_by_type else 0}
                     for t in types}
    report.live_events = sum(v["live"] for v in report.events.values())
    report.live_events_missing = sum(v["live_missing"] for v in report.events.values())
    for t, v in report.events.items():
        if v["live_missing"]:
            shortfalls.append(f"现有视图已处理的 {v['live_missing']} 个 {t} 事件不在主题中"
                              f"（主题中有 {v['replayed']} 个，现有视图处理过 {v['live']} 个） / "
                              f"{v['live_missing']} {t} events the live views applied are not on the topics")
    if outbox:
        rows = await conn.fetch(
            f"""SELECT service, topic, count(*) AS published,
                       count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM {schema}.{_SCAN} s
                                                          WHERE s.event_id = o.event_id)) AS missing
                FROM ({outbox}) o WHERE topic = ANY($1::text[]) GROUP BY service, topic ORDER BY service, topic""",
            logical)
        for row in rows:
            counts = report.producers.setdefault(row["service"], {"published": 0, "missing": 0, "topics": {}})
            counts["published"] += row["published"]
            counts["missing"] += row["missing"]
            counts["topics"][row["topic"]] = {"published": row["published"], "missing": row["missing"]}
            if row["missing"]:
                shortfalls.append(f"{row['service']} 的 outbox 记录已发布到 {row['topic']} 的 {row['missing']} 个事件"
                                  f"不在主题中 / {row['missing']} events {row['service']} published to "
                                  f"{row['topic']} are not on the topic")
        for service in SERVICES:
            report.producers.setdefault(service, {"published": 0, "missing": 0, "topics": {}})


# --- the steps ---------------------------------------------------------------------------------


async def stage(settings: Settings, *, batch_size: int = 1000, wait_idle_s: float = 30,
                now: datetime | None = None) -> RebuildReport:
    """Replay every topic into a new ``reporting_rebuild_<id>`` and compare it with the live views;
    the live views are left as they are (see :func:`confirm`)."""
    async with _exclusive(settings, wait_idle_s) as conn:
        return await _stage(settings, conn, batch_size=batch_size, now=now or datetime.now(UTC))


async def _stage(settings: Settings, conn: asyncpg.Connection, *, batch_size: int, now: datetime) -> RebuildReport:
    rebuild_id = _stamp(now)
    schema = f"{STAGED}{rebuild_id}"
    report = RebuildReport(rebuild_id=rebuild_id, schema=schema, started_at=now.astimezone(UTC).isoformat())
    await _fresh_schema(settings, schema)
    _partitions_found, missing = await _partitions(settings)
    await _replay(settings, schema, start=None, batch_size=batch_size, admin=conn, report=report)
    await _compare(settings, conn, schema, report, missing)
    description = report.as_json()
    description["kind"] = "rebuild"
    await _set_description(conn, schema, description)
    log.info("reporting rebuild staged", extra={"schema": schema, "records": report.records,
                                                "projected": report.projected, "skipped": report.skipped,
                                                "shortfalls": len(report.shortfalls)})
    if report.shortfalls:
        log.warning("reporting rebuild refused: the topics hold less history than the live views consumed",
                    extra={"schema": schema, "shortfalls": report.shortfalls})
    return report


async def confirm(settings: Settings, rebuild_id: str, *, accept_missing_history: bool = False,
                  batch_size: int = 1000, wait_idle_s: float = 30, now: datetime | None = None) -> RebuildReport:
    """Swap the staged rebuild ``rebuild_id`` in; the live schema is kept as a previous schema."""
    async with _exclusive(settings, wait_idle_s) as conn:
        return await _confirm(settings, conn, rebuild_id, accept_missing_history=accept_missing_history,
                              batch_size=batch_size, now=now or datetime.now(UTC))


async def _confirm(settings: Settings, conn: asyncpg.Connection, rebuild_id: str, *, accept_missing_history: bool,
                   batch_size: int, now: datetime) -> RebuildReport:
    schema = f"{STAGED}{rebuild_id.lower()}"
    if not _NAME.match(schema) or not await _exists(conn, schema):
        raise RebuildRefused(f"没有待确认的重建 {rebuild_id}（careloop rebuild-reporting --list） / "
                             f"no staged rebuild {rebuild_id}")
    about = await _describe(conn, schema) or {}
    if about.get("shortfalls") and not accept_missing_history:
        raise RebuildRefused(
            f"重建 {rebuild_id} 的历史不完整（{len(about['shortfalls'])} 项缺失），不替换现有视图；"
            f"如确需以缺失的历史替换，请加 --accept-missing-history / rebuild {rebuild_id} was built from "
            f"less history than the live views consumed: not swapped without --accept-missing-history\n"
            + "\n".join(f"  - {s}" for s in about["shortfalls"]))
    await _same_migration(conn, schema)
    # what was published since it was built (the service may have run in between)
    report = RebuildReport(rebuild_id=rebuild_id, schema=schema, started_at=str(about.get("started_at", "")))
    await _replay(settings, schema, start=about.get("offsets"), batch_size=batch_size, admin=conn, report=report)
    missing = await _missing_from(conn, schema)
    if missing and not accept_missing_history:
        raise RebuildRefused(f"现有视图已处理的 {missing} 个事件不在重建中，不替换；请重新构建 / "
                             f"{missing} events the live views applied are not in rebuild {rebuild_id}: "
                             f"not swapped; stage a new rebuild")
    report.events = about.get("events") or {}
    report.live_events = int(about.get("live_events") or 0)
    report.shortfalls = list(about.get("shortfalls") or ())
    report.previous_schema = await _swap_in(settings, conn, schema, now=now)
    report.swapped = True
    # the staged report stays the record of what it was built from; its partitions are the catch-up's
    report.records = int(about.get("records") or 0) + report.records
    log.info("reporting rebuild swapped in", extra={"schema": schema, "previous": report.previous_schema,
                                                    "accepted_missing_history": bool(report.shortfalls)})
    return report


async def rollback(settings: Settings, previous: str | None = None, *, batch_size: int = 1000,
                   wait_idle_s: float = 30, now: datetime | None = None) -> str:
    """Swap the latest previous schema (or ``previous``) back in; returns the name the schema it
    replaces is kept under."""
    async with _exclusive(settings, wait_idle_s) as conn:
        if previous is None:
            names = sorted([r["nspname"] for r in await conn.fetch(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", f"{PREVIOUS}%")
                if _NAME.match(r["nspname"])], reverse=True)
            if not names:
                raise RebuildRefused("没有可撤回的原视图 / there is no previous schema to swap back")
            previous = names[0]
        if not previous.startswith(PREVIOUS) or not _NAME.match(previous) or not await _exists(conn, previous):
            raise RebuildRefused(f"没有原视图 {previous} / no previous schema {previous}")
        await _same_migration(conn, previous)
        about = await _describe(conn, previous) or {}
        # what the live views consumed while this schema was set aside
        await _replay(settings, previous, start=about.get("offsets"), batch_size=batch_size, admin=conn,
                      report=RebuildReport())
        kept = await _swap_in(settings, conn, previous, now=now or datetime.now(UTC))
        log.info("reporting views rolled back", extra={"schema": previous, "previous": kept})
        return kept


async def _same_migration(conn: asyncpg.Connection, schema: str) -> None:
    live = await conn.fetchval(f"SELECT string_agg(version_num, ',') FROM {SERVICE}.alembic_version")
    other = await conn.fetchval(f"SELECT string_agg(version_num, ',') FROM {schema}.alembic_version")
    if live != other:
        raise RebuildRefused(f"{schema} 的数据库版本 {other} 与现有视图的 {live} 不同，请重新构建 / "
                             f"{schema} is at migration {other}, the live views at {live}: stage a new rebuild")


async def _missing_from(conn: asyncpg.Connection, schema: str) -> int:
    """Events in the live views' inbox that ``schema``'s inbox lacks."""
    return int(await conn.fetchval(
        f"SELECT count(*) FROM {SERVICE}.inbox l WHERE l.consumer = $1 AND NOT EXISTS "
        f"(SELECT 1 FROM {schema}.inbox r WHERE r.consumer = l.consumer AND r.event_id = l.event_id)", CONSUMER))


async def _swap_in(settings: Settings, conn: asyncpg.Connection, schema: str, *, now: datetime) -> str:
    """Make ``schema`` the live views, carrying over the rows no event rebuilds; the schema it
    replaces is kept as ``reporting_previous_<now>``, with the live group's committed offsets
    (where a rollback catches up from)."""
    kept = f"{PREVIOUS}{_stamp(now)}"
    if await _exists(conn, kept):
        raise RebuildRefused(f"{kept} 已存在，请稍后再试 / {kept} exists already: try again in a second")
    partitions, _missing = await _partitions(settings)
    committed = await _live_committed(settings, partitions) if partitions else {}
    present = {r["tablename"] for r in await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1", SERVICE)}
    async with conn.transaction():
        for table in CARRIED_OVER:
            if table not in present:
                continue
            await conn.execute(f"DELETE FROM {schema}.{table}")
            await conn.execute(f"INSERT INTO {schema}.{table} OVERRIDING SYSTEM VALUE SELECT * FROM {SERVICE}.{table}")
            for column in await conn.fetch(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 "
                    "AND (is_identity = 'YES' OR column_default LIKE 'nextval%')", schema, table):
                name = column["column_name"]
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{schema}.{table}', '{name}'), "
                    f"coalesce((SELECT max({name}) FROM {schema}.{table}), 0) + 1, false)")
        await conn.execute(f"DROP TABLE IF EXISTS {schema}.{_SCAN}")
        await conn.execute(f"ALTER SCHEMA {SERVICE} RENAME TO {kept}")
        await conn.execute(f"ALTER SCHEMA {schema} RENAME TO {SERVICE}")
        await conn.execute(f"COMMENT ON SCHEMA {SERVICE} IS NULL")
        await _set_description(conn, kept, {
            "kind": "previous", "set_aside_at": now.astimezone(UTC).isoformat(), "replaced_by": schema,
            "offsets": {f"{tp.topic}:{tp.partition}": offset for tp, offset in committed.items()}})
    return kept


async def rebuild(settings: Settings, *, confirm: bool = False, accept_missing_history: bool = False,
                  batch_size: int = 1000, wait_idle_s: float = 30, now: datetime | None = None) -> RebuildReport:
    """Stage a rebuild and, with ``confirm``, swap it in at once when its history is complete (or
    ``accept_missing_history``). Without ``confirm`` the live views are left as they are."""
    async with _exclusive(settings, wait_idle_s) as conn:
        now = now or datetime.now(UTC)
        report = await _stage(settings, conn, batch_size=batch_size, now=now)
        if confirm and (report.complete or accept_missing_history):
            swapped = await _confirm(settings, conn, report.rebuild_id, accept_missing_history=accept_missing_history,
                                     batch_size=batch_size, now=now)
            report.swapped, report.previous_schema = True, swapped.previous_schema
        return report
