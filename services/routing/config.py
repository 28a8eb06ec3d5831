from __future__ import annotations

from shared.settings import Settings

SERVICE = "routing"


class RoutingSettings(Settings):
    """Routing's settings on top of the shared ones."""
