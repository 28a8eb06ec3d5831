"""Survey's use cases. They change state and queue events; the caller's unit of work commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from services.survey import domain
from services.survey.models import SurveyResponse
from shared.clock import Clock
from shared.db import UnitOfWork
from shared.events import ItemAnswer, OrgPath, SurveyReturned, SurveyReturnedData
from shared.events.vocabulary import SurveyScheme

PRODUCER = "survey"


@dataclass(frozen=True)
class RecordResponse:
    template_id: str
    template_version: int
    scheme: SurveyScheme
    org: OrgPath
    answers: list[tuple[str, str | None]]
    channel: str
    correlation_id: uuid.UUID
    project_id: str | None = None
    returned_at: datetime | None = None


async def record_response(command: RecordResponse, *, uow: UnitOfWork, clock: Clock) -> uuid.UUID:
    now = clock()
    scored = domain.score_form(command.scheme, command.answers)
    response_id = uuid.uuid4()
    returned_at = command.returned_at or now
    answers = [
        {"item_id": i.item_id, "level": i.level, "points": i.points, "satisfied": i.satisfied}
        for i in scored.items
    ]
    uow.session.add(
        SurveyResponse(
            id=response_id,
            template_id=command.template_id,
            template_version=command.template_version,
            scheme=command.scheme.value,
            channel=command.channel,
            project_id=command.project_id or command.org.project,
            org_group=command.org.group,
            org_subsidiary=command.org.subsidiary,
            org_project=command.org.project,
            answers=answers,
            score=scored.score,
            returned_at=returned_at,
            correlation_id=command.correlation_id,
        )
    )
    uow.publish(
        SurveyReturned.create(
            data=SurveyReturnedData(
                response_id=response_id,
                template_id=command.template_id,
                template_version=command.template_version,
                scheme=command.scheme,
                project_id=command.project_id or command.org.project,
                channel=command.channel,  # type: ignore[arg-type]
                returned_at=returned_at,
                answers=tuple(ItemAnswer(**a) for a in answers),
                score=scored.score,
                satisfied=scored.satisfied,
            ),
            org=command.org,
            aggregate_id=response_id,
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=command.correlation_id,
        )
    )
    return response_id
