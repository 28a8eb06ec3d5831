"""The broker history watch: every service notices a broker that lost its history, and re-publishes.

The event history on the broker is the system of record (reporting is rebuilt from it), yet a
broker can lose it: the embedded broker of ``./scripts/dev`` keeps it in memory only and starts
empty after a restart, a topic may be deleted and recreated, a deployment may be pointed at a new
cluster. Each service therefore remembers, per topic partition it publishes to (its outbox relay)
or consumes from (its consumers), **the last record it saw there**: its offset, a fingerprint of
its value (sha256) and the broker's cluster id. They are kept in the service's own
``broker_watch`` table, so a service started after the broker lost its history notices as well.

Every ``CARELOOP_KAFKA_HISTORY_CHECK_INTERVAL_S`` (5 s; 0 turns it off), and once at start before
the relay publishes anything, the service asks the broker for each remembered record. History is
**lost** on a topic when

* the cluster id differs from the one the record was seen on (a new cluster);
* the topic or the partition is gone;
* the offset is out of range, or the partition ends at or before it (offsets back to 0: the
  embedded broker restarted, the topic recreated, retention deleted it);
* another record stands at that offset (the topic recreated and refilled).

Looking the record up, rather than comparing offsets, holds on brokers whose end offsets lag the
last record of a batch (the embedded one) and needs no topic ids (which aiokafka cannot ask for).

When history is lost on some topics the service

1. logs one warning line, ``broker lost event history``, naming the topics and the reason (topic
   names and offsets only, never a record's content);
2. creates the topics again with CareLoop's settings (no retention limit) if they are missing;
3. in one transaction, hands every published row its outbox still keeps (``outbox.published_at``
   within the relay's retention, three days) for those topics back to the relay
   (``published_at = NULL``), in their original order, and forgets the remembered records of those
   topics. The relay sends them again; consumers are idempotent through their inbox, so an event
   they had handled changes nothing and one they had not is handled now. Events older than the
   outbox's retention cannot come back: ``careloop rebuild-reporting`` refuses to rebuild from less
   history than the views had consumed.

Consumers need nothing more: the consumer groups' offsets are lost with the history (or, when a
topic is recreated, lie beyond its end), and the consumers start again from the earliest offset
(``auto_offset_reset="earliest"``), where the re-published events arrive.

Readiness stays **ready** (the service serves and its relay works; taking it out of service would
not bring the history back) and says what happened under ``notes.history_lost``: when, which
topics, why, and how many outbox rows were handed back. ``/health/metrics`` counts detections
(``careloop_broker_history_lost_total``) and rows handed back (``careloop_outbox_republished_total``).

Events published after the broker came back but before the check noticed (a few seconds) reach
the consumers ahead of the older ones that are re-published; handlers already accept events out of
order and twice (the fault suite's duplicates-and-disorder scenario).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka import errors as kafka_errors
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared.db.tables import history_watch_table
from shared.db.uow import UnitOfWorkFactory
from shared.messaging.kafka import bootstrap, ensure_topics
from shared.settings import Settings

log = logging.getLogger(__name__)


def fingerprint(value: bytes | None) -> str:
    """What identifies a record's value (its first 32 hex digits of sha256)."""
    return hashlib.sha256(value or b"").hexdigest()[:32]


@dataclass(frozen=True)
class Seen:
    topic: str
    partition: int
    offset: int
    fingerprint: str
    cluster_id: str | None = None


class HistoryWatch:
    def __init__(self, *, service: str, settings: Settings, uow_factory: UnitOfWorkFactory,
                 relay: Any | None = None, fetch_timeout_s: float = 5.0) -> None:
        self.service = service
        self._settings = settings
        self._engine = uow_factory.engine
        self._outbox = uow_factory.outbox
        self._table = history_watch_table(uow_factory.metadata)
        self._prefix = settings.topic_prefix
        self._relay = relay
        self._fetch_timeout_s = fetch_timeout_s
        self._pending: dict[tuple[str, int], tuple[int, bytes | None]] = {}
        self.cluster_id: str | None = None
        self.detections = 0
        self.republished = 0
        self.last_loss: dict[str, Any] | None = None
        self._lock = asyncio.Lock()

    # --- what the relay and the consumers saw (cheap: the last record per partition) ------------

    def saw_delivered(self, delivered: Sequence[tuple[Any, bytes | None]]) -> None:
        """The relay's acknowledged records: (RecordMetadata, value) in the order sent."""
        for metadata, value in delivered:
            self._pending[(metadata.topic, metadata.partition)] = (metadata.offset, value)

    def saw_records(self, records: Iterable[Any]) -> None:
        """A consumer's handled batch (ConsumerRecords)."""
        for record in records:
            if not isinstance(getattr(record, "offset", None), int):
                continue  # an in-memory test broker's stand-in
            key = (record.topic, record.partition)
            known = self._pending.get(key)
            if known is None or record.offset >= known[0]:
                self._pending[key] = (record.offset, record.value)

    # --- the check --------------------------------------------------------------------------------

    async def flush(self) -> None:
        """Write what was seen since the last time into ``broker_watch`` (the latest wins)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        rows = [{"topic": topic, "partition": partition, "offset": offset, "fingerprint": fingerprint(value),
                 "cluster_id": self.cluster_id} for (topic, partition), (offset, value) in pending.items()]
        statement = pg_insert(self._table).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=["topic", "partition"],
            set_={"offset": statement.excluded.offset, "fingerprint": statement.excluded.fingerprint,
                  "cluster_id": statement.excluded.cluster_id, "seen_at": sa.func.now()})
        try:
            async with self._engine.begin() as conn:
                await conn.execute(statement)
        except BaseException:
            for key, seen in pending.items():  # kept for the next time (unless newer came meanwhile)
                self._pending.setdefault(key, seen)
            raise

    async def remembered(self) -> list[Seen]:
        t = self._table
        async with self._engine.connect() as conn:
            rows = (await conn.execute(sa.select(t.c.topic, t.c.partition, t.c.offset, t.c.fingerprint,
                                                 t.c.cluster_id))).all()
        return [Seen(*row) for row in rows]

    async def check(self) -> dict[str, str]:
        """One check; returns the topics whose history was lost (topic -> reason), {} when intact.
        Raises when the broker or the database cannot be asked (nothing is concluded then)."""
        async with self._lock:
            await self.flush()  # with the cluster id of the last check: what they were seen on
            seen = await self.remembered()
            cluster_id, described = await self._describe(sorted({s.topic for s in seen}))
            self.cluster_id = cluster_id
            lost: dict[str, str] = {}
            to_fetch: list[Seen] = []
            for s in seen:
                if s.cluster_id and cluster_id and s.cluster_id != cluster_id:
                    lost.setdefault(s.topic, f"the cluster id changed ({s.cluster_id} -> {cluster_id})")
                elif s.topic not in described:
                    lost.setdefault(s.topic, "the topic is missing")
                elif s.partition not in described[s.topic]:
                    lost.setdefault(s.topic, f"partition {s.partition} is missing")
                else:
                    to_fetch.append(s)
            for s, reason in (await self._look_up([s for s in to_fetch if s.topic not in lost])).items():
                lost.setdefault(s.topic, reason)
            if lost:
                await self._history_lost(lost)
            return lost

    async def _describe(self, topics: list[str]) -> tuple[str | None, dict[str, set[int]]]:
        """The cluster id and, for ``topics`` (by name), the partitions of those that exist."""
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap(self._settings), request_timeout_ms=self._settings.kafka.request_timeout_ms,
            **self._settings.kafka.client_options(),  # type: ignore[arg-type]
        )
        await admin.start()
        try:
            cluster = await admin.describe_cluster()
            existing = set(await admin.list_topics())  # some brokers describe an absent topic as present
            present = [t for t in topics if t in existing]
            described = await admin.describe_topics(present) if present else []
        finally:
            await admin.close()
        partitions = {d["topic"]: {p["partition"] for p in d.get("partitions", ())}
                      for d in described if not d.get("error_code")}
        return cluster.get("cluster_id"), partitions

    async def _look_up(self, seen: list[Seen]) -> dict[Seen, str]:
        """Fetch each remembered record; the ones that are gone, with the reason."""
        if not seen:
            return {}
        by_tp = {TopicPartition(s.topic, s.partition): s for s in seen}
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap(self._settings), enable_auto_commit=False, auto_offset_reset="none",
            request_timeout_ms=self._settings.kafka.request_timeout_ms,
            **self._settings.kafka.client_options(),  # type: ignore[arg-type]
        )
        await consumer.start()
        gone: dict[Seen, str] = {}
        try:
            consumer.assign(list(by_tp))
            for tp, s in by_tp.items():
                consumer.seek(tp, s.offset)
            waiting = set(by_tp)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._fetch_timeout_s
            while waiting and loop.time() < deadline:
                try:
                    batch = await consumer.getmany(*waiting, timeout_ms=500, max_records=len(waiting) * 5)
                except kafka_errors.OffsetOutOfRangeError as exc:
                    out = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
                    for tp in out:
                        if tp in waiting:
                            s = by_tp[tp]
                            gone[s] = f"offset {s.offset} of partition {s.partition} is out of range"
                            waiting.discard(tp)
                            consumer.pause(tp)
                    if not out:
                        raise
                    continue
                for tp, records in batch.items():
                    if tp not in waiting or not records:
                        continue
                    s = by_tp[tp]
                    first = records[0]
                    if first.offset != s.offset:
                        gone[s] = (f"partition {s.partition} holds no record at offset {s.offset} "
                                   f"(the next is at {first.offset})")
                    elif fingerprint(first.value) != s.fingerprint:
                        gone[s] = f"another record stands at offset {s.offset} of partition {s.partition}"
                    waiting.discard(tp)
                    consumer.pause(tp)
            if waiting:
                ends = await consumer.end_offsets(list(waiting))
                for tp in waiting:
                    s = by_tp[tp]
                    if ends.get(tp, 0) <= s.offset:
                        gone[s] = f"partition {s.partition} ends at offset {ends.get(tp, 0)}, before {s.offset}"
                    # otherwise the record is there but did not come in time: nothing concluded
        finally:
            await consumer.stop()
        return gone

    async def _history_lost(self, lost: dict[str, str]) -> None:
        log.warning("broker lost event history: the outbox re-publishes what it keeps",
                    extra={"service": self.service, "topics": dict(sorted(lost.items())),
                           "cluster_id": self.cluster_id})
        with contextlib.suppress(Exception):  # the relay recreates them by sending otherwise
            await ensure_topics(self._settings, sorted(lost), attempts=3)
        logical = [t[len(self._prefix):] if self._prefix and t.startswith(self._prefix) else t for t in lost]
        ob, t = self._outbox, self._table
        async with self._engine.begin() as conn:
            await conn.execute(sa.delete(t).where(t.c.topic.in_(sorted(lost))))
            result = await conn.execute(
                sa.update(ob)
                .where(ob.c.published_at.is_not(None), ob.c.parked_at.is_(None), ob.c.topic.in_(logical))
                .values(published_at=None))
        handed_back = result.rowcount or 0
        for key in [key for key in self._pending if key[0] in lost]:
            # seen on the old history (or on the new one before the re-published rows): the relay
            # and the consumers remember the new history as it comes in
            del self._pending[key]
        self.detections += 1
        self.republished += handed_back
        self.last_loss = {"detected_at": datetime.now(UTC).isoformat(), "topics": dict(sorted(lost.items())),
                          "outbox_rows_republished": handed_back, "cluster_id": self.cluster_id}
        log.warning("outbox rows handed back to the relay after the broker lost its history",
                    extra={"service": self.service, "rows": handed_back, "topics": sorted(lost)})
        if self._relay is not None:
            self._relay.wake()

    # --- running --------------------------------------------------------------------------------

    async def check_at_start(self, *, timeout_s: float = 15.0) -> None:
        """The first check, before the relay publishes anything (so that re-published events go
        out ahead of new ones); a broker or database not yet up is left to the periodic check."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(timeout_s):
                await self.check()

    async def run(self) -> None:
        interval = self._settings.kafka.history_check_interval_s
        while True:
            await asyncio.sleep(interval)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker or the database is down: the relay says so
                log.debug("broker history check skipped", extra={"error": repr(exc)[:300]})

    def readiness_note(self) -> dict[str, Any]:
        """Readiness stays ready; this says the broker lost history and what was re-published."""
        if not self.detections:
            return {}
        return {"detections_since_start": self.detections, "outbox_rows_republished": self.republished,
                "last": self.last_loss}

    def metrics_lines(self) -> list[str]:
        service = self.service
        return ["# HELP careloop_broker_history_lost_total times this replica found the broker had lost event history",
                "# TYPE careloop_broker_history_lost_total counter",
                f'careloop_broker_history_lost_total{{service="{service}"}} {self.detections}',
                "# HELP careloop_outbox_republished_total outbox rows handed back to the relay after a history loss",
                "# TYPE careloop_outbox_republished_total counter",
                f'careloop_outbox_republished_total{{service="{service}"}} {self.republished}']
