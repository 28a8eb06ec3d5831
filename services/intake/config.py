from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from services.intake.domain import DuplicatePolicy
from shared.settings import Settings

SERVICE = "intake"


class IntakeSettings(Settings):
    """Intake's settings on top of the shared ones (env prefix CARELOOP_)."""

    duplicate_window_hours: float = Field(default=72, gt=0, description="how far apart likely duplicates may be")
    duplicate_similarity: float = Field(default=0.6, ge=0, le=1)
    incident_similarity: float = Field(default=0.5, ge=0, le=1)
    # Systems allowed to submit on the inbound topic; anything else is dead-lettered with the reason.
    inbound_sources: list[str] = Field(
        default=["callcentre", "erp", "property", "wechat", "crm", "survey-tool", "careloop-survey"],
    )
    # Inbound records for an org unit not registered in intake's registry are dead-lettered with the
    # reason (false: only a project registered under another org path is refused).
    inbound_registered_orgs_only: bool = True

    # Concurrent POST /feedback requests are recorded together, at most this many per transaction
    # (1: each request in its own).
    http_group_commit_max: int = Field(default=64, ge=1)

    def duplicate_policy(self) -> DuplicatePolicy:
        return DuplicatePolicy(
            window=timedelta(hours=self.duplicate_window_hours),
            duplicate_similarity=self.duplicate_similarity,
            incident_similarity=self.incident_similarity,
        )
