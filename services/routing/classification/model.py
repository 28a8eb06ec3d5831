"""The statistical half of the classifier: linear models over what a complaint says.

The rule file (``rules.toml``) reads a complaint for phrases; on text its authors did not foresee
it is right about three times in four. The model here weighs everything the text offers, learned
from labelled complaints (``train.py`` builds it from files in the repository, byte for byte):

* the words jieba cuts the Chinese into, and every pair of adjacent Chinese characters (a typo or a
  homophone still shares most of its pairs with the right word);
* English words (a crude stem: ``leaking`` → ``leak``) and pairs of adjacent words;
* the rules' own findings: each phrase that fired (or was cancelled by a negation), the rules'
  category and class, each importance and invalidity reason they found;
* the kind, channel and project stage of the feedback.

Each feature is present or not; a text's features are scaled to length 1, so a long rambling
letter weighs no more than a WeChat line. Four heads share them: the subject (seven categories),
the class (1/2/3), validity (for class 1) and importance. The subject and class are decided
together, among the pairs the labelled data shows; the confidence is the chosen pair's share of
the pairs' joint probability, and below the model's triage threshold a person decides.

Everything is deterministic: plain sums over a JSON file of weights, no randomness at run time.
Each decision names the features that weighed most for it (``model:`` entries of ``rules_fired``),
which :func:`explain` turns into a sentence in Chinese for staff.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.events.vocabulary import ComplaintCategory as Cat
from shared.labels import name_of

DEFAULT_MODEL_PATH = Path(__file__).with_name("model.json")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_HAS_DIGIT = re.compile(r"\d")
#: Never features: forms of address that stand beside a person's name (张先生, 李女士), not a subject.
_ADDRESS = ("先生", "女士", "小姐", "太太")
#: Words that carry no subject: never named in an explanation (they still count).
_PLAIN = frozenset("a an the is are was were be been my our your we i you it this that to of in on and or for with at from by have has had do does did not no".split())
_TOP = 6  # features named per decision


class ModelError(ValueError):
    pass


def _stem(word: str) -> str:
    """leaking, leaked, leaks → leak; ceilings → ceiling; boxes → box; times → time."""
    if len(word) <= 4 or word.endswith("ss"):
        return word
    if word.endswith("ing") and len(word) >= 6:
        return word[:-3]
    if word.endswith("ed") and len(word) >= 5:
        return word[:-2]
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def text_features(text: str, zh_tokens: Iterable[tuple[str, int, int]],
                  en_tokens: Iterable[tuple[str, int, int]]) -> set[str]:
    """The words and character pairs of a normalised text (see the module docstring)."""
    features: set[str] = set()
    for word, _start, _end in zh_tokens:
        if len(word) >= 2 and _CJK_RUN.fullmatch(word) and not any(a in word for a in _ADDRESS):
            features.add("w:" + word)
    for run in _CJK_RUN.finditer(text):
        chars = run.group()
        if len(chars) == 1:
            features.add("c:" + chars)
        for i in range(len(chars) - 1):
            pair = chars[i:i + 2]
            if pair not in _ADDRESS:
                features.add("b:" + pair)
    words = [_stem(w) for w, _s, _e in en_tokens if not _HAS_DIGIT.search(w) and len(w) > 1]
    for i, word in enumerate(words):
        features.add("e:" + word)
        if i:
            features.add(f"e2:{words[i - 1]}_{word}")
    return features


def rule_features(fired: Iterable[str], rule_category: str, rule_class: int) -> set[str]:
    """What the rules found, as features of the model."""
    features = {f"rc:{rule_category}", f"rk:{rule_class}"}
    for entry in fired:
        if entry.startswith(("triage:", "routing:", "class:default:")):
            continue
        features.add("r:" + entry)
        head, _, rest = entry.partition(":")
        if head in ("important", "invalid"):
            features.add(f"r{head[:3]}:{rest.split(':', 1)[0]}")  # the reason, whatever the phrase
        elif head == "negated":
            features.add("rneg:" + ":".join(rest.split(":")[:2]))  # e.g. category:product_quality
    return features


def context_features(kind: str | None, channel: str | None, stage: str | None) -> set[str]:
    return {f"{name}:{value}" for name, value in (("k", kind), ("ch", channel), ("st", stage)) if value}


@dataclass(frozen=True)
class LinearModel:
    """``labels`` (two or more); one weight per label for each known feature (a single weight,
    the log-odds of ``labels[1]``, for a two-label model)."""

    labels: tuple[str, ...]
    intercept: tuple[float, ...]
    weights: Mapping[str, tuple[float, ...]]

    @property
    def binary(self) -> bool:
        return len(self.labels) == 2 and len(self.intercept) == 1

    def scores(self, features: Sequence[str], value: float) -> list[float]:
        totals = list(self.intercept)
        weights = self.weights
        for feature in features:
            w = weights.get(feature)
            if w is not None:
                for i, x in enumerate(w):
                    totals[i] += x * value
        return totals

    def probabilities(self, features: Sequence[str], value: float) -> list[float]:
        scores = self.scores(features, value)
        if self.binary:
            p = 1.0 / (1.0 + math.exp(-scores[0]))
            return [1.0 - p, p]
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        return [e / total for e in exps]

    def weighed(self, features: Sequence[str], value: float, label: int) -> list[tuple[float, str]]:
        """Each known feature's push towards ``label`` (against the mean of the others), largest first."""
        pushes = []
        for feature in features:
            w = self.weights.get(feature)
            if w is None:
                continue
            if self.binary:
                push = w[0] if label == 1 else -w[0]
            else:
                others = [x for i, x in enumerate(w) if i != label]
                push = w[label] - sum(others) / len(others)
            pushes.append((push * value, feature))
        pushes.sort(key=lambda p: (-p[0], p[1]))
        return pushes

    @classmethod
    def from_json(cls, data: Mapping[str, Any], name: str) -> LinearModel:
        try:
            labels = tuple(str(x) for x in data["labels"])
            intercept = tuple(float(x) for x in data["intercept"])
            width = len(intercept)
            weights = {str(f): tuple(float(x) for x in w) for f, w in data["weights"].items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{name}: {exc}") from exc
        if width not in (1, len(labels)) or any(len(w) != width for w in weights.values()):
            raise ModelError(f"{name}: weights do not match the labels")
        return cls(labels, intercept, weights)


@dataclass(frozen=True)
class ModelDecision:
    category: Cat
    complaint_class: int
    valid: bool
    important: bool
    confidence: float
    needs_triage: bool
    explained: tuple[str, ...]  # ``model:`` entries for rules_fired


@dataclass(frozen=True, eq=False)
class ComplaintModel:
    version: str
    category: LinearModel
    klass: LinearModel
    valid: LinearModel
    important: LinearModel
    pairs: frozenset[tuple[str, int]]  # (category, class) pairs the labelled data shows
    triage_threshold: float
    important_threshold: float
    valid_threshold: float
    important_by_rules: bool = True  # a reason the rules found makes the complaint important
    source: str = ""

    def decide(self, features: set[str]) -> ModelDecision:
        ordered = sorted(features)
        value = 1.0 / math.sqrt(len(ordered)) if ordered else 0.0
        p_cat = self.category.probabilities(ordered, value)
        p_cls = self.klass.probabilities(ordered, value)
        joint = {}
        for ci, category in enumerate(self.category.labels):
            for ki, klass in enumerate(self.klass.labels):
                if (category, int(klass)) in self.pairs:
                    joint[(ci, ki)] = p_cat[ci] * p_cls[ki]
        total = sum(joint.values()) or 1.0
        (ci, ki), best = max(joint.items(), key=lambda item: (item[1], -item[0][0], -item[0][1]))
        confidence = best / total
        category, complaint_class = Cat(self.category.labels[ci]), int(self.klass.labels[ki])
        p_valid = self.valid.probabilities(ordered, value)[1]
        p_important = self.important.probabilities(ordered, value)[1]
        valid = complaint_class == 1 and p_valid >= self.valid_threshold
        important = p_important >= self.important_threshold or (
            self.important_by_rules and any(f.startswith("rimp:") for f in ordered))
        needs_triage = confidence < self.triage_threshold
        explained = [f"model:{self.version}:{category.value}/{complaint_class}:{confidence:.2f}"]
        explained += _named(self.category.weighed(ordered, value, ci), "category", _TOP)
        if important:
            explained += _named(self.important.weighed(ordered, value, 1), "important", 3)
        if complaint_class == 1 and not valid:
            explained += _named(self.valid.weighed(ordered, value, 0), "invalid", 3)
        return ModelDecision(category, complaint_class, valid, important, round(confidence, 4), needs_triage,
                             tuple(explained))

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = "") -> ComplaintModel:
        try:
            heads = data["heads"]
            model = cls(
                version=str(data["version"]),
                category=LinearModel.from_json(heads["category"], "category"),
                klass=LinearModel.from_json(heads["class"], "class"),
                valid=LinearModel.from_json(heads["valid"], "valid"),
                important=LinearModel.from_json(heads["important"], "important"),
                pairs=frozenset((str(c), int(k)) for c, k in data["pairs"]),
                triage_threshold=float(data["thresholds"]["triage"]),
                important_threshold=float(data["thresholds"]["important"]),
                valid_threshold=float(data["thresholds"]["valid"]),
                important_by_rules=bool(data.get("important_when_rules_find_a_reason", False)),
                source=source,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{source or 'model'}: not a complaint model: {exc}") from exc
        unknown = set(model.category.labels) - {c.value for c in Cat}
        if unknown:
            raise ModelError(f"{source}: unknown categories {sorted(unknown)}")
        return model


_REASONS = {
    "media": "媒体曝光", "government": "政府部门", "group_escalation": "上报集团", "repeated": "反复投诉",
    "safety_hazard": "安全隐患", "mass_incident": "多户业主", "legal": "法律途径", "compensation": "索赔",
    "home_return": "退房", "beyond_warranty": "超出保修期", "beyond_contract": "合同范围外",
    "customer_caused": "业主自身原因", "no_signal": "没有投诉内容",
}
_CONTEXT = {"k": "类型", "ch": "渠道", "st": "阶段"}


def _shown(feature: str) -> str:
    """A feature as staff read it (in Chinese): the word itself, or what the rules found."""
    kind, _, rest = feature.partition(":")
    if kind in ("w", "b", "c", "e"):
        return f"「{rest}」"
    if kind == "e2":
        return f"「{rest.replace('_', ' ')}」"
    if kind == "rc":
        return f"规则判为{name_of('category', rest, 'zh')}"
    if kind == "rk":
        return f"规则判为{name_of('complaint_class', rest, 'zh')}"
    if kind in ("rimp", "rinv"):
        return f"规则：{_REASONS.get(rest, rest)}"
    if kind == "rneg":
        target = rest.rsplit(":", 1)[-1]
        return f"规则：否定的{_REASONS.get(target) or name_of('category', target, 'zh')}"
    if kind == "r":
        head, _, tail = rest.partition(":")
        phrase = tail.rsplit(":", 1)[-1]
        return f"{'否定的' if head == 'negated' else ''}规则词「{phrase}」"
    if kind in _CONTEXT:
        return f"{_CONTEXT[kind]} {rest}"
    return feature


def _named(pushes: list[tuple[float, str]], head: str, limit: int) -> list[str]:
    """``model:<head>:<shown>:<push>`` for the strongest positive pushes, each shown once."""
    out, seen = [], set()
    for push, feature in pushes:
        if push <= 0 or len(out) >= limit:
            break
        if feature.partition(":")[2] in _PLAIN:
            continue
        shown = _shown(feature).replace(":", "：")
        if shown not in seen:
            seen.add(shown)
            out.append(f"model:{head}:{shown}:{push:+.2f}")
    return out


_DEFAULT: list[ComplaintModel] = []
_LOCK = threading.Lock()


def load_model(path: str | Path | None = None) -> ComplaintModel:
    model_path = Path(path) if path is not None else DEFAULT_MODEL_PATH
    try:
        data = json.loads(model_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"model file not found: {model_path}") from exc
    except json.JSONDecodeError as exc:
        raise ModelError(f"{model_path} is not JSON: {exc}") from exc
    return ComplaintModel.from_json(data, source=str(model_path))


def default_model() -> ComplaintModel:
    with _LOCK:
        if not _DEFAULT:
            _DEFAULT.append(load_model())
        return _DEFAULT[0]


def explain(rules_fired: Iterable[str]) -> str | None:
    """The model's reasons in ``rules_fired`` as one sentence in Chinese (None when no model decided)."""
    head, category_words, important_words, invalid_words = None, [], [], []
    for entry in rules_fired:
        if not entry.startswith("model:"):
            continue
        parts = entry.split(":")
        if parts[1] in ("category", "important", "invalid"):
            word = ":".join(parts[2:-1])
            {"category": category_words, "important": important_words, "invalid": invalid_words}[parts[1]].append(word)
        elif len(parts) >= 4 and head is None:
            category, _, klass = parts[2].partition("/")
            head = (f"模型 {parts[1]} 判为{name_of('category', category, 'zh')}、{name_of('complaint_class', klass, 'zh')}"
                    f"（把握 {float(parts[3]):.0%}）")
    if head is None:
        return None
    sentence = head
    if category_words:
        sentence += "；起作用最大的是：" + "、".join(category_words)
    if important_words:
        sentence += "；判为重要投诉，因为：" + "、".join(important_words)
    if invalid_words:
        sentence += "；判为无效投诉，因为：" + "、".join(invalid_words)
    return sentence + "。"
