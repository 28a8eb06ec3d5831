"""The defect vocabulary: which kind of defect (渗漏, 裂缝, 空鼓, 门窗, …) a report is about.

Pure, and deliberately small: weighted phrases per kind in a versioned TOML file
(``defects.toml`` beside this module, or the file named by ``CARELOOP_REPAIR_DEFECTS_FILE``). The
file's header explains how a text is read. The kind decides which work order a household's report
joins and which repairs count as the same recurring defect (质量通病).
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_VOCABULARY_PATH = Path(__file__).with_name("defects.toml")
_CLAUSE_BREAK = re.compile(r"[，。,.;；!！?？\n]")
_LATIN = re.compile(r"[a-z]")


class VocabularyError(ValueError):
    pass


@dataclass(frozen=True)
class Phrase:
    text: str
    weight: float
    kind: str
    pattern: re.Pattern[str] | None  # English phrases: whole words; Chinese ones: plain substrings

    def spans(self, text: str) -> list[tuple[int, int]]:
        if self.pattern is not None:
            return [m.span() for m in self.pattern.finditer(text)]
        found, start = [], text.find(self.text)
        while start >= 0:
            found.append((start, start + len(self.text)))
            start = text.find(self.text, start + 1)
        return found


@dataclass(frozen=True)
class DefectMatch:
    kind: str
    phrases: tuple[str, ...]
    vocabulary_version: str

    @property
    def recognised(self) -> bool:
        return bool(self.phrases)


#: Traditional characters households type (Hong Kong, Taiwan, an old input method) folded to the
#: simplified ones the vocabulary and the address reading are written in: only the characters of
#: defects, parts of a building and addresses, not a whole conversion table.
_TRADITIONAL = str.maketrans(
    "滲牆縫門電開關黴衛廁樓層頂濕漬發脫磚燈線閘龍頭馬戶鎖頁車庫單號棟間陽臺雞鬆裝窪霧遲壞斷跡積"
    "漲壁紋隙滿廳廚臥麼態這個氣熱點樣還沒們說現場兒",
    "渗墙缝门电开关霉卫厕楼层顶湿渍发脱砖灯线闸龙头马户锁页车库单号栋间阳台鸡松装洼雾迟坏断迹积"
    "涨壁纹隙满厅厨卧么态这个气热点样还没们说现场儿",
)


def fold_variants(text: str) -> str:
    """Full-width forms and compatibility characters (NFKC), lower case, simplified characters."""
    return unicodedata.normalize("NFKC", text).lower().translate(_TRADITIONAL)


def _normalise(text: str) -> str:
    return fold_variants(text)


def _english_pattern(phrase: str) -> re.Pattern[str]:
    prefix = phrase.endswith("*")
    words = phrase.rstrip("*").split()
    body = r"\s+".join(re.escape(w) for w in words)
    tail = r"[a-z]*" if prefix else r"s?"
    return re.compile(rf"(?<![a-z]){body}{tail}(?![a-z])")


@dataclass(frozen=True)
class DefectVocabulary:
    version: str
    fallback: str
    labels: Mapping[str, str]
    phrases: tuple[Phrase, ...]  # longest first
    negation_window: int
    negation_cues: tuple[str, ...]
    not_negations: tuple[str, ...]

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.labels)

    def _negated(self, text: str, start: int) -> bool:
        """A negation cue shortly before the phrase, in the same clause."""
        clause_start = max((m.end() for m in _CLAUSE_BREAK.finditer(text, 0, start)), default=0)
        before = text[clause_start:start]
        for harmless in self.not_negations:
            before = before.replace(harmless, " " * len(harmless))
        near = before[-self.negation_window:]
        near_words = before[-self.negation_window * 6:]  # English: a few words, not characters
        for cue in self.negation_cues:
            if _LATIN.match(cue):
                if re.search(rf"(?<![a-z]){re.escape(cue)}(?![a-z])", near_words):
                    return True
            elif cue in near:
                return True
        return False

    def classify(self, text: str) -> DefectMatch:
        """The defect kind of a report; the fallback kind when no phrase counts."""
        normalised = _normalise(text)
        taken = [False] * len(normalised)
        scores: dict[str, float] = {}
        fired: list[str] = []
        for phrase in self.phrases:
            for start, end in phrase.spans(normalised):
                if any(taken[start:end]):
                    continue  # part of a longer phrase already counted
                for i in range(start, end):
                    taken[i] = True
                if self._negated(normalised, start):
                    continue
                scores[phrase.kind] = scores.get(phrase.kind, 0.0) + phrase.weight
                fired.append(f"{phrase.kind}:{phrase.text}")
        if not scores:
            return DefectMatch(self.fallback, (), self.version)
        order = {kind: i for i, kind in enumerate(self.labels)}
        best = max(scores, key=lambda kind: (scores[kind], -order[kind]))
        return DefectMatch(best, tuple(fired), self.version)


def parse_vocabulary(data: Mapping[str, Any]) -> DefectVocabulary:
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise VocabularyError("version: a non-empty string is required")
    fallback = data.get("fallback", "other")
    kinds = data.get("kinds")
    if not isinstance(kinds, dict) or not kinds:
        raise VocabularyError("kinds: at least one defect kind is required")
    if fallback in kinds:
        raise VocabularyError(f"fallback: {fallback!r} must not also be a kind with phrases")
    labels: dict[str, str] = {}
    phrases: list[Phrase] = []
    for kind, table in kinds.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", kind):
            raise VocabularyError(f"kinds.{kind}: a kind is a lower-case identifier")
        labels[kind] = str(table.get("label", kind))
        entries = table.get("phrases")
        if not isinstance(entries, dict) or not entries:
            raise VocabularyError(f"kinds.{kind}.phrases: at least one phrase is required")
        for text, weight in entries.items():
            if not isinstance(weight, int | float) or weight <= 0:
                raise VocabularyError(f"kinds.{kind}.phrases.{text}: the weight must be a positive number")
            phrase = _normalise(text)
            english = bool(_LATIN.search(phrase))
            phrases.append(Phrase(phrase.rstrip("*") if not english else phrase, float(weight), kind,
                                  _english_pattern(phrase) if english else None))
    negation = data.get("negation", {})
    phrases.sort(key=lambda p: -len(p.text.rstrip("*")))
    return DefectVocabulary(
        version=version, fallback=fallback, labels=labels, phrases=tuple(phrases),
        negation_window=int(negation.get("window", 3)),
        negation_cues=tuple(_normalise(c) for c in negation.get("cues", ())),
        not_negations=tuple(_normalise(c) for c in negation.get("not_negations", ())),
    )


def load_vocabulary(path: str | Path | None = None) -> DefectVocabulary:
    source = Path(path) if path is not None else DEFAULT_VOCABULARY_PATH
    try:
        with source.open("rb") as handle:
            return parse_vocabulary(tomllib.load(handle))
    except FileNotFoundError as exc:
        raise VocabularyError(f"defect vocabulary not found: {source}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise VocabularyError(f"{source} is not valid TOML: {exc}") from exc
