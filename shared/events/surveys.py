"""Survey events (DOMAIN.md §5), produced by the survey service.

SurveyReturned, the mission's event, lives in ``shared.events.catalog``; the invitation, campaign
and evaluation events are added here.
"""

from __future__ import annotations

from shared.events.envelope import Event

SURVEY_EVENT_CLASSES: tuple[type[Event], ...] = ()
