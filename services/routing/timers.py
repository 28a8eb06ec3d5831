"""The deadline watcher: deadlines live in the database, so they fire after a restart, and they
fire once with any number of routing replicas (see ``service.fire_due_deadlines``)."""

from __future__ import annotations

import logging
from typing import Any

from services.routing import service
from shared.clock import Clock
from shared.db import UnitOfWorkFactory
from shared.runtime import repeat

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
        async def once() -> None:
            if fired := await self.scan_once():
                log.info("deadlines breached and escalated", extra={"count": fired})

        await repeat(once, interval_s=self.interval_s, failure="deadline scan failed; will retry", logger=log)
