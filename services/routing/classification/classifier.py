"""An explainable complaint classifier driven by a versioned rule file (docs/domain.md §3).

Every decision can be traced: each phrase, hint or default that counted is named in
``rules_fired``, and the weights live in ``rules.toml`` beside this module, not in code.

How a text is read:
- It is normalised (NFKC, lower case) and segmented with jieba; the rule phrases are added to the
  segmenter's dictionary so that they come out as words.
- A Chinese phrase counts where it does not straddle a word boundary (``工期`` is not found in
  ``分工/期间``); English phrases match whole words (``leak*`` is a prefix, a plain word also
  matches its plural). Where phrases overlap, the longest one wins, so ``物业费`` is about price
  and ``周边配套`` about the surroundings, and "shadow" phrases can hide a word that means nothing
  in a longer one (``car park``).
- Symptom phrases (``漏水``, ``裂缝``, ``noise``) are cancelled by a negation shortly before them in
  the same clause (``没有出现漏水``, ``no longer leaking``); topic phrases (``安全帽``, ``合同``)
  count whatever the polarity, because "没戴安全帽" is still about hard hats.

The category is the one with the highest score (phrases, plus small hints from kind, channel and
project stage); the class starts from the category's default class and may be moved by class
phrases (``配套设施`` makes a broken sales promise an engineering matter, class 2). Confidence
combines the strength of the evidence with the margin over the runner-up, for the category and for
the class; below the configured threshold the result needs a person (``needs_triage``).
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.routing.classification.model import (
    ComplaintModel,
    context_features,
    rule_features,
    text_features,
)
from shared.events.vocabulary import Channel, FeedbackKind, ProjectStage
from shared.events.vocabulary import ComplaintCategory as Cat
from shared.events.vocabulary import Department as Dept

DEFAULT_RULES_PATH = Path(__file__).with_name("rules.toml")
_EN_WORD_CHAR = "[a-z0-9'’]"
COMPLAINT_CLASSES = (1, 2, 3)


class RulesError(ValueError):
    """A rule file that cannot be used; ``key`` names the offending entry (dotted path)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}" if key else problem)
        self.key = key
        self.problem = problem


# ---------------------------------------------------------------------------------------------
# The rules, as loaded and validated


@dataclass(frozen=True)
class PhraseRule:
    """One phrase of the rule file. ``target`` is a category, a class, an importance reason, etc."""

    rule_id: str
    phrase: str  # normalised as texts are
    weight: float
    negatable: bool
    target: str

    @property
    def is_english(self) -> bool:
        return self.phrase.isascii()

    @functools.cached_property
    def english_pattern(self) -> re.Pattern[str]:
        """Whole words; ``word*`` is a prefix, a plain word also matches its plural."""
        words = [
            re.escape(word[:-1]) + _EN_WORD_CHAR + "*" if word.endswith("*") else re.escape(word) + "(?:s|es)?"
            for word in self.phrase.split()
        ]
        return re.compile(f"(?<!{_EN_WORD_CHAR})" + r"[\s\-/]+".join(words) + f"(?!{_EN_WORD_CHAR})")


@dataclass(frozen=True)
class Route:
    lead: Dept
    assisting: tuple[Dept, ...]


# Service attitude and delivery of service (服务态度, 服务提供) are led by customer service or
# general affairs, with no assisting department: a rule file (overrides included) that says
# otherwise is refused when it is loaded. category -> the departments that may lead it
LEAD_ALONE: dict[Cat, frozenset[Dept]] = {
    Cat.SERVICE_ATTITUDE: frozenset({Dept.CUSTOMER_SERVICE, Dept.GENERAL_AFFAIRS}),
}


def route_for_class(complaint_class: int | None, lead: Dept,
                    assisting: tuple[Dept, ...]) -> tuple[Dept, tuple[Dept, ...]]:
    """A class-2 complaint (building quality, supporting facilities) is an engineering problem
    record for the quality department and the customer service centre, whatever the subject matrix
    says (seed 002): the quality department leads, the customer service centre assists (it keeps
    the customer informed). Other classes follow the matrix."""
    if complaint_class == 2:
        return Dept.ENGINEERING_QUALITY, (Dept.CUSTOMER_SERVICE,)
    return lead, assisting


@dataclass(frozen=True)
class Hint:
    """A small push towards a category from the kind, channel or project stage of the feedback."""

    rule_id: str
    source: str  # "kind" | "channel" | "stage"
    value: str
    category: Cat
    weight: float


@dataclass(frozen=True)
class Negation:
    window: int
    zh_cues: frozenset[str]
    zh_bridges: frozenset[str]
    zh_clause_breaks: frozenset[str]
    en_cues: frozenset[str]
    en_bridges: frozenset[str]
    en_clause_breaks: frozenset[str]


@dataclass(frozen=True, eq=False)
class Rules:
    """A validated rule set. Compared by identity; it owns a segmenter built on first use."""

    version: str
    source: str
    triage_threshold: float
    confidence_scale: float
    fallback_category: Cat
    category_order: tuple[Cat, ...]
    default_class: Mapping[Cat, int]
    class_prior: float
    category_phrases: tuple[PhraseRule, ...]
    hints: tuple[Hint, ...]
    class_phrases: tuple[PhraseRule, ...]
    importance_phrases: tuple[PhraseRule, ...]
    invalid_phrases: tuple[PhraseRule, ...]
    shadow_phrases: tuple[PhraseRule, ...]
    complaint_kinds: frozenset[FeedbackKind]
    negation: Negation
    routing_default: Mapping[Cat, Route]
    routing_overrides: Mapping[str, Mapping[Cat, Route]]
    _segmenter: list[Any] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def route(self, category: Cat, org_path: str | None) -> tuple[Route, str]:
        """Lead and assisting departments for a category, from the most specific org unit up.

        ``hx/east/lakeside`` looks at ``hx/east/lakeside``, then ``hx/east``, then ``hx``, then the
        default table. Returns the route and the org path it came from ("" for the default).
        """
        parts = [p for p in (org_path or "").strip().strip("/").split("/") if p]
        for depth in range(len(parts), 0, -1):
            unit = "/".join(parts[:depth])
            override = self.routing_overrides.get(unit)
            if override and category in override:
                return override[category], unit
        return self.routing_default[category], ""

    @functools.cached_property
    def phrase_indexes(self) -> _PhraseIndexes:
        """The phrase groups made ready for matching (built on first use, then kept)."""
        return _PhraseIndexes(
            category=_PhraseIndex.of(self.category_phrases + self.shadow_phrases),
            klass=_PhraseIndex.of(self.class_phrases),
            importance=_PhraseIndex.of(self.importance_phrases),
            invalid=_PhraseIndex.of(self.invalid_phrases),
        )

    def segmenter(self) -> Any:
        with self._lock:
            if not self._segmenter:
                self._segmenter.append(_build_segmenter(self))
            return self._segmenter[0]


@dataclass(frozen=True)
class _PhraseIndexes:
    category: _PhraseIndex  # with the shadow phrases
    klass: _PhraseIndex
    importance: _PhraseIndex
    invalid: _PhraseIndex


def _build_segmenter(rules: Rules) -> Any:
    import jieba  # imported here: loading jieba's dictionary is only needed once texts arrive

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    phrases = {
        rule.phrase
        for group in (
            rules.category_phrases,
            rules.class_phrases,
            rules.importance_phrases,
            rules.invalid_phrases,
            rules.shadow_phrases,
        )
        for rule in group
        if not rule.is_english and len(rule.phrase) > 1
    }
    for phrase in sorted(phrases):
        tokenizer.add_word(phrase)
    return tokenizer


# ---------------------------------------------------------------------------------------------
# Loading and validation


_DEFAULT_RULES: list[Rules] = []
_DEFAULT_LOCK = threading.Lock()


def default_rules() -> Rules:
    """The rule file shipped beside this module, loaded once."""
    with _DEFAULT_LOCK:
        if not _DEFAULT_RULES:
            _DEFAULT_RULES.append(load_rules())
        return _DEFAULT_RULES[0]


def load_rules(path: str | Path | None = None) -> Rules:
    """Load and validate a rule file (TOML); errors name the bad key."""
    rules_path = Path(path) if path is not None else DEFAULT_RULES_PATH
    try:
        with rules_path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise RulesError("", f"rule file not found: {rules_path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RulesError("", f"{rules_path} is not valid TOML: {exc}") from exc
    return parse_rules(data, source=str(rules_path))


def parse_rules(data: Mapping[str, Any], *, source: str = "<mapping>") -> Rules:
    """Validate the content of a rule file and build the rules."""
    root = _Table(data, "")
    root.allow("version", "description", "settings", "negation", "shadows", "categories", "classes",
               "importance", "validity", "routing")
    version = root.string("version")

    settings = root.table("settings")
    settings.allow("triage_threshold", "confidence_scale", "fallback_category", "category_order")
    triage_threshold = settings.number("triage_threshold", low=0.0, high=1.0)
    confidence_scale = settings.number("confidence_scale", low=0.0, low_open=True)
    fallback_category = settings.enum("fallback_category", Cat)
    order_key = settings.key("category_order")
    category_order = tuple(_enum(Cat, item, f"{order_key}[{i}]") for i, item in
                           enumerate(settings.string_list("category_order")))
    missing = [c.value for c in Cat if c not in category_order]
    if missing or len(set(category_order)) != len(category_order):
        raise RulesError(order_key, f"must list every category once (missing: {missing or 'none'})")

    negation = _parse_negation(root.table("negation"))

    shadows = root.table("shadows")
    shadows.allow("phrases")
    shadow_phrases = tuple(
        PhraseRule(f"shadow:{p}", _normalise(p), 0.0, False, "shadow")
        for p in _phrases_of(shadows.string_list("phrases"), shadows.key("phrases"))
    )

    categories = root.table("categories")
    categories.allow(*(c.value for c in Cat))
    default_class: dict[Cat, int] = {}
    category_phrases: list[PhraseRule] = []
    hints: list[Hint] = []
    for category in Cat:
        table = categories.table(category.value)
        table.allow("default_class", "symptoms", "topics", "stage_hints", "kind_hints", "channel_hints")
        default_class[category] = table.choice("default_class", COMPLAINT_CLASSES)
        for part, negatable in (("symptoms", True), ("topics", False)):
            for phrase, weight in table.weights(part, optional=part == "topics").items():
                category_phrases.append(
                    PhraseRule(f"category:{category.value}:{phrase}", _normalise(phrase), weight, negatable,
                               category.value)
                )
        for part, source_name, enum_type in (
            ("stage_hints", "stage", ProjectStage),
            ("kind_hints", "kind", FeedbackKind),
            ("channel_hints", "channel", Channel),
        ):
            weights = table.weights(part, optional=True)
            for value, weight in weights.items():
                _enum(enum_type, value, f"{table.key(part)}.{value}")
                hints.append(Hint(f"{source_name}:{value}->{category.value}", source_name, value, category, weight))

    classes = root.table("classes")
    classes.allow("prior", "phrases")
    class_prior = classes.number("prior", low=0.0, low_open=True)
    class_tables = classes.table("phrases")
    class_tables.allow(*(str(c) for c in COMPLAINT_CLASSES))
    class_phrases = [
        PhraseRule(f"class:{number}:{phrase}", _normalise(phrase), weight, True, str(number))
        for number in COMPLAINT_CLASSES
        for phrase, weight in class_tables.weights(str(number), optional=True).items()
    ]

    importance = root.table("importance")
    if not importance.data:
        raise RulesError(importance.path, "needs at least one reason")
    importance_phrases = []
    for reason in importance.data:
        table = importance.table(reason)
        table.allow("phrases")
        for phrase in _phrases_of(table.string_list("phrases"), table.key("phrases")):
            importance_phrases.append(PhraseRule(f"important:{reason}:{phrase}", _normalise(phrase), 1.0, True, reason))

    validity = root.table("validity")
    validity.allow("complaint_kinds", "invalid")
    kinds_key = validity.key("complaint_kinds")
    complaint_kinds = frozenset(
        _enum(FeedbackKind, k, f"{kinds_key}[{i}]") for i, k in enumerate(validity.string_list("complaint_kinds"))
    )
    invalid = validity.table("invalid")
    invalid_phrases = []
    for reason in invalid.data:
        for phrase in _phrases_of(invalid.string_list(reason), invalid.key(reason)):
            invalid_phrases.append(PhraseRule(f"invalid:{reason}:{phrase}", _normalise(phrase), 1.0, True, reason))

    routing = root.table("routing")
    routing.allow("default", "overrides")
    routing_default = _parse_routes(routing.table("default"), complete=True)
    overrides_table = routing.table("overrides", optional=True)
    routing_overrides = {
        unit.strip("/"): _parse_routes(overrides_table.table(unit), complete=False) for unit in overrides_table.data
    }

    return Rules(
        version=version,
        source=source,
        triage_threshold=triage_threshold,
        confidence_scale=confidence_scale,
        fallback_category=fallback_category,
        category_order=category_order,
        default_class=default_class,
        class_prior=class_prior,
        category_phrases=tuple(category_phrases),
        hints=tuple(hints),
        class_phrases=tuple(class_phrases),
        importance_phrases=tuple(importance_phrases),
        invalid_phrases=tuple(invalid_phrases),
        shadow_phrases=shadow_phrases,
        complaint_kinds=complaint_kinds,
        negation=negation,
        routing_default=routing_default,
        routing_overrides=routing_overrides,
    )


def _parse_negation(table: _Table) -> Negation:
    table.allow("window", "zh_cues", "zh_bridges", "zh_clause_breaks", "en_cues", "en_bridges", "en_clause_breaks")
    window = table.number("window", low=1)
    if window != int(window):
        raise RulesError(table.key("window"), "must be a whole number")

    def words(name: str) -> frozenset[str]:
        return frozenset(_normalise(w) for w in table.string_list(name))

    return Negation(
        window=int(window),
        zh_cues=words("zh_cues"),
        zh_bridges=words("zh_bridges"),
        zh_clause_breaks=words("zh_clause_breaks"),
        en_cues=words("en_cues"),
        en_bridges=words("en_bridges"),
        en_clause_breaks=words("en_clause_breaks"),
    )


def _parse_routes(table: _Table, *, complete: bool) -> dict[Cat, Route]:
    table.allow(*(c.value for c in Cat))
    routes: dict[Cat, Route] = {}
    for category in Cat:
        if category.value not in table.data:
            if complete:
                raise RulesError(table.key(category.value), "missing: the default routing table needs every category")
            continue
        entry = table.table(category.value)
        entry.allow("lead", "assist")
        lead = entry.enum("lead", Dept)
        assist_key = entry.key("assist")
        assisting = tuple(
            _enum(Dept, d, f"{assist_key}[{i}]") for i, d in enumerate(entry.string_list("assist", optional=True))
        )
        if category in LEAD_ALONE:
            leads = LEAD_ALONE[category]
            if lead not in leads:
                raise RulesError(entry.key("lead"), f"must be one of {', '.join(sorted(d.value for d in leads))}")
            if assisting:
                raise RulesError(assist_key, "must be empty: this subject has no assisting department")
        routes[category] = Route(lead, assisting)
    return routes


def _phrases_of(items: list[str], key: str) -> list[str]:
    for i, item in enumerate(items):
        if not _normalise(item).strip():
            raise RulesError(f"{key}[{i}]", "empty phrase")
    return items


def _enum(enum_type: type, value: Any, key: str) -> Any:
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum_type)
        raise RulesError(key, f"unknown value {value!r} (expected one of: {allowed})") from None


class _Table:
    """A TOML table being validated; every error it raises names the full dotted key."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise RulesError(path, "must be a table")
        self.data = data
        self.path = path

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def allow(self, *names: str) -> None:
        for name in self.data:
            if name not in names:
                raise RulesError(self.key(name), f"unknown key (expected one of: {', '.join(names)})")

    def get(self, name: str, *, optional: bool = False) -> Any:
        if name not in self.data:
            if optional:
                return None
            raise RulesError(self.key(name), "required")
        return self.data[name]

    def table(self, name: str, *, optional: bool = False) -> _Table:
        value = self.get(name, optional=optional)
        return _Table({} if value is None else value, self.key(name))

    def string(self, name: str) -> str:
        value = self.get(name)
        if not isinstance(value, str) or not value.strip():
            raise RulesError(self.key(name), "must be a non-empty string")
        return value

    def string_list(self, name: str, *, optional: bool = False) -> list[str]:
        value = self.get(name, optional=optional)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RulesError(self.key(name), "must be a list of strings")
        return value

    def number(
        self, name: str, *, low: float | None = None, high: float | None = None, low_open: bool = False
    ) -> float:
        value = self.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise RulesError(self.key(name), f"must be a number, got {value!r}")
        if low is not None and (value < low or (low_open and value == low)):
            raise RulesError(self.key(name), f"must be {'>' if low_open else '>='} {low}, got {value}")
        if high is not None and value > high:
            raise RulesError(self.key(name), f"must be <= {high}, got {value}")
        return float(value)

    def choice(self, name: str, allowed: tuple[int, ...]) -> int:
        value = self.get(name)
        if isinstance(value, bool) or value not in allowed:
            raise RulesError(self.key(name), f"must be one of {allowed}, got {value!r}")
        return int(value)

    def enum(self, name: str, enum_type: type) -> Any:
        return _enum(enum_type, self.get(name), self.key(name))

    def weights(self, name: str, *, optional: bool = False) -> dict[str, float]:
        table = self.table(name, optional=optional)
        result: dict[str, float] = {}
        for phrase in table.data:
            if not _normalise(phrase).strip():
                raise RulesError(table.key(repr(phrase)), "empty phrase")
            result[phrase] = table.number(phrase, low=0.0, low_open=True)
        return result


# ---------------------------------------------------------------------------------------------
# Reading a text


_EN_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_PUNCT_BREAKS = frozenset("，。！？；：,.!?;:\n\r…")


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


@dataclass(frozen=True)
class _Hit:
    rule: PhraseRule
    start: int
    end: int
    negated: bool


@dataclass(frozen=True)
class _PhraseIndex:
    """A group of phrase rules made ready for matching, built once per rule set.

    Chinese phrases are looked up by their first character at each position of the text (every
    occurrence, overlapping ones too, as ``str.find`` from each next position would find them);
    an English phrase's pattern is only run when the longest literal part it needs is in the text.
    """

    zh_by_first: Mapping[str, tuple[tuple[int, PhraseRule, str], ...]]
    en: tuple[tuple[int, PhraseRule, str], ...]

    @classmethod
    def of(cls, rules: tuple[PhraseRule, ...]) -> _PhraseIndex:
        zh: dict[str, list[tuple[int, PhraseRule, str]]] = {}
        en: list[tuple[int, PhraseRule, str]] = []
        for position, rule in enumerate(rules):
            if rule.is_english:
                literal = max((word.removesuffix("*") for word in rule.phrase.split()), key=len, default="")
                en.append((position, rule, literal))
            else:
                zh.setdefault(rule.phrase[0], []).append((position, rule, rule.phrase))
        return cls({char: tuple(entries) for char, entries in zh.items()}, tuple(en))


@dataclass(frozen=True)
class _Reading:
    """A text as the rules see it: normalised, cut into Chinese words and English words."""

    text: str
    zh_tokens: tuple[tuple[str, int, int], ...]
    en_tokens: tuple[tuple[str, int, int], ...]
    word_spans: tuple[tuple[int, int], ...]  # for each character, the segmented word it belongs to

    @classmethod
    def of(cls, text: str, rules: Rules) -> _Reading:
        norm = _normalise(text)
        zh_tokens = tuple(rules.segmenter().tokenize(norm, HMM=False)) if norm else ()
        en_tokens = tuple((m.group().replace("’", "'"), m.start(), m.end()) for m in _EN_WORD.finditer(norm))
        word_spans = tuple((t_start, t_end) for _, t_start, t_end in zh_tokens for _ in range(t_start, t_end))
        return cls(norm, zh_tokens, en_tokens, word_spans)

    def find(self, rules: Iterable[PhraseRule] | _PhraseIndex, negation: Negation) -> list[_Hit]:
        """Every phrase occurrence that respects word boundaries; overlaps go to the longest."""
        index = rules if isinstance(rules, _PhraseIndex) else _PhraseIndex.of(tuple(rules))
        text = self.text
        # (minus length, start, end, position of the rule in its group, rule): the longest first, then
        # the earliest, then the rule listed first (what a stable sort of each rule's spans in turn gave).
        candidates: list[tuple[int, int, int, int, PhraseRule]] = []
        by_first = index.zh_by_first
        if by_first:
            for start, char in enumerate(text):
                entries = by_first.get(char)
                if entries is None:
                    continue
                for position, rule, phrase in entries:
                    if text.startswith(phrase, start):
                        end = start + len(phrase)
                        if not self._straddles(start, end):
                            candidates.append((start - end, start, end, position, rule))
        if self.en_tokens:
            for position, rule, literal in index.en:
                if literal in text:  # the pattern cannot match without it
                    for match in rule.english_pattern.finditer(text):
                        start, end = match.start(), match.end()
                        candidates.append((start - end, start, end, position, rule))
        if not candidates:
            return []
        candidates.sort(key=lambda c: (c[0], c[1], c[3]))
        taken: list[tuple[int, int]] = []
        hits: list[_Hit] = []
        for _, start, end, _, rule in candidates:
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            negated = rule.negatable and (
                self._english_negated(start, negation) if rule.is_english else self._chinese_negated(start, negation)
            )
            hits.append(_Hit(rule, start, end, negated))
        hits.sort(key=lambda h: h.start)
        return hits

    def _straddles(self, start: int, end: int) -> bool:
        """True when the span cuts a word in two: it begins or ends inside a word it leaves."""
        head_start, head_end = self._word_at(start)
        if head_start < start and head_end < end:
            return True
        tail_start, tail_end = self._word_at(end - 1)
        return end < tail_end and tail_start > start

    def _word_at(self, position: int) -> tuple[int, int]:
        if not self.word_spans:
            return position, position + 1
        return self.word_spans[position]

    def _chinese_negated(self, start: int, negation: Negation) -> bool:
        """Is there a negation cue right before ``start`` in its clause (bridging words allowed)?"""
        before: list[str] = []
        for word, t_start, t_end in self.zh_tokens:
            if t_end <= start:
                before.append(word)
            elif t_start < start:  # the phrase sits inside a longer word: its head counts, e.g. 不|漏水
                before.append(word[: start - t_start])
        looked = 0
        for word in reversed(before):
            if not word.strip():
                continue
            if word in negation.zh_clause_breaks or all(ch in _PUNCT_BREAKS for ch in word):
                return False
            if _is_zh_negation(word, negation):
                return True
            if word not in negation.zh_bridges:
                return False
            looked += 1
            if looked >= negation.window:
                return False
        return False

    def _english_negated(self, start: int, negation: Negation) -> bool:
        previous_end = start
        looked = 0
        for word, t_start, t_end in reversed([t for t in self.en_tokens if t[2] <= start]):
            if any(ch in _PUNCT_BREAKS for ch in self.text[t_end:previous_end]):
                return False
            if word in negation.en_clause_breaks:
                return False
            if word in negation.en_cues or word.endswith("n't"):
                return True
            if word not in negation.en_bridges:
                return False
            previous_end = t_start
            looked += 1
            if looked >= negation.window:
                return False
        return False


def _is_zh_negation(word: str, negation: Negation) -> bool:
    """A cue alone (没有) or a cue fused with a bridging word (未发现, 没出现)."""
    if word in negation.zh_cues:
        return True
    return any(word.startswith(cue) and word[len(cue):] in negation.zh_bridges for cue in negation.zh_cues)




# ---------------------------------------------------------------------------------------------
# Classification


@dataclass(frozen=True)
class Classification:
    category: Cat
    complaint_class: int
    valid: bool
    important: bool
    confidence: float
    rules_fired: tuple[str, ...]
    rules_version: str
    needs_triage: bool
    lead_department: Dept
    assisting_departments: tuple[Dept, ...]


def classify(
    text: str,
    *,
    kind: FeedbackKind | str | None = None,
    channel: Channel | str | None = None,
    project_stage: ProjectStage | str | None = None,
    org_path: str | None = None,
    rules: Rules | None = None,
    model: ComplaintModel | None = None,
) -> Classification:
    """Classify one piece of feedback. Pure: the same text, context, rules and model give the same
    result. Without ``model`` the rules decide alone; with one, the rules' findings are features of
    the model, which decides (services/routing/classification/model.py)."""
    rules = rules or default_rules()
    kind = FeedbackKind(kind) if kind is not None else None
    channel = Channel(channel) if channel is not None else None
    project_stage = ProjectStage(project_stage) if project_stage is not None else None
    reading = _Reading.of(text or "", rules)
    by_rules = _by_rules(reading, kind, channel, project_stage, org_path, rules)
    if model is None:
        return by_rules
    decision = model.decide(_features(reading, by_rules, kind, channel, project_stage))
    fired = [f for f in by_rules.rules_fired if not f.startswith(("triage:", "routing:"))]
    fired += decision.explained
    valid = decision.valid and (kind is None or kind in rules.complaint_kinds)
    route, routed_by = rules.route(decision.category, org_path)
    if routed_by:
        fired.append(f"routing:{routed_by}")
    if decision.needs_triage:
        fired.append(f"triage:confidence<{model.triage_threshold:g}")
    return Classification(
        category=decision.category,
        complaint_class=decision.complaint_class,
        valid=valid,
        important=decision.important,
        confidence=decision.confidence,
        rules_fired=tuple(fired),
        rules_version=f"{rules.version}+model:{model.version}",
        needs_triage=decision.needs_triage,
        lead_department=route.lead,
        assisting_departments=route.assisting,
    )


def model_features(
    text: str,
    *,
    kind: FeedbackKind | str | None = None,
    channel: Channel | str | None = None,
    project_stage: ProjectStage | str | None = None,
    org_path: str | None = None,
    rules: Rules | None = None,
) -> set[str]:
    """What the model reads of a complaint, exactly as :func:`classify` gives it (train.py trains on it)."""
    rules = rules or default_rules()
    kind = FeedbackKind(kind) if kind is not None else None
    channel = Channel(channel) if channel is not None else None
    project_stage = ProjectStage(project_stage) if project_stage is not None else None
    reading = _Reading.of(text or "", rules)
    return _features(reading, _by_rules(reading, kind, channel, project_stage, org_path, rules),
                     kind, channel, project_stage)


def _features(reading: _Reading, by_rules: Classification, kind: FeedbackKind | None, channel: Channel | None,
              project_stage: ProjectStage | None) -> set[str]:
    return (text_features(reading.text, reading.zh_tokens, reading.en_tokens)
            | rule_features(by_rules.rules_fired, by_rules.category.value, by_rules.complaint_class)
            | context_features(kind and kind.value, channel and channel.value, project_stage and project_stage.value))


def _by_rules(reading: _Reading, kind: FeedbackKind | None, channel: Channel | None,
              project_stage: ProjectStage | None, org_path: str | None, rules: Rules) -> Classification:
    indexes = rules.phrase_indexes
    fired: list[str] = []

    # Category: phrases (negated symptoms recorded but not counted), then context hints.
    scores: dict[Cat, float] = dict.fromkeys(Cat, 0.0)
    evidence = 0.0
    for hit in reading.find(indexes.category, rules.negation):
        if hit.rule.target == "shadow":
            continue
        if hit.negated:
            fired.append(f"negated:{hit.rule.rule_id}")
            continue
        if hit.rule.rule_id in fired:
            continue  # a phrase counts once however often it is repeated
        scores[Cat(hit.rule.target)] += hit.rule.weight
        evidence += hit.rule.weight
        fired.append(hit.rule.rule_id)
    context = {"kind": kind, "channel": channel, "stage": project_stage}
    for hint in rules.hints:
        if context[hint.source] is not None and context[hint.source].value == hint.value:
            scores[hint.category] += hint.weight
            fired.append(hint.rule_id)

    ranked = sorted(Cat, key=lambda c: (-scores[c], rules.category_order.index(c)))
    category, runner_up = ranked[0], ranked[1]
    if scores[category] <= 0.0:
        category = rules.fallback_category
        fired.append(f"fallback:{category.value}")
        category_confidence = 0.0
    else:
        category_confidence = _confidence(scores[category], scores[runner_up], rules.confidence_scale)
    if evidence == 0.0:
        category_confidence = min(category_confidence, rules.triage_threshold / 2)  # hints alone never decide

    # Class: the category's default class, moved only by clear class phrases.
    class_scores = dict.fromkeys(COMPLAINT_CLASSES, 0.0)
    class_scores[rules.default_class[category]] += rules.class_prior
    fired.append(f"class:default:{category.value}->{rules.default_class[category]}")
    for hit in reading.find(indexes.klass, rules.negation):
        if hit.negated or hit.rule.rule_id in fired:
            continue
        class_scores[int(hit.rule.target)] += hit.rule.weight
        fired.append(hit.rule.rule_id)
    class_ranked = sorted(COMPLAINT_CLASSES, key=lambda c: (-class_scores[c], c != rules.default_class[category]))
    complaint_class = class_ranked[0]
    first, second = class_scores[class_ranked[0]], class_scores[class_ranked[1]]
    class_confidence = 0.5 + 0.5 * (first - second) / (first + second)

    # Importance: any reason that is not negated.
    important = False
    for hit in reading.find(indexes.importance, rules.negation):
        if hit.negated:
            fired.append(f"negated:{hit.rule.rule_id}")
        elif hit.rule.rule_id not in fired:
            important = True
            fired.append(hit.rule.rule_id)

    # Validity: only a class-1 complaint is valid (有效投诉), unless the customer's own cause or a
    # demand beyond the contract or warranty shows our service did not fail.
    valid = complaint_class == 1
    if evidence == 0.0:
        valid = False
        fired.append("invalid:no_signal")
    if kind is not None and kind not in rules.complaint_kinds:
        valid = False
        fired.append(f"invalid:kind:{kind.value}")
    for hit in reading.find(indexes.invalid, rules.negation):
        if hit.negated:
            fired.append(f"negated:{hit.rule.rule_id}")
        elif complaint_class == 1 and hit.rule.rule_id not in fired:
            valid = False
            fired.append(hit.rule.rule_id)

    route, routed_by = rules.route(category, org_path)
    if routed_by:
        fired.append(f"routing:{routed_by}")

    confidence = round(max(0.0, min(1.0, category_confidence, class_confidence)), 4)
    needs_triage = confidence < rules.triage_threshold
    if needs_triage:
        fired.append(f"triage:confidence<{rules.triage_threshold:g}")
    return Classification(
        category=category,
        complaint_class=complaint_class,
        valid=valid,
        important=important,
        confidence=confidence,
        rules_fired=tuple(fired),
        rules_version=rules.version,
        needs_triage=needs_triage,
        lead_department=route.lead,
        assisting_departments=route.assisting,
    )


def _confidence(best: float, runner_up: float, scale: float) -> float:
    """Strength of the evidence (saturating) times how clearly it beats the runner-up."""
    strength = 1.0 - math.exp(-best / scale)
    margin = 0.5 + 0.5 * (best - runner_up) / (best + runner_up)
    return strength * margin
