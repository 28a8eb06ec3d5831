"""The reporting month of a moment, in the group's local time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from shared.clock import CHINA, month_of


def test_a_moment_counts_in_the_month_of_its_local_time() -> None:
    assert month_of(datetime(2026, 5, 31, 15, 59, 59, tzinfo=UTC)) == "2026-05"
    assert month_of(datetime(2026, 5, 31, 16, 0, tzinfo=UTC)) == "2026-06"  # midnight in Shanghai
    assert month_of(datetime(2025, 12, 31, 16, 0, tzinfo=UTC)) == "2026-01"
    assert month_of(datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=9)))) == "2025-12"
    assert month_of(datetime(2026, 3, 1, 0, 0, tzinfo=UTC), ZoneInfo("America/New_York")) == "2026-02"


def test_it_agrees_with_strftime_over_a_year_of_instants() -> None:
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    while moment < datetime(2026, 1, 2, tzinfo=UTC):
        assert month_of(moment) == moment.astimezone(CHINA).strftime("%Y-%m")
        moment += timedelta(hours=7, minutes=13)
