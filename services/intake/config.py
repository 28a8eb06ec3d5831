from __future__ import annotations

from shared.settings import Settings

SERVICE = "intake"


class IntakeSettings(Settings):
    """Intake's settings on top of the shared ones (none of its own yet)."""
