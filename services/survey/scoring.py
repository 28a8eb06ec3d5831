"""Scoring of every satisfaction scheme (docs/domain.md §5; seeds 001, 002, 003). Pure: no I/O, no clock.

- Scheme A, five levels (seed 001): a form's score, a campaign's score, a returned form's validity.
- Scheme B, satisfaction rate (seed 002): item rates, the overall rate, distribution and return.
- Scheme C, project service score (seed 003 §5.5): sheets, the weighted project score, its grade,
  the "customer-service satisfaction project" test, and the project-manager flags.
- Scheme D, three levels (seed 003 §5.4): a rate and whether it calls for a review.

Arithmetic is exact (``Fraction``) until a figure is reported; then it is rounded once, to two
decimals, half away from zero (``ROUND_HALF_UP``), and returned as ``Decimal``. Means are taken of
the exact figures, not of already-rounded ones, and every threshold (96 %, 70, 90, 80, a return
target) is compared with the exact figure, so rounding never lifts a result over a line: a rate of
95.996 % is reported as 96.00 but is not qualified service.

Percentages are in percent units throughout (``Decimal("85")`` means 85 %).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from shared.events.vocabulary import ProjectStage

Number = Decimal | int


def _exact(value: Number | float) -> Fraction:
    # A float is read as the decimal it prints as (0.85 → 85/100), not as its binary value.
    if isinstance(value, float):
        return Fraction(Decimal(repr(value)))
    return Fraction(value)


def _as_decimal(value: Number | float) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _round2(value: Fraction) -> Decimal:
    """Two decimals, half away from zero, from the exact value (no double rounding)."""
    hundredths = value * 100
    magnitude = math.floor(abs(hundredths) + Fraction(1, 2))
    return Decimal(magnitude if hundredths >= 0 else -magnitude).scaleb(-2)


def _percent(part: int, whole: int) -> Fraction:
    return Fraction(100 * part, whole)


# --------------------------------------------------------------------------------------------
# Scheme A — five levels (seed 001)
# --------------------------------------------------------------------------------------------


class FiveLevel(StrEnum):
    """The five levels of schemes A and B, best first."""

    VERY_SATISFIED = "very_satisfied"  # 很满意 / 特别满意
    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    DISSATISFIED = "dissatisfied"  # 不满意
    VERY_DISSATISFIED = "very_dissatisfied"  # 很不满意


FIVE_LEVELS_BEST_FIRST: tuple[FiveLevel, ...] = tuple(FiveLevel)

# Seed 001: "5 级计分制(很满意--100分、满意--80分、基本满意---60分、不满意---30分、很不满意--0分)".
FIVE_LEVEL_POINTS: tuple[Decimal, ...] = tuple(Decimal(p) for p in (100, 80, 60, 30, 0))

# Share of an item's weight earned at each level, best first, for a weighted item whose row in the
# template's table is incomplete. Taken from seed 001's only complete row, unit price
# "产品单价 10 10 9 8 6 4" → 100 %, 90 %, 80 %, 60 %, 40 %. Only a fallback: the product-quality row
# "产品品质 50 50 45 40 24" gives 24 (48 %) for dissatisfied, not 60 % × 50 = 30, so a template's
# explicit points always win over this rule.
WEIGHTED_LEVEL_PERCENTS: tuple[Decimal, ...] = tuple(Decimal(p) for p in (100, 90, 80, 60, 40))


def weighted_points(weight: Number, percents: Sequence[Number] = WEIGHTED_LEVEL_PERCENTS) -> tuple[Decimal, ...]:
    """Points per level, best first, for an item of ``weight``: weight × level percentage."""
    if len(percents) != len(FiveLevel):
        raise ValueError(f"need {len(FiveLevel)} level percentages, got {len(percents)}")
    return tuple(_as_decimal(weight) * _as_decimal(p) / 100 for p in percents)


@dataclass(frozen=True)
class FormItem:
    """One question of a scheme-A form and what each level earns on it.

    ``points`` are best first (very satisfied … very dissatisfied). The item's full marks — its
    weight in the form — are the points of the best level.
    """

    item_id: str
    points: tuple[Decimal, ...] = FIVE_LEVEL_POINTS
    required: bool = True

    def __post_init__(self) -> None:
        points = tuple(_as_decimal(p) for p in self.points)
        object.__setattr__(self, "points", points)
        if len(points) != len(FiveLevel):
            raise ValueError(f"{self.item_id}: need points for {len(FiveLevel)} levels, got {len(points)}")
        if points[0] <= 0 or points[-1] < 0:
            raise ValueError(f"{self.item_id}: full marks must be positive and no level may earn less than 0")
        if any(better < worse for better, worse in zip(points, points[1:])):
            raise ValueError(f"{self.item_id}: a worse level may not earn more than a better one: {points}")

    @property
    def full_marks(self) -> Decimal:
        return self.points[0]

    def points_for(self, level: FiveLevel) -> Decimal:
        return self.points[FIVE_LEVELS_BEST_FIRST.index(level)]


# Seed 001 §5.3 客户满意度打分标准, as far as the copy goes. Its columns are
# 满意 / 较满意 / 一般 / 不满意 / 很不满意, read position by position as the five levels above.
SEED_001_UNIT_PRICE = FormItem("unit_price", (10, 9, 8, 6, 4))  # 产品单价
# The copy breaks off after "24"; the missing very-dissatisfied cell is 40 % × 50 = 20 (the
# unit-price row's share for that level, see WEIGHTED_LEVEL_PERCENTS).
SEED_001_PRODUCT_QUALITY = FormItem("product_quality", (50, 45, 40, 24, 20))  # 产品品质


@dataclass(frozen=True)
class FiveLevelTemplate:
    items: tuple[FormItem, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))
        if not self.items:
            raise ValueError("a form needs at least one item")
        ids = [item.item_id for item in self.items]
        if len(set(ids)) != len(ids):
            raise ValueError(f"item ids repeat: {ids}")


@dataclass(frozen=True)
class ReturnedForm:
    """A form as it came back: per item, the levels the respondent ticked.

    Raw strings are kept as given so that a level outside the scheme is reported, not lost. A
    missing item, ``None`` or an empty tuple all mean "not answered".
    """

    form_id: str
    ticks: Mapping[str, str | Sequence[str] | None]

    def levels_ticked(self, item_id: str) -> tuple[str, ...]:
        ticked = self.ticks.get(item_id)
        if ticked is None:
            return ()
        if isinstance(ticked, str):
            return (ticked,)
        return tuple(ticked)


class FormProblem(StrEnum):
    REQUIRED_UNANSWERED = "required_unanswered"
    SEVERAL_LEVELS = "several_levels"  # more than one level ticked on one item
    UNKNOWN_LEVEL = "unknown_level"
    UNKNOWN_ITEM = "unknown_item"  # an answer to a question the template does not have
    NOTHING_ANSWERED = "nothing_answered"


@dataclass(frozen=True)
class FormFinding:
    problem: FormProblem
    item_id: str | None = None

    def __str__(self) -> str:
        return f"{self.item_id}: {self.problem}" if self.item_id else str(self.problem)


@dataclass(frozen=True)
class FormValidity:
    findings: tuple[FormFinding, ...]

    @property
    def valid(self) -> bool:
        return not self.findings


class InvalidForm(ValueError):
    def __init__(self, form_id: str, findings: tuple[FormFinding, ...]) -> None:
        super().__init__(f"form {form_id} is not valid: {', '.join(map(str, findings))}")
        self.form_id = form_id
        self.findings = findings


def check_form(template: FiveLevelTemplate, form: ReturnedForm) -> FormValidity:
    """Seed 001 "对调查表进行有效判别": which reasons, if any, keep a returned form out of the count."""
    findings: list[FormFinding] = []
    known = {item.item_id for item in template.items}
    findings += [FormFinding(FormProblem.UNKNOWN_ITEM, i) for i in form.ticks if i not in known]
    answered = 0
    for item in template.items:
        ticked = form.levels_ticked(item.item_id)
        if not ticked:
            if item.required:
                findings.append(FormFinding(FormProblem.REQUIRED_UNANSWERED, item.item_id))
            continue
        answered += 1
        if len(ticked) > 1:
            findings.append(FormFinding(FormProblem.SEVERAL_LEVELS, item.item_id))
        if any(level not in _FIVE_LEVEL_VALUES for level in ticked):
            findings.append(FormFinding(FormProblem.UNKNOWN_LEVEL, item.item_id))
    if answered == 0:
        findings.append(FormFinding(FormProblem.NOTHING_ANSWERED))
    return FormValidity(tuple(findings))


_FIVE_LEVEL_VALUES = frozenset(level.value for level in FiveLevel)


def _form_score_exact(template: FiveLevelTemplate, form: ReturnedForm) -> Fraction:
    validity = check_form(template, form)
    if not validity.valid:
        raise InvalidForm(form.form_id, validity.findings)
    earned = Fraction(0)
    possible = Fraction(0)
    for item in template.items:
        ticked = form.levels_ticked(item.item_id)
        if ticked:
            earned += Fraction(item.points_for(FiveLevel(ticked[0])))
            possible += Fraction(item.full_marks)
    return earned / possible * 100


def score_form(template: FiveLevelTemplate, form: ReturnedForm) -> Decimal:
    """A valid form's score out of 100: points earned ÷ full marks of the answered items × 100.

    With the plain five-level points this is the mean of the answered items' points. With weighted
    items whose weights add up to 100 and all answered, it is the plain sum of points. Optional
    items left blank are left out, as scheme B leaves out unanswered items. Raises ``InvalidForm``.
    """
    return _round2(_form_score_exact(template, form))


@dataclass(frozen=True)
class RejectedForm:
    form_id: str
    findings: tuple[FormFinding, ...]


@dataclass(frozen=True)
class CampaignScore:
    score: Decimal | None  # None when no form was valid
    forms_counted: int
    rejected: tuple[RejectedForm, ...]


def score_campaign(template: FiveLevelTemplate, forms: Iterable[ReturnedForm]) -> CampaignScore:
    """The campaign's score: the mean of its valid forms' scores, each form counting once."""
    scores: list[Fraction] = []
    rejected: list[RejectedForm] = []
    for form in forms:
        validity = check_form(template, form)
        if validity.valid:
            scores.append(_form_score_exact(template, form))
        else:
            rejected.append(RejectedForm(form.form_id, validity.findings))
    score = _round2(sum(scores, Fraction(0)) / len(scores)) if scores else None
    return CampaignScore(score, len(scores), tuple(rejected))


# --------------------------------------------------------------------------------------------
# Scheme B — satisfaction rate (seed 002)
# --------------------------------------------------------------------------------------------

# Seed 002 4.6.2: "对用户评价为“特别满意“满意“根本满意“的,可确定为各分项满意".
SATISFIED_LEVELS = frozenset({FiveLevel.VERY_SATISFIED, FiveLevel.SATISFIED, FiveLevel.BASICALLY_SATISFIED})
QUALIFIED_SERVICE_PERCENT = Decimal(96)  # 4.6.4 "调查总体满意率达96%的为合格的治理效劳"


def item_satisfaction_rate(satisfied: int, dissatisfied: int) -> Decimal | None:
    """satisfied ÷ (satisfied + dissatisfied) × 100, two decimals; None when nobody answered."""
    if satisfied < 0 or dissatisfied < 0:
        raise ValueError("counts cannot be negative")
    if satisfied + dissatisfied == 0:
        return None
    return _round2(_percent(satisfied, satisfied + dissatisfied))


@dataclass(frozen=True)
class ItemRate:
    item_id: str
    satisfied: int
    dissatisfied: int
    rate: Decimal | None  # None: nobody answered this item

    @property
    def answered(self) -> int:
        return self.satisfied + self.dissatisfied


@dataclass(frozen=True)
class SatisfactionRate:
    items: tuple[ItemRate, ...]
    overall: Decimal | None  # None: no item was answered at all
    qualified: bool | None  # overall ≥ the qualified-service mark; None with no overall


def satisfaction_rate(
    item_ids: Sequence[str],
    forms: Iterable[Mapping[str, FiveLevel | str | None]],
    *,
    qualified_percent: Number = QUALIFIED_SERVICE_PERCENT,
) -> SatisfactionRate:
    """Scheme B over a round's returned forms (each: item id → the level given, or None).

    Per item, satisfied ÷ (satisfied + dissatisfied) × 100; an unanswered item is left out of
    that item's count (seed 002 "用户未作评价的项目(未表态项)不列入计算范围"). The overall rate is the
    arithmetic mean of the item rates; an item nobody answered has no rate and is left out of the
    mean too, since counting it as 0 % or 100 % would invent an opinion. The mean is of the exact
    item rates, so it can differ in the last decimal from the mean of the rounded ones.
    """
    known = list(item_ids)
    if len(set(known)) != len(known):
        raise ValueError(f"item ids repeat: {known}")
    satisfied = dict.fromkeys(known, 0)
    dissatisfied = dict.fromkeys(known, 0)
    for form in forms:
        for item_id, level in form.items():
            if item_id not in satisfied:
                raise ValueError(f"answer to unknown item {item_id!r}")
            if level is None:
                continue
            if level not in _FIVE_LEVEL_VALUES:
                raise ValueError(f"{item_id}: {level!r} is not one of {', '.join(_FIVE_LEVEL_VALUES)}")
            if FiveLevel(level) in SATISFIED_LEVELS:
                satisfied[item_id] += 1
            else:
                dissatisfied[item_id] += 1
    exact_rates = [
        _percent(satisfied[i], satisfied[i] + dissatisfied[i]) for i in known if satisfied[i] + dissatisfied[i]
    ]
    items = tuple(ItemRate(i, satisfied[i], dissatisfied[i], item_satisfaction_rate(satisfied[i], dissatisfied[i]))
                  for i in known)
    if not exact_rates:
        return SatisfactionRate(items, None, None)
    mean = sum(exact_rates, Fraction(0)) / len(exact_rates)
    return SatisfactionRate(items, _round2(mean), mean >= _exact(qualified_percent))


# Distribution, variant 1 (seed 002 篇2 4.3): semiannual rounds.
ROUND_REACH_PERCENT = Decimal(85)  # "每次调查问卷的发放率占调查区域已入住单元的85%"
SMALL_ESTATE_MAX_HOUSEHOLDS = 300  # "独立小区、大厦总户数为300户以下的,调查问卷每次数发放率为100%"
ROUND_RETURN_PERCENT = Decimal(60)  # "调查问卷的回收率不低于60%"

# Distribution, variant 2 (seed 002 篇1 (2)): by the estate's age since move-in (入伙).
YOUNG_ESTATE_REACH_PERCENT = Decimal(30)  # "入伙五年以下的小区发放率不得少于30%"
MATURE_ESTATE_REACH_PERCENT = Decimal(15)  # "入伙五年以上的小区发放率为15%"
MATURE_AFTER_YEARS = 5
AGE_BASED_RETURN_PERCENT = Decimal(75)  # "回收率不低于发放数量75%"


def _share_rounded_up(count: int, percent: Number) -> int:
    # "Reaches at least p %" of a count is a whole number of forms, so the fraction rounds up.
    if count < 0:
        raise ValueError("a count of units cannot be negative")
    return math.ceil(count * _exact(percent) / 100)


def required_sample_size(
    *,
    occupied_units: int,
    total_households: int,
    round_percent: Number = ROUND_REACH_PERCENT,
    small_estate_max_households: int = SMALL_ESTATE_MAX_HOUSEHOLDS,
) -> int:
    """Forms one semiannual round must hand out in an estate or building.

    ≥ 85 % of occupied units, rounded up; all occupied units where the estate or building has
    ≤ 300 households in total (the seed's threshold is on total households, its 85 % on occupied
    units, hence both arguments).
    """
    if occupied_units > total_households:
        raise ValueError("more occupied units than households")
    if total_households <= small_estate_max_households:
        return occupied_units
    return _share_rounded_up(occupied_units, round_percent)


def distribution_ok(
    distributed: int,
    *,
    occupied_units: int,
    total_households: int,
    round_percent: Number = ROUND_REACH_PERCENT,
    small_estate_max_households: int = SMALL_ESTATE_MAX_HOUSEHOLDS,
) -> bool:
    """Did one semiannual round hand out enough forms?"""
    if not 0 <= distributed <= occupied_units:
        raise ValueError(f"{distributed} forms handed out to {occupied_units} occupied units")
    return distributed >= required_sample_size(
        occupied_units=occupied_units,
        total_households=total_households,
        round_percent=round_percent,
        small_estate_max_households=small_estate_max_households,
    )


def annual_coverage_gap(occupied_units: Collection[str], reached_by_round: Iterable[Collection[str]]) -> frozenset[str]:
    """Occupied units no round of the year reached ("一年内调查问卷发放覆盖率为100%" needs none)."""
    reached: set[str] = set()
    for round_units in reached_by_round:
        reached.update(round_units)
    return frozenset(occupied_units) - reached


def annual_coverage_ok(occupied_units: Collection[str], reached_by_round: Iterable[Collection[str]]) -> bool:
    return not annual_coverage_gap(occupied_units, reached_by_round)


def required_sample_size_by_age(
    households: int,
    *,
    years_occupied: int,
    young_percent: Number = YOUNG_ESTATE_REACH_PERCENT,
    mature_percent: Number = MATURE_ESTATE_REACH_PERCENT,
    mature_after_years: int = MATURE_AFTER_YEARS,
) -> int:
    """Forms to hand out under the age-based variant, rounded up.

    ``years_occupied`` is the whole years completed since move-in (入伙). "五年以上" is read as five
    or more, so an estate in its sixth year (5 completed) takes 15 %; under five, 30 %.
    """
    if years_occupied < 0:
        raise ValueError("years since move-in cannot be negative")
    percent = mature_percent if years_occupied >= mature_after_years else young_percent
    return _share_rounded_up(households, percent)


def distribution_ok_by_age(
    distributed: int,
    *,
    households: int,
    years_occupied: int,
    young_percent: Number = YOUNG_ESTATE_REACH_PERCENT,
    mature_percent: Number = MATURE_ESTATE_REACH_PERCENT,
    mature_after_years: int = MATURE_AFTER_YEARS,
) -> bool:
    if not 0 <= distributed <= households:
        raise ValueError(f"{distributed} forms handed out to {households} households")
    return distributed >= required_sample_size_by_age(
        households,
        years_occupied=years_occupied,
        young_percent=young_percent,
        mature_percent=mature_percent,
        mature_after_years=mature_after_years,
    )


def return_rate(returned: int, distributed: int) -> Decimal:
    """Forms returned ÷ forms handed out × 100, two decimals."""
    _check_returns(returned, distributed)
    return _round2(_percent(returned, distributed))


def return_rate_ok(returned: int, distributed: int, *, target_percent: Number = ROUND_RETURN_PERCENT) -> bool:
    """Return rate ≥ target (60 % for semiannual rounds; pass AGE_BASED_RETURN_PERCENT for 75 %)."""
    _check_returns(returned, distributed)
    return _percent(returned, distributed) >= _exact(target_percent)


def _check_returns(returned: int, distributed: int) -> None:
    if distributed <= 0:
        raise ValueError("no forms were handed out, so there is no return rate")
    if not 0 <= returned <= distributed:
        raise ValueError(f"{returned} forms returned of {distributed} handed out")


# --------------------------------------------------------------------------------------------
# Scheme C — project service score (seed 003 §5.5)
# --------------------------------------------------------------------------------------------


class ServiceLevel(StrEnum):
    """How an item of a project sheet was rated (seed 003 5.5.3)."""

    SATISFIED = "satisfied"  # 满意: 100 % of the item's standard points
    FAIRLY_SATISFIED = "fairly_satisfied"  # 较满意: 90 %
    AVERAGE = "average"  # 一般: 70 %
    QUALIFIED = "qualified"  # 合格: 50 %


SERVICE_LEVEL_PERCENTS: Mapping[ServiceLevel, Decimal] = {
    ServiceLevel.SATISFIED: Decimal(100),
    ServiceLevel.FAIRLY_SATISFIED: Decimal(90),
    ServiceLevel.AVERAGE: Decimal(70),
    ServiceLevel.QUALIFIED: Decimal(50),
}

# 5.5.2 "前期服务20分; 过程服务 50分; 后期服务 30分"; the score sheets: "得分率=(评价得分)×(0.2)" etc.
SHEET_WEIGHTS: Mapping[ProjectStage, Decimal] = {
    ProjectStage.PRE_CONSTRUCTION: Decimal("0.2"),
    ProjectStage.CONSTRUCTION: Decimal("0.5"),
    ProjectStage.POST_COMPLETION: Decimal("0.3"),
}
SHEET_FULL_MARKS = Decimal(100)  # 5.5.2 "每张表100分"
ITEM_HAZARD_DEDUCTION = (Decimal(5), Decimal(10))  # "在零线下给予负5-10分处理"
SHEET_HAZARD_DEDUCTION = (Decimal(5), Decimal(20))  # "在检查汇总表的总分中酌情扣减5-20分"

FAIL_BELOW = Decimal(70)  # 5.5.1 "70分以下的为不合格"
EXCELLENT_ABOVE = Decimal(90)  # "90分以上为优良"
SATISFACTION_PROJECT_MIN_SCORE = Decimal(90)  # 5.5.2 "总评分达到90分以上"
SATISFACTION_PROJECT_MIN_SHEET = Decimal(80)  # "单项评分不低于80分"


@dataclass(frozen=True)
class Hazard:
    """A serious hazard or problem found on an item (严重隐患或严重问题): the item scores −deduction."""

    deduction: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "deduction", _as_decimal(self.deduction))
        low, high = ITEM_HAZARD_DEDUCTION
        if not low <= self.deduction <= high:
            raise ValueError(f"a hazard costs {low}–{high} points below zero on its item, not {self.deduction}")


@dataclass(frozen=True)
class SheetItem:
    item_id: str
    standard_points: Decimal  # 标准分值
    rating: ServiceLevel | Hazard

    def __post_init__(self) -> None:
        object.__setattr__(self, "standard_points", _as_decimal(self.standard_points))
        if self.standard_points <= 0:
            raise ValueError(f"{self.item_id}: standard points must be positive")
        if not isinstance(self.rating, Hazard):
            object.__setattr__(self, "rating", ServiceLevel(self.rating))

    @property
    def score(self) -> Decimal:
        if isinstance(self.rating, Hazard):
            return -self.rating.deduction
        return self.standard_points * SERVICE_LEVEL_PERCENTS[self.rating] / 100


@dataclass(frozen=True)
class Sheet:
    """One of the three score sheets (项目前期 / 过程 / 后期服务评价检查记分表), 100 points.

    ``hazard_deduction`` is the 5–20 points taken off the sheet's total when any item has a hazard;
    it must be 0 when none has. The sheet's score is not floored at 0.
    """

    stage: ProjectStage
    items: tuple[SheetItem, ...]
    hazard_deduction: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))
        object.__setattr__(self, "hazard_deduction", _as_decimal(self.hazard_deduction))
        if self.stage not in SHEET_WEIGHTS:
            raise ValueError(f"no score sheet for stage {self.stage}")
        ids = [item.item_id for item in self.items]
        if len(set(ids)) != len(ids):
            raise ValueError(f"item ids repeat: {ids}")
        total = sum((item.standard_points for item in self.items), Decimal(0))
        if total != SHEET_FULL_MARKS:
            raise ValueError(f"{self.stage} sheet: standard points add up to {total}, not {SHEET_FULL_MARKS}")
        has_hazard = any(isinstance(item.rating, Hazard) for item in self.items)
        low, high = SHEET_HAZARD_DEDUCTION
        if has_hazard and not low <= self.hazard_deduction <= high:
            raise ValueError(
                f"{self.stage} sheet has a hazard: its total loses {low}–{high}, not {self.hazard_deduction}"
            )
        if not has_hazard and self.hazard_deduction != 0:
            raise ValueError(f"{self.stage} sheet: a deduction from the total needs a hazard on an item")

    @property
    def score(self) -> Decimal:
        """Exact (item points × 90 % etc. never need more than the inputs' decimals plus one)."""
        return sum((item.score for item in self.items), Decimal(0)) - self.hazard_deduction


class ProjectGrade(StrEnum):
    FAIL = "fail"  # 不合格: below 70
    QUALIFIED = "qualified"  # 合格: 70 to 90, both included
    EXCELLENT = "excellent"  # 优良: above 90


def project_grade(score: Number) -> ProjectGrade:
    """< 70 fail; 70 ≤ score ≤ 90 qualified; > 90 excellent (seed 003 5.5.1, boundaries as decided)."""
    return _grade(_exact(score))


@dataclass(frozen=True)
class ProjectScore:
    sheet_scores: Mapping[ProjectStage, Decimal]  # each out of 100, two decimals
    score: Decimal  # weighted, two decimals
    grade: ProjectGrade
    satisfaction_project: bool  # 顾客服务满意工程项目


def project_score(sheets: Iterable[Sheet], *, meets_basic_conditions: bool) -> ProjectScore:
    """The weighted project score from its three sheets (one per stage, in any order).

    ``meets_basic_conditions``: seed 003 5.5.2 "凡符合基本条件且…" names basic conditions without
    saying what they are, so the caller decides and must say so.
    """
    by_stage: dict[ProjectStage, Sheet] = {}
    for sheet in sheets:
        if sheet.stage in by_stage:
            raise ValueError(f"two {sheet.stage} sheets")
        by_stage[sheet.stage] = sheet
    if set(by_stage) != set(SHEET_WEIGHTS):
        missing = ", ".join(sorted(set(SHEET_WEIGHTS) - set(by_stage)))
        raise ValueError(f"a project score needs all three sheets; missing {missing}")
    exact_sheets = {stage: _exact(sheet.score) for stage, sheet in by_stage.items()}
    exact = sum((exact_sheets[s] * _exact(w) for s, w in SHEET_WEIGHTS.items()), Fraction(0))
    satisfaction_project = (
        meets_basic_conditions
        and exact >= _exact(SATISFACTION_PROJECT_MIN_SCORE)
        and all(s >= _exact(SATISFACTION_PROJECT_MIN_SHEET) for s in exact_sheets.values())
    )
    return ProjectScore(
        sheet_scores={stage: _round2(exact_sheets[stage]) for stage in SHEET_WEIGHTS},
        score=_round2(exact),
        grade=_grade(exact),
        satisfaction_project=satisfaction_project,
    )


def _grade(exact: Fraction) -> ProjectGrade:
    if exact < _exact(FAIL_BELOW):
        return ProjectGrade.FAIL
    if exact > _exact(EXCELLENT_ABOVE):
        return ProjectGrade.EXCELLENT
    return ProjectGrade.QUALIFIED


class FlagLevel(StrEnum):
    FLAG = "flag"  # 5.5.4 first sentence: penalty set by the responsible leader
    STRONG = "strong"  # 5.5.4 second sentence: three fails in a row


class FlagReason(StrEnum):
    TWO_FAILS_IN_A_ROW = "two_fails_in_a_row"  # 连续二次“不合格”
    TWO_FAILS_IN_A_YEAR = "two_fails_in_a_year"  # 同一年度,同一施工项目累计发生二次不合格
    THREE_FAILS_IN_A_ROW = "three_fails_in_a_row"  # 连续三次“不合格”


@dataclass(frozen=True)
class ManagerFlag:
    evaluated_on: date  # the evaluation whose fail raised the flag
    level: FlagLevel
    reasons: tuple[FlagReason, ...]


def project_manager_flags(evaluations: Iterable[tuple[date, ProjectGrade]]) -> tuple[ManagerFlag, ...]:
    """Flags on a project's manager from the project's evaluations, oldest first.

    Each failed evaluation raises at most one flag, carrying every rule it meets:
    - it is the second (or later) fail in an unbroken run of fails → two in a row;
    - it is the second (or later) fail in its calendar year on this project → two in a year;
    - it is the third (or later) fail in an unbroken run → three in a row, a strong flag.
    A run is unbroken by time: only a qualified or excellent evaluation ends it. The run is not
    reset by a flag, so a fourth fail in a row is again a strong flag.
    """
    flags: list[ManagerFlag] = []
    run = 0
    fails_in_year: dict[int, int] = {}
    previous: date | None = None
    for evaluated_on, grade in evaluations:
        if previous is not None and evaluated_on <= previous:
            raise ValueError(f"evaluations must be in chronological order: {evaluated_on} after {previous}")
        previous = evaluated_on
        if ProjectGrade(grade) is not ProjectGrade.FAIL:
            run = 0
            continue
        run += 1
        fails_in_year[evaluated_on.year] = fails_in_year.get(evaluated_on.year, 0) + 1
        reasons = []
        if run >= 2:
            reasons.append(FlagReason.TWO_FAILS_IN_A_ROW)
        if fails_in_year[evaluated_on.year] >= 2:
            reasons.append(FlagReason.TWO_FAILS_IN_A_YEAR)
        if run >= 3:
            reasons.append(FlagReason.THREE_FAILS_IN_A_ROW)
        if reasons:
            level = FlagLevel.STRONG if run >= 3 else FlagLevel.FLAG
            flags.append(ManagerFlag(evaluated_on, level, tuple(reasons)))
    return tuple(flags)


# --------------------------------------------------------------------------------------------
# Scheme D — three levels (seed 003 §5.4)
# --------------------------------------------------------------------------------------------


class ThreeLevel(StrEnum):
    SATISFIED = "satisfied"  # 满意
    AVERAGE = "average"  # 一般
    DISSATISFIED = "dissatisfied"  # 不满意


@dataclass(frozen=True)
class ThreeLevelResult:
    satisfied: int
    average: int
    dissatisfied: int
    rate: Decimal | None  # satisfied ÷ all answers × 100; None with no answers
    needs_review: bool | None  # rate below target; None with no answers (cannot tell)


def three_level_rate(responses: Iterable[ThreeLevel | str | None], *, target_percent: Number) -> ThreeLevelResult:
    """Share of "satisfied" among the answers, and whether it falls short of the target.

    Seed 003 5.4 "凡顾客及相关方满意度达不到要求时,应进行评审" gives no number, so the target has no
    default. "Average" (一般) is not counted as satisfied: the seed names it apart from 满意, and
    unlike scheme B's 基本满意 nothing says it counts. Unanswered (None) are left out.
    """
    counts = dict.fromkeys(ThreeLevel, 0)
    for response in responses:
        if response is None:
            continue
        counts[ThreeLevel(response)] += 1
    answered = sum(counts.values())
    if answered == 0:
        return ThreeLevelResult(0, 0, 0, None, None)
    exact = _percent(counts[ThreeLevel.SATISFIED], answered)
    return ThreeLevelResult(
        counts[ThreeLevel.SATISFIED],
        counts[ThreeLevel.AVERAGE],
        counts[ThreeLevel.DISSATISFIED],
        _round2(exact),
        exact < _exact(target_percent),
    )
