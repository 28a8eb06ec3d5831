"""Warranty repair events (DOMAIN.md §4), produced by routing's repairs module.

RepairAccepted, the mission's event, lives in ``shared.events.catalog``; the events of the other
steps are added here.
"""

from __future__ import annotations

from shared.events.envelope import Event

REPAIR_EVENT_CLASSES: tuple[type[Event], ...] = ()
