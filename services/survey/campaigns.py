"""Campaign rules (docs/domain.md §5 B, seed 002): how many forms a round hands out, which households
are drawn, and the deadlines. Pure: no I/O, no clock.

Two distribution rules:

- ``occupancy`` (篇2 4.3): a semiannual round reaches ≥ 85 % of the estate's occupied units, every
  occupied unit within the year (a later round of the year draws first the units earlier rounds
  missed), 100 % every round for an estate of ≤ 300 households; an annual round reaches them all;
  return rate ≥ 60 %. The ≤ 300 threshold is read on the estate (独立小区、大厦: a stand-alone estate
  or tower), not on each building of a larger estate, or the 85 % would never apply.
- ``age`` (篇1 (2)): ≥ 30 % of households where the estate was moved into (入伙) under five years
  ago, ≥ 15 % otherwise; return rate ≥ 75 %. An estate without a move-in date counts as young (the
  stricter share).

Households are drawn at random from a seed (the same seed draws the same households) and spread
evenly: each building's share of the forms is its share of the occupied units, within one form.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from services.survey import scoring

Round = Literal["semiannual", "annual"]
Rule = Literal["occupancy", "age"]


@dataclass(frozen=True)
class DistributionRules:
    semiannual_reach_percent: Decimal = scoring.ROUND_REACH_PERCENT
    small_estate_max_households: int = scoring.SMALL_ESTATE_MAX_HOUSEHOLDS
    semiannual_return_percent: Decimal = scoring.ROUND_RETURN_PERCENT
    young_percent: Decimal = scoring.YOUNG_ESTATE_REACH_PERCENT
    mature_percent: Decimal = scoring.MATURE_ESTATE_REACH_PERCENT
    mature_after_years: int = scoring.MATURE_AFTER_YEARS
    age_return_percent: Decimal = scoring.AGE_BASED_RETURN_PERCENT
    hand_out_days: float = 3
    collect_days: float = 10


@dataclass(frozen=True)
class CandidateUnit:
    unit_id: uuid.UUID
    building: str
    label: str
    household_id: uuid.UUID | None = None


def years_completed(since: date | None, on: date) -> int | None:
    if since is None:
        return None
    years = on.year - since.year - ((on.month, on.day) < (since.month, since.day))
    return max(years, 0)


def required_forms(
    *,
    rule: Rule,
    round: Round,
    occupied_units: int,
    households: int,
    years_occupied: int | None,
    rules: DistributionRules = DistributionRules(),
) -> int:
    """Forms the round must hand out (at least); never more than the occupied units."""
    if occupied_units == 0:
        return 0
    if rule == "age":
        return min(occupied_units, scoring.required_sample_size_by_age(
            occupied_units, years_occupied=years_occupied if years_occupied is not None else 0,
            young_percent=rules.young_percent, mature_percent=rules.mature_percent,
            mature_after_years=rules.mature_after_years,
        ))
    if round == "annual":
        return occupied_units
    return scoring.required_sample_size(
        occupied_units=occupied_units, total_households=max(households, occupied_units),
        round_percent=rules.semiannual_reach_percent, small_estate_max_households=rules.small_estate_max_households,
    )


def return_target(rule: Rule, rules: DistributionRules = DistributionRules()) -> Decimal:
    return rules.age_return_percent if rule == "age" else rules.semiannual_return_percent


def allocate(counts: Mapping[str, int], total: int) -> dict[str, int]:
    """Split ``total`` over the buildings in proportion to their counts (largest remainder).

    Each building gets its exact share rounded down, and the forms left over go to the largest
    remainders (ties: building name), so no building is more than one form off its share.
    """
    whole = sum(counts.values())
    if not 0 <= total <= whole:
        raise ValueError(f"cannot hand out {total} forms to {whole} units")
    if whole == 0:
        return dict.fromkeys(counts, 0)
    exact = {b: Fraction(total * n, whole) for b, n in counts.items()}
    shares = {b: math.floor(q) for b, q in exact.items()}
    left = total - sum(shares.values())
    for b in sorted(counts, key=lambda b: (-(exact[b] - shares[b]), b))[:left]:
        shares[b] += 1
    return shares


@dataclass(frozen=True)
class Draw:
    units: tuple[CandidateUnit, ...]
    per_building: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # building -> (occupied, drawn)

    @property
    def size(self) -> int:
        return len(self.units)


def draw_households(
    candidates: Sequence[CandidateUnit], *, required: int, seed: str, must_include: Collection[uuid.UUID] = ()
) -> Draw:
    """Draw ``required`` occupied units spread evenly over the buildings, reproducibly from ``seed``.

    Units in ``must_include`` (missed by earlier rounds of the year) are always drawn; where a
    building has more of them than its share, it hands out more, never fewer, than the rule asks.
    """
    by_building: dict[str, list[CandidateUnit]] = {}
    for unit in sorted(candidates, key=lambda u: (u.building, u.label, str(u.unit_id))):
        by_building.setdefault(unit.building, []).append(unit)
    must = set(must_include)
    target = max(required, sum(1 for u in candidates if u.unit_id in must))
    shares = allocate({b: len(units) for b, units in by_building.items()}, min(target, len(candidates)))
    drawn: list[CandidateUnit] = []
    per_building: dict[str, tuple[int, int]] = {}
    for building in sorted(by_building):
        units = by_building[building]
        forced = [u for u in units if u.unit_id in must]
        rest = [u for u in units if u.unit_id not in must]
        # One generator per building and seed: a building's draw does not depend on the others'.
        rng = random.Random(f"{seed}\x1f{building}")
        extra = rng.sample(rest, max(0, shares[building] - len(forced)))
        chosen = sorted(forced + extra, key=lambda u: (u.label, str(u.unit_id)))
        drawn.extend(chosen)
        per_building[building] = (len(units), len(chosen))
    return Draw(tuple(drawn), per_building)


def spread_is_even(per_building: Mapping[str, tuple[int, int]]) -> bool:
    """Every building got its proportional share of the forms, within one form."""
    occupied = sum(o for o, _ in per_building.values())
    drawn = sum(d for _, d in per_building.values())
    if occupied == 0:
        return drawn == 0
    return all(abs(Fraction(d) - Fraction(drawn * o, occupied)) < 1 for o, d in per_building.values())


@dataclass(frozen=True)
class Deadlines:
    hand_out_by: datetime
    collect_by: datetime


def deadlines(starts_at: datetime, rules: DistributionRules = DistributionRules()) -> Deadlines:
    """Seed 002: handed out within 3 days, collected within 10 days of the round's start."""
    return Deadlines(starts_at + timedelta(days=rules.hand_out_days), starts_at + timedelta(days=rules.collect_days))


def period_of(round: Round, on: date) -> str:
    if round == "annual":
        return f"{on.year}"
    return f"{on.year}H{1 if on.month <= 6 else 2}"


def period_year(period: str) -> int:
    return int(period[:4])


def check_period(round: Round, period: str) -> bool:
    if round == "annual":
        return len(period) == 4 and period.isdigit()
    return len(period) == 6 and period[:4].isdigit() and period[4:] in ("H1", "H2")


def reminder_times(issued_at: datetime, offsets_days: Sequence[float], *, until: datetime) -> list[datetime]:
    """When to remind an unanswered household: each offset after issue that falls before the deadline."""
    return sorted(t for t in (issued_at + timedelta(days=d) for d in offsets_days) if issued_at < t < until)
