"""Reporting's composition root.

In:  every case topic, ``complaint.classified``, ``survey.returned``, ``calendar.holiday-schedule``
     (consumer ``reporting.views``).
Out: HTTP ``/api/v1/reports/*`` (JSON, CSV, XLSX) and the dashboard at ``/dashboard/`` (static files in
     ``dashboard/``, reading those views); ``report.published`` (scheduled, versioned reports) and dead
     letters through the outbox.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from services.reporting import calendar_view
from services.reporting.api import build_router
from services.reporting.config import SERVICE, ReportingSettings
from services.reporting.handlers import HANDLERS
from services.reporting.publication import Publisher, published_router
from services.reporting.rebuild import hold_live_lock
from shared.clock import Clock, utc_now
from shared.labels import LABELS_FILE
from shared.http import create_service_app
from shared.runtime import ServiceRuntime
from shared.settings import service_settings

DASHBOARD = Path(__file__).parent / "dashboard"

#: The dashboard's headers, like the survey page's: its scripts, styles and data come from this
#: service alone (ECharts is vendored), nothing inline runs, no other site may frame it, and the
#: token in the page's fragment leaks through no Referer. ECharts sets inline styles on its
#: tooltips, hence 'unsafe-inline' for styles only; charts draw on canvas (img-src data: blob:).
DASHBOARD_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class _DashboardFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(DASHBOARD_HEADERS)
        return response


def create_app(settings: ReportingSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    settings = service_settings(settings, ReportingSettings)
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
            calendar_view.build_router(uow_factory=runtime.uow_factory, clock=clock),
        ],
    )
    app.state.publisher = publisher
    mount_dashboard(app)
    return app


def mount_dashboard(app: FastAPI) -> None:
    """The dashboard: static files that call the views above; no data of its own, nothing from a CDN."""

    @app.get("/dashboard", include_in_schema=False)
    async def dashboard(request: Request) -> RedirectResponse:
        # relative, so that it works behind a proxy that serves the service under a path prefix
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"dashboard/{query}", headers=DASHBOARD_HEADERS)

    @app.get("/dashboard/labels.json", include_in_schema=False)
    async def dashboard_labels() -> FileResponse:
        # the codes' display names, shared with every service's answers (shared/labels.json)
        return FileResponse(LABELS_FILE, media_type="application/json", headers=DASHBOARD_HEADERS)

    app.mount("/dashboard", _DashboardFiles(directory=DASHBOARD, html=True), name="dashboard")
