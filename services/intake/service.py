"""Intake's use cases. They change state and queue events; the caller's unit of work commits."""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.intake import domain
from services.intake.models import Customer, FeedbackRecord, Submission
from shared.auth.principal import Principal
from shared.clock import Clock
from shared.db import UnitOfWork
from shared.events.inbound import ContactDetails, FeedbackSubmission

#: (moment, org path) -> whether it lies in that org unit's working time; None when unknown.
WorkingTime = Callable[[datetime, str], bool | None]
#: Finds or registers the customer behind contact details; returns the customer id.
CustomerResolver = Callable[..., Awaitable[uuid.UUID]]
#: Why each (org path, project id) cannot take feedback, or None (``registry.service.misplaced``).
PlaceCheck = Callable[..., Awaitable[Sequence[Any]]]
#: ``receive_feedback`` with the composition root's wiring (clock, calendar, resolver) bound.
Receiver = Callable[..., Awaitable["Receipt"]]
#: ``receive_feedback_batch`` with the same wiring bound.
BatchReceiver = Callable[..., Awaitable[list["Receipt"]]]


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
    place_check: PlaceCheck | None = None,
    registered_orgs_only: bool = False,
    caller: Principal | None = None,
    name_key: str | None = None,
) -> Receipt:
    """Record one piece of customer information and queue its FeedbackReceived.

    A retry (same idempotency key, or same source system and external id) returns the original
    feedback id and queues nothing. Raises SubmissionRefused or IdempotencyConflict.

    ``defer_insert`` (a consumer applying many submissions in one transaction) leaves the feedback
    row to the unit of work's deferred writes, so that a batch's rows go out together; a later
    submission of the same project in that transaction flushes them before it looks for links.

    ``place_check`` refuses feedback whose org path and registered project disagree, and with
    ``registered_orgs_only`` (records of other systems) feedback for an org unit not registered.

    ``caller`` (a person's request): contact details matching a customer the caller may not reach
    link the feedback to that customer without adding anything to it (see the resolver).
    """
    if place_check is not None:
        await refuse_misplaced([submission], uow=uow, place_check=place_check, registered_orgs_only=registered_orgs_only)
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
            org=submission.org, correlation_id=correlation_id, caller=caller,
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
    row = _feedback_row(
        submission, feedback_id=feedback_id, received_at=received_at, received_by=received_by,
        in_working_time=in_working_time, customer_id=customer_id, project_id=project_id, links=links,
        correlation_id=correlation_id,
    )
    if defer_insert:
        uow.defer(_INSERT_FEEDBACK, row, row=("intake.feedback", feedback_id))
        _deferred_projects.setdefault(uow, set()).add(project_id)
    else:
        await db.execute(_INSERT_FEEDBACK, row)
    names = (await _names_of(db, [customer_id])).get(customer_id, ()) if customer_id else ()
    uow.publish(
        domain.feedback_received(
            submission, feedback_id=feedback_id, received_at=received_at, received_by=received_by,
            customer_id=customer_id, in_working_time=in_working_time, links=links,
            correlation_id=correlation_id, now=now, names=(*names, *_contact_names(submission)),
            name_key=name_key,
        )
    )
    return Receipt(feedback_id, True, links.duplicate_of, links.incident_group_id)


async def receive_feedback_batch(
    submissions: Sequence[tuple[FeedbackSubmission, uuid.UUID]],
    *,
    uow: UnitOfWork,
    clock: Clock,
    staff_required: bool = True,
    working_time: WorkingTime | None = None,
    resolve_customer: CustomerResolver | None = None,
    policy: domain.DuplicatePolicy = domain.DuplicatePolicy(),
    idempotency_keys: Sequence[str | None] | None = None,
    place_check: PlaceCheck | None = None,
    registered_orgs_only: bool = False,
    callers: Sequence[Principal | None] | None = None,
    name_key: str | None = None,
) -> list[Receipt]:
    """``receive_feedback`` (with ``defer_insert``) for each ``(submission, correlation id)`` in turn,
    with the same effects, in a few statements for the lot instead of a few for each.
    ``idempotency_keys``: each submission's ``Idempotency-Key`` header (HTTP), in the same order;
    ``callers``: each submission's caller (HTTP), likewise.

    One statement claims every idempotency key, one takes the projects' locks (in a fixed order),
    one reads every submission's recent feedback (each its own window, as one by one); submissions
    of the same project are then linked to each other in memory, in order, as if each had read the
    rows of the ones before it. A submission whose contact details must first be matched to a
    customer (the registry's own statements) is received on its own, between the runs around it.
    Raises SubmissionRefused or IdempotencyConflict for the first submission that has one (the
    consumer then takes the batch one submission at a time, to refuse only that one).
    """
    if place_check is not None:  # one statement for the lot
        await refuse_misplaced([s for s, _ in submissions], uow=uow, place_check=place_check,
                               registered_orgs_only=registered_orgs_only)
    receipts: list[Receipt] = []
    run: list[tuple[FeedbackSubmission, uuid.UUID, str | None]] = []
    options = {"uow": uow, "clock": clock, "staff_required": staff_required, "working_time": working_time,
               "policy": policy, "name_key": name_key}
    if idempotency_keys is None:
        idempotency_keys = [None] * len(submissions)
    elif len(idempotency_keys) != len(submissions):
        raise ValueError("one idempotency key (or None) per submission")
    if callers is None:
        callers = [None] * len(submissions)
    elif len(callers) != len(submissions):
        raise ValueError("one caller (or None) per submission")
    for (submission, correlation_id), header_key, caller in zip(submissions, idempotency_keys, callers, strict=True):
        if submission.customer_id is None and submission.contact is not None and resolve_customer is not None:
            receipts += await _receive_run(run, **options)
            run = []
            receipts.append(await receive_feedback(
                submission, correlation_id=correlation_id, resolve_customer=resolve_customer, defer_insert=True,
                idempotency_key=header_key, caller=caller, **options))
        else:
            run.append((submission, correlation_id, header_key))
    receipts += await _receive_run(run, **options)
    return receipts


async def refuse_misplaced(submissions: Sequence[FeedbackSubmission], *, uow: UnitOfWork, place_check: PlaceCheck,
                           registered_orgs_only: bool) -> None:
    """Raise SubmissionRefused for the first submission filed where it cannot be (see ``place_check``)."""
    places = [(s.org, s.project_id or s.org.project) for s in submissions]
    for problem in await place_check(places, uow=uow, registered_orgs_only=registered_orgs_only):
        if problem is not None:
            raise domain.SubmissionRefused(problem.field, problem.reason, problem.reason_en)


@dataclass
class _Pending:
    """One submission of a run, on its way through :func:`_receive_run`."""

    submission: FeedbackSubmission
    correlation_id: uuid.UUID
    received_by: str
    received_at: datetime
    key: str | None
    project_id: str | None
    feedback_id: uuid.UUID
    request_hash: str | None = None
    receipt: Receipt | None = None  # set for a retry of an earlier submission


async def _receive_run(
    run: list[tuple[FeedbackSubmission, uuid.UUID, str | None]],
    *,
    uow: UnitOfWork,
    clock: Clock,
    staff_required: bool,
    working_time: WorkingTime | None,
    policy: domain.DuplicatePolicy,
    name_key: str | None = None,
) -> list[Receipt]:
    """Submissions that need no customer matching, received together (see receive_feedback_batch)."""
    if not run:
        return []
    now = clock()
    pending = [
        _Pending(
            submission, correlation_id,
            received_by=domain.received_by_of(submission, staff_required=staff_required),
            received_at=domain.received_at_of(submission, now=now),
            key=domain.idempotency_key_of(submission, header_key),
            project_id=submission.project_id or submission.org.project,
            feedback_id=uuid.uuid4(),
        )
        for submission, correlation_id, header_key in run
    ]
    if uow.session.new or uow.session.dirty or uow.session.deleted:
        await uow.session.flush()
    db = await uow.session.connection()

    # Retries: the first submission of each key claims it; the others of the run repeat that one.
    first_of_key: dict[str, _Pending] = {}
    for p in pending:
        if p.key is not None:
            p.request_hash = domain.fingerprint(p.submission)
            first_of_key.setdefault(p.key, p)
    claimed: set[str] = set()
    earlier: dict[str, Any] = {}
    if first_of_key:
        # in key order, so that two transactions claiming some of the same keys queue, not deadlock
        firsts = sorted(first_of_key.values(), key=lambda p: p.key or "")
        claimed = set((await db.execute(_CLAIM_MANY, {
            "keys": [p.key for p in firsts], "hashes": [p.request_hash for p in firsts],
            "feedback_ids": [p.feedback_id for p in firsts],
        })).scalars())
        if unclaimed := [key for key in first_of_key if key not in claimed]:
            earlier = {row.idempotency_key: row for row in await db.execute(_EARLIER_MANY, {"keys": unclaimed})}
    for p in pending:
        if p.key is None:
            continue
        first = first_of_key[p.key]
        if first is p and p.key in claimed:
            continue
        original_hash, original_id = (
            (first.request_hash, first.feedback_id) if p.key in claimed
            else (earlier[p.key].request_hash, earlier[p.key].feedback_id)
        )
        if p.request_hash != original_hash:
            raise domain.IdempotencyConflict(p.key)
        p.receipt = Receipt(feedback_id=original_id, created=False)
    new = [p for p in pending if p.receipt is None]

    # Linking: the projects' locks, then (a statement of its own, so that its snapshot includes what
    # the locks' previous holders committed) every linkable submission's recent feedback.
    linkable = [
        p for p in new
        if p.project_id is not None
        and domain.can_link(kind=p.submission.kind, customer_id=p.submission.customer_id, unit=p.submission.unit)
    ]
    prior_of: dict[int, list[domain.PriorFeedback]] = {}
    if linkable:
        projects = sorted({p.project_id for p in linkable if p.project_id is not None})
        await db.execute(_LOCK_MANY, {"lock_keys": [_lock_key(project) for project in projects]})
        deferred = _deferred_projects.get(uow)
        if deferred and not deferred.isdisjoint(projects):
            await uow.flush()  # this transaction's earlier rows of these projects must be seen
            deferred.clear()
        # many rows (each submission's recent feedback): as plain tuples from the driver
        rows = await uow.fetch(_RECENT_MANY, {
            "projects": [p.project_id for p in linkable],
            "sinces": [p.received_at - policy.window for p in linkable],
            "untils": [p.received_at + policy.window for p in linkable],
            "customers": [p.submission.customer_id for p in linkable],
            "units": [p.submission.unit for p in linkable],
            "groupables": [p.submission.kind in domain.GROUPABLE_KINDS for p in linkable],
        })
        for row in rows:  # (ord, the PriorFeedback fields)
            prior_of.setdefault(row[0] - 1, []).append(domain.PriorFeedback._make(row[1:]))

    # In order: each submission sees the rows read for it and the run's earlier ones of its project.
    index_of = {id(p): i for i, p in enumerate(linkable)}
    names_of = await _names_of(db, [p.submission.customer_id for p in new if p.submission.customer_id])
    in_run: dict[str, list[domain.PriorFeedback]] = {}
    founded: set[uuid.UUID] = set()
    for p in new:
        submission = p.submission
        links = domain.Links()
        if (i := index_of.get(id(p))) is not None:
            assert p.project_id is not None
            groupable = submission.kind in domain.GROUPABLE_KINDS
            candidates = [
                row._replace(incident_group_id=row.id) if row.id in founded and row.incident_group_id is None
                else row
                for row in prior_of.get(i, ())
            ]
            candidates += [
                row for row in in_run.get(p.project_id, ())
                if (submission.customer_id is not None and row.customer_id == submission.customer_id)
                or (submission.unit is not None and row.unit == submission.unit)
                or (groupable and row.kind in _GROUPABLE_VALUES)
            ]
            candidates.sort(key=lambda row: row.received_at)
            links = domain.link(
                kind=submission.kind, customer_id=submission.customer_id, unit=submission.unit,
                text=submission.text, received_at=p.received_at, prior=candidates, policy=policy,
            )
            if links.group_founder is not None and links.group_founder not in founded:
                founded.add(links.group_founder)
                uow.defer(_FOUND_GROUP, {"founder": links.group_founder}, row=("intake.feedback", links.group_founder))
                in_run[p.project_id] = [
                    row._replace(incident_group_id=row.id) if row.id == links.group_founder else row
                    for row in in_run.get(p.project_id, ())
                ]
            in_run.setdefault(p.project_id, []).append(domain.PriorFeedback(
                p.feedback_id, submission.kind.value, submission.customer_id, submission.unit, submission.text,
                p.received_at, links.duplicate_of, links.incident_group_id,
            ))
        in_working_time = working_time(p.received_at, submission.org.as_path()) if working_time else None
        uow.defer(_INSERT_FEEDBACK, _feedback_row(
            submission, feedback_id=p.feedback_id, received_at=p.received_at, received_by=p.received_by,
            in_working_time=in_working_time, customer_id=submission.customer_id, project_id=p.project_id,
            links=links, correlation_id=p.correlation_id,
        ), row=("intake.feedback", p.feedback_id))
        _deferred_projects.setdefault(uow, set()).add(p.project_id)
        uow.publish(
            domain.feedback_received(
                submission, feedback_id=p.feedback_id, received_at=p.received_at, received_by=p.received_by,
                customer_id=submission.customer_id, in_working_time=in_working_time, links=links,
                correlation_id=p.correlation_id, now=now,
                names=(*names_of.get(submission.customer_id, ()), *_contact_names(submission)),
                name_key=name_key,
            )
        )
        p.receipt = Receipt(p.feedback_id, True, links.duplicate_of, links.incident_group_id)
    return [p.receipt for p in pending if p.receipt is not None]


async def _names_of(db: Any, customer_ids: Sequence[uuid.UUID | None]) -> dict[uuid.UUID, tuple[str, ...]]:
    """The registered names (person and company) of these customers: the detector masks them in the
    text that leaves intake."""
    ids = list({i for i in customer_ids if i is not None})
    if not ids:
        return {}
    rows = await db.execute(sa.select(Customer.id, Customer.name, Customer.company).where(Customer.id.in_(ids)))
    return {row.id: tuple(n for n in (row.name, row.company) if n) for row in rows}


def _contact_names(submission: FeedbackSubmission) -> tuple[str, ...]:
    contact = submission.contact
    return tuple(n for n in (contact.name, contact.company) if n) if contact is not None else ()


def _feedback_row(
    submission: FeedbackSubmission, *, feedback_id: uuid.UUID, received_at: datetime, received_by: str,
    in_working_time: bool | None, customer_id: uuid.UUID | None, project_id: str | None, links: domain.Links,
    correlation_id: uuid.UUID,
) -> dict[str, Any]:
    return {
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
_GROUPABLE_VALUES = frozenset(kind.value for kind in domain.GROUPABLE_KINDS)


# The batch forms (receive_feedback_batch): one statement for many submissions.
_CLAIM_MANY = sa.text(
    f"INSERT INTO {_submissions.fullname} (idempotency_key, request_hash, feedback_id) "
    "SELECT * FROM unnest(CAST(:keys AS text[]), CAST(:hashes AS text[]), CAST(:feedback_ids AS uuid[])) "
    "ON CONFLICT DO NOTHING RETURNING idempotency_key"
).bindparams(
    sa.bindparam("keys", type_=ARRAY(sa.Text)), sa.bindparam("hashes", type_=ARRAY(sa.Text)),
    sa.bindparam("feedback_ids", type_=ARRAY(UUID(as_uuid=True))),
).columns(idempotency_key=sa.Text)
_EARLIER_MANY = sa.select(
    _submissions.c.idempotency_key, _submissions.c.feedback_id, _submissions.c.request_hash
).where(_submissions.c.idempotency_key == sa.func.any(sa.bindparam("keys", type_=ARRAY(sa.Text))))
# Taken one after the other in the order given (sorted by the caller: two transactions wanting some
# of the same projects queue instead of deadlocking). The same statement has the rest of the
# transaction plan its statements for their parameters: _RECENT_MANY's cached generic plan is only
# as good as the statistics of when it was made (a service that started on a near-empty table kept
# scanning the whole table for every submission, 20 times slower, until the next ANALYZE).
_LOCK_MANY = sa.text(
    "SELECT count(pg_advisory_xact_lock(hashtext(k))), set_config('plan_cache_mode', 'force_custom_plan', true) "
    "FROM (SELECT k FROM unnest(CAST(:lock_keys AS text[])) WITH ORDINALITY AS l(k, n) ORDER BY n) AS ordered"
).bindparams(sa.bindparam("lock_keys", type_=ARRAY(sa.Text)))
# _RECENT for each submission (its own window, customer, unit), numbered by ``ord`` from 1.
_RECENT_MANY = sa.text(
    f"""
    SELECT s.ord, r.id, r.kind, r.customer_id, r.unit, r.text, r.received_at, r.duplicate_of,
           r.incident_group_id
    FROM unnest(CAST(:projects AS text[]), CAST(:sinces AS timestamptz[]), CAST(:untils AS timestamptz[]),
                CAST(:customers AS uuid[]), CAST(:units AS text[]), CAST(:groupables AS boolean[]))
         WITH ORDINALITY AS s(project_id, since, until, customer_id, unit, groupable, ord)
    CROSS JOIN LATERAL (
        SELECT w.* FROM (
            SELECT f.id, f.kind, f.customer_id, f.unit, f.text, f.received_at, f.duplicate_of,
                   f.incident_group_id
            FROM {_feedback.fullname} AS f
            WHERE f.project_id = s.project_id AND f.received_at >= s.since AND f.received_at <= s.until
            ORDER BY f.received_at
            LIMIT 500
        ) AS w
        WHERE w.customer_id = s.customer_id OR w.unit = s.unit
              OR (s.groupable AND w.kind = ANY(CAST(:groupable_kinds AS text[])))
    ) AS r
    ORDER BY s.ord, r.received_at
    """
).bindparams(
    sa.bindparam("projects", type_=ARRAY(sa.Text)),
    sa.bindparam("sinces", type_=ARRAY(sa.DateTime(timezone=True))),
    sa.bindparam("untils", type_=ARRAY(sa.DateTime(timezone=True))),
    sa.bindparam("customers", type_=ARRAY(UUID(as_uuid=True))),
    sa.bindparam("units", type_=ARRAY(sa.Text)),
    sa.bindparam("groupables", type_=ARRAY(sa.Boolean)),
    sa.bindparam("groupable_kinds", value=sorted(_GROUPABLE_VALUES), type_=ARRAY(sa.Text)),
)


async def get_feedback(feedback_id: uuid.UUID, *, uow: UnitOfWork) -> FeedbackRecord | None:
    return await uow.session.get(FeedbackRecord, feedback_id)


__all__ = ["ContactDetails", "Receipt", "get_feedback", "receive_feedback", "receive_feedback_batch"]
