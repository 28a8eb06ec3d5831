"""Campaign rules (sample sizes, the seeded draw and its spread, deadlines, reminders) and the
project evaluation schedule, against figures worked out by hand."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from services.survey.campaigns import (
    CandidateUnit,
    allocate,
    check_period,
    deadlines,
    draw_households,
    period_of,
    reminder_times,
    required_forms,
    return_target,
    spread_is_even,
    years_completed,
)
from services.survey.evaluations import ProjectTimeline, planned_evaluations
from shared.events.vocabulary import ProjectStage


def estate(buildings: dict[str, int]) -> list[CandidateUnit]:
    return [CandidateUnit(uuid.uuid5(uuid.NAMESPACE_URL, f"{b}/{n}"), b, f"{n // 100 + 1}-{n % 100:02d}")
            for b, count in buildings.items() for n in range(count)]


def test_semiannual_round_reaches_85_percent_rounded_up() -> None:
    # 1,000 households, 950 occupied: 85 % × 950 = 807.5 → 808
    assert required_forms(rule="occupancy", round="semiannual", occupied_units=950, households=1000,
                          years_occupied=3) == 808
    # ≤ 300 households: every occupied unit, every round
    assert required_forms(rule="occupancy", round="semiannual", occupied_units=240, households=250,
                          years_occupied=3) == 240
    assert required_forms(rule="occupancy", round="annual", occupied_units=950, households=1000,
                          years_occupied=3) == 950


def test_age_rule_takes_30_or_15_percent() -> None:
    # 30 % of 333 = 99.9 → 100 (young); 15 % of 333 = 49.95 → 50 (five years or more)
    assert required_forms(rule="age", round="semiannual", occupied_units=333, households=400, years_occupied=4) == 100
    assert required_forms(rule="age", round="semiannual", occupied_units=333, households=400, years_occupied=5) == 50
    assert required_forms(rule="age", round="semiannual", occupied_units=333, households=400,
                          years_occupied=None) == 100  # no move-in date: the stricter share
    assert return_target("age") == 75 and return_target("occupancy") == 60


def test_years_completed_counts_whole_years() -> None:
    assert years_completed(date(2021, 7, 1), date(2026, 6, 30)) == 4
    assert years_completed(date(2021, 7, 1), date(2026, 7, 1)) == 5
    assert years_completed(None, date(2026, 1, 1)) is None


def test_allocation_by_largest_remainder() -> None:
    # 850 forms over 125 × 8 units: 106.25 each → 106 each, 2 left → the first two by name
    shares = allocate({str(b): 125 for b in range(1, 9)}, 850)
    assert sum(shares.values()) == 850
    assert sorted(shares.values()) == [106] * 6 + [107] * 2
    assert shares["1"] == shares["2"] == 107
    # uneven buildings: 10 of (30, 20, 50) → 3, 2, 5 exactly
    assert allocate({"a": 30, "b": 20, "c": 50}, 10) == {"a": 3, "b": 2, "c": 5}
    with pytest.raises(ValueError):
        allocate({"a": 3}, 4)


def test_draw_is_seeded_spread_evenly_and_reproducible() -> None:
    units = estate({"1": 140, "2": 110, "3": 125, "4": 125, "5": 100, "6": 150, "7": 125, "8": 125})
    first = draw_households(units, required=850, seed="lakeside|2026H1")
    again = draw_households(list(reversed(units)), required=850, seed="lakeside|2026H1")
    other = draw_households(units, required=850, seed="lakeside|2026H2")
    assert first.size == 850 and [u.unit_id for u in first.units] == [u.unit_id for u in again.units]
    assert {u.unit_id for u in first.units} != {u.unit_id for u in other.units}
    assert spread_is_even(first.per_building)
    # building 6: 150 / 1000 × 850 = 127.5 → 127 or 128
    assert first.per_building["6"][0] == 150 and first.per_building["6"][1] in (127, 128)
    assert len({u.unit_id for u in first.units}) == 850


def test_later_round_draws_the_missed_units_first() -> None:
    units = estate({"A": 200, "B": 200})
    first = draw_households(units, required=340, seed="s1")
    missed = {u.unit_id for u in units} - {u.unit_id for u in first.units}
    assert len(missed) == 60
    second = draw_households(units, required=340, seed="s2", must_include=missed)
    assert missed <= {u.unit_id for u in second.units} and second.size == 340
    # year coverage: the two rounds together reach every unit
    assert {u.unit_id for u in first.units} | {u.unit_id for u in second.units} == {u.unit_id for u in units}


def test_spread_check_fails_a_lopsided_draw() -> None:
    assert spread_is_even({"A": (100, 50), "B": (100, 50)})
    assert not spread_is_even({"A": (100, 60), "B": (100, 40)})


def test_deadlines_periods_and_reminders() -> None:
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    d = deadlines(start)
    assert d.hand_out_by == start + timedelta(days=3) and d.collect_by == start + timedelta(days=10)
    assert period_of("semiannual", date(2026, 6, 30)) == "2026H1" and period_of("annual", date(2026, 7, 1)) == "2026"
    assert check_period("semiannual", "2026H2") and not check_period("semiannual", "2026") \
        and not check_period("annual", "2026H1")
    assert reminder_times(start, [5, 8, 12], until=d.collect_by) == [start + timedelta(days=5),
                                                                     start + timedelta(days=8)]


def timeline(stage: ProjectStage, **kw: object) -> ProjectTimeline:
    values: dict = {"stage": stage, "stage_since": date(2026, 3, 10), "signed_on": None, "completion_date": None,
                    "warranty_end": None, "first_seen": date(2026, 3, 10)}
    values.update(kw)
    return ProjectTimeline(**values)


def test_pre_construction_check_in_the_first_week_after_signing() -> None:
    [pre] = planned_evaluations(timeline(ProjectStage.PRE_CONSTRUCTION, signed_on=date(2026, 3, 10)),
                                today=date(2026, 3, 11))
    assert (pre.stage, pre.period, pre.opens_on, pre.due_on) == (
        ProjectStage.PRE_CONSTRUCTION, "signing", date(2026, 3, 10), date(2026, 3, 17))


def test_process_self_check_monthly_by_the_5th() -> None:
    planned = planned_evaluations(timeline(ProjectStage.CONSTRUCTION, signed_on=date(2026, 1, 5)),
                                  today=date(2026, 5, 20))
    process = [(p.period, p.opens_on, p.due_on) for p in planned if p.stage is ProjectStage.CONSTRUCTION]
    assert process == [("2026-03", date(2026, 4, 1), date(2026, 4, 5)), ("2026-04", date(2026, 5, 1), date(2026, 5, 5)),
                       ("2026-05", date(2026, 6, 1), date(2026, 6, 5))]
    assert planned[0].period == "signing"  # signed while pre-construction: that check stays planned
    december = planned_evaluations(timeline(ProjectStage.CONSTRUCTION, stage_since=date(2026, 12, 3)),
                                   today=date(2026, 12, 31))
    assert [(p.period, p.due_on) for p in december] == [("2026-12", date(2027, 1, 5))]


def test_post_completion_quarterly_during_warranty() -> None:
    planned = planned_evaluations(
        timeline(ProjectStage.POST_COMPLETION, completion_date=date(2025, 11, 20), warranty_end=date(2026, 8, 31),
                 first_seen=date(2025, 1, 1)),
        today=date(2027, 1, 10))
    assert [(p.period, p.opens_on, p.due_on) for p in planned] == [
        ("2025Q4", date(2025, 11, 20), date(2025, 12, 31)), ("2026Q1", date(2026, 1, 1), date(2026, 3, 31)),
        ("2026Q2", date(2026, 4, 1), date(2026, 6, 30)), ("2026Q3", date(2026, 7, 1), date(2026, 9, 30))]
    # quarters that ended before survey heard of the project are not asked for
    late = planned_evaluations(
        timeline(ProjectStage.POST_COMPLETION, completion_date=date(2025, 11, 20), first_seen=date(2026, 5, 1)),
        today=date(2026, 5, 2))
    assert [p.period for p in late] == ["2026Q2"]
