"""What the survey integration tests share: a settable clock, the service's settings, and the
registry and case events other services would publish."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from services.survey.config import SurveySettings
from shared.events import Event, OrgPath
from shared.events.catalog import ProjectRegistered, ProjectRegisteredData, UnitRecord, UnitsRegistered, UnitsRegisteredData
from shared.settings import Settings
from shared.testing.services import publish_raw, read_topic
from shared.topics import topic_for

ORG = OrgPath(group="hx", subsidiary="east", project="lakeside")


class FakeClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def survey_settings(settings: Settings, **overrides: Any) -> SurveySettings:
    # The scheduler scans once at start-up; tests drive later scans themselves.
    return SurveySettings(**{**dict(settings), "scan_interval_s": 3600, **overrides})


async def publish(settings: Settings, *events: Event) -> None:
    for event in events:
        await publish_raw(settings, topic_for(event.event_type), event.to_json(), key=event.key)


async def events_on(
    settings: Settings, event_type: str, *, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 20,
) -> list[dict[str, Any]]:
    records = await read_topic(settings, topic_for(event_type),
                               until=lambda rs: until([json.loads(r.value) for r in rs]), timeout=timeout)
    return [json.loads(r.value) for r in records]


def project_registered(project_id: str, *, households: int, buildings: list[str], stage: str = "property_management",
                       occupancy_start: date | None = date(2023, 6, 1), revision: int = 1,
                       at: datetime | None = None, **extra: Any) -> ProjectRegistered:
    at = at or datetime.now(UTC)
    data = ProjectRegisteredData(project_id=project_id, name=f"项目 {project_id}", stage=stage, households=households,
                                 occupancy_start=occupancy_start, buildings=tuple(buildings), revision=revision,
                                 **extra)
    return ProjectRegistered.create(data=data, org=ORG, aggregate_id=project_id, occurred_at=at, producer="intake")


def units_registered(project_id: str, units: list[UnitRecord]) -> list[UnitsRegistered]:
    now = datetime.now(UTC)
    return [UnitsRegistered.create(data=UnitsRegisteredData(project_id=project_id, units=tuple(units[i:i + 500])),
                                   org=ORG, aggregate_id=project_id, occurred_at=now, producer="intake")
            for i in range(0, len(units), 500)]


def estate_units(project_id: str, per_building: dict[str, int], *, vacant_every: int = 0) -> list[UnitRecord]:
    """Units named '<floor>-<room>' per building; every ``vacant_every``-th one is not occupied."""
    units = []
    n = 0
    for building, count in per_building.items():
        for i in range(count):
            n += 1
            occupied = not (vacant_every and n % vacant_every == 0)
            units.append(UnitRecord(unit_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{project_id}/{building}/{i}"),
                                    building=building, label=f"{i // 4 + 1:02d}{i % 4 + 1:02d}", occupied=occupied,
                                    household_id=uuid.uuid5(uuid.NAMESPACE_OID, f"{project_id}/{building}/{i}")
                                    if occupied else None))
    return units
