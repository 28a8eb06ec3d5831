"""The months a trend covers: pure calendar arithmetic."""

from __future__ import annotations

from services.reporting.queries import months_ending


def test_the_months_ending_with_a_month_run_oldest_first_across_the_new_year() -> None:
    assert months_ending("2026-02", 4) == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert months_ending("2026-05", 1) == ["2026-05"]
    assert months_ending("2026-12", 13)[0] == "2025-12"
