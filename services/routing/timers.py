"""The deadline watcher: deadlines live in the database, so they fire after a restart, and they
fire once with any number of routing replicas (see ``service.fire_due_deadlines``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from services.routing import service
from shared.clock import Clock
from shared.db import UnitOfWorkFactory
from shared.messaging.consumer import is_transient

log = logging.getLogger(__name__)


class DeadlineWatcher:
    def __init__(self, *, uow_factory: UnitOfWorkFactory, clock: Clock, interval_s: float,
                 notices: Any = None) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.interval_s = interval_s
        #: services.routing.notifications.service.Notices: a breach's messages to the people named.
        self.notices = notices
        self.fired = 0

    async def scan_once(self) -> int:
        fired = 0
        while True:
            async with self.uow_factory() as uow:
                batch = await service.fire_due_deadlines(uow=uow, clock=self.clock, notices=self.notices)
                await uow.commit()
            fired += batch
            if batch == 0:
                break
        self.fired += fired
        return fired

    async def run(self) -> None:
        while True:
            try:
                fired = await self.scan_once()
                if fired:
                    log.info("deadlines breached and escalated", extra={"count": fired})
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                level = logging.WARNING if is_transient(exc) else logging.ERROR
                log.log(level, "deadline scan failed; will retry", extra={"error": repr(exc)[:300]})
            await asyncio.sleep(self.interval_s)
