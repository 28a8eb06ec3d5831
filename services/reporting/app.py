"""Reporting's composition root.

In:  every case topic, ``complaint.classified``, ``survey.returned`` (consumer ``reporting.views``).
Out: HTTP ``/api/v1/reports/*``; dead letters through the outbox.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.reporting.api import build_router
from services.reporting.config import SERVICE, ReportingSettings
from services.reporting.handlers import HANDLERS
from shared.clock import Clock, utc_now
from shared.http import create_service_app
from shared.runtime import ServiceRuntime


def create_app(settings: ReportingSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    settings = settings or ReportingSettings()
    runtime = ServiceRuntime(service=SERVICE, settings=settings)
    runtime.consume(name="reporting.views", handlers=HANDLERS)
    return create_service_app(
        runtime, title="CareLoop reporting", routers=[build_router(uow_factory=runtime.uow_factory, clock=clock)]
    )
