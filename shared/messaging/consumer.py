"""Idempotent, bounded-retry event consumption with a dead-letter path.

One :class:`EventConsumer` per service subscribes to every topic the service reads, in the
service's own consumer group. For each batch the broker hands over:

1. every record is decoded (JSON → upcast → pydantic); one that fails goes to ``<topic>.dlq`` at
   once with the reason;
2. the valid events are applied in one transaction, each guarded by the inbox row
   ``(consumer, event_id)`` so a redelivered event changes nothing; consecutive events of a type
   with a *batch handler* are applied together by it (set-based, with the same effects). Steps 1 and 2 go a chunk of
   records at a time: one inbox statement per chunk (:meth:`UnitOfWork.claim_many`, the one way
   into the inbox), and the next chunk is decoded while the database applies the rows the
   handlers deferred (:meth:`UnitOfWork.defer`);
3. if that transaction fails for a reason that is not the infrastructure's, the events are applied
   one at a time with bounded, backed-off retries, and an event that still fails is dead-lettered
   with the error, the original topic/partition/offset and the consumer in its headers;
   A record larger than ``max_record_bytes`` (``CARELOOP_INBOUND_MAX_RECORD_BYTES``) is not even
   decoded: it is dead-lettered at once as ``too-large``;
4. dead letters are written through the outbox in a transaction of their own (so a crash never
   loses nor doubles one), and only then is the batch acknowledged (offsets committed).

An infrastructure failure (database unreachable, serialization conflict) is never dead-lettered:
the batch is rewound (``AckPolicy.NACK_ON_ERROR`` seeks back) and tried again after a pause, so no
offset ever moves past work that was not committed.

A dead letter never carries an unbounded copy of its record: up to ``copy_max_bytes``
(``CARELOOP_DLQ_COPY_MAX_BYTES``) the record goes whole (so ``careloop dlq replay`` can send it
again); a larger one carries only its first ``excerpt_bytes`` (``CARELOOP_DLQ_EXCERPT_BYTES``) with
``x-dlq-excerpt: true``. Every letter names its record by reference: ``x-original-topic``,
``-partition``, ``-offset``, ``x-original-size`` (bytes) and ``x-original-sha256``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import exc as sa_exc

from shared.db.uow import OutboxMessage, UnitOfWork, UnitOfWorkFactory
from shared.events import Event, UndecodableEvent, decode_event
from shared.logging import reset_correlation_id, set_correlation_id
from shared.topics import dead_letter

log = logging.getLogger(__name__)

Handler = Callable[[Event, UnitOfWork], Awaitable[None]]
#: Applies several consecutive events of one type at once, with the effects of its type's
#: :data:`Handler` applied to each in turn (set-based: fewer statements for the same result).
BatchHandler = Callable[[Sequence[Event], UnitOfWork], Awaitable[None]]

DLQ_NAMESPACE = uuid.UUID("6f1c2a7e-5b8e-4c1e-9a55-2f3f1c0d9e11")


class PermanentError(Exception):
    """An event that can never be applied (a broken invariant): dead-letter it without retrying."""


def is_transient(error: BaseException) -> bool:
    """Infrastructure trouble that retrying later will fix; such events are never dead-lettered."""
    if isinstance(error, OSError | TimeoutError | ConnectionError):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        orig = getattr(error, "orig", None)
        sqlstate = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
        # 40001 serialization failure, 40P01 deadlock, 08xxx connection, 57P0x shutdown, 53xxx resources
        if sqlstate and (sqlstate in ("40001", "40P01") or sqlstate[:2] in ("08", "53", "57")):
            return True
        return isinstance(error, sa_exc.InterfaceError | sa_exc.OperationalError) and sqlstate is None
    return isinstance(error, sa_exc.DisconnectionError | sa_exc.TimeoutError)


@dataclass
class DeadLetter:
    record: ConsumerRecord[Any, Any]
    kind: str  # "schema-invalid" | "handler-failed" | "rejected-source" | "too-large"
    reason: str
    attempts: int
    event_id: uuid.UUID | None = None


class TransientFailure(Exception):
    """Raised to rewind the batch: the infrastructure failed, nothing may be acknowledged."""


class _DecodingBroke(Exception):
    """The decoder itself failed (not a record it refused); carries the error as its cause."""


class EventConsumer:
    def __init__(
        self,
        *,
        name: str,
        handlers: dict[str, Handler],
        uow_factory: UnitOfWorkFactory,
        topic_prefix: str = "",
        max_attempts: int = 4,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 2.0,
        validate: Callable[[Any, ConsumerRecord[Any, Any]], str | None] | None = None,
        decode: Callable[[bytes], Any] = decode_event,
        chunk_size: int = 100,
        batch_handlers: dict[str, BatchHandler] | None = None,
        max_record_bytes: int = 1024 * 1024,
        copy_max_bytes: int = 256 * 1024,
        excerpt_bytes: int = 4096,
    ) -> None:
        self.name = name
        self.handlers = handlers
        # Used for the consecutive events of their type when a whole batch is applied at once; an
        # event that has to be retried alone (or dead-lettered) goes through its ``handlers`` entry.
        self.batch_handlers = dict(batch_handlers or {})
        if missing := set(self.batch_handlers) - set(handlers):
            raise ValueError(f"batch handlers without a handler for one event: {sorted(missing)}")
        self.uow_factory = uow_factory
        self.topic_prefix = topic_prefix
        self.max_attempts = max_attempts
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        # An extra check before handling (e.g. the inbound source allow-list); a string refuses.
        self.validate = validate
        # Our own events by default; an inbound topic brings its own model (anything with
        # ``event_id``, ``event_type`` and ``correlation_id``) and raises UndecodableEvent.
        self.decode = decode
        # A batch is decoded and applied this many records at a time (see _apply_batch).
        self.chunk_size = chunk_size
        self.processed = 0
        self.dead_lettered = 0
        # Edge limits: a larger record is dead-lettered undecoded; a dead letter's copy is bounded.
        self.max_record_bytes = max_record_bytes
        self.copy_max_bytes = copy_max_bytes
        self.excerpt_bytes = excerpt_bytes
        #: Told of every batch once its effects are committed (the broker history watch).
        self.on_processed: Callable[[list[ConsumerRecord[Any, Any]]], None] | None = None

    # --- wiring -------------------------------------------------------------------------------

    def subscribe(
        self,
        broker: KafkaBroker,
        *,
        topics: Sequence[str],
        group_id: str,
        batch_size: int = 200,
        fetch_max_wait_ms: int = 500,
    ) -> None:
        async def raw_body(message: Any) -> Any:
            # Keep the bytes: decoding is ours, so a malformed payload is dead-lettered, not retried forever.
            return message.body

        @broker.subscriber(
            *topics,
            group_id=group_id,
            batch=True,
            max_records=batch_size,
            fetch_max_wait_ms=fetch_max_wait_ms,
            auto_offset_reset="earliest",
            decoder=raw_body,
            # Offsets are committed only after the batch's effects (and dead letters) are committed;
            # an exception rewinds the partitions so the batch is delivered again.
            ack_policy=AckPolicy.NACK_ON_ERROR,
            title=f"{self.name}",
        )
        async def consume(body: Any, message: KafkaMessage) -> None:
            records = message.raw_message
            # A batch (a tuple from aiokafka, a list from FastStream's in-memory test broker).
            await self.process(list(records) if isinstance(records, tuple | list) else [records])

    # --- processing ---------------------------------------------------------------------------

    async def process(self, records: list[ConsumerRecord[Any, Any]]) -> None:
        decoded: list[tuple[ConsumerRecord[Any, Any], Event]] = []
        dead: list[DeadLetter] = []
        chunks = iter([records[i:i + self.chunk_size] for i in range(0, len(records), self.chunk_size)])
        try:
            if not await self._apply_batch(chunks, decoded, dead):
                for chunk in chunks:  # what the failed attempt did not get to
                    self._decode(chunk, decoded, dead)
                for record, event in decoded:
                    failure = await self._apply_one_with_retries(record, event)
                    if failure is not None:
                        dead.append(failure)
            if dead:
                await self._dead_letter(dead)
            if self.on_processed is not None:  # the broker history watch (shared.messaging.history)
                self.on_processed(records)
        except TransientFailure as exc:
            log.warning("infrastructure failure; batch will be redelivered", extra={"consumer": self.name, "error": str(exc)[:300]})
            await asyncio.sleep(self.backoff_max_s)
            raise

    def _decode(self, records: list[ConsumerRecord[Any, Any]],
                decoded: list[tuple[ConsumerRecord[Any, Any], Event]], dead: list[DeadLetter]) -> list[Event]:
        """Decode ``records`` onto ``decoded`` (or ``dead``); returns the events to handle among them."""
        events = []
        for record in records:
            size = len(record.value or b"")
            if size > self.max_record_bytes:
                dead.append(DeadLetter(record, "too-large",
                                       f"record of {size} bytes exceeds the limit of {self.max_record_bytes} bytes", 0))
                continue
            try:
                event = self.decode(record.value or b"")
            except UndecodableEvent as exc:
                dead.append(DeadLetter(record, "schema-invalid", str(exc), attempts=0))
                continue
            refusal = self.validate(event, record) if self.validate else None
            if refusal:
                dead.append(DeadLetter(record, "rejected-source", refusal, 0, event.event_id))
            elif event.event_type in self.handlers:
                decoded.append((record, event))
                events.append(event)
        return events

    async def _claim(self, uow: UnitOfWork, events: Sequence[Event]) -> list[Event]:
        """The events this consumer has not handled before, in order, each claimed once in ``uow``."""
        claimed = await uow.claim_many(self.name, [event.event_id for event in events])
        fresh = []
        for event in events:
            if event.event_id in claimed:
                claimed.discard(event.event_id)  # a copy later in the same batch is a redelivery
                fresh.append(event)
        return fresh

    async def _handle(self, uow: UnitOfWork, event: Event) -> None:
        correlation_id = getattr(event, "correlation_id", None)
        token = set_correlation_id(str(correlation_id) if correlation_id else None)
        try:
            await self.handlers[event.event_type](event, uow)
        finally:
            reset_correlation_id(token)

    async def _handle_all(self, uow: UnitOfWork, events: list[Event]) -> None:
        """Each event in order; a run of consecutive events of a type with a batch handler at once."""
        i = 0
        while i < len(events):
            batch_handler = self.batch_handlers.get(events[i].event_type)
            if batch_handler is None:
                await self._handle(uow, events[i])
                i += 1
                continue
            end = i + 1
            while end < len(events) and events[end].event_type == events[i].event_type:
                end += 1
            await batch_handler(events[i:end], uow)
            i = end

    async def _apply_batch(self, chunks: Iterator[list[ConsumerRecord[Any, Any]]],
                           decoded: list[tuple[ConsumerRecord[Any, Any], Event]], dead: list[DeadLetter]) -> bool:
        """Decode and apply every chunk in one transaction; False when an event fails for a
        non-transient reason (the chunks not reached yet are left in ``chunks``).

        Chunk by chunk, so that the next chunk is decoded while the database applies the writes
        the previous one deferred (:meth:`UnitOfWork.flush`); the session is used by one step at
        a time, and the rows of each chunk go out after those of the chunk before.
        """
        applied = 0
        writing: asyncio.Future[None] | None = None
        try:
            async with self.uow_factory() as uow:
                try:
                    for chunk in chunks:
                        try:
                            events = self._decode(chunk, decoded, dead)
                        except Exception as exc:  # a defect, not a bad record: not the events' fault
                            raise _DecodingBroke from exc
                        if writing is not None:
                            await writing
                            writing = None
                        if not events:
                            continue
                        # one inbox statement for the chunk
                        fresh = await self._claim(uow, events)
                        await self._handle_all(uow, fresh)
                        applied += len(fresh)
                        writing = asyncio.ensure_future(uow.flush())
                        await asyncio.sleep(0)  # let it send its rows before the next chunk is decoded
                    if writing is not None:
                        await writing
                        writing = None
                    await uow.commit()
                finally:
                    if writing is not None:  # never leave the session in use behind us
                        await asyncio.gather(writing, return_exceptions=True)
            self.processed += applied
            return True
        except _DecodingBroke as exc:
            raise exc.__cause__ from None  # rewinds the batch, as a decoder failure always has
        except Exception as exc:
            if is_transient(exc):
                raise TransientFailure(repr(exc)) from exc
            return False

    async def _apply_one_with_retries(
        self, record: ConsumerRecord[Any, Any], event: Event
    ) -> DeadLetter | None:
        delay = self.backoff_initial_s
        error: BaseException | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                async with self.uow_factory() as uow:
                    fresh = await self._claim(uow, [event])
                    for fresh_event in fresh:
                        await self._handle(uow, fresh_event)
                    await uow.commit()
                self.processed += len(fresh)
                return None
            except PermanentError as exc:
                error = exc
                break
            except Exception as exc:
                if is_transient(exc):
                    raise TransientFailure(repr(exc)) from exc
                error = exc
                log.warning(
                    "handler failed",
                    extra={"consumer": self.name, "event_id": str(event.event_id), "attempt": attempt,
                           "error_type": type(exc).__name__},
                )
                if attempt < self.max_attempts:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.backoff_max_s)
        assert error is not None
        reason = f"{type(error).__name__}: {error}"[:1000]
        # +1: the failed whole-batch attempt ran this handler too.
        return DeadLetter(record, "handler-failed", reason, attempt + 1, event.event_id)

    def _logical(self, topic: str) -> str:
        """The outbox holds logical topic names; the relay adds the prefix back."""
        if self.topic_prefix and topic.startswith(self.topic_prefix):
            return topic[len(self.topic_prefix):]
        return topic

    async def _dead_letter(self, dead: list[DeadLetter]) -> None:
        failed_at = datetime.now(UTC).isoformat()
        try:
            async with self.uow_factory() as uow:
                for letter in dead:
                    record = letter.record
                    position = f"{record.topic}:{record.partition}:{record.offset}"
                    headers = {k[:200]: v[:1024].decode("utf-8", "replace") for k, v in (record.headers or ())[:64]}
                    # One letter per event and consumer, however often it is redelivered; a replay of
                    # a letter (``careloop dlq replay``) that fails again is a new letter.
                    name = f"{self.name}|{letter.event_id or position}"
                    if headers.get("x-replay-of"):
                        name += f"|replay-of:{headers['x-replay-of']}"
                    letter_id = uuid.uuid5(DLQ_NAMESPACE, name)
                    if not await uow.claim(f"{self.name}:dlq", letter_id):
                        continue
                    headers.update(
                        {
                            "x-dlq-id": str(letter_id),
                            "x-dlq-kind": letter.kind,
                            "x-dlq-reason": letter.reason,
                            "x-dlq-consumer": self.name,
                            "x-dlq-attempts": str(letter.attempts),
                            "x-dlq-failed-at": failed_at,
                            "x-original-topic": record.topic,
                            "x-original-partition": str(record.partition),
                            "x-original-offset": str(record.offset),
                        }
                    )
                    if letter.event_id:
                        headers["x-original-event-id"] = str(letter.event_id)
                    payload = record.value or b""
                    headers["x-original-size"] = str(len(payload))
                    headers["x-original-sha256"] = hashlib.sha256(payload).hexdigest()
                    if len(payload) > self.copy_max_bytes:
                        payload = payload[:self.excerpt_bytes]
                        headers["x-dlq-excerpt"] = "true"
                    uow.publish_raw(
                        OutboxMessage(
                            topic=dead_letter(self._logical(record.topic)),
                            key=record.key.decode("utf-8", "replace")[:1024] if record.key else None,
                            payload=payload,
                            headers=headers,
                            event_id=letter_id,
                            event_type="DeadLetter",
                        )
                    )
                    self.dead_lettered += 1
                    log.error(
                        "dead-lettered",
                        extra={"consumer": self.name, "kind": letter.kind, "position": position,
                               "reason": letter.reason[:300]},
                    )
                await uow.commit()
        except Exception as exc:
            if is_transient(exc):
                raise TransientFailure(repr(exc)) from exc
            raise
