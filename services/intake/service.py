"""Intake's use cases. They change state and queue events; the caller's unit of work commits."""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.intake import domain
from services.intake.models import FeedbackRecord, Submission
from shared.clock import Clock
from shared.db import UnitOfWork
from shared.events.inbound import ContactDetails, FeedbackSubmission

#: (moment, org path) -> whether it lies in that org unit's working time; None when unknown.
WorkingTime = Callable[[datetime, str], bool | None]
#: Finds or registers the customer behind contact details; returns the customer id.
CustomerResolver = Callable[..., Awaitable[uuid.UUID]]
#: ``receive_feedback`` with the composition root's wiring (clock, calendar, resolver) bound.
Receiver = Callable[..., Awaitable["Receipt"]]


@dataclass(frozen=True)
class Receipt:
    feedback_id: uuid.UUID
    created: bool
    duplicate_of: uuid.UUID | None = None
    incident_group_id: uuid.UUID | None = None


async def receive_feedback(
    submission: FeedbackSubmission,
    *,
    uow: UnitOfWork,
    clock: Clock,
    correlation_id: uuid.UUID,
    idempotency_key: str | None = None,
    staff_required: bool = True,
    working_time: WorkingTime | None = None,
    resolve_customer: CustomerResolver | None = None,
    policy: domain.DuplicatePolicy = domain.DuplicatePolicy(),
    defer_insert: bool = False,
) -> Receipt:
    """Record one piece of customer information and queue its FeedbackReceived.

    A retry (same idempotency key, or same source system and external id) returns the original
    feedback id and queues nothing. Raises SubmissionRefused or IdempotencyConflict.

    ``defer_insert`` (a consumer applying many submissions in one transaction) leaves the feedback
    row to the unit of work's deferred writes, so that a batch's rows go out together; a later
    submission of the same project in that transaction flushes them before it looks for links.
    """
    now = clock()
    received_by = domain.received_by_of(submission, staff_required=staff_required)
    received_at = domain.received_at_of(submission, now=now)
    feedback_id = uuid.uuid4()
    key = domain.idempotency_key_of(submission, idempotency_key)
    project_id = submission.project_id or submission.org.project
    # Core statements on the unit of work's connection: the same transaction as the ORM session
    # (and the outbox rows its commit writes), without the ORM's flush machinery on this hot path.
    if uow.session.new or uow.session.dirty or uow.session.deleted:
        await uow.session.flush()
    db = await uow.session.connection()
    locked = False
    # Only feedback that could be linked (or be linked to) waits for its project's lock.
    linkable = project_id is not None and domain.can_link(
        kind=submission.kind, customer_id=submission.customer_id, unit=submission.unit
    )
    if key is not None:
        request_hash = domain.fingerprint(submission)
        # Concurrent retries queue on this row's unique index until the first one commits. The
        # project's lock is taken in the same statement, after the claim (so every transaction
        # takes the two in the same order), and only when the claim succeeds: a retry links nothing.
        claim = {"idempotency_key": key, "request_hash": request_hash, "feedback_id": feedback_id}
        if linkable and submission.contact is None:
            assert project_id is not None
            claimed = await db.execute(_CLAIM_AND_LOCK, {**claim, "lock_key": _lock_key(project_id)})
            locked = True
        else:
            claimed = await db.execute(_CLAIM, claim)
        if claimed.first() is None:
            earlier = (await db.execute(_EARLIER, {"idempotency_key": key})).one()
            if earlier.request_hash != request_hash:
                raise domain.IdempotencyConflict(key)
            return Receipt(feedback_id=earlier.feedback_id, created=False)

    customer_id = submission.customer_id
    if customer_id is None and submission.contact is not None and resolve_customer is not None:
        customer_id = await resolve_customer(
            submission.contact, project_id=project_id, uow=uow, clock=clock,
            org=submission.org, correlation_id=correlation_id,
        )
        if uow.session.new or uow.session.dirty or uow.session.deleted:
            await uow.session.flush()
    links = domain.Links()
    if project_id is not None and domain.can_link(
        kind=submission.kind, customer_id=customer_id, unit=submission.unit
    ):
        # One project's feedback is linked one at a time, so two near-identical reports arriving
        # together still see each other. The lookup is a statement of its own after the lock, so
        # that its snapshot includes whatever the previous holder committed.
        if not locked:
            await db.execute(_LOCK, {"lock_key": _lock_key(project_id)})
        deferred = _deferred_projects.get(uow)
        if deferred and project_id in deferred:
            await uow.flush()  # this transaction's earlier rows of the project must be seen
            deferred.clear()
        rows = await db.execute(
            _RECENT,
            {
                "project_id": project_id, "since": received_at - policy.window, "until": received_at + policy.window,
                "customer_id": customer_id, "unit": submission.unit,
                "groupable": submission.kind in domain.GROUPABLE_KINDS,
            },
        )
        prior = list(map(domain.PriorFeedback._make, rows))
        links = domain.link(
            kind=submission.kind, customer_id=customer_id, unit=submission.unit, text=submission.text,
            received_at=received_at, prior=prior, policy=policy,
        )
        if links.group_founder is not None:
            await db.execute(_FOUND_GROUP, {"founder": links.group_founder})
    in_working_time = working_time(received_at, submission.org.as_path()) if working_time else None
    row = {
        "id": feedback_id,
        "kind": submission.kind.value,
        "channel": submission.channel.value,
        "text": submission.text,
        "received_at": received_at,
        "received_by": received_by,
        "in_working_time": in_working_time,
        "customer_id": customer_id,
        "project_id": project_id,
        "project_stage": submission.project_stage.value if submission.project_stage else None,
        "unit": submission.unit,
        "org_group": submission.org.group,
        "org_subsidiary": submission.org.subsidiary,
        "org_project": submission.org.project,
        "attachments": list(submission.attachments),
        "source_system": submission.source_system,
        "external_id": submission.external_id,
        "duplicate_of": links.duplicate_of,
        "incident_group_id": links.incident_group_id,
        "correlation_id": correlation_id,
    }
    if defer_insert:
        uow.defer(_INSERT_FEEDBACK, row, row=("intake.feedback", feedback_id))
        _deferred_projects.setdefault(uow, set()).add(project_id)
    else:
        await db.execute(_INSERT_FEEDBACK, row)
    uow.publish(
        domain.feedback_received(
            submission, feedback_id=feedback_id, received_at=received_at, received_by=received_by,
            customer_id=customer_id, in_working_time=in_working_time, links=links,
            correlation_id=correlation_id, now=now,
        )
    )
    return Receipt(feedback_id, True, links.duplicate_of, links.incident_group_id)


#: Per unit of work, the projects whose feedback rows it holds deferred (not yet flushed); stale
#: entries (after a commit or another flush) only cost an empty flush.
_deferred_projects: weakref.WeakKeyDictionary[Any, set[str | None]] = weakref.WeakKeyDictionary()


def _lock_key(project_id: str) -> str:
    return f"intake:feedback:{project_id}"


# The hot path's statements, built once (SQLAlchemy compiles each once and caches it).
_feedback = FeedbackRecord.__table__
_submissions = Submission.__table__
_CLAIM = (
    pg_insert(_submissions)
    .values(
        idempotency_key=sa.bindparam("idempotency_key"),
        request_hash=sa.bindparam("request_hash"),
        feedback_id=sa.bindparam("feedback_id"),
    )
    .on_conflict_do_nothing()
    .returning(_submissions.c.feedback_id)
)
_LOCK_FUNCTION = sa.func.pg_advisory_xact_lock(sa.func.hashtext(sa.bindparam("lock_key", type_=sa.Text)))
_LOCK = sa.select(_LOCK_FUNCTION)
# The lock is evaluated once per claimed row, i.e. after the insert and only if it claimed the key.
_claimed = _CLAIM.cte("claimed")
_CLAIM_AND_LOCK = sa.select(_claimed.c.feedback_id, _LOCK_FUNCTION).select_from(_claimed)
_EARLIER = sa.select(_submissions.c.feedback_id, _submissions.c.request_hash).where(
    _submissions.c.idempotency_key == sa.bindparam("idempotency_key")
)
# The project's first 500 pieces of feedback in the window, as ever; of those only the ones that
# could link (same customer or unit, or both of groupable kinds: see domain.link) leave the database.
_window = (
    sa.select(
        _feedback.c.id, _feedback.c.kind, _feedback.c.customer_id, _feedback.c.unit, _feedback.c.text,
        _feedback.c.received_at, _feedback.c.duplicate_of, _feedback.c.incident_group_id,
    )
    .where(
        _feedback.c.project_id == sa.bindparam("project_id"),
        _feedback.c.received_at >= sa.bindparam("since"),
        _feedback.c.received_at <= sa.bindparam("until"),
    )
    .order_by(_feedback.c.received_at)
    .limit(500)
    .subquery("recent")
)
_RECENT = (
    sa.select(*_window.c)
    .where(
        sa.or_(
            _window.c.customer_id == sa.bindparam("customer_id", type_=_feedback.c.customer_id.type),
            _window.c.unit == sa.bindparam("unit", type_=sa.Text),
            sa.and_(
                sa.bindparam("groupable", type_=sa.Boolean),
                _window.c.kind.in_(sorted(kind.value for kind in domain.GROUPABLE_KINDS)),
            ),
        )
    )
    .order_by(_window.c.received_at)
)
_FOUND_GROUP = (
    sa.update(_feedback)
    .where(_feedback.c.id == sa.bindparam("founder"), _feedback.c.incident_group_id.is_(None))
    .values(incident_group_id=sa.bindparam("founder"))
)
_INSERT_FEEDBACK = sa.insert(_feedback)


async def get_feedback(feedback_id: uuid.UUID, *, uow: UnitOfWork) -> FeedbackRecord | None:
    return await uow.session.get(FeedbackRecord, feedback_id)


__all__ = ["ContactDetails", "Receipt", "get_feedback", "receive_feedback"]
