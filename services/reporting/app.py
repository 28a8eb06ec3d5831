"""Reporting's composition root.

In:  every case topic, ``complaint.classified``, ``survey.returned`` (consumer ``reporting.views``).
Out: HTTP ``/api/v1/reports/*``; ``report.published`` (scheduled, versioned reports) and dead
     letters through the outbox.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.reporting.api import build_router
from services.reporting.config import SERVICE, ReportingSettings
from services.reporting.handlers import HANDLERS
from services.reporting.publication import Publisher, published_router
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
    publisher = Publisher(uow_factory=runtime.uow_factory, clock=clock, interval_s=settings.publication_interval_s)
    runtime.run_in_background("report-publisher", publisher.run)
    app = create_service_app(
        runtime,
        title="CareLoop reporting",
        routers=[
            build_router(uow_factory=runtime.uow_factory, clock=clock),
            published_router(uow_factory=runtime.uow_factory),
        ],
    )
    app.state.publisher = publisher
    return app
