"""One detector for personal data in free text people wrote, used by logs, masked API answers,
the audit decision, erasure and the events that leave intake.

What it finds (each a `Finding` with its kind and span, `text[start:end]`):

- ``mobile``: a mainland mobile number, 11 digits starting 13–19, written whole or in 3-4-4 groups
  (spaces, dashes or dots between), with or without +86 / 0086 / 86 / (+86) in front;
- ``landline``: a mainland fixed line with its area code (0571-88886666, (010)12345678,
  0571 8888 6666, +86 571 8888 6666), an extension may follow (-123, 转123, ext 123, x123, #123);
- ``international``: any other country code written with + or 00 (+852 9123 4567, 0044 20 7946 0958);
- ``id_card``: an 18-character resident identity number whose GB 11643 check character is right
  (X or x last) and whose date of birth exists, or an old 15-digit one with a real province and
  birth date;
- ``email``: an e-mail address;
- ``bank_card``: 16–19 digits (whole or in groups of four) starting 3, 4, 5 or 6 that pass Luhn;
- ``name``: each of the names given (the customer's name, company, contact names; two characters
  or more) wherever it occurs, also with spaces between its characters; otherwise matched exactly.

A number is found only where it stands on its own: digits or Latin letters glued to it make it part
of something longer (an order number "WO2026120313912345671", a case number "CL-2026-0001"), except a
label such as "Tel" or "电话"; Chinese characters around it do not ("电话13912345671"). Dates,
amounts, times, unit numbers ("3-2-1201") and ordinary 5–12 digit numbers are not personal data.

Full-width digits, letters, plus signs, parentheses and dashes are read as their ASCII twins (the
text is translated one character for one, so spans index the original text).
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from typing import Literal

PiiKind = Literal["mobile", "landline", "international", "id_card", "email", "bank_card", "name"]

PLACEHOLDERS: dict[PiiKind, str] = {
    "mobile": "[电话]",
    "landline": "[电话]",
    "international": "[电话]",
    "id_card": "[身份证号]",
    "email": "[邮箱]",
    "bank_card": "[银行卡号]",
    "name": "[姓名]",
}


@dataclass(frozen=True)
class Finding:
    kind: PiiKind
    start: int
    end: int
    text: str


# One character for one: full-width forms and the dashes people type become ASCII, so every regex
# below is ASCII-only and every span still indexes the original text.
_FULL_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_TRANSLATE = {**_FULL_WIDTH, 0x3000: " ", 0x00A0: " ", 0x2002: " ", 0x2003: " ", 0x2009: " ",
              0x2010: "-", 0x2011: "-", 0x2012: "-", 0x2013: "-", 0x2014: "-", 0x2015: "-",
              0x2212: "-", 0x30FC: "-"}


def _normalise(text: str) -> str:
    return text.translate(_TRANSLATE)


_SEP = r"(?:[ ]?[-.][ ]?|[ ]{1,2})"       # between groups of a phone number
_CARD_SEP = r"(?:[ ]{1,2}|[ ]?-[ ]?)"      # between groups of a card number
_AREA = r"(?:10|2\d|[3-9]\d{2})"          # an area code without its leading 0
_LOCAL = rf"[1-9]\d{{2,3}}{_SEP}?\d{{4}}"  # a local number, 7 or 8 digits
_EXT = r"(?:[ ]?(?:-|转|分机|(?i:ext)\.?[ ]?|[xX#])[ ]?\d{1,6})?"
_CN_PREFIX = r"(?:\(\+86\)[ ]?|(?:\+|00)86[ -]?)"

_MOBILE = re.compile(rf"(?<!\d)(?:{_CN_PREFIX}|86[ -]?)?(?:1[3-9]\d{_SEP}?\d{{4}}{_SEP}?\d{{4}}(?!\d)"
                     r"|1[ ][3-9](?:[ ]\d){9}(?!\d|[ ]\d))")
_LANDLINE = re.compile(
    rf"(?<!\d)(?:"
    rf"\(0{_AREA}\)[ -]?"
    rf"|0{_AREA}{_SEP}?"
    rf"|{_CN_PREFIX}(?:\(0?{_AREA}\)[ ]?|\(0\)[ ]?{_AREA}{_SEP}?|0?{_AREA}{_SEP}?)"
    rf"){_LOCAL}{_EXT}(?!\d)"
)
_LANDLINE_NO_EXT = re.compile(_LANDLINE.pattern.replace(_EXT, ""))
# The country code and every group after it; `_international` decides how many groups belong.
_INTERNATIONAL = re.compile(r"(?<![\d+])(?:\+|00)(?!86)[1-9](?:[ ]?[-.]?[ ]?(?:\(\d{1,4}\)|\d+))+")
_INTERNATIONAL_GROUP = re.compile(r"\(\d{1,4}\)|\d+")
# A country code in parentheses without '+': "(852) 9876 5432" (a mainland area code starts with 0).
_INTERNATIONAL_PAREN = re.compile(r"(?<![\d(])\((?!86\))[1-9]\d{0,2}\)[ ]?\d(?:[ -]?\d)+(?!\d)")
_ID_CARD = re.compile(r"(?<!\d)(?:\d{6}[ ]?\d{8}[ ]?\d{3}[\dXx]|\d{15})(?![\dXx])")
_BANK_CARD = re.compile(rf"(?<!\d)(?:\d{{16,19}}|\d{{6}}{_CARD_SEP}\d{{10,13}}|\d{{4}}(?:{_CARD_SEP}\d{{4}}){{3}}(?:{_CARD_SEP}?\d{{1,3}})?)(?!\d)")
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9](?:[A-Za-z0-9._%+\-]*[A-Za-z0-9_%+\-])?"
                    r"@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*"
                    r"\.[A-Za-z]{2,}(?![A-Za-z0-9\-])")
_NAME_GAP = r"[ \t]*"

#: Latin words that may stand glued to a number as its label ("Tel13912345671").
_LABELS = frozenset({"tel", "phone", "mobile", "mob", "cell", "fax", "call", "no", "id", "wx", "vx",
                     "wechat", "whatsapp", "sms", "contact", "or", "and", "ext", "x", "idcard", "card"})
_STOP_AFTER = "年月日元万千百"  # a number followed by one of these is a date, amount, age…

_PROVINCES = frozenset({11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45,
                        46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83, 91})
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

# When two kinds claim the same span, the stricter test wins.
_PRIORITY: dict[PiiKind, int] = {"name": 0, "email": 1, "id_card": 2, "bank_card": 3, "mobile": 4,
                                 "landline": 5, "international": 6}


def _latin_run_before(text: str, i: int) -> str:
    j = i
    while j > 0 and text[j - 1].isascii() and text[j - 1].isalpha():
        j -= 1
    return text[j:i]


def _latin_run_after(text: str, i: int) -> str:
    j = i
    while j < len(text) and text[j].isascii() and text[j].isalpha():
        j += 1
    return text[i:j]


def _stands_alone(text: str, start: int, end: int) -> bool:
    """No digit or Latin word is glued to text[start:end] (a label is allowed), nor a decimal point."""
    if start > 0:
        before = text[start - 1]
        if before.isascii() and before.isalpha():
            if _latin_run_before(text, start).lower() not in _LABELS:
                return False
        elif before.isdigit():
            return False
        elif before in "-_." and start > 1 and text[start - 2].isascii() and text[start - 2].isalnum():
            run = _latin_run_before(text, start - 1)
            if before == "." or not run or run.lower() not in _LABELS:
                return False
    if end < len(text):
        after = text[end]
        if after.isascii() and after.isalpha():
            if _latin_run_after(text, end).lower() not in _LABELS:
                return False
        elif after.isdigit():
            return False
        elif after in "-_." and end + 1 < len(text) and text[end + 1].isascii() and text[end + 1].isalnum():
            return False
        elif after in _STOP_AFTER:
            return False
    return True


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


def _valid_birth_date(yyyymmdd: str) -> bool:
    year, month, day = int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:])
    if not 1800 <= year <= 2099:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def is_id_card_number(raw: str) -> bool:
    """An 18-character number with a right GB 11643 check character, a real province and birth date,
    or an old 15-digit one with a real province and birth date (19yymmdd)."""
    number = raw.replace(" ", "").upper()
    if len(number) == 18:
        if not number[:17].isdigit() or int(number[:2]) not in _PROVINCES:
            return False
        if not _valid_birth_date(number[6:14]):
            return False
        total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
        return _ID_CHECK[total % 11] == number[17]
    if len(number) == 15 and number.isdigit():
        return int(number[:2]) in _PROVINCES and _valid_birth_date("19" + number[6:12])
    return False


def passes_luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_bank_card(raw: str) -> bool:
    digits = _digits(raw)
    return 16 <= len(digits) <= 19 and digits[0] in "3456" and passes_luhn(digits)


def _international(text: str, match: re.Match[str]) -> tuple[int, int] | None:
    """How much of `+cc group group …` is the number: +1 takes ten digits after it; any other country
    code groups up to 15 digits in all (E.164), at least 8."""
    start = match.start()
    prefix = 1 if text[start] == "+" else 2
    total, end = 0, None
    for group in _INTERNATIONAL_GROUP.finditer(text, start + prefix, match.end()):
        count = len(_digits(group.group()))
        limit = 11 if text[start + prefix] == "1" else 15
        if total + count > limit:
            break
        total += count
        end = group.end()
        if total == limit:
            break
    if end is None:
        return None
    if text[start + prefix] == "1":
        return (start, end) if total == 11 else None
    return (start, end) if 8 <= total <= 15 else None


def _name_pattern(name: str) -> re.Pattern[str] | None:
    chars = [c for c in _normalise(name) if not c.isspace()]
    if len(chars) < 2:
        return None
    body = _NAME_GAP.join(re.escape(c) for c in chars)
    head = r"(?<![A-Za-z])" if chars[0].isascii() and chars[0].isalpha() else ""
    tail = r"(?![A-Za-z])" if chars[-1].isascii() and chars[-1].isalpha() else ""
    return re.compile(head + body + tail)


def _candidates(text: str, names: Iterable[str]) -> list[tuple[int, int, PiiKind]]:
    found: list[tuple[int, int, PiiKind]] = []
    seen: set[str] = set()
    for name in names:
        if not name or name in seen:
            continue
        seen.add(name)
        pattern = _name_pattern(name)
        if pattern is not None:
            found.extend((m.start(), m.end(), "name") for m in pattern.finditer(text))
    found.extend((m.start(), m.end(), "email") for m in _EMAIL.finditer(text))
    for m in _ID_CARD.finditer(text):
        if is_id_card_number(m.group()) and _stands_alone(text, m.start(), m.end()):
            found.append((m.start(), m.end(), "id_card"))
    for m in _BANK_CARD.finditer(text):
        if _is_bank_card(m.group()) and _stands_alone(text, m.start(), m.end()):
            found.append((m.start(), m.end(), "bank_card"))
    for m in _MOBILE.finditer(text):
        if _stands_alone(text, m.start(), m.end()):
            found.append((m.start(), m.end(), "mobile"))
    for m in _LANDLINE.finditer(text):
        if not _stands_alone(text, m.start(), m.end()):
            m = _LANDLINE_NO_EXT.match(text, m.start())  # "0571-88886666-2026年": the tail is no extension
            if m is None or not _stands_alone(text, m.start(), m.end()):
                continue
        found.append((m.start(), m.end(), "landline"))
    for m in _INTERNATIONAL_PAREN.finditer(text):
        digits = _digits(m.group())
        if (len(digits) == 11 if digits[0] == "1" else 8 <= len(digits) <= 15) and _stands_alone(text, *m.span()):
            found.append((m.start(), m.end(), "international"))
    for m in _INTERNATIONAL.finditer(text):
        span = _international(text, m)
        if span and _stands_alone(text, *span):
            found.append((span[0], span[1], "international"))
    return found


def find_personal_data(text: str, *, names: Iterable[str] = ()) -> list[Finding]:
    """Every piece of personal data in `text`, sorted by start, none overlapping (the longest wins)."""
    if not text:
        return []
    normal = _normalise(text)
    chosen: list[tuple[int, int, PiiKind]] = []  # sorted by start, none overlapping
    for start, end, kind in sorted(_candidates(normal, names),
                                   key=lambda c: (c[0] - c[1], c[0], _PRIORITY[c[2]])):
        i = bisect.bisect_left(chosen, (start,))
        if (i == 0 or chosen[i - 1][1] <= start) and (i == len(chosen) or chosen[i][0] >= end):
            chosen.insert(i, (start, end, kind))
    return [Finding(kind, s, e, text[s:e]) for s, e, kind in chosen]


def mask_personal_data(text: str, *, names: Iterable[str] = ()) -> str:
    """`text` with each finding replaced by its placeholder ("[电话]", "[身份证号]", "[姓名]" …)."""
    out: list[str] = []
    last = 0
    for finding in find_personal_data(text, names=names):
        out.append(text[last:finding.start])
        out.append(PLACEHOLDERS[finding.kind])
        last = finding.end
    out.append(text[last:])
    return "".join(out)


def contains_personal_data(text: str, *, names: Iterable[str] = ()) -> bool:
    return bool(find_personal_data(text, names=names))


# --- names a service knows only by their marks -----------------------------------------------
#
# Routing writes staff notes about a case but never holds the customer's names: intake sends, with
# each FeedbackReceived, *marks* of them — keyed digests (HMAC-SHA256 under CARELOOP_PII_NAME_KEY,
# the same key in every CareLoop service) of each name with its spaces removed and Latin letters
# folded, each prefixed by its length. A text is searched by digesting every run of that many
# characters (spaces and tabs between them allowed, as for clear names) and comparing. The marks
# cannot be turned back into names without the key.


def _name_form(name: str) -> str:
    return "".join(c for c in _normalise(name) if not c.isspace()).casefold()


def _mark(form: str, key: bytes) -> str:
    return f"{len(form)}:{hmac.new(key, form.encode(), hashlib.sha256).hexdigest()[:32]}"


def _key_bytes(key: str | bytes) -> bytes:
    return key if isinstance(key, bytes) else key.encode()


def name_marks(names: Iterable[str | None], *, key: str | bytes) -> tuple[str, ...]:
    """The marks of each name of two characters or more, sorted, without repeats."""
    k = _key_bytes(key)
    return tuple(sorted({_mark(form, k) for n in names if n and len(form := _name_form(n)) >= 2}))


def find_marked_names(text: str, marks: Iterable[str], *, key: str | bytes) -> list[tuple[int, int]]:
    """Spans of ``text`` whose characters are a name with one of ``marks``, none overlapping."""
    wanted = set(marks)
    lengths = sorted({int(n) for n, _, _ in (m.partition(":") for m in wanted) if n.isdigit()}, reverse=True)
    if not text or not lengths:
        return []
    k = _key_bytes(key)
    normal = _normalise(text)
    positions = [i for i, c in enumerate(normal) if c not in " \t"]
    chars = [normal[i].casefold() for i in positions]
    found: list[tuple[int, int]] = []
    j = 0
    while j < len(positions):
        hit = None
        for n in lengths:  # longest first
            if j + n > len(positions):
                continue
            window = positions[j:j + n]
            # only spaces or tabs may stand between the characters of one name
            if any(c.isspace() for c in chars[j:j + n]):
                continue
            start, end = window[0], window[-1] + 1
            if normal[start].isascii() and normal[start].isalpha() and start > 0 and \
                    normal[start - 1].isascii() and normal[start - 1].isalpha():
                continue
            if normal[end - 1].isascii() and normal[end - 1].isalpha() and end < len(normal) and \
                    normal[end].isascii() and normal[end].isalpha():
                continue
            if _mark("".join(chars[j:j + n]), k) in wanted:
                hit = (start, end, n)
                break
        if hit:
            found.append(hit[:2])
            j += hit[2]
        else:
            j += 1
    return found


def mask_marked_names(text: str, marks: Iterable[str], *, key: str | bytes) -> str:
    """``text`` with each name of ``marks`` replaced by "[姓名]"."""
    out: list[str] = []
    last = 0
    for start, end in find_marked_names(text, marks, key=key):
        out.append(text[last:start])
        out.append(PLACEHOLDERS["name"])
        last = end
    out.append(text[last:])
    return "".join(out)


# The key the marks are made and searched with in this process (the service sets it from
# CARELOOP_PII_NAME_KEY at start; the default is the settings' development value), and the marks of
# the names to look for in staff text written now (``names_marked``).
DEV_NAME_KEY = "careloop-dev-only-name-mark-key"
_name_key: list[str] = [DEV_NAME_KEY]
_marked: ContextVar[frozenset[str]] = ContextVar("careloop_marked_names", default=frozenset())


def use_name_key(key: str) -> None:
    _name_key[0] = key


def current_name_key() -> str:
    return _name_key[0]


@contextmanager
def names_marked(marks: Iterable[str]) -> Iterator[None]:
    """Within the block, staff text (``mask_staff_text``) is also searched for the names of ``marks``."""
    token = _marked.set(frozenset(marks))
    try:
        yield
    finally:
        _marked.reset(token)


def mask_staff_text(text: str) -> str:
    """Staff text as it leaves a service: the detector's findings masked, and the names of the
    marks in force (``names_marked``)."""
    text = mask_personal_data(text)
    marks = _marked.get()
    return mask_marked_names(text, marks, key=_name_key[0]) if marks else text
