"""The envelope every integration event travels in.

An event is a frozen pydantic model: the envelope fields below plus a ``data`` payload of its own
type. Producers evolve an event by adding optional payload fields; a breaking change bumps
``schema_version`` and registers an upcaster (``shared.events.upcasting``) that consumers apply
before validating.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Self
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class OrgPath(BaseModel):
    """Where a record sits in the group → subsidiary → project hierarchy (codes, not names)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group: str = Field(pattern=CODE_PATTERN, description="group company code (集团公司)")
    subsidiary: str | None = Field(
        default=None, pattern=CODE_PATTERN, description="subsidiary code (分/子公司)"
    )
    project: str | None = Field(
        default=None,
        pattern=CODE_PATTERN,
        description="project department or property management office code (项目经理部 / 管理处)",
    )

    @model_validator(mode="after")
    def _project_needs_subsidiary(self) -> Self:
        if self.project is not None and self.subsidiary is None:
            raise ValueError("an org path with a project must name its subsidiary")
        return self

    def levels(self) -> list[tuple[str, str]]:
        """(level, path) pairs from the group down, for roll-ups: ('group', 'G'), ('subsidiary', 'G/S')…"""
        out = [("group", self.group)]
        if self.subsidiary:
            out.append(("subsidiary", f"{self.group}/{self.subsidiary}"))
        if self.project:
            out.append(("project", f"{self.group}/{self.subsidiary}/{self.project}"))
        return out

    def as_path(self) -> str:
        return self.levels()[-1][1]


class Event(BaseModel):
    """Base of every integration event. Subclasses fix ``event_type``, ``schema_version``, ``data``."""

    # Unknown fields from a newer producer are ignored, so adding optional fields never breaks a
    # consumer that has not been upgraded yet.
    model_config = ConfigDict(frozen=True, extra="ignore")

    EVENT_TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int]

    event_id: UUID = Field(default_factory=uuid4, description="unique per event; consumers dedupe on it")
    event_type: str
    schema_version: int
    occurred_at: AwareDatetime = Field(description="when the fact happened (UTC or with an offset)")
    correlation_id: UUID = Field(description="shared by every event of one customer interaction")
    causation_id: UUID | None = Field(default=None, description="the event_id this one follows from")
    org: OrgPath
    aggregate_id: str = Field(min_length=1, max_length=128, description="Kafka key: case, feedback, repair…")
    producer: str = Field(min_length=1, max_length=64, description="service or source system that emitted it")
    data: Any

    @classmethod
    def create(
        cls,
        *,
        data: Any,
        org: OrgPath,
        aggregate_id: str | UUID,
        occurred_at: datetime,
        producer: str,
        correlation_id: UUID | None = None,
        caused_by: Event | None = None,
    ) -> Self:
        """A new event; ``caused_by`` carries the correlation id along and sets the causation id."""
        if caused_by is not None:
            correlation_id = caused_by.correlation_id
        return cls(
            event_type=cls.EVENT_TYPE,
            schema_version=cls.SCHEMA_VERSION,
            occurred_at=occurred_at,
            correlation_id=correlation_id or uuid4(),
            causation_id=caused_by.event_id if caused_by is not None else None,
            org=org,
            aggregate_id=str(aggregate_id),
            producer=producer,
            data=data,
        )

    @property
    def key(self) -> bytes:
        return self.aggregate_id.encode()

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()
