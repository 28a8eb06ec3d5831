"""Survey's composition root.

In:  HTTP ``POST /api/v1/survey-responses`` (paper forms entered by staff).
Out: ``survey.returned`` through the outbox.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.survey.api import build_router
from services.survey.config import SERVICE, SurveySettings
from shared.clock import Clock, utc_now
from shared.http import create_service_app
from shared.runtime import ServiceRuntime


def create_app(settings: SurveySettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    settings = settings or SurveySettings()
    runtime = ServiceRuntime(service=SERVICE, settings=settings)
    return create_service_app(
        runtime, title="CareLoop survey", routers=[build_router(uow_factory=runtime.uow_factory, clock=clock)]
    )
