"""Survey's composition root: every way data enters and leaves the service is wired here.

In:  HTTP ``/api/v1/survey-responses`` (paper and phone forms entered by staff), ``/api/v1/templates``,
     ``/api/v1/campaigns``, ``/api/v1/evaluations`` and their queries;
     the household's page ``GET/POST /s/{token}`` (one-time links);
     intake's registry and routing's case events (consumer ``survey.events``): registry.project,
     registry.units, registry.customer, customer.erased, case.opened, complaint.classified,
     complaint.reclassified, case.transitioned, repair.accepted;
     ``inbound.survey-answers`` (consumer ``survey.inbound``: other survey tools);
     the scheduler's clock (reminders, campaign deadlines, evaluation schedule).
Out: ``survey.returned``, ``survey.invitation-issued``, ``survey.reminder-due``,
     ``survey.campaign-planned``, ``survey.campaign-closed``, ``survey.evaluation-due``,
     ``survey.evaluation-overdue``, ``survey.evaluation-recorded``, ``survey.project-flagged``, and
     FeedbackSubmission messages to intake on ``inbound.feedback``, all through the outbox.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from fastapi import FastAPI

from services.survey import api, campaigns, domain, handlers, page, service
from services.survey.config import SERVICE, SurveySettings
from services.survey.timers import SurveyScheduler
from shared.auth.audit import AuditedUnitOfWorkFactory
from shared.clock import Clock, utc_now
from shared.http import create_service_app
from shared.runtime import ServiceRuntime
from shared.settings import Settings, service_settings
from shared.topics import INBOUND_SURVEY_ANSWERS


def deps_from(settings: SurveySettings, clock: Clock) -> service.Deps:
    d = Decimal
    return service.Deps(
        clock=clock,
        public_url=settings.survey_public_url,
        link_key=settings.survey_link_key,
        marks=domain.PassMarks(five_level_score=d(str(settings.five_level_pass_score))),
        return_visit_valid=timedelta(days=settings.return_visit_valid_days),
        return_visit_reminders=tuple(settings.return_visit_reminder_days),
        campaign_reminders=tuple(settings.campaign_reminder_days),
        rules=campaigns.DistributionRules(
            semiannual_reach_percent=d(str(settings.semiannual_reach_percent)),
            small_estate_max_households=settings.small_estate_max_households,
            semiannual_return_percent=d(str(settings.semiannual_return_percent)),
            young_percent=d(str(settings.young_estate_reach_percent)),
            mature_percent=d(str(settings.mature_estate_reach_percent)),
            mature_after_years=settings.mature_after_years,
            age_return_percent=d(str(settings.age_rule_return_percent)),
            hand_out_days=settings.campaign_hand_out_days,
            collect_days=settings.campaign_collect_days,
        ),
        pre_construction_days=settings.pre_construction_days,
        process_report_day=settings.process_report_day,
        auto_campaign_template=settings.auto_campaign_template,
    )


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    settings = service_settings(settings, SurveySettings)
    runtime = ServiceRuntime(service=SERVICE, settings=settings)
    deps = deps_from(settings, clock)
    runtime.consume(name="survey.events", handlers=handlers.build_handlers(deps=deps))
    runtime.consume(
        name=handlers.INBOUND_CONSUMER,
        handlers=handlers.build_inbound_handlers(deps=deps),
        topics=[INBOUND_SURVEY_ANSWERS],
        decode=handlers.decode_inbound,
        validate=handlers.source_check(settings.inbound_sources),
    )
    scheduler = SurveyScheduler(uow_factory=runtime.uow_factory, deps=deps, interval_s=settings.scan_interval_s)
    runtime.run_in_background("survey-scheduler", scheduler.run)
    # HTTP changes are audited (who, what, when) in the transaction that makes them.
    http_uow = AuditedUnitOfWorkFactory(runtime.uow_factory)
    app = create_service_app(
        runtime,
        title="CareLoop survey",
        routers=[
            api.build_router(uow_factory=http_uow, deps=deps),
            page.build_router(uow_factory=runtime.uow_factory, deps=deps,
                              requests_per_minute=settings.survey_page_requests_per_minute),
        ],
    )
    app.state.scheduler = scheduler
    return app
