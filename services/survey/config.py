from __future__ import annotations

from pydantic import Field

from shared.settings import Settings

SERVICE = "survey"

class SurveySettings(Settings):
    """Survey's settings on top of the shared ones (env prefix CARELOOP_). Every rule of docs/domain.md
    §5 that the procedures leave open is a setting; the defaults are the stricter values."""

    survey_public_url: str = Field(
        default="http://127.0.0.1:8103", description="base of the one-time links households open (no trailing /)"
    )
    survey_link_key: str = Field(
        default="careloop-dev-only-survey-link-key", min_length=16,
        description="secret the one-time links are derived from (HMAC of the invitation id); set one per "
                    "deployment; changing it voids every link not used yet",
    )
    # Return visits (回访): which cases get one is routing's decision (important complaints always,
    # the others as the quality department chooses); survey issues them.
    return_visit_valid_days: float = Field(default=14, gt=0, description="how long a return-visit link works")
    return_visit_reminder_days: list[float] = Field(default=[3.0], description="days after issue")
    # Campaigns (seed 002): hand out within 3 days, collect within 10 days.
    campaign_hand_out_days: float = Field(default=3, gt=0)
    campaign_collect_days: float = Field(default=10, gt=0)
    campaign_reminder_days: list[float] = Field(default=[5.0, 8.0], description="days after issue, while unanswered")
    semiannual_reach_percent: float = Field(default=85, ge=0, le=100)
    small_estate_max_households: int = Field(default=300, ge=0)
    semiannual_return_percent: float = Field(default=60, ge=0, le=100)
    young_estate_reach_percent: float = Field(default=30, ge=0, le=100)
    mature_estate_reach_percent: float = Field(default=15, ge=0, le=100)
    mature_after_years: int = Field(default=5, ge=0)
    age_rule_return_percent: float = Field(default=75, ge=0, le=100)
    # Each half-year, plan every estate's occupancy-rule round by itself with this template
    # (unset: rounds are planned over HTTP, POST /api/v1/campaigns).
    auto_campaign_template: str | None = None
    # Project service evaluations (scheme C, seed 003 5.4).
    pre_construction_days: int = Field(default=7, ge=1, description="first week after signing")
    process_report_day: int = Field(default=5, ge=1, le=28, description="process self-check reported by this day")
    # Five-level forms (scheme A) and three-level forms (D) have no pass mark in the procedures.
    five_level_pass_score: float = Field(default=80, ge=0, le=100)
    # The background loop: reminders, campaign closing, evaluation schedule.
    scan_interval_s: float = Field(default=30.0, gt=0)
    # Other survey tools allowed on inbound.survey-answers; anything else is dead-lettered.
    inbound_sources: list[str] = Field(default=["survey-tool", "wechat-survey", "property"])
    # The public survey page: requests per client address and minute, per replica (each replica keeps
    # its own count: N replicas let at most N times this through, which still bounds what one address
    # can make the service store or compute).
    survey_page_requests_per_minute: int = Field(default=30, ge=1)
