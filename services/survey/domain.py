"""Survey rules (docs/domain.md §5): templates, checking a returned form, scoring it, one-time tokens,
and what a dissatisfied answer sends back to intake.

Pure: no I/O, no clock. The formulas themselves are in :mod:`services.survey.scoring`; this module
applies them to a template and a form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.survey import scoring
from shared.events.vocabulary import ProjectStage, SurveyScheme
from shared.i18n import pick

TemplatePurpose = Literal["household", "repair_return_visit", "complaint_return_visit", "project_sheet", "general"]

# --- levels -----------------------------------------------------------------------------------

FIVE_LEVEL_LABELS = {
    "very_satisfied": ("很满意", "Very satisfied"),
    "satisfied": ("满意", "Satisfied"),
    "basically_satisfied": ("基本满意", "Basically satisfied"),
    "dissatisfied": ("不满意", "Dissatisfied"),
    "very_dissatisfied": ("很不满意", "Very dissatisfied"),
}
HAZARD = "hazard"
SERVICE_LEVEL_LABELS = {
    "satisfied": ("满意", "Satisfied"),
    "fairly_satisfied": ("较满意", "Fairly satisfied"),
    "average": ("一般", "Average"),
    "qualified": ("合格", "Qualified"),
    HAZARD: ("严重隐患", "Serious hazard"),
}
THREE_LEVEL_LABELS = {
    "satisfied": ("满意", "Satisfied"),
    "average": ("一般", "Average"),
    "dissatisfied": ("不满意", "Dissatisfied"),
}
#: level -> (Chinese label, English label), best first, per scheme.
LEVELS: dict[SurveyScheme, dict[str, tuple[str, str]]] = {
    SurveyScheme.FIVE_LEVEL: FIVE_LEVEL_LABELS,
    SurveyScheme.SATISFACTION_RATE: FIVE_LEVEL_LABELS,
    SurveyScheme.PROJECT_SERVICE_SCORE: SERVICE_LEVEL_LABELS,
    SurveyScheme.THREE_LEVEL: THREE_LEVEL_LABELS,
}
#: Levels that count as satisfied (B: seed 002 4.6.2; C: 70 % and more of the item's points; D: only 满意).
SATISFIED_LEVELS: dict[SurveyScheme, frozenset[str]] = {
    SurveyScheme.FIVE_LEVEL: frozenset(scoring.SATISFIED_LEVELS),
    SurveyScheme.SATISFACTION_RATE: frozenset(scoring.SATISFIED_LEVELS),
    SurveyScheme.PROJECT_SERVICE_SCORE: frozenset({"satisfied", "fairly_satisfied", "average"}),
    SurveyScheme.THREE_LEVEL: frozenset({"satisfied"}),
}
#: Levels whose answer goes back to intake as feedback (D's "average" is not a complaint).
DISSATISFIED_LEVELS: dict[SurveyScheme, frozenset[str]] = {
    SurveyScheme.FIVE_LEVEL: frozenset({"dissatisfied", "very_dissatisfied"}),
    SurveyScheme.SATISFACTION_RATE: frozenset({"dissatisfied", "very_dissatisfied"}),
    SurveyScheme.PROJECT_SERVICE_SCORE: frozenset({"qualified", HAZARD}),
    SurveyScheme.THREE_LEVEL: frozenset({"dissatisfied"}),
}
#: The worst answers are complaints even on a campaign form.
COMPLAINT_LEVELS = frozenset({"very_dissatisfied", HAZARD})

_ITEM_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")


# --- templates --------------------------------------------------------------------------------


class TemplateItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    item_id: str = Field(pattern=_ITEM_ID.pattern)
    label_zh: str = Field(min_length=1, max_length=200)
    label_en: str = Field(min_length=1, max_length=200)
    required: bool = True
    points: tuple[Decimal, ...] | None = Field(
        default=None, description="scheme A: points per level, best first (five values); plain 100/80/60/30/0 if unset"
    )
    weight: Decimal | None = Field(
        default=None, gt=0, description="scheme A: the item's weight; points are weight × 100/90/80/60/40 %"
    )
    standard_points: Decimal | None = Field(default=None, gt=0, description="scheme C: the item's standard points")


class TemplateDefinition(BaseModel):
    """What a template says; a change makes a new version, and every response records its version."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    scheme: SurveyScheme
    purpose: TemplatePurpose = "general"
    title_zh: str = Field(min_length=1, max_length=200)
    title_en: str = Field(min_length=1, max_length=200)
    intro_zh: str | None = Field(default=None, max_length=2000)
    intro_en: str | None = Field(default=None, max_length=2000)
    stage: ProjectStage | None = Field(default=None, description="scheme C: which of the three sheets")
    target_percent: Decimal | None = Field(
        default=None, ge=0, le=100, description="scheme D: the rate below which a review is due"
    )
    items: tuple[TemplateItem, ...] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _scheme_rules(self) -> TemplateDefinition:
        ids = [i.item_id for i in self.items]
        # The reasons are read by the person designing the template: in the request's language.
        if len(set(ids)) != len(ids):
            raise ValueError(pick("题目编号重复", "item ids repeat"))
        if self.scheme is SurveyScheme.FIVE_LEVEL:
            for item in self.items:
                if item.points is not None and item.weight is not None:
                    raise ValueError(pick(f"{item.item_id}：分值与权重只能填一个",
                                          f"{item.item_id}: give points or a weight, not both"))
                try:
                    scoring.FormItem(item.item_id, five_level_points(item))  # raises on a bad row
                except ValueError as exc:
                    raise ValueError(pick(f"{item.item_id}：各等级分值须为五个、满分为正、均不小于 0，"
                                          "且较差等级不得高于较好等级", str(exc))) from None
        elif any(i.points is not None or i.weight is not None for i in self.items):
            raise ValueError(pick("分值和权重只用于方案 A 的题目", "points and weights are for scheme A items only"))
        if self.scheme is SurveyScheme.PROJECT_SERVICE_SCORE:
            if self.stage not in scoring.SHEET_WEIGHTS:
                raise ValueError(pick(
                    "方案 C 的评分表须写明阶段：pre_construction（前期）、construction（过程）或 post_completion（后期）",
                    "a scheme C sheet names its stage: pre_construction, construction or post_completion"))
            if any(i.standard_points is None for i in self.items):
                raise ValueError(pick("方案 C 评分表的每道题都须有标准分",
                                      "every item of a scheme C sheet has standard points"))
            total = sum((i.standard_points or Decimal(0) for i in self.items), Decimal(0))
            if total != scoring.SHEET_FULL_MARKS:
                raise ValueError(pick(f"评分表的标准分合计须为 100，而不是 {total}",
                                      f"a sheet's standard points add up to 100, not {total}"))
        else:
            if self.stage is not None or any(i.standard_points is not None for i in self.items):
                raise ValueError(pick("阶段和标准分只用于方案 C 的评分表",
                                      "a stage and standard points are for scheme C sheets only"))
        if self.scheme is SurveyScheme.THREE_LEVEL and self.target_percent is None:
            raise ValueError(pick("方案 D 的模板须写明目标满意率（target_percent）",
                                  "a scheme D template names its target rate (target_percent)"))
        return self

    def item(self, item_id: str) -> TemplateItem | None:
        return next((i for i in self.items if i.item_id == item_id), None)

    def required(self, item: TemplateItem) -> bool:
        # A score sheet is only complete with every item rated: its points add up to 100.
        return item.required or self.scheme is SurveyScheme.PROJECT_SERVICE_SCORE


def five_level_points(item: TemplateItem) -> tuple[Decimal, ...]:
    if item.points is not None:
        return tuple(item.points)
    if item.weight is not None:
        return scoring.weighted_points(item.weight)
    return scoring.FIVE_LEVEL_POINTS


@dataclass(frozen=True)
class Template:
    template_id: str
    version: int
    definition: TemplateDefinition
    registered: bool = True  # False: an ad-hoc form (the foundation's contract) scored by its scheme alone

    @property
    def scheme(self) -> SurveyScheme:
        return self.definition.scheme


def ad_hoc_template(template_id: str, version: int, scheme: SurveyScheme, item_ids: Sequence[str]) -> Template:
    """A form whose template survey does not know: every answered item counts, none is required.

    Kept so that forms from before templates were registered still count; scheme C needs a sheet.
    """
    items = tuple(
        TemplateItem(item_id=i, label_zh=i, label_en=i, required=False) for i in dict.fromkeys(item_ids)
    )
    definition = TemplateDefinition.model_construct(
        scheme=scheme, purpose="general", title_zh=template_id, title_en=template_id, intro_zh=None,
        intro_en=None, stage=None, target_percent=Decimal(90) if scheme is SurveyScheme.THREE_LEVEL else None,
        items=items,
    )
    return Template(template_id, version, definition, registered=False)


# --- a returned form --------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    item_id: str
    level: str | None
    deduction: Decimal | None = None
    remark: str | None = None


@dataclass(frozen=True)
class Problem:
    """What is wrong with a field: ``reason`` in Chinese (what people read by default),
    ``reason_en`` in English (``?lang=en``)."""

    field: str
    reason: str
    reason_en: str | None = None

    def for_people(self) -> str:
        """The reason in the request's language."""
        return pick(self.reason, self.reason_en)


class AnswersRefused(ValueError):
    """A form that cannot be counted; ``problems`` name each field and why (all at once). The
    message (logs, dead letters) is English."""

    def __init__(self, code: str, problems: Sequence[Problem]) -> None:
        self.code = code
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.field}: {p.reason_en or p.reason}" for p in self.problems))

    @classmethod
    def one(cls, code: str, field: str, reason: str, reason_en: str | None = None) -> AnswersRefused:
        return cls(code, [Problem(field, reason, reason_en)])


def check_answers(template: Template, answers: Sequence[Answer], *, hazard_deduction: Decimal | None = None) -> None:
    """Refuse a form with unknown or repeated items, levels outside the scheme, values out of range,
    required items unanswered, or nothing answered. Raises :class:`AnswersRefused`."""
    d = template.definition
    levels = LEVELS[d.scheme]
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, answer in enumerate(answers):
        if d.item(answer.item_id) is None:
            problems.append(Problem(
                f"answers.{i}.item_id", f"'{answer.item_id}' 不是 {template.template_id} 第 {template.version} 版的题目",
                f"{answer.item_id!r} is not an item of {template.template_id} v{template.version}"))
        if answer.item_id in seen:
            problems.append(Problem(f"answers.{i}.item_id", f"'{answer.item_id}' 答了两次",
                                    f"{answer.item_id!r} is answered twice"))
        seen.add(answer.item_id)
        if answer.level is not None and answer.level not in levels:
            names = "、".join(f"{code}（{zh}）" for code, (zh, _) in levels.items())
            problems.append(Problem(f"answers.{i}.level", f"等级 '{answer.level}' 不在可选等级之内：{names}",
                                    f"level {answer.level!r} is not one of {', '.join(levels)}"))
        if answer.level == HAZARD:
            low, high = scoring.ITEM_HAZARD_DEDUCTION
            if answer.deduction is None or not low <= answer.deduction <= high:
                problems.append(Problem(f"answers.{i}.deduction", f"严重隐患在该题扣 {low}–{high} 分",
                                        f"a hazard costs {low}–{high} points on its item"))
        elif answer.deduction is not None:
            problems.append(Problem(f"answers.{i}.deduction", "只有严重隐患（方案 C）才扣分",
                                    "only a hazard (scheme C) takes a deduction"))
    given = {a.item_id for a in answers if a.level is not None}
    for item in d.items:
        if d.required(item) and item.item_id not in given:
            problems.append(Problem("answers", f"必答题 '{item.item_id}' 未作答",
                                    f"required item {item.item_id!r} is not answered"))
    if not given and not problems:
        problems.append(Problem("answers", "没有作答任何题目", "no item is answered"))
    if d.scheme is SurveyScheme.PROJECT_SERVICE_SCORE:
        has_hazard = any(a.level == HAZARD for a in answers)
        low, high = scoring.SHEET_HAZARD_DEDUCTION
        if has_hazard and (hazard_deduction is None or not low <= hazard_deduction <= high):
            problems.append(Problem("hazard_deduction", f"有严重隐患的评分表从总分中扣 {low}–{high} 分",
                                    f"a sheet with a hazard loses {low}–{high} from its total"))
        if not has_hazard and hazard_deduction:
            problems.append(Problem("hazard_deduction", "从总分中扣分须有一道题为严重隐患",
                                    "a deduction from the total needs a hazard on an item"))
    elif hazard_deduction is not None:
        problems.append(Problem("hazard_deduction", "只有方案 C 的评分表才从总分中扣分",
                                "only a scheme C sheet takes a deduction"))
    if problems:
        raise AnswersRefused("invalid_answers", problems)


@dataclass(frozen=True)
class ScoredItem:
    item_id: str
    level: str | None
    points: Decimal | None
    satisfied: bool | None
    dissatisfied: bool
    remark: str | None = None
    deduction: Decimal | None = None


@dataclass(frozen=True)
class ScoredForm:
    items: tuple[ScoredItem, ...]
    score: Decimal | None  # A: points out of 100; B, D: percent; C: the sheet's score
    satisfied: bool | None  # whether the form as a whole passes its scheme's mark

    def dissatisfied_items(self) -> tuple[ScoredItem, ...]:
        return tuple(i for i in self.items if i.dissatisfied)


@dataclass(frozen=True)
class PassMarks:
    five_level_score: Decimal = Decimal(80)
    satisfaction_rate: Decimal = scoring.QUALIFIED_SERVICE_PERCENT


def score_answers(
    template: Template,
    answers: Sequence[Answer],
    *,
    hazard_deduction: Decimal | None = None,
    marks: PassMarks = PassMarks(),
) -> ScoredForm:
    """Check and score one returned form under its template's scheme (raises AnswersRefused)."""
    check_answers(template, answers, hazard_deduction=hazard_deduction)
    d = template.definition
    by_item = {a.item_id: a for a in answers}
    ordered = [by_item.get(item.item_id, Answer(item.item_id, None)) for item in d.items]
    satisfied_levels, dissatisfied_levels = SATISFIED_LEVELS[d.scheme], DISSATISFIED_LEVELS[d.scheme]

    def item_points(answer: Answer) -> Decimal | None:
        if answer.level is None:
            return None
        item = d.item(answer.item_id)
        assert item is not None
        if d.scheme is SurveyScheme.FIVE_LEVEL:
            return scoring.FormItem(item.item_id, five_level_points(item)).points_for(scoring.FiveLevel(answer.level))
        if d.scheme is SurveyScheme.PROJECT_SERVICE_SCORE:
            return _sheet_item(item, answer).score
        return None

    items = tuple(
        ScoredItem(
            item_id=a.item_id, level=a.level, points=item_points(a),
            satisfied=None if a.level is None else a.level in satisfied_levels,
            dissatisfied=a.level in dissatisfied_levels, remark=a.remark, deduction=a.deduction,
        )
        for a in ordered
    )
    score, passed = _form_figure(template, ordered, hazard_deduction, marks)
    return ScoredForm(items, score, passed)


def _sheet_item(item: TemplateItem, answer: Answer) -> scoring.SheetItem:
    assert item.standard_points is not None and answer.level is not None
    rating: scoring.ServiceLevel | scoring.Hazard = (
        scoring.Hazard(answer.deduction or Decimal(0)) if answer.level == HAZARD else scoring.ServiceLevel(answer.level)
    )
    return scoring.SheetItem(item.item_id, item.standard_points, rating)


def sheet_of(template: Template, answers: Sequence[Answer], hazard_deduction: Decimal | None) -> scoring.Sheet:
    d = template.definition
    assert d.stage is not None
    by_item = {a.item_id: a for a in answers}
    return scoring.Sheet(
        d.stage, tuple(_sheet_item(item, by_item[item.item_id]) for item in d.items),
        hazard_deduction or Decimal(0),
    )


def _form_figure(
    template: Template, answers: Sequence[Answer], hazard_deduction: Decimal | None, marks: PassMarks
) -> tuple[Decimal | None, bool | None]:
    d = template.definition
    ticks = {a.item_id: a.level for a in answers}
    if d.scheme is SurveyScheme.FIVE_LEVEL:
        five = five_level_template(d)
        form = scoring.ReturnedForm("form", ticks)
        exact = scoring._form_score_exact(five, form)  # the exact figure, compared before rounding
        return scoring.score_form(five, form), exact >= Fraction(marks.five_level_score)
    if d.scheme is SurveyScheme.SATISFACTION_RATE:
        rate = scoring.satisfaction_rate([i.item_id for i in d.items], [ticks], qualified_percent=marks.satisfaction_rate)
        return rate.overall, rate.qualified
    if d.scheme is SurveyScheme.THREE_LEVEL:
        result = scoring.three_level_rate(list(ticks.values()), target_percent=d.target_percent or Decimal(0))
        return result.rate, None if result.needs_review is None else not result.needs_review
    sheet = sheet_of(template, answers, hazard_deduction)
    return sheet.score, scoring.project_grade(sheet.score) is not scoring.ProjectGrade.FAIL


def five_level_template(d: TemplateDefinition) -> scoring.FiveLevelTemplate:
    return scoring.FiveLevelTemplate(
        tuple(scoring.FormItem(i.item_id, five_level_points(i), required=i.required) for i in d.items)
    )


# --- a campaign's figure over its returned forms ----------------------------------------------


@dataclass(frozen=True)
class CampaignFigure:
    score: Decimal | None
    satisfied: bool | None
    items: tuple[tuple[str, Decimal | None, int], ...] = field(default=())  # (item id, figure, answered)


def campaign_figure(
    template: Template, forms: Sequence[Mapping[str, str | None]], *, marks: PassMarks = PassMarks()
) -> CampaignFigure:
    """The scheme's overall figure over a campaign's returned forms (each: item id -> level).

    A: the mean of the forms' scores (seed 001); B: the mean of the item rates (seed 002);
    D: satisfied answers over all answers, against the template's target.
    """
    d = template.definition
    item_ids = [i.item_id for i in d.items]
    answered = {i: sum(1 for f in forms if f.get(i) is not None) for i in item_ids}
    if d.scheme is SurveyScheme.SATISFACTION_RATE:
        rate = scoring.satisfaction_rate(item_ids, [{k: v for k, v in f.items() if k in answered} for f in forms],
                                         qualified_percent=marks.satisfaction_rate)
        return CampaignFigure(rate.overall, rate.qualified, tuple((r.item_id, r.rate, r.answered) for r in rate.items))
    if d.scheme is SurveyScheme.FIVE_LEVEL:
        five = five_level_template(d)
        result = scoring.score_campaign(five, [scoring.ReturnedForm(str(n), f) for n, f in enumerate(forms)])
        figures = []
        for item in five.items:
            points = [item.points_for(scoring.FiveLevel(f[item.item_id])) for f in forms if f.get(item.item_id)]
            mean = (sum(points, Decimal(0)) / len(points)).quantize(Decimal("0.01")) if points else None
            figures.append((item.item_id, mean, len(points)))
        passed = None if result.score is None else result.score >= marks.five_level_score
        return CampaignFigure(result.score, passed, tuple(figures))
    if d.scheme is SurveyScheme.THREE_LEVEL:
        target = d.target_percent or Decimal(0)
        overall = scoring.three_level_rate([f.get(i) for f in forms for i in item_ids], target_percent=target)
        per_item = [(i, scoring.three_level_rate([f.get(i) for f in forms], target_percent=target).rate, answered[i])
                    for i in item_ids]
        passed = None if overall.needs_review is None else not overall.needs_review
        return CampaignFigure(overall.rate, passed, tuple(per_item))
    raise ValueError("a campaign is not scored with a project service sheet (scheme C)")


# --- one-time tokens --------------------------------------------------------------------------


def new_token() -> str:
    """256 random bits, URL-safe: unguessable. Only its hash is stored."""
    return secrets.token_urlsafe(32)


def link_token(key: str, invitation_id: uuid.UUID) -> str:
    """The one-time token of an invitation: HMAC-SHA256 of its id under the survey's link key
    (``CARELOOP_SURVEY_LINK_KEY``), URL-safe, 256 bits. Only its hash is stored and no event carries
    it: the delivery channel asks for it (``GET /api/v1/invitations/{id}/link``, audited) and
    survey derives it again from the id. Changing the key voids every link not yet used."""
    digest = hmac.new(key.encode("utf-8"), b"careloop-survey-link:" + invitation_id.bytes, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(token: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9_\-]{20,100}", token))


# --- feedback back into intake ----------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackItem:
    external_id: str
    kind: Literal["survey_remark", "complaint"]
    channel: Literal["return_visit", "solicitation"]
    text: str


def feedback_for(
    template: Template, scored: ScoredForm, *, response_id: uuid.UUID, return_visit: bool
) -> list[FeedbackItem]:
    """One piece of feedback per dissatisfied item (seed 002: "不满意的项目…转责任部门并回访").

    A dissatisfied answer on a return visit is a complaint about how the case was handled; on a
    campaign form it is a survey remark, unless it is the worst level (very dissatisfied, a hazard).
    """
    d = template.definition
    out = []
    for item in scored.dissatisfied_items():
        definition = d.item(item.item_id)
        label = definition.label_zh if definition else item.item_id
        level_label = LEVELS[d.scheme].get(item.level or "", (item.level or "", ""))[0]
        text = f"满意度调查《{d.title_zh}》: {label} — {level_label}"
        if item.remark:
            text += f"。顾客意见: {item.remark}"
        kind: Literal["survey_remark", "complaint"] = (
            "complaint" if return_visit or item.level in COMPLAINT_LEVELS else "survey_remark"
        )
        out.append(FeedbackItem(
            external_id=f"{response_id}:{item.item_id}", kind=kind,
            channel="return_visit" if return_visit else "solicitation", text=text[:10_000],
        ))
    return out


def as_jsonable(value: Any) -> Any:
    """Decimals as floats for JSONB and events (figures are already rounded to two decimals)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: as_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_jsonable(v) for v in value]
    return value
