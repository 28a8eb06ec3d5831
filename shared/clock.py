"""Time comes in through a clock so that domain code and tests never call ``datetime.now()``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]

CHINA = ZoneInfo("Asia/Shanghai")


def utc_now() -> datetime:
    return datetime.now(UTC)


def month_of(moment: datetime, tz: ZoneInfo = CHINA) -> str:
    """The reporting month ('YYYY-MM') a moment belongs to, in the group's local time."""
    local = moment.astimezone(tz)
    return f"{local.year:04d}-{local.month:02d}"  # (strftime costs twice as much; projections call this per event)
