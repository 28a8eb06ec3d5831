from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Literal

from pydantic import Field, SecretStr

from services.routing.claims import DEFAULT_AUTHORITY_YUAN
from services.routing.deadlines import DeadlinePolicy
from services.routing.notifications.domain import RecipientGroup, RetryPolicy
from services.routing.notifications.senders import SmtpConfig
from services.routing.repairs.domain import RepairPolicy
from services.routing.return_visits import ReturnVisitRule
from shared.settings import Settings

SERVICE = "routing"


class RoutingSettings(Settings):
    """Routing's settings on top of the shared ones (env prefix CARELOOP_). Every deadline of
    docs/domain.md §3 is a setting; the defaults are the procedures' stricter values."""

    rules_file: str | None = Field(default=None, description="classification rules; the shipped file if unset")
    classifier_model: str | None = Field(default=None, description=(
        "the complaint model (services/routing/classification/model.json if unset; 'none': the rules decide alone)"))
    first_response_working_hours: float = Field(default=8, gt=0)
    first_response_outside_hours: float = Field(default=24, gt=0)
    first_response_cap_hours: float | None = Field(
        default=None, gt=0, description="optional calendar-time cap on every first response (seed 004: 24)"
    )
    difficult_escalation_working_days: float = Field(default=0.5, gt=0)
    measures_report_working_days: float = Field(default=1.0, gt=0)
    result_delivery_hours: float = Field(default=48, gt=0)
    deadline_scan_interval_s: float = Field(default=5.0, gt=0)
    # Return visits (回访, services.routing.return_visits): important complaints always; for the
    # others the quality department's decision per case, else this rule.
    return_visit_rule: ReturnVisitRule = Field(default=ReturnVisitRule.IMPORTANT_ONLY, description=(
        "important_only: no return visit unless the quality department chooses one; class_1: every class-1 "
        "complaint; all_valid: every valid complaint (a decision for the case wins; important ones always)"))
    # Notifications to people (services.routing.notifications): who, how, when, how often again.
    notify_recipients: list[RecipientGroup] = Field(default_factory=list, description=(
        "JSON: [{org, role, people: [{id, email}], chats: [{name, kind: wecom|dingtalk, url}]}]; "
        "a case is told to the nearest unit up its org path that names someone for the role"))
    notify_warning_lead_working_hours: float = Field(
        default=1.0, ge=0, description="a deadline's 'about to be missed' notice, this long before (0: none)")
    notify_smtp_host: str | None = Field(default=None, description="unset: e-mails are not sent (retried, then given up)")
    notify_smtp_port: int = Field(default=25, ge=1, le=65535)
    notify_smtp_from: str = "careloop@localhost"
    notify_smtp_username: str | None = None
    notify_smtp_password: SecretStr | None = None
    notify_smtp_security: Literal["none", "starttls", "ssl"] = "none"
    notify_send_timeout_s: float = Field(default=10.0, gt=0)
    notify_retry_first_s: float = Field(default=30.0, gt=0)
    notify_retry_max_s: float = Field(default=3600.0, gt=0)
    notify_max_attempts: int = Field(default=8, ge=1)
    notify_scan_interval_s: float = Field(default=5.0, gt=0)
    claim_authority_yuan: Decimal = Field(
        default=DEFAULT_AUTHORITY_YUAN, gt=0,
        description="the company's authority for compensation, yuan: a larger claim goes to the developer")
    # Warranty repairs (docs/domain.md §4; services.routing.repairs).
    repair_defects_file: str | None = Field(default=None, description="defect vocabulary; the shipped file if unset")
    repair_response_hours: float = Field(default=24, gt=0, description="in warranty: site response, calendar hours")
    repair_recurrence_threshold: int = Field(
        default=3, ge=2, description="repairs of one defect kind in one project that make it a recurring defect")
    repair_recurrence_window_days: int = Field(default=90, ge=1)
    repair_link_floor_span: int = Field(
        default=2, ge=0, description="floors apart that reports of one defect kind in one building still share an order")
    repair_link_threshold: float = Field(
        default=0.7, gt=0, le=1,
        description="the score (place and defect kind, repairs.domain.score_link) from which a report joins an open order")

    def deadline_policy(self) -> DeadlinePolicy:
        return DeadlinePolicy(
            first_response_in_working_time=timedelta(hours=self.first_response_working_hours),
            first_response_outside_working_time=timedelta(hours=self.first_response_outside_hours),
            first_response_calendar_cap=(
                timedelta(hours=self.first_response_cap_hours) if self.first_response_cap_hours else None
            ),
            difficult_escalation_working_days=self.difficult_escalation_working_days,
            measures_report_working_days=self.measures_report_working_days,
            result_delivery=timedelta(hours=self.result_delivery_hours),
        )

    def smtp_config(self) -> SmtpConfig | None:
        if not self.notify_smtp_host:
            return None
        return SmtpConfig(
            host=self.notify_smtp_host, port=self.notify_smtp_port, sender=self.notify_smtp_from,
            username=self.notify_smtp_username,
            password=self.notify_smtp_password.get_secret_value() if self.notify_smtp_password else None,
            security=self.notify_smtp_security, timeout_s=self.notify_send_timeout_s,
        )

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(first_delay=timedelta(seconds=self.notify_retry_first_s),
                           max_delay=timedelta(seconds=self.notify_retry_max_s),
                           max_attempts=self.notify_max_attempts)

    def repair_policy(self) -> RepairPolicy:
        return RepairPolicy(
            response_hours=self.repair_response_hours,
            recurrence_threshold=self.repair_recurrence_threshold,
            recurrence_window_days=self.repair_recurrence_window_days,
            link_floor_span=self.repair_link_floor_span,
            link_threshold=self.repair_link_threshold,
        )
