"""Report events (docs/domain.md §6), produced by the reporting service for downstream consumers.

A report is published once its period is over and its publication day has come (the monthly
summary on the 5th of the next month); a late event that changes it publishes a new revision.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from shared.events.catalog import Payload
from shared.events.envelope import Event

ReportKind = Literal["monthly_summary", "quarterly_analysis", "semiannual_report"]


class ReportPublishedData(Payload):
    report_id: UUID = Field(description="the same for every revision of one report (kind, period, org)")
    kind: ReportKind
    period: str = Field(description="'2026-05', '2026-Q2' or '2026-H1'")
    org_path: str
    revision: int = Field(ge=1, description="1 when first published; higher when late events changed it")
    content: dict[str, Any] = Field(description="the view as published; never personal data")
    content_sha256: str
    published_at: AwareDatetime


class ReportPublished(Event):
    EVENT_TYPE = "ReportPublished"
    SCHEMA_VERSION = 1
    event_type: Literal["ReportPublished"] = "ReportPublished"
    schema_version: Literal[1] = 1
    data: ReportPublishedData


REPORT_EVENT_CLASSES: tuple[type[Event], ...] = (ReportPublished,)
