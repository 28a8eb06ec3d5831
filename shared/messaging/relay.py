"""The outbox relay: publishes committed outbox rows to Kafka, at least once, in id order.

Several replicas of a service may run relays side by side: each claims a batch of unpublished
rows with ``FOR UPDATE SKIP LOCKED``, publishes them, waits for the broker's acknowledgement of
every record, and marks them published in the same transaction. If the broker fails, the
transaction rolls back and the rows stay for the next attempt. A crash after the broker
acknowledged but before the mark is committed publishes those rows again: consumers dedupe on
``event_id``.

A row the broker refuses *for good* (too large for it, an invalid or forbidden topic, a corrupt
record: :func:`refused_for_good`) is **parked**: ``parked_at`` and ``parked_reason`` are set on it in
the same transaction that marks the rest of its batch published, so it never blocks the rows behind
it and is never sent again by itself. ``careloop dlq parked`` lists parked rows and ``careloop dlq
unpark ID`` puts one back in line after the cause is fixed. A parked row does not make the relay
unhealthy (readiness notes it under ``notes.outbox_parked``) and is counted in
``careloop_outbox_parked_total`` (``GET /metrics``). Any other error (broker or database down, a
timeout) rolls the whole batch back for the next attempt, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from aiokafka import AIOKafkaProducer
from aiokafka import errors as kafka_errors

from shared.db.uow import UnitOfWorkFactory, driver_statement, takes_driver_statements

log = logging.getLogger(__name__)

#: Errors after which sending the same record again can never succeed.
_REFUSED_FOR_GOOD: tuple[type[BaseException], ...] = (
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordTooLargeError,
    kafka_errors.RecordListTooLargeError,
    kafka_errors.InvalidTopicError,
    kafka_errors.TopicAuthorizationFailedError,
    kafka_errors.CorruptRecordException,
)
#: Kafka's legal topic names (an illegal one is never created, so its row would wait for ever).
_LEGAL_TOPIC = re.compile(r"[a-zA-Z0-9._-]{1,249}")


def refused_for_good(error: BaseException) -> bool:
    """True when the broker (or the client on its behalf) refuses the record whatever we do."""
    return isinstance(error, _REFUSED_FOR_GOOD)


class _IllegalTopic(kafka_errors.InvalidTopicError):
    pass



class OutboxRelay:
    def __init__(
        self,
        *,
        uow_factory: UnitOfWorkFactory,
        producer: AIOKafkaProducer,
        topic_prefix: str,
        batch_size: int = 500,
        poll_interval_s: float = 0.2,
        max_backoff_s: float = 5.0,
        retention: timedelta = timedelta(days=3),
    ) -> None:
        self._engine = uow_factory.engine
        self._outbox = uow_factory.outbox
        self._producer = producer
        self._prefix = topic_prefix
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._max_backoff_s = max_backoff_s
        self._retention = retention
        ob = self._outbox
        self._claim = (
            sa.select(ob.c.id, ob.c.topic, ob.c.key, ob.c.payload, sa.cast(ob.c.headers, sa.Text),
                      ob.c.forget_after_publish)
            .where(ob.c.published_at.is_(None), ob.c.parked_at.is_(None))
            .order_by(ob.c.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        self._park = sa.update(ob).where(ob.c.id == sa.bindparam("park_id", type_=sa.BigInteger)).values(
            parked_at=sa.func.now(), parked_reason=sa.bindparam("reason", type_=sa.Text))
        self._mark = sa.update(ob).where(ob.c.id == sa.func.any(sa.bindparam("ids", type_=ARRAY(sa.BigInteger)))).values(
            published_at=sa.func.now())
        # rows an erasure marked while they waited: sent (others need the event), then not kept
        self._forget = sa.delete(ob).where(ob.c.id == sa.func.any(sa.bindparam("ids", type_=ARRAY(sa.BigInteger))))
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self.parked = 0  # rows this relay parked since it started (careloop_outbox_parked_total)
        self.last_parked: dict[str, Any] | None = None
        self.healthy = True
        #: Told of every acknowledged record (RecordMetadata, value) per batch (the history watch).
        self.on_delivered: Callable[[list[tuple[Any, bytes | None]]], None] | None = None
        uow_factory.on_outbox_write(self.wake)

    def wake(self) -> None:
        self._wakeup.set()

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows it took (published or parked)."""
        parked: dict[int, str] = {}
        async with self._engine.connect() as conn:
            if takes_driver_statements(conn):
                # On the driver's own connection and transaction: the rows as they are (no
                # SQLAlchemy row machinery for a batch of 500), marked with one array parameter.
                driver = (await conn.get_raw_connection()).driver_connection
                try:
                    async with driver.transaction():
                        rows = await driver.fetch(*self._driver_form(self._claim, conn, {}))
                        if rows:
                            parked = await self._publish(rows)
                            for row_id, reason in parked.items():
                                await driver.execute(*self._driver_form(
                                    self._park, conn, {"park_id": row_id, "reason": reason}))
                            await driver.execute(*self._driver_form(
                                self._mark, conn, {"ids": [row[0] for row in rows if row[0] not in parked]}))
                            if forget := [row[0] for row in rows if row[5] and row[0] not in parked]:
                                await driver.execute(*self._driver_form(self._forget, conn, {"ids": forget}))
                except BaseException:
                    # SQLAlchemy did not see this error (nor a cancellation mid-transaction): the
                    # connection may be dead or still in the transaction, so it is not pooled again.
                    await conn.invalidate()
                    raise
            else:
                async with conn.begin():
                    rows = (await conn.execute(self._claim)).all()
                    if rows:
                        parked = await self._publish(rows)
                        for row_id, reason in parked.items():
                            await conn.execute(self._park, {"park_id": row_id, "reason": reason})
                        await conn.execute(self._mark, {"ids": [row[0] for row in rows if row[0] not in parked]})
                        if forget := [row[0] for row in rows if row[5] and row[0] not in parked]:
                            await conn.execute(self._forget, {"ids": forget})
        if rows and parked:
            self._note_parked(rows, parked)
        self.published += len(rows) - (len(parked) if rows else 0)
        return len(rows)

    async def _publish(self, rows: Sequence[Any]) -> dict[int, str]:
        """Send every row (id, topic, key, payload, headers as JSON text) and wait for the broker's
        acknowledgement of each. Returns the rows refused for good (id -> reason) to be parked;
        raises on any other failure (the batch is then tried again whole)."""
        send, prefix = self._producer.send, self._prefix
        parked: dict[int, str] = {}
        deliveries: list[tuple[int, Any]] = []
        for row_id, topic, key, payload, headers, *_ in rows:
            try:
                if not _LEGAL_TOPIC.fullmatch(prefix + topic):
                    raise _IllegalTopic(f"illegal topic name {prefix + topic!r}")
                future = await send(
                    prefix + topic,
                    value=payload,
                    key=key.encode() if key is not None else None,
                    headers=[(name, str(value).encode()) for name, value in json.loads(headers or "{}").items()],
                )
            except Exception as exc:
                if not refused_for_good(exc):
                    raise
                parked[row_id] = self._reason(exc, payload)
                continue
            deliveries.append((row_id, future))
        outcomes = await asyncio.gather(*(future for _id, future in deliveries), return_exceptions=True)
        failure: BaseException | None = None
        for (row_id, _future), outcome in zip(deliveries, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if refused_for_good(outcome):
                    parked[row_id] = self._reason(outcome, None)
                elif failure is None:
                    failure = outcome
        if failure is not None:
            raise failure
        if self.on_delivered is not None and deliveries:  # the broker history watch (shared.messaging.history)
            values = {row[0]: row[3] for row in rows}
            self.on_delivered([(outcome, values[row_id]) for (row_id, _f), outcome in zip(deliveries, outcomes, strict=True)
                               if not isinstance(outcome, BaseException)])
        return parked

    @staticmethod
    def _reason(error: BaseException, payload: bytes | None) -> str:
        size = f" ({len(payload)} bytes)" if payload is not None else ""
        return f"{type(error).__name__}: {error}{size}"[:500]

    def _note_parked(self, rows: Sequence[Any], parked: dict[int, str]) -> None:
        self.parked += len(parked)
        topics = {row[0]: row[1] for row in rows}
        for row_id, reason in parked.items():
            self.last_parked = {"id": row_id, "topic": topics.get(row_id), "reason": reason,
                                "at": datetime.now(UTC).isoformat()}
            # The reason names the error and the size, never the payload.
            log.error("outbox row parked: the broker refuses it for good",
                      extra={"outbox_id": row_id, "topic": topics.get(row_id), "reason": reason[:300]})

    def readiness_note(self) -> dict[str, Any]:
        """What readiness says about parked rows (a note, never red: the rows behind them flow)."""
        if not self.parked:
            return {}
        return {"parked_since_start": self.parked, "last": self.last_parked,
                "see": "careloop dlq parked"}

    @staticmethod
    def _driver_form(statement: Any, conn: Any, params: dict[str, Any]) -> tuple[Any, ...]:
        """The driver's SQL and arguments for one of the relay's statements."""
        sql, args = driver_statement(statement, conn.dialect, params)
        return sql, *args

    async def _record_failure(self, error: BaseException) -> None:
        """Note the error on the oldest waiting rows so an operator can see why they wait."""
        with contextlib.suppress(Exception):
            ob = self._outbox
            async with self._engine.begin() as conn:
                oldest = (
                    sa.select(ob.c.id)
                    .where(ob.c.published_at.is_(None), ob.c.parked_at.is_(None))
                    .order_by(ob.c.id)
                    .limit(self._batch_size)
                    .scalar_subquery()
                )
                await conn.execute(
                    sa.update(ob)
                    .where(ob.c.id.in_(oldest))
                    .values(attempts=ob.c.attempts + 1, last_error=f"{type(error).__name__}: {error}"[:500])
                )

    async def purge_published(self) -> int:
        cutoff = datetime.now(UTC) - self._retention
        async with self._engine.begin() as conn:
            result = await conn.execute(
                sa.delete(self._outbox).where(self._outbox.c.published_at < cutoff)
            )
        return result.rowcount or 0

    async def run(self) -> None:
        backoff = self._poll_interval_s
        last_purge = 0.0
        loop = asyncio.get_running_loop()
        while True:
            self._wakeup.clear()
            try:
                published = await self.relay_once()
                self.healthy = True
                backoff = self._poll_interval_s
                if loop.time() - last_purge > 3600:
                    last_purge = loop.time()
                    await self.purge_published()
                if published >= self._batch_size:
                    continue  # more may be waiting
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database down: keep the rows, back off, retry
                self.healthy = False
                log.warning("outbox relay failed; rows kept for retry", extra={"error": repr(exc)[:300]})
                await self._record_failure(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._poll_interval_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def _drain(self) -> None:
        while await self.relay_once():
            pass

    async def stop(self, *, drain: bool = True) -> None:
        if drain:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._drain(), timeout=5)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
