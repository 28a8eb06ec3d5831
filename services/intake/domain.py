"""Intake's rules: accepting a submission, recognising retries, duplicates and incident groups.

Pure functions only; the use cases in ``service.py`` bring the data and the clock.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from shared.events import FeedbackReceived, FeedbackReceivedData
from shared.events.inbound import FeedbackSubmission
from shared.events.vocabulary import FeedbackKind
from shared.pii import mask_personal_data
from shared.pii_detect import name_marks

PRODUCER = "intake"

# Kinds where several households reporting one defect form an incident group.
GROUPABLE_KINDS = frozenset({FeedbackKind.COMPLAINT, FeedbackKind.REPAIR_REQUEST})


class SubmissionRefused(ValueError):
    """A submission that cannot be accepted; ``field`` names the offending field, ``reason`` says
    why in Chinese (what people read by default) and ``reason_en`` in English (``?lang=en``)."""

    def __init__(self, field: str, reason: str, reason_en: str | None = None) -> None:
        super().__init__(f"{field}: {reason_en or reason}")
        self.field = field
        self.reason = reason
        self.reason_en = reason_en


class IdempotencyConflict(Exception):
    """The same idempotency key was used before for a different submission."""

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency conflict: {key} was used before for a different submission")
        self.key = key


@dataclass(frozen=True)
class DuplicatePolicy:
    """How near-identical feedback is recognised (settings; see ``IntakeSettings``)."""

    window: timedelta = timedelta(hours=72)
    duplicate_similarity: float = 0.6
    incident_similarity: float = 0.5


class PriorFeedback(NamedTuple):
    """What duplicate detection needs of earlier feedback of the same project (a row each: a
    named tuple, built cheaply for every recent row of a project on every submission)."""

    id: uuid.UUID
    kind: str
    customer_id: uuid.UUID | None
    unit: str | None
    text: str
    received_at: datetime
    duplicate_of: uuid.UUID | None
    incident_group_id: uuid.UUID | None


@dataclass(frozen=True)
class Links:
    duplicate_of: uuid.UUID | None = None
    incident_group_id: uuid.UUID | None = None
    # The earlier feedback that now starts a group (its own id becomes the group id).
    group_founder: uuid.UUID | None = None


def received_by_of(submission: FeedbackSubmission, *, staff_required: bool) -> str:
    """The first-contact owner: staff must name themselves; a system is its own receiver."""
    if submission.received_by:
        return submission.received_by
    if staff_required or not submission.source_system:
        raise SubmissionRefused("received_by", "请填写接待的员工（首问负责人）",
                                "name the staff member who received it (首问负责人)")
    return f"system:{submission.source_system}"


def received_at_of(submission: FeedbackSubmission, *, now: datetime) -> datetime:
    received_at = submission.received_at or now
    if received_at > now + timedelta(minutes=2):  # a little clock skew between systems is fine
        raise SubmissionRefused("received_at", "接收时间晚于当前时间", "lies in the future")
    return received_at


def idempotency_key_of(submission: FeedbackSubmission, header_key: str | None) -> str | None:
    if header_key:
        return f"key:{header_key}"
    if submission.source_system and submission.external_id:
        return f"ext:{submission.source_system}:{submission.external_id}"
    return None


def fingerprint(submission: FeedbackSubmission) -> str:
    """A stable hash of what was submitted, to tell a retry from a different request."""
    canonical = json.dumps(submission.model_dump(mode="json", exclude=submission.unset_later_fields),
                           sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


# Each new submission is compared with every recent one of its project, and each of those texts
# was compared many times before: their bigram sets are remembered (a pure function of the text).
@functools.lru_cache(maxsize=16_384)
def _bigrams(text: str) -> frozenset[str]:
    compact = _NOISE.sub("", text.lower())
    if len(compact) < 2:
        return frozenset({compact} if compact else ())
    return frozenset(compact[i : i + 2] for i in range(len(compact) - 1))


def forget_texts() -> None:
    """Drop the remembered texts (after an erasure scrubbed some of them)."""
    _bigrams.cache_clear()


def text_similarity(a: str, b: str) -> float:
    """Jaccard similarity of character bigrams: works for Chinese without segmentation."""
    x, y = _bigrams(a), _bigrams(b)
    if not x or not y:
        return 0.0
    shared = len(x & y)
    return shared / (len(x) + len(y) - shared)


def can_link(*, kind: FeedbackKind, customer_id: uuid.UUID | None, unit: str | None) -> bool:
    """Whether feedback could ever be linked, to earlier feedback or by later feedback: a duplicate
    needs a known customer or unit, an incident group a complaint or repair request. When it could
    not, nothing about its project's other feedback matters to it, nor it to them."""
    return customer_id is not None or unit is not None or kind in GROUPABLE_KINDS


def link(
    *,
    kind: FeedbackKind,
    customer_id: uuid.UUID | None,
    unit: str | None,
    text: str,
    received_at: datetime,
    prior: Sequence[PriorFeedback],
    policy: DuplicatePolicy,
) -> Links:
    """Link new feedback to a likely duplicate (same customer or unit) or to an incident group
    (other households, same defect). Never drops anything: links only."""
    best_duplicate: tuple[float, PriorFeedback] | None = None
    best_incident: tuple[float, PriorFeedback] | None = None
    groupable = kind in GROUPABLE_KINDS
    earliest, latest = received_at - policy.window, received_at + policy.window
    mine = _bigrams(text)
    size = len(mine)
    # The hot loop of duplicate detection (every recent row of the project, for every submission):
    # the similarity is computed only where it could still matter. Jaccard is at most the smaller
    # set's size over the larger's, so a pair whose sizes alone rule out reaching the threshold (or
    # beating the best so far: only a greater similarity replaces it) is not intersected.
    for earlier in prior:
        if not earliest <= earlier.received_at <= latest:
            continue
        same_party = (customer_id is not None and customer_id == earlier.customer_id) or (
            unit is not None and unit == earlier.unit
        )
        if not same_party and not (groupable and earlier.kind in GROUPABLE_KINDS):
            continue  # neither a duplicate nor the same incident, however alike the texts
        if same_party:
            floor, best = policy.duplicate_similarity, best_duplicate
        else:
            floor, best = policy.incident_similarity, best_incident
        theirs = _bigrams(earlier.text)
        other = len(theirs)
        if size and other:
            bound = size / other if size < other else other / size
            if bound < floor or (best is not None and bound <= best[0]):
                continue
            shared = len(mine & theirs)
            similarity = shared / (size + other - shared)
        else:
            similarity = 0.0  # as text_similarity has it
        if similarity >= floor and (best is None or similarity > best[0]):
            if same_party:
                best_duplicate = (similarity, earlier)
            else:
                best_incident = (similarity, earlier)
    if best_duplicate is not None:
        original = best_duplicate[1]
        return Links(
            duplicate_of=original.duplicate_of or original.id,
            incident_group_id=original.incident_group_id,
        )
    if best_incident is not None:
        earlier = best_incident[1]
        if earlier.incident_group_id is not None:
            return Links(incident_group_id=earlier.incident_group_id)
        return Links(incident_group_id=earlier.id, group_founder=earlier.id)
    return Links()


def feedback_received(
    submission: FeedbackSubmission,
    *,
    feedback_id: uuid.UUID,
    received_at: datetime,
    received_by: str,
    customer_id: uuid.UUID | None,
    in_working_time: bool | None,
    links: Links,
    correlation_id: uuid.UUID,
    now: datetime,
    names: Iterable[str] = (),
    name_key: str | None = None,
) -> FeedbackReceived:
    """The event other services read: the text goes out with the personal data the detector finds
    (phones, ID-card and card numbers, e-mails, and `names`, the customer's registered names)
    replaced by placeholders; the clear text stays in intake's table. With ``name_key``
    (``CARELOOP_PII_NAME_KEY``) the names' marks go along, for routing to find them in staff notes."""
    names = tuple(names)
    return FeedbackReceived.create(
        data=FeedbackReceivedData(
            feedback_id=feedback_id,
            kind=submission.kind,
            channel=submission.channel,
            text=mask_personal_data(submission.text, names=names)[:10_000],  # a placeholder may outgrow a name
            customer_name_marks=name_marks(names, key=name_key) if name_key else (),
            received_at=received_at,
            received_by=received_by,
            customer_id=customer_id,
            project_id=submission.project_id or submission.org.project,
            project_stage=submission.project_stage,
            unit=submission.unit,
            in_working_time=in_working_time,
            source_system=submission.source_system,
            external_id=submission.external_id,
            duplicate_of=links.duplicate_of,
            incident_group_id=links.incident_group_id,
            attachments=submission.attachments,
            follow_up_of=submission.follow_up_of,
        ),
        org=submission.org,
        aggregate_id=feedback_id,
        occurred_at=now,
        producer=PRODUCER,
        correlation_id=correlation_id,
    )
