"""Intake's composition root: every way data enters and leaves the service is wired here.

In:  HTTP ``POST /api/v1/feedback`` (staff tools, apps).
Out: ``feedback.received`` through the outbox.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.intake.api import build_router
from services.intake.config import SERVICE, IntakeSettings
from shared.clock import Clock, utc_now
from shared.http import create_service_app
from shared.runtime import ServiceRuntime


def create_app(settings: IntakeSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime(service=SERVICE, settings=settings)
    return create_service_app(
        runtime,
        title="CareLoop intake",
        routers=[build_router(uow_factory=runtime.uow_factory, clock=clock)],
    )
