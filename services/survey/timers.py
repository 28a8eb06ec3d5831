"""Survey's background loop: reminders, closing campaigns at their collection deadline, and the
project evaluation schedule. Everything lives in the database, so nothing is lost in a restart,
and each row is claimed with SKIP LOCKED, so any number of replicas act once."""

from __future__ import annotations

import asyncio
import logging

from services.survey import campaign_service, evaluation_service, service
from shared.db import UnitOfWorkFactory
from shared.messaging.consumer import is_transient

log = logging.getLogger(__name__)


class SurveyScheduler:
    def __init__(self, *, uow_factory: UnitOfWorkFactory, deps: service.Deps, interval_s: float) -> None:
        self.uow_factory = uow_factory
        self.deps = deps
        self.interval_s = interval_s
        self.builtins_ready = False
        self.scans_completed = 0  # by the background loop (the first one at start-up)

    async def scan_once(self) -> dict[str, int]:
        done = {"templates": 0, "reminders": 0, "campaigns_closed": 0, "rounds_planned": 0,
                "evaluations_planned": 0, "evaluation_events": 0}
        if not self.builtins_ready:
            async with self.uow_factory() as uow:
                done["templates"] = await service.ensure_builtin_templates(uow=uow, clock=self.deps.clock)
                await uow.commit()
            self.builtins_ready = True
        for key, step in (
            ("reminders", campaign_service.send_due_reminders),
            ("campaigns_closed", campaign_service.close_due_campaigns),
            ("rounds_planned", campaign_service.plan_due_rounds),
            ("evaluations_planned", evaluation_service.plan_evaluations),
            ("evaluation_events", evaluation_service.announce_evaluations),
        ):
            while True:
                async with self.uow_factory() as uow:
                    count = await step(uow=uow, deps=self.deps)
                    await uow.commit()
                done[key] += count
                # Planning is idempotent and covers every project at once; the others drain batches.
                if count == 0 or key == "evaluations_planned":
                    break
        return done

    async def run(self) -> None:
        while True:
            try:
                done = await self.scan_once()
                if any(done.values()):
                    log.info("survey schedule", extra=done)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                level = logging.WARNING if is_transient(exc) else logging.ERROR
                log.log(level, "survey schedule scan failed; will retry", extra={"error": repr(exc)[:300]})
            self.scans_completed += 1
            await asyncio.sleep(self.interval_s)
