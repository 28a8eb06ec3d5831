"""What other enterprise systems send on inbound topics (a documented JSON Schema each).

These are requests, not our facts: intake validates them exactly as it validates HTTP, and turns
an accepted one into a FeedbackReceived.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from shared.events.envelope import CODE_PATTERN, OrgPath
from shared.events.vocabulary import Channel, FeedbackKind, ProjectStage
from shared.pii import normalize_email, normalize_phone

AttachmentRef = Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=r"^\S+$")]

SUBMISSION_NAMESPACE = uuid.UUID("0b6b3c8e-2d7f-4a57-9a0e-8c1f3e5d7a21")


class ContactDetails(BaseModel):
    """Personal data: kept by intake only, never logged, never forwarded."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    name: str | None = Field(default=None, max_length=100)
    company: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalize_phone(value) if value else None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return normalize_email(value) if value else None


class FeedbackSubmission(BaseModel):
    """One piece of customer information, from any channel (HTTP, inbound topic, logbook import)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    kind: FeedbackKind
    channel: Channel
    text: str = Field(min_length=1, max_length=10_000)
    org: OrgPath
    received_at: AwareDatetime | None = Field(default=None, description="defaults to the time of receipt")
    received_by: str | None = Field(
        default=None, min_length=1, max_length=64,
        description="staff id of the first-contact owner (首问负责人); systems may leave it out",
    )
    customer_id: uuid.UUID | None = None
    contact: ContactDetails | None = None
    project_id: str | None = Field(default=None, pattern=CODE_PATTERN)
    project_stage: ProjectStage | None = None
    unit: str | None = Field(default=None, max_length=64, description="building-unit-room, e.g. '3-2-1201'")
    attachments: tuple[AttachmentRef, ...] = Field(default=(), max_length=20)
    source_system: str | None = Field(default=None, pattern=CODE_PATTERN)
    external_id: str | None = Field(default=None, min_length=1, max_length=128)
    follow_up_of: uuid.UUID | None = Field(
        default=None,
        description="the case this feedback follows up (e.g. a dissatisfied answer on its return visit): the new "
                    "case is linked to it and keeps its first-contact owner (首问负责制)",
    )

    @property
    def unset_later_fields(self) -> set[str]:
        """Fields added after the first version that are unset: left out of what tells a retry from a
        new request, so that a retry of a submission taken before they existed still matches."""
        return {"follow_up_of"} if self.follow_up_of is None else set()


class InboundFeedback(FeedbackSubmission):
    """A submission on the ``inbound.feedback`` topic: one UTF-8 JSON object per record.

    The source and its own id are required: ``(source_system, external_id)`` is the idempotency
    key, so a record sent again with the same content is taken once, and one sent again under the
    same id with other content is refused. The source must be on intake's allow-list. A refused
    record goes to ``inbound.feedback.dlq`` with the reason in its headers (``x-dlq-reason``).
    The record key may be anything; keyed by the project (``project_id``, else ``org.project``),
    one project's submissions share a partition, so replicas of intake never wait on each other
    to link a project's duplicates.
    """

    message_type: Literal["FeedbackSubmission"] = "FeedbackSubmission"
    schema_version: Literal[1] = 1
    source_system: str = Field(pattern=CODE_PATTERN)
    external_id: str = Field(min_length=1, max_length=128)
    correlation_id: uuid.UUID | None = None

    # The consumer's inbox and the dead-letter path treat it like an event.
    @functools.cached_property
    def event_id(self) -> uuid.UUID:
        """The same for a retry (same source, external id and content, whatever its correlation id),
        so that the consumer's inbox drops it at once. A resubmission under the same external id
        with other content gets an id of its own: it reaches intake, which refuses it (idempotency
        conflict, dead-lettered with the reason) instead of it vanishing as a "retry".

        Kept once computed: the consumer asks for it several times per message.
        """
        exclude = {"correlation_id"} | self.unset_later_fields
        content = hashlib.sha256(self.model_dump_json(exclude=exclude).encode()).hexdigest()
        return uuid.uuid5(SUBMISSION_NAMESPACE, f"{self.source_system}\x1f{self.external_id}\x1f{content}")

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copied = super().model_copy(update=update, deep=deep)
        copied.__dict__.pop("event_id", None)  # a copy with another external id has another event id
        return copied

    @property
    def event_type(self) -> str:
        return self.message_type
