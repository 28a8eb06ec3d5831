"""Scheduled publication (docs/domain.md §6): the monthly complaint summary on the 5th of the next
month, the quarterly analysis (with its Pareto) and the semiannual report on the 5th after their
period, for every org unit at every level. Each is a versioned snapshot and a ReportPublished
event; when late events change a published report, it is published again as a new revision.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException

from services.reporting import queries
from services.reporting.api import org_in_scope
from services.reporting.models import PublishedReport
from shared.auth import Principal
from shared.auth.scoping import org_path_clause
from shared.clock import CHINA, Clock
from shared.db import UnitOfWork, UnitOfWorkFactory
from shared.events import OrgPath
from shared.events.reports import ReportPublished, ReportPublishedData

log = logging.getLogger(__name__)

PUBLICATION_DAY = 5
REPORT_NAMESPACE = uuid.UUID("3d1f5c0a-7b7e-4f3e-9a21-5c6d2b8e4f10")


@dataclass(frozen=True)
class Due:
    kind: str
    period: str
    months: list[str]


def _month_index(year: int, month: int) -> int:
    return year * 12 + month - 1


def due_reports(today: date, *, lookback_months: int = 13) -> list[Due]:
    """Reports whose publication day has come, for periods ending in the last ``lookback_months``."""
    published_through = _month_index(today.year, today.month) - (1 if today.day >= PUBLICATION_DAY else 2)
    due: list[Due] = []
    for index in range(published_through - lookback_months + 1, published_through + 1):
        year, month = divmod(index, 12)
        month += 1
        label = f"{year}-{month:02d}"
        due.append(Due("monthly_summary", label, [label]))
        if month % 3 == 0:
            quarter = f"{year}-Q{month // 3}"
            due.append(Due("quarterly_analysis", quarter, queries.months_of_quarter(quarter)))
        if month % 6 == 0:
            half = f"{year}-H{month // 6}"
            due.append(Due("semiannual_report", half, queries.months_of_half(half)))
    return due


def _org(path: str) -> OrgPath:
    parts = path.split("/")
    return OrgPath(group=parts[0], subsidiary=parts[1] if len(parts) > 1 else None,
                   project=parts[2] if len(parts) > 2 else None)


async def _content(due: Due, org: str, *, now: datetime, uow: UnitOfWork) -> dict[str, Any]:
    content = await queries.summary(periods=due.months, label=due.period, org=org, now=now, uow=uow)
    if due.kind != "monthly_summary":
        content["pareto"] = (await queries.pareto_over(months=due.months, label=due.period, org=org, uow=uow))
    content["satisfaction"] = [
        await queries.satisfaction(period=month, org=org, uow=uow) for month in due.months
    ]
    return content


async def publish_due(*, uow: UnitOfWork, clock: Clock) -> int:
    """Publish what is due and republish what changed; returns how many revisions it published."""
    now = clock()
    # One publisher at a time across replicas; the others find nothing left to do.
    await uow.session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('careloop:reporting:publication'))"))
    published = 0
    for due in due_reports(now.astimezone(CHINA).date()):
        for org in await queries.org_paths(uow=uow, periods=due.months):
            content = await _content(due, org, now=now, uow=uow)
            # Deadline figures that are still "pending" depend on the clock, not on events: the
            # snapshot states them as of publication and does not republish for time alone.
            digest = hashlib.sha256(
                json.dumps(_stable(content), sort_keys=True, ensure_ascii=False).encode()).hexdigest()
            last = (await uow.session.execute(
                sa.select(PublishedReport.revision, PublishedReport.content_sha256)
                .where(PublishedReport.kind == due.kind, PublishedReport.period == due.period,
                       PublishedReport.org_path == org)
                .order_by(PublishedReport.revision.desc()).limit(1)
            )).first()
            if last is not None and last.content_sha256 == digest:
                continue
            revision = 1 if last is None else last.revision + 1
            report_id = uuid.uuid5(REPORT_NAMESPACE, f"{due.kind}|{due.period}|{org}")
            uow.session.add(PublishedReport(kind=due.kind, period=due.period, org_path=org, revision=revision,
                                            report_id=report_id, content=content, content_sha256=digest,
                                            published_at=now))
            uow.publish(ReportPublished.create(
                data=ReportPublishedData(report_id=report_id, kind=due.kind, period=due.period,  # type: ignore[arg-type]
                                         org_path=org, revision=revision, content=content,
                                         content_sha256=digest, published_at=now),
                org=_org(org), aggregate_id=report_id, occurred_at=now, producer="reporting",
                correlation_id=report_id,
            ))
            published += 1
    return published


def _stable(content: dict[str, Any]) -> dict[str, Any]:
    stable = json.loads(json.dumps(content, default=str))
    for compliance in [stable.get("deadlines", {})]:
        for figures in compliance.values():
            figures.pop("pending", None)
            figures.pop("overdue_open", None)
            figures.pop("on_time_rate", None)
    return stable


class Publisher:
    def __init__(self, *, uow_factory: UnitOfWorkFactory, clock: Clock, interval_s: float) -> None:
        self.uow_factory, self.clock, self.interval_s = uow_factory, clock, interval_s

    async def publish_once(self) -> int:
        async with self.uow_factory() as uow:
            published = await publish_due(uow=uow, clock=self.clock)
            await uow.commit()
        return published

    async def run(self) -> None:
        while True:
            try:
                published = await self.publish_once()
                if published:
                    log.info("reports published", extra={"revisions": published})
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("report publication failed; will retry", extra={"error": repr(exc)[:300]})
            await asyncio.sleep(self.interval_s)


def published_router(*, uow_factory: UnitOfWorkFactory) -> APIRouter:
    router = APIRouter(prefix="/api/v1/reports/published", tags=["published reports"],
                       dependencies=[Depends(org_in_scope)])

    def out(r: PublishedReport, *, with_content: bool) -> dict[str, Any]:
        body = {"report_id": str(r.report_id), "kind": r.kind, "period": r.period, "org_path": r.org_path,
                "revision": r.revision, "content_sha256": r.content_sha256, "published_at": r.published_at.isoformat()}
        if with_content:
            body["content"] = r.content
        return body

    @router.get("")
    async def list_published(caller: Annotated[Principal, Depends(org_in_scope)], kind: str | None = None,
                             period: str | None = None, org: str | None = None) -> list[dict[str, Any]]:
        """Every published revision inside the caller's org units, newest first."""
        query = sa.select(PublishedReport).order_by(PublishedReport.published_at.desc(),
                                                     PublishedReport.revision.desc()).limit(500)
        if (visible := org_path_clause(caller, PublishedReport.org_path)) is not None:
            query = query.where(visible)
        for column, value in ((PublishedReport.kind, kind), (PublishedReport.period, period),
                              (PublishedReport.org_path, org)):
            if value:
                query = query.where(column == value)
        async with uow_factory() as uow:
            return [out(r, with_content=False) for r in (await uow.session.execute(query)).scalars()]

    @router.get("/{kind}/{period}/{revision}")
    async def get_published(kind: str, period: str, revision: int, org: str) -> dict[str, Any]:
        async with uow_factory() as uow:
            report = await uow.session.get(PublishedReport, (kind, period, org, revision))
        if report is None:
            raise HTTPException(404, {"error": "not_found", "kind": kind, "period": period, "org": org,
                                      "revision": revision})
        return out(report, with_content=True)

    return router
