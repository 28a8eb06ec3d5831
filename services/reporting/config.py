from __future__ import annotations

from pydantic import Field

from shared.settings import Settings

SERVICE = "reporting"


class ReportingSettings(Settings):
    """Reporting's settings on top of the shared ones."""

    publication_interval_s: float = Field(default=300, gt=0, description="how often due reports are checked")
