"""Reporting's projections and queries. Each projection runs inside the consumer's transaction,
after the inbox has claimed the event, so a redelivered event never counts twice."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.reporting.models import ComplaintCount, SurveyCount
from shared.clock import month_of
from shared.db import UnitOfWork
from shared.events import ComplaintClassified, SurveyReturned


async def count_complaint(event: ComplaintClassified, *, uow: UnitOfWork) -> None:
    period = month_of(event.data.received_at)
    for level, path in event.org.levels():
        stmt = pg_insert(ComplaintCount).values(
            period=period, org_level=level, org_path=path,
            complaint_class=event.data.complaint_class, complaints=1,
        )
        await uow.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["period", "org_level", "org_path", "complaint_class"],
                set_={"complaints": ComplaintCount.complaints + 1},
            )
        )


async def count_survey(event: SurveyReturned, *, uow: UnitOfWork) -> None:
    period = month_of(event.data.returned_at)
    for level, path in event.org.levels():
        stmt = pg_insert(SurveyCount).values(
            period=period, org_level=level, org_path=path, scheme=event.data.scheme.value, responses=1
        )
        await uow.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["period", "org_level", "org_path", "scheme"],
                set_={"responses": SurveyCount.responses + 1},
            )
        )


async def complaint_counts(*, period: str, org_path: str, uow: UnitOfWork) -> dict[int, int]:
    rows = await uow.session.execute(
        sa.select(ComplaintCount.complaint_class, ComplaintCount.complaints).where(
            ComplaintCount.period == period, ComplaintCount.org_path == org_path
        )
    )
    return {int(c): int(n) for c, n in rows.all()}


async def survey_counts(*, period: str, org_path: str, uow: UnitOfWork) -> dict[str, int]:
    rows = await uow.session.execute(
        sa.select(SurveyCount.scheme, SurveyCount.responses).where(
            SurveyCount.period == period, SurveyCount.org_path == org_path
        )
    )
    return {str(s): int(n) for s, n in rows.all()}
