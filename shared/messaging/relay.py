"""The outbox relay: publishes committed outbox rows to Kafka, at least once, in id order.

Several replicas of a service may run relays side by side: each claims a batch of unpublished
rows with ``FOR UPDATE SKIP LOCKED``, publishes them, waits for the broker's acknowledgement of
every record, and marks them published in the same transaction. If the broker fails, the
transaction rolls back and the rows stay for the next attempt. A crash after the broker
acknowledged but before the mark is committed publishes those rows again: consumers dedupe on
``event_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from aiokafka import AIOKafkaProducer

from shared.db.uow import UnitOfWorkFactory, driver_statement, takes_driver_statements

log = logging.getLogger(__name__)


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
            sa.select(ob.c.id, ob.c.topic, ob.c.key, ob.c.payload, sa.cast(ob.c.headers, sa.Text))
            .where(ob.c.published_at.is_(None))
            .order_by(ob.c.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        self._mark = sa.update(ob).where(ob.c.id == sa.func.any(sa.bindparam("ids", type_=ARRAY(sa.BigInteger)))).values(
            published_at=sa.func.now())
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self.healthy = True
        uow_factory.on_outbox_write(self.wake)

    def wake(self) -> None:
        self._wakeup.set()

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows it published."""
        async with self._engine.connect() as conn:
            if takes_driver_statements(conn):
                # On the driver's own connection and transaction: the rows as they are (no
                # SQLAlchemy row machinery for a batch of 500), marked with one array parameter.
                driver = (await conn.get_raw_connection()).driver_connection
                try:
                    async with driver.transaction():
                        rows = await driver.fetch(*self._driver_form(self._claim, conn, {}))
                        if rows:
                            await self._publish(rows)
                            await driver.execute(*self._driver_form(self._mark, conn, {"ids": [row[0] for row in rows]}))
                except BaseException:
                    # SQLAlchemy did not see this error (nor a cancellation mid-transaction): the
                    # connection may be dead or still in the transaction, so it is not pooled again.
                    await conn.invalidate()
                    raise
            else:
                async with conn.begin():
                    rows = (await conn.execute(self._claim)).all()
                    if rows:
                        await self._publish(rows)
                        await conn.execute(self._mark, {"ids": [row[0] for row in rows]})
        self.published += len(rows)
        return len(rows)

    async def _publish(self, rows: Sequence[Any]) -> None:
        """Send every row (id, topic, key, payload, headers as JSON text) and wait for the broker's
        acknowledgement of each; raises if any was refused."""
        send, prefix = self._producer.send, self._prefix
        deliveries = [
            await send(
                prefix + topic,
                value=payload,
                key=key.encode() if key is not None else None,
                headers=[(name, str(value).encode()) for name, value in json.loads(headers or "{}").items()],
            )
            for _id, topic, key, payload, headers in rows
        ]
        await asyncio.gather(*deliveries)

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
                    .where(ob.c.published_at.is_(None))
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
