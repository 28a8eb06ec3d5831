"""Routing's composition root.

In:  ``feedback.received`` (consumer ``routing.cases``); HTTP ``/api/v1/cases``.
Out: ``complaint.classified`` through the outbox.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.routing.api import build_router
from services.routing.config import SERVICE, RoutingSettings
from services.routing.handlers import build_handlers
from shared.clock import Clock, utc_now
from shared.http import create_service_app
from shared.runtime import ServiceRuntime


def create_app(settings: RoutingSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    settings = settings or RoutingSettings()
    runtime = ServiceRuntime(service=SERVICE, settings=settings)
    runtime.consume(name="routing.cases", handlers=build_handlers(clock=clock))
    return create_service_app(
        runtime, title="CareLoop routing", routers=[build_router(uow_factory=runtime.uow_factory)]
    )
