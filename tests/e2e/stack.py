"""The four services in one process on the test's infrastructure, each with the test's clock."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime

import httpx

from services.intake.app import create_app as intake_app
from services.reporting.app import create_app as reporting_app
from services.routing.app import create_app as routing_app
from services.routing.config import RoutingSettings
from services.survey.app import create_app as survey_app
from shared.settings import Settings
from shared.testing.registry import register_org_units, with_parents
from shared.testing.services import running_service

# The org units the e2e paths file feedback under: intake dead-letters inbound records (survey's
# remarks among them) for an org unit its registry does not know.
ORG_UNITS = with_parents("hx/east/lakeside", "hx/east/riverside", "hx/south/hillview")


@contextlib.asynccontextmanager
async def whole_stack(settings: Settings, clock: Callable[[], datetime], *,
                      deadline_scan_interval_s: float = 0.5) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    routing_settings = RoutingSettings(**{**dict(settings), "deadline_scan_interval_s": deadline_scan_interval_s})
    await register_org_units(settings, *ORG_UNITS)
    async with contextlib.AsyncExitStack() as exits:
        yield {
            "intake": await exits.enter_async_context(running_service(intake_app(settings, clock=clock))),
            "routing": await exits.enter_async_context(running_service(routing_app(routing_settings, clock=clock))),
            "survey": await exits.enter_async_context(running_service(survey_app(settings, clock=clock))),
            "reporting": await exits.enter_async_context(running_service(reporting_app(settings, clock=clock))),
        }
