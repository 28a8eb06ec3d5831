"""Reporting's composition root.

In:  every case topic, ``complaint.classified``, ``survey.returned`` (consumer ``reporting.views``).
Out: HTTP ``/api/v1/reports/*``; dead letters through the outbox.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.reporting.api import build_router
from services.reporting.config import SERVICE, ReportingSettings
from services.reporting.handlers import HANDLERS
from services.reporting.rebuild import hold_live_lock
from shared.clock import Clock, utc_now
from shared.http import create_service_app
from shared.runtime import ServiceRuntime


def create_app(settings: ReportingSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    settings = settings if isinstance(settings, ReportingSettings) else ReportingSettings(**dict(settings or {}))
    runtime = ServiceRuntime(service=SERVICE, settings=settings)
    runtime.consume(name="reporting.views", handlers=HANDLERS)
    # While any replica runs, a rebuild of the views refuses to start (see rebuild.py).
    runtime.run_in_background("rebuild-guard", lambda: hold_live_lock(settings))
    return create_service_app(
        runtime, title="CareLoop reporting", routers=[build_router(uow_factory=runtime.uow_factory, clock=clock)]
    )
