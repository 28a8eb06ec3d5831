"""Outbox rows the broker refused for good (too large, an invalid topic): the relay parks them with
the reason (``outbox.parked_at``/``parked_reason``) so that they never block the rows behind them.
``careloop dlq parked`` lists them; ``careloop dlq unpark SERVICE ID`` hands one back to the relay
once the cause is fixed (a raised broker limit, a created topic)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from shared.db.uow import make_engine
from shared.settings import SERVICES, Settings


@dataclass(frozen=True)
class ParkedRow:
    service: str
    id: int
    event_type: str
    topic: str
    size: int
    parked_at: datetime
    reason: str

    def summary(self) -> dict[str, object]:
        return {"service": self.service, "id": self.id, "event_type": self.event_type, "topic": self.topic,
                "size": self.size, "parked_at": self.parked_at.isoformat(), "reason": self.reason}


async def parked_rows(settings: Settings, services: list[str] | None = None) -> list[ParkedRow]:
    rows: list[ParkedRow] = []
    for service in services or list(SERVICES):
        engine = make_engine(settings.db.service_url(service), settings, application_name="careloop-dlq")
        try:
            async with engine.connect() as conn:
                result = await conn.execute(sa.text(
                    f"SELECT id, event_type, topic, octet_length(payload) AS size, parked_at, parked_reason "
                    f"FROM {service}.outbox WHERE parked_at IS NOT NULL ORDER BY id"))
                rows.extend(ParkedRow(service, r.id, r.event_type, r.topic, r.size, r.parked_at, r.parked_reason or "")
                            for r in result)
        finally:
            await engine.dispose()
    return rows


async def unpark(settings: Settings, service: str, row_id: int) -> bool:
    """Hand a parked row back to the relay (published in its turn on the next pass); False when no
    parked row has that id."""
    engine = make_engine(settings.db.service_url(service), settings, application_name="careloop-dlq")
    try:
        async with engine.begin() as conn:
            result = await conn.execute(sa.text(
                f"UPDATE {service}.outbox SET parked_at = NULL, parked_reason = NULL, attempts = 0 "
                f"WHERE id = :id AND parked_at IS NOT NULL"), {"id": row_id})
            return bool(result.rowcount)
    finally:
        await engine.dispose()
