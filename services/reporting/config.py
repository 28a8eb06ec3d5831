from __future__ import annotations

from shared.settings import Settings

SERVICE = "reporting"


class ReportingSettings(Settings):
    """Reporting's settings on top of the shared ones."""
