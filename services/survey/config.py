from __future__ import annotations

from shared.settings import Settings

SERVICE = "survey"


class SurveySettings(Settings):
    """Survey's settings on top of the shared ones."""
