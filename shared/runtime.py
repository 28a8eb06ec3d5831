"""What every service process runs: its engine, unit of work, outbox relay, broker and consumers.

A service's ``app.py`` (its composition root) builds one :class:`ServiceRuntime`, registers its
consumers and HTTP routes, and hands the result to :func:`shared.http.create_service_app`.
"""

from __future__ import annotations

import asyncio
import gc
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import sqlalchemy as sa
from faststream import FastStream
from faststream.kafka import KafkaBroker

from shared.db.uow import UnitOfWorkFactory, make_engine
from shared.messaging.consumer import EventConsumer, Handler, is_transient
from shared.messaging.history import HistoryWatch
from shared.messaging.kafka import make_broker, make_producer
from shared.messaging.relay import OutboxRelay
from shared.settings import Settings
from shared.topics import prefixed, topic_for

log = logging.getLogger(__name__)


async def repeat(once: Callable[[], Awaitable[Any]], *, interval_s: float, failure: str,
                 logger: logging.Logger = log) -> None:
    """Run ``once`` every ``interval_s`` while the service runs (a background loop: the deadline
    watcher, the calendar refresher, the notifier). A failure is logged, a warning when it is
    transient (the database restarting), and tried again the next time round."""
    while True:
        try:
            await once()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            level = logging.WARNING if is_transient(exc) else logging.ERROR
            logger.log(level, failure, extra={"error": repr(exc)[:300]})
        await asyncio.sleep(interval_s)


class ServiceRuntime:
    def __init__(self, *, service: str, settings: Settings, relay: bool = True) -> None:
        self.service = service
        self.settings = settings
        self.engine = make_engine(
            settings.db.service_url(service), settings, application_name=f"careloop-{service}"
        )
        self.uow_factory = UnitOfWorkFactory(self.engine, schema=service)
        self.broker: KafkaBroker = make_broker(settings, client_id=f"careloop-{service}")
        self.stream_app = FastStream(self.broker)
        self.producer = make_producer(settings, client_id=f"careloop-{service}-relay")
        self.relay: OutboxRelay | None = (
            OutboxRelay(
                uow_factory=self.uow_factory,
                producer=self.producer,
                topic_prefix=settings.topic_prefix,
                batch_size=settings.relay_batch_size,
                poll_interval_s=settings.relay_poll_interval_s,
            )
            if relay
            else None
        )
        self.consumers: list[EventConsumer] = []
        self._background: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._notes: dict[str, Callable[[], dict[str, Any]]] = {}
        if self.relay is not None:  # parked outbox rows are a note, never red (shared.messaging.relay)
            self._notes["outbox_parked"] = self.relay.readiness_note
        # A broker that lost its history is noticed and the outbox re-publishes (shared.messaging.history).
        self.history = HistoryWatch(service=service, settings=settings, uow_factory=self.uow_factory, relay=self.relay)
        if self.relay is not None:
            self.relay.on_delivered = self.history.saw_delivered
        self._notes["history_lost"] = self.history.readiness_note

    def run_in_background(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """A loop that runs while the service runs (e.g. the deadline watcher)."""
        self._background.append((name, loop))

    def readiness_note(self, name: str, note: Callable[[], dict[str, Any]]) -> None:
        """Something readiness reports without failing on it (e.g. a year's holiday schedule missing)."""
        self._notes[name] = note

    async def metrics_text(self) -> str:
        """The service's figures in Prometheus text format (served at ``/health/metrics``)."""
        service = self.service
        lines = []
        if self.relay is not None:
            ob = self.uow_factory.outbox
            try:
                async with asyncio.timeout(2):
                    async with self.engine.connect() as conn:
                        parked = (await conn.execute(
                            sa.select(sa.func.count()).select_from(ob).where(ob.c.parked_at.is_not(None)))).scalar_one()
            except Exception:
                parked = None
            lines += ["# HELP careloop_outbox_published_total outbox rows this replica's relay published",
                      "# TYPE careloop_outbox_published_total counter",
                      f'careloop_outbox_published_total{{service="{service}"}} {self.relay.published}',
                      "# HELP careloop_outbox_parked_total outbox rows this replica's relay parked (refused for good)",
                      "# TYPE careloop_outbox_parked_total counter",
                      f'careloop_outbox_parked_total{{service="{service}"}} {self.relay.parked}']
            if parked is not None:
                lines += ["# HELP careloop_outbox_parked outbox rows parked now (careloop dlq parked)",
                          "# TYPE careloop_outbox_parked gauge",
                          f'careloop_outbox_parked{{service="{service}"}} {parked}']
        lines += self.history.metrics_lines()
        lines += ["# HELP careloop_dead_letters_total records this replica's consumers dead-lettered",
                  "# TYPE careloop_dead_letters_total counter"]
        lines += [f'careloop_dead_letters_total{{service="{service}",consumer="{c.name}"}} {c.dead_lettered}'
                  for c in self.consumers]
        return "\n".join(lines) + "\n"

    def readiness_notes(self) -> dict[str, dict[str, Any]]:
        return {name: said for name, note in self._notes.items() if (said := note())}  # an empty note says nothing

    def consume(
        self,
        *,
        name: str,
        handlers: dict[str, Handler],
        topics: Sequence[str] | None = None,
        **options: Any,
    ) -> EventConsumer:
        """Subscribe ``handlers`` (event type -> handler) in this service's consumer group.

        The topics default to those of the handled event types; an inbound topic is named
        explicitly (logical name, without the prefix) together with its ``decode``.
        """
        consumer = EventConsumer(
            name=name,
            handlers=handlers,
            uow_factory=self.uow_factory,
            topic_prefix=self.settings.topic_prefix,
            max_attempts=self.settings.consumer_max_attempts,
            backoff_initial_s=self.settings.consumer_backoff_initial_s,
            backoff_max_s=self.settings.consumer_backoff_max_s,
            max_record_bytes=self.settings.inbound_max_record_bytes,
            copy_max_bytes=self.settings.dlq_copy_max_bytes,
            excerpt_bytes=self.settings.dlq_excerpt_bytes,
            **options,
        )
        consumer.on_processed = self.history.saw_records
        consumer.subscribe(
            self.broker,
            topics=(
                [prefixed(t, self.settings.topic_prefix) for t in topics]
                if topics is not None
                else self.topics_for(handlers)
            ),
            group_id=self.settings.group_id(name),
            batch_size=self.settings.consumer_batch_size,
            fetch_max_wait_ms=self.settings.consumer_fetch_max_wait_ms,
        )
        self.consumers.append(consumer)
        return consumer

    def topics_for(self, handlers: dict[str, Handler]) -> list[str]:
        return sorted({prefixed(topic_for(t), self.settings.topic_prefix) for t in handlers})

    def consumed_topics(self) -> Sequence[str]:
        return [t for sub in self.broker.subscribers for t in getattr(sub, "topics", ())]

    async def start(self) -> None:
        await self.producer.start()
        watching = self.settings.kafka.history_check_interval_s > 0
        if watching:  # before the relay: re-published events go out ahead of new ones
            await self.history.check_at_start()
        if self.relay is not None:
            self.relay.start()
        await self.broker.start()
        self._tasks = [asyncio.create_task(loop(), name=name) for name, loop in self._background]
        if watching:
            self._tasks.append(asyncio.create_task(self.history.run(), name="broker-history-watch"))
        self._started = True
        # What exists now (modules, the app, its models and compiled statements) lives as long as
        # the process: out of the cyclic collector's way, so that its full collections only walk
        # what was made since (with it they took 100-200 ms, the worst latencies of a busy service).
        gc.collect()
        gc.freeze()
        gc.set_threshold(*self.settings.gc_thresholds)
        log.info("service started", extra={"consumers": [c.name for c in self.consumers]})

    async def stop(self) -> None:
        self._started = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        try:
            await self.broker.stop()
        finally:
            if self.relay is not None:
                await self.relay.stop()
            await self.producer.stop()
            with contextlib.suppress(Exception):  # what was seen last, for the next start's check
                await asyncio.wait_for(self.history.flush(), timeout=5)
            await self.engine.dispose()

    async def readiness(self) -> dict[str, bool]:
        checks: dict[str, bool] = {"started": self._started}
        try:
            async with asyncio.timeout(2):
                async with self.engine.connect() as conn:
                    await conn.execute(sa.text("SELECT 1"))
            checks["database"] = True
        except Exception:
            checks["database"] = False
        try:
            checks["broker"] = bool(await self.broker.ping(timeout=2))
        except Exception:
            checks["broker"] = False
        if self.relay is not None:
            checks["outbox_relay"] = self.relay.healthy
        return checks
