"""Intake's composition root: every way data enters and leaves the service is wired here.

In:  HTTP ``POST /api/v1/feedback`` (staff tools, apps); paper logbooks as CSV/XLSX at
     ``POST /api/v1/imports/feedback``; the registry (org units, projects, units, customers) and
     its CSV/XLSX imports under ``/api/v1``;
     ``inbound.feedback`` (consumer ``intake.inbound``: call centre, ERP, property systems);
     ``calendar.holiday-schedule`` (consumer ``intake.calendar``: the holiday schedules loaded in
     routing, which tell working time from the rest).
Out: ``feedback.received`` and the ``registry.*`` topics through the outbox.
"""

from __future__ import annotations

import functools

from fastapi import FastAPI

from services.intake import api, handlers, logbook, service
from services.intake.config import SERVICE, IntakeSettings
from services.intake.models import holiday_schedules
from services.intake.registry import api as registry_api
from services.intake.registry import service as registry_service
from shared.auth.audit import AuditedUnitOfWorkFactory
from shared.calendar import calendar_from_settings
from shared.calendar_store import CalendarRefresher, LiveCalendar
from shared.clock import Clock, utc_now
from shared.http import create_service_app
from shared.runtime import ServiceRuntime
from shared.settings import service_settings
from shared.topics import INBOUND_FEEDBACK


def create_app(settings: IntakeSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    settings = service_settings(settings, IntakeSettings)
    runtime = ServiceRuntime(service=SERVICE, settings=settings)
    # Swapped when a holiday schedule is loaded (HolidayScheduleLoaded, kept in intake's table).
    calendar = LiveCalendar(calendar_from_settings(settings.working_hours))
    wiring = {
        "clock": clock,
        "policy": settings.duplicate_policy(),
        # feedback is recorded whoever the customer is, but never widens a foreign customer's reach
        "resolve_customer": functools.partial(registry_service.match_or_register_customer, foreign_match="leave"),
        # feedback filed under one org path and a project registered under another is refused
        "place_check": registry_service.misplaced,
        "working_time": calendar.is_working_time,
        "name_key": settings.pii_name_key,  # the marks of the customer's names on FeedbackReceived
    }
    receive: service.Receiver = functools.partial(service.receive_feedback, **wiring)
    receive_batch: service.BatchReceiver = functools.partial(service.receive_feedback_batch, **wiring)
    runtime.consume(
        name="intake.inbound",
        handlers=handlers.build_handlers(receive=receive,
                                         registered_orgs_only=settings.inbound_registered_orgs_only),
        batch_handlers=handlers.build_batch_handlers(receive_batch=receive_batch,
                                                     registered_orgs_only=settings.inbound_registered_orgs_only),
        topics=[INBOUND_FEEDBACK],
        decode=handlers.decode_inbound,
        validate=handlers.source_check(settings.inbound_sources),
    )
    runtime.consume(name="intake.calendar", handlers=handlers.build_calendar_handlers())
    refresher = CalendarRefresher(live=calendar, uow_factory=runtime.uow_factory, table=holiday_schedules,
                                  interval_s=settings.calendar_refresh_interval_s)
    runtime.run_in_background("calendar-refresher", refresher.run)
    runtime.readiness_note("calendar", lambda: calendar.readiness_note(clock().date()))
    # HTTP changes are audited (who, what, when) in the transaction that makes them.
    http_uow = AuditedUnitOfWorkFactory(runtime.uow_factory)
    writer = api.feedback_writer(uow_factory=http_uow, receive=receive, receive_batch=receive_batch,
                                 max_batch=settings.http_group_commit_max)
    app = create_service_app(
        runtime,
        title="CareLoop intake",
        routers=[
            api.build_router(uow_factory=http_uow, clock=clock, writer=writer),
            # before the registry's /imports/{kind}, which would otherwise answer for "feedback"
            logbook.build_router(uow_factory=http_uow, receive=receive, calendar=calendar),
            registry_api.build_router(uow_factory=http_uow, clock=clock),
        ],
    )
    app.state.feedback_writer = writer
    app.state.calendar_refresher = refresher
    return app
