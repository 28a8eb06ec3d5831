"""Reporting's subscriber: every event type it projects, in one consumer group."""

from __future__ import annotations

from services.reporting.projections import PROJECTIONS, project
from shared.messaging.consumer import Handler

HANDLERS: dict[str, Handler] = {event_type: project for event_type in PROJECTIONS}
