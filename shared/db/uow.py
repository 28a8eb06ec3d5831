"""Engine, sessions and the unit of work: the only thing in CareLoop that commits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from shared.db.tables import messaging_tables
from shared.events import Event
from shared.settings import Settings
from shared.topics import topic_for


def make_engine(url: str, settings: Settings, *, application_name: str) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=settings.db.pool_size,
        max_overflow=settings.db.max_overflow,
        pool_pre_ping=True,
        echo=settings.db.echo,
        # Parameters can be contact details: keep them out of exception texts and logs.
        hide_parameters=True,
        connect_args={"server_settings": {"application_name": application_name}},
    )


@dataclass(frozen=True)
class OutboxMessage:
    """A record to publish, for what is not an integration event of our own (e.g. a dead letter)."""

    topic: str
    key: str | None
    payload: bytes
    headers: dict[str, str]
    event_id: UUID
    event_type: str


class UnitOfWork:
    """``async with uow_factory() as uow: ...; await uow.commit()``; leaving without commit rolls back.

    Events added with :meth:`publish` are written to the outbox in the same transaction as the
    state change; the relay publishes them after the commit.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        outbox: sa.Table,
        inbox: sa.Table,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._outbox = outbox
        self._inbox = inbox
        self._after_commit = after_commit
        self._pending: list[dict[str, Any]] = []
        self.session: AsyncSession

    async def __aenter__(self) -> Self:
        self.session = self._session_factory()
        self._pending = []
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # close() rolls back whatever was not committed and detaches the loaded objects without
        # expiring them, so a use case can return what it read.
        self._pending = []
        await self.session.close()

    def publish(self, *events: Event) -> None:
        """Queue integration events for the outbox of this transaction."""
        for event in events:
            self._pending.append(
                {
                    "event_id": event.event_id,
                    "event_type": event.event_type,
                    "topic": topic_for(event.event_type),
                    "key": event.aggregate_id,
                    "payload": event.to_json(),
                    "headers": {
                        "event_type": event.event_type,
                        "schema_version": str(event.schema_version),
                        "correlation_id": str(event.correlation_id),
                        "content-type": "application/json",
                    },
                }
            )

    def publish_raw(self, message: OutboxMessage) -> None:
        self._pending.append(
            {
                "event_id": message.event_id,
                "event_type": message.event_type,
                "topic": message.topic,
                "key": message.key,
                "payload": message.payload,
                "headers": message.headers,
            }
        )

    async def claim(self, consumer: str, event_id: UUID) -> bool:
        """Record that ``consumer`` handles ``event_id`` in this transaction.

        Returns False when it was handled before (the caller must then do nothing).
        """
        result = await self.session.execute(
            pg_insert(self._inbox)
            .values(consumer=consumer, event_id=event_id)
            .on_conflict_do_nothing()
            .returning(self._inbox.c.event_id)
        )
        return result.first() is not None

    async def commit(self) -> None:
        wrote_outbox = bool(self._pending)
        if self._pending:
            await self.session.execute(sa.insert(self._outbox), self._pending)
            self._pending = []
        await self.session.commit()
        if wrote_outbox and self._after_commit is not None:
            self._after_commit()

    async def rollback(self) -> None:
        self._pending = []
        await self.session.rollback()


class UnitOfWorkFactory:
    """Makes units of work on one service's schema; ``after_commit`` wakes the outbox relay."""

    def __init__(self, engine: AsyncEngine, *, schema: str) -> None:
        self.engine = engine
        self.schema = schema
        self.metadata = sa.MetaData(schema=schema)
        self.outbox, self.inbox = messaging_tables(self.metadata)
        self.session_factory = async_sessionmaker(engine, expire_on_commit=False)
        self._listeners: list[Callable[[], None]] = []

    def on_outbox_write(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in self._listeners:
            listener()

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(
            self.session_factory, outbox=self.outbox, inbox=self.inbox, after_commit=self._notify
        )


__all__ = ["OutboxMessage", "UnitOfWork", "UnitOfWorkFactory", "make_engine"]
