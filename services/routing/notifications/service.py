"""Queueing and sending notifications.

A fact queues its messages in its own transaction (an escalation in ``escalate``, a breach in the
deadline watcher's), one row per person or chat, under a key that makes the same fact queue them
once. The notification watcher then, in three steps, each claiming rows with SKIP LOCKED so that
any number of routing replicas share the work without doubling it:

1. works out when each pending deadline's "about to be missed" notice is due (a setting: by
   default 1 working hour before the due time, on the case's business calendar); again whenever
   the due time changes;
2. queues the notices that fell due, once per deadline and due time;
3. sends queued messages. A row stays locked while it is sent and is marked sent in the same
   transaction, so a replica that dies halfway leaves it for the next; a failure is retried after
   30 s, 60 s, 120 s … (capped at an hour), and after the last attempt given up. Either way the
   case's history says so.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.routing.models import Case, CaseStepRecord, DeadlineRecord
from services.routing.notifications.domain import (
    CHANNEL_LABELS,
    DEADLINE_LABELS,
    REASON_LABELS,
    ROLE_LABELS,
    CaseSummary,
    Directory,
    Reason,
    RetryPolicy,
    compose,
    warning_moment,
)
from services.routing.notifications.models import Notification
from services.routing.notifications.senders import Sender, SendFailed
from shared.calendar import BusinessCalendar
from shared.clock import Clock
from shared.db import UnitOfWork, UnitOfWorkFactory
from shared.runtime import repeat

log = logging.getLogger(__name__)

SYSTEM = "system"

# Who is warned that a deadline is about to be missed: those who must meet it. ``lead_department``
# is the case's lead department (customer service before one is named).
WARN_TO: dict[str, tuple[str, ...]] = {
    "first_response": ("customer_service",),
    "difficult_escalation": ("lead_department",),
    "measures_report": ("lead_department",),
    "result_delivery": ("customer_service",),
    "quality_department": ("lead_department", "quality_department"),
}
# Besides the level a breach is escalated to, who also hears of it: the quality department tracks
# its own deadline.
ALSO_ON_BREACH: dict[str, tuple[str, ...]] = {"quality_department": ("quality_department",)}


@dataclass
class Notices:
    """The notification settings and collaborators, wired in app.py."""

    directory: Directory
    calendar: BusinessCalendar
    sender: Sender
    #: How long before a deadline its "about to be missed" notice goes out, in working time;
    #: zero: no such notice.
    warning_lead: timedelta = timedelta(hours=1)
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    # --- queueing ------------------------------------------------------------------------------

    async def queue(self, uow: UnitOfWork, case: Any, reason: Reason, roles: Iterable[str], *, now: datetime,
                    occasion: str, deadline_kind: str | None = None, due_at: datetime | None = None) -> int:
        """One row per address of each role's nearest recipients; returns how many were new."""
        org_path = _org_path(case)
        unit = self.calendar.for_unit(org_path)
        summary = CaseSummary(case_id=case.id, org_path=org_path, project_id=case.project_id,
                              category=case.category, complaint_class=case.complaint_class)
        rows = []
        for role in dict.fromkeys(roles):
            target = (case.lead_department or "customer_service") if role == "lead_department" else role
            message = compose(reason, summary, unit, role=target, deadline_kind=deadline_kind, due_at=due_at)
            for address in self.directory.addresses(org_path, target):
                rows.append(dict(
                    case_id=case.id, reason=reason, deadline_kind=deadline_kind, recipient_role=target,
                    recipient=address.recipient, channel=address.channel, address=address.address,
                    subject=message.subject, body=_with_mentions(message.body, address.mentions),
                    mentions=list(address.mentions),
                    created_at=now, next_attempt_at=now, attempts=0,
                    dedupe_key=f"{reason}:{case.id}:{occasion}:{target}:{address.channel}:{address.recipient}",
                ))
        if not rows:
            return 0
        result = await uow.session.execute(
            pg_insert(Notification).values(rows).on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(Notification.id))
        return len(result.all())

    async def escalated(self, uow: UnitOfWork, case: Any, to: str, *, now: datetime) -> int:
        return await self.queue(uow, case, "escalation", [to], now=now, occasion=now.isoformat())

    async def breached(self, uow: UnitOfWork, case: Any, deadline: DeadlineRecord, level: str, *,
                       now: datetime) -> int:
        roles = (level, *ALSO_ON_BREACH.get(deadline.kind, ()))
        return await self.queue(uow, case, "deadline_breached", roles, now=now, deadline_kind=deadline.kind,
                                due_at=deadline.due_at, occasion=f"{deadline.kind}:{deadline.due_at.isoformat()}")

    # --- the watcher's steps --------------------------------------------------------------------

    async def plan_warnings(self, *, uow: UnitOfWork, now: datetime, limit: int = 200) -> int:
        """Work out ``warn_at`` for pending deadlines whose due time is new or changed."""
        d = DeadlineRecord
        rows = (await uow.session.execute(
            sa.select(d.id, d.due_at, Case.org_group, Case.org_subsidiary, Case.org_project)
            .join(Case, Case.id == d.case_id)
            .where(_pending(), sa.or_(d.warn_for_due.is_(None), d.warn_for_due != d.due_at))
            .order_by(d.due_at).limit(limit).with_for_update(of=d, skip_locked=True)
        )).all()
        for row in rows:
            warn_at = (warning_moment(self.calendar.for_unit(_org_path(row)), row.due_at, self.warning_lead)
                       if self.warning_lead > timedelta() else None)
            await uow.session.execute(sa.update(d).where(d.id == row.id).values(
                warn_at=warn_at, warn_for_due=row.due_at, warned_at=None))
        return len(rows)

    async def fire_warnings(self, *, uow: UnitOfWork, now: datetime, limit: int = 100) -> int:
        """Queue the notices of deadlines whose warning moment has come and that are still unmet."""
        d = DeadlineRecord
        deadlines = (await uow.session.execute(
            sa.select(d).where(_pending(), d.warned_at.is_(None), d.warn_for_due == d.due_at,
                               d.warn_at <= now, d.due_at > now)
            .order_by(d.warn_at).limit(limit).with_for_update(skip_locked=True)
        )).scalars().all()
        for deadline in deadlines:
            case = await uow.session.get(Case, deadline.case_id)
            deadline.warned_at = now
            await self.queue(uow, case, "deadline_warning", WARN_TO.get(deadline.kind, ("lead_department",)),
                             now=now, deadline_kind=deadline.kind, due_at=deadline.due_at,
                             occasion=f"{deadline.kind}:{deadline.due_at.isoformat()}")
        return len(deadlines)

    async def send_due(self, *, uow: UnitOfWork, now: datetime, limit: int = 20) -> int:
        """Send the queued messages that are due; each result is written on the case's history."""
        n = Notification
        batch = (await uow.session.execute(
            sa.select(n).where(n.sent_at.is_(None), n.failed_at.is_(None), n.next_attempt_at <= now)
            .order_by(n.next_attempt_at, n.id).limit(limit).with_for_update(skip_locked=True)
        )).scalars().all()
        for note in batch:
            status = (await uow.session.execute(sa.select(Case.status).where(Case.id == note.case_id))).scalar_one()
            note.attempts += 1
            try:
                await self.sender.send(channel=note.channel, address=note.address, subject=note.subject,
                                       body=note.body, mentions=tuple(note.mentions or ()))
            except SendFailed as exc:
                note.last_error = str(exc)[:500]
                if note.attempts >= self.retry.max_attempts:
                    note.failed_at = now
                    _history(uow, note, status, now, "notification_failed",
                             f"{_describe(note, sent=False)}：{note.attempts} 次均未发送成功，已放弃（{note.last_error}）")
                else:
                    note.next_attempt_at = now + self.retry.delay_after(note.attempts)
                log.warning("notification not sent", extra={
                    "notification_id": note.id, "case_id": str(note.case_id), "channel": note.channel,
                    "attempts": note.attempts, "error": note.last_error})
                continue
            note.sent_at, note.last_error = now, None
            _history(uow, note, status, now, "notified", _describe(note))
        return len(batch)


def _with_mentions(body: str, mentions: tuple[str, ...]) -> str:
    # A chat message names the people it is for (their staff ids), as the robots' @ does.
    return body + ("\n请 " + " ".join(f"@{m}" for m in mentions) + " 关注" if mentions else "")


def _describe(note: Notification, *, sent: bool = True) -> str:
    what = REASON_LABELS.get(note.reason, note.reason)
    if note.deadline_kind:
        what += f"·{DEADLINE_LABELS.get(note.deadline_kind, note.deadline_kind)}"
    role = ROLE_LABELS.get(note.recipient_role, note.recipient_role)
    channel = CHANNEL_LABELS.get(note.channel, note.channel)
    return f"{'已通过' if sent else '未能通过'}{channel}通知 {note.recipient}（{role}）：{what}"


def _history(uow: UnitOfWork, note: Notification, status: str, now: datetime, action: str, text: str) -> None:
    uow.session.add(CaseStepRecord(case_id=note.case_id, action=action, previous_state=status, state=status,
                                   actor=SYSTEM, at=now, note=text))


def _pending() -> Any:
    d = DeadlineRecord
    return sa.and_(d.met_at.is_(None), d.breached_at.is_(None), d.cancelled_at.is_(None))


def _org_path(row: Any) -> str:
    return "/".join(part for part in (row.org_group, row.org_subsidiary, row.org_project) if part)


async def notifications_of(case_id: uuid.UUID, *, uow: UnitOfWork) -> list[Notification]:
    rows = await uow.session.execute(
        sa.select(Notification).where(Notification.case_id == case_id).order_by(Notification.id))
    return list(rows.scalars())


class NotificationWatcher:
    """Runs the three steps, each in its own transaction, until none has anything left to do."""

    def __init__(self, *, uow_factory: UnitOfWorkFactory, clock: Clock, notices: Notices, interval_s: float) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.notices = notices
        self.interval_s = interval_s
        self.sent = 0

    async def scan_once(self) -> int:
        """Returns the number of messages handled (sent, retried later or given up)."""
        handled = 0
        for step in (self.notices.plan_warnings, self.notices.fire_warnings, self.notices.send_due):
            while True:
                async with self.uow_factory() as uow:
                    count = await step(uow=uow, now=self.clock())
                    await uow.commit()
                if step is self.notices.send_due:
                    handled += count  # a failed message is due again only later: the loop ends
                if count == 0:
                    break
        self.sent += handled
        return handled

    async def run(self) -> None:
        await repeat(self.scan_once, interval_s=self.interval_s, failure="notification scan failed; will retry",
                     logger=log)
