"""Erasure's part in every service's outbox: published events that name an erased customer go.

The outbox keeps published rows for days (the relay's retention) for replay and diagnosis; an erased
person's must not wait there. Rows not yet published stay: the relay still owes them to their topic,
and their free text was masked as the events were built (shared.pii)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession


async def clear_published_events(session: AsyncSession, outbox: sa.Table, needles: Iterable[str]) -> int:
    """Delete the published rows of `outbox` whose payload names one of `needles` (the customer's id,
    the ids of their feedback or cases); returns how many went."""
    needles = [n for n in needles if n]
    if not needles:
        return 0
    payload = sa.func.convert_from(outbox.c.payload, "UTF8")
    result = await session.execute(
        sa.delete(outbox).where(outbox.c.published_at.is_not(None), sa.or_(*(payload.contains(n) for n in needles)))
    )
    return result.rowcount or 0
