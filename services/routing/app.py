"""Routing's composition root.

In:  ``feedback.received``, ``survey.returned`` and, for warranty repairs, ``complaint.classified``,
     ``complaint.reclassified`` and ``registry.project`` (consumer ``routing.cases``);
     HTTP ``/api/v1/cases`` (the handlers' workbench), ``/api/v1/work-orders`` and
     ``/api/v1/remediations`` (site teams, warranty repairs), ``/api/v1/calendar`` (holiday
     schedules); the deadline watcher's clock; the calendar refresher (routing's stored schedules).
Out: ``case.*``, ``complaint.classified``, ``complaint.reclassified``, ``repair.*`` and
     ``calendar.holiday-schedule`` through the outbox; e-mails (SMTP) and chat-robot webhooks to
     the people named for escalations and deadlines (the notification watcher).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import FastAPI

from services.routing import api, calendar_api, calendar_service, handlers
from services.routing.adapters import CalendarPlanner, RuleClassifier
from services.routing.classification.classifier import load_rules
from services.routing.classification.model import load_model
from services.routing.config import SERVICE, RoutingSettings
from services.routing.models import holiday_schedules
from services.routing.repairs import api as repairs_api
from services.routing.repairs import handlers as repairs_handlers
from services.routing.repairs.defects import load_vocabulary
from services.routing.repairs.service import RepairCollaborators
from services.routing.service import Collaborators
from services.routing.notifications.domain import Directory
from services.routing.notifications.senders import ChannelSender
from services.routing.notifications.service import Notices, NotificationWatcher
from services.routing.timers import DeadlineWatcher
from shared.auth.audit import AuditedUnitOfWorkFactory
from shared.calendar import calendar_from_settings
from shared.calendar_store import CalendarRefresher, LiveCalendar
from shared.pii_detect import use_name_key
from shared.clock import Clock, utc_now
from shared.http import create_service_app
from shared.runtime import ServiceRuntime
from shared.settings import Settings, service_settings


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    settings = service_settings(settings, RoutingSettings)
    runtime = ServiceRuntime(service=SERVICE, settings=settings)
    # the key intake marks the customers' names with: staff notes are searched for them
    use_name_key(settings.pii_name_key)
    rules = load_rules(settings.rules_file)
    model = None if (settings.classifier_model or "").lower() == "none" else load_model(settings.classifier_model)
    # The calendar this replica counts on: swapped when a holiday schedule is loaded (here, by
    # another replica, or with `careloop calendar load`), re-read from routing's table.
    calendar = LiveCalendar(calendar_from_settings(settings.working_hours))
    # Escalations, deadlines about to be missed and missed ones reach the people named for them.
    notices = Notices(
        directory=Directory(settings.notify_recipients), calendar=calendar,
        sender=ChannelSender(smtp=settings.smtp_config(), http_timeout_s=settings.notify_send_timeout_s),
        warning_lead=timedelta(hours=settings.notify_warning_lead_working_hours), retry=settings.retry_policy(),
    )
    deps = Collaborators(
        clock=clock,
        classifier=RuleClassifier(rules, model),
        planner=CalendarPlanner(calendar, settings.deadline_policy()),
        notices=notices,
        claim_authority_yuan=settings.claim_authority_yuan,
        return_visit_rule=settings.return_visit_rule,
    )
    repairs = RepairCollaborators(clock=clock, policy=settings.repair_policy(),
                                  vocabulary=load_vocabulary(settings.repair_defects_file), cases=deps)
    # One consumer group for the whole service: a second one would cost every start a group join.
    runtime.consume(name="routing.cases", handlers={
        **handlers.build_handlers(deps=deps, after_opening=repairs_handlers.report_after_opening(deps=repairs)),
        **repairs_handlers.build_handlers(deps=repairs),
    })
    watcher = DeadlineWatcher(uow_factory=runtime.uow_factory, clock=clock, interval_s=settings.deadline_scan_interval_s,
                              notices=notices)
    runtime.run_in_background("deadline-watcher", watcher.run)
    notifier = NotificationWatcher(uow_factory=runtime.uow_factory, clock=clock, notices=notices,
                                   interval_s=settings.notify_scan_interval_s)
    runtime.run_in_background("notification-watcher", notifier.run)
    refresher = CalendarRefresher(
        live=calendar, uow_factory=runtime.uow_factory, table=holiday_schedules,
        interval_s=settings.calendar_refresh_interval_s,
        on_change=lambda: calendar_service.recompute_provisional(uow_factory=runtime.uow_factory, deps=deps),
    )
    runtime.run_in_background("calendar-refresher", refresher.run)
    runtime.readiness_note("calendar", lambda: calendar.readiness_note(clock().date()))

    async def load_segmenter() -> None:
        # jieba's dictionary takes a second or two to load: at start, off the event loop, rather
        # than in the middle of the first batch of complaints (the rules build it once either way).
        await asyncio.to_thread(rules.segmenter)

    runtime.run_in_background("classifier-segmenter", load_segmenter)
    # HTTP changes are audited (who, what, when) in the transaction that makes them.
    http_uow = AuditedUnitOfWorkFactory(runtime.uow_factory)
    app = create_service_app(
        runtime, title="CareLoop routing",
        routers=[api.build_router(uow_factory=http_uow, deps=deps),
                 repairs_api.build_router(uow_factory=http_uow, deps=repairs),
                 calendar_api.build_router(uow_factory=http_uow, deps=deps)],
    )
    app.state.deadline_watcher = watcher
    app.state.notification_watcher = notifier
    app.state.calendar_refresher = refresher
    return app
