"""Erasure's part in every service's outbox: published events that name an erased customer go.

The outbox keeps published rows for days (the relay's retention) for replay and diagnosis; an erased
person's must not wait there. Rows not yet published are sent (the relay owes them to their topic,
and their free text was masked as the events were built, shared.pii) and deleted as soon as they
are: the erasure marks them ``forget_after_publish``."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession


async def clear_published_events(session: AsyncSession, outbox: sa.Table, needles: Iterable[str]) -> int:
    """Delete the published rows of `outbox` whose payload names one of `needles` (the customer's id,
    the ids of their feedback or cases), and mark those still waiting for the relay to be deleted
    once published (they are events others need); returns how many went or will go.

    The waiting rows are marked first: a row the relay holds in its batch is locked, so the mark
    waits for the relay's commit, finds the row published, leaves it, and the delete that follows
    (a new snapshot) takes it."""
    needles = [n for n in needles if n]
    if not needles:
        return 0
    payload = sa.func.convert_from(outbox.c.payload, "UTF8")
    marked = await session.execute(
        sa.update(outbox).where(outbox.c.published_at.is_(None), sa.or_(*(payload.contains(n) for n in needles)))
        .values(forget_after_publish=True).execution_options(synchronize_session=False)
    )
    result = await session.execute(
        sa.delete(outbox).where(outbox.c.published_at.is_not(None), sa.or_(*(payload.contains(n) for n in needles)))
    )
    return (result.rowcount or 0) + (marked.rowcount or 0)
