"""The held-out evaluation of the personal-data detector (issue 20 item 3).

The table in `data/pii_eval.toml` is written apart from the detector and is only ever scored: a
failing row is a finding for the lead, not a row to weaken. Each row gives a real-world
customer-service text, the registered names of the case's customer, and the exact substrings a
finding of a given kind must cover; `expect = []` marks a text that must give no finding at all
(order numbers, dates, amounts, unit numbers, numbers failing the ID or Luhn check, ...).

A finding covers an expected value when it has that kind, starts at or before the value and ends
at or after it, and what it takes beyond the value holds no Chinese character or Chinese
punctuation other than full-width parentheses (it must not swallow a label such as 电话 or 座机).
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from pathlib import Path

import pytest

TABLE = tomllib.loads((Path(__file__).parent / "data" / "pii_eval.toml").read_text(encoding="utf-8"))["row"]
POSITIVES = [row for row in TABLE if row["expect"]]
NEGATIVES = [row for row in TABLE if not row["expect"]]
KINDS = ("mobile", "landline", "international", "id_card", "email", "bank_card", "name")
PLACEHOLDER_OF = {"mobile": "[电话]", "landline": "[电话]", "international": "[电话]", "id_card": "[身份证号]",
                  "email": "[邮箱]", "bank_card": "[银行卡号]", "name": "[姓名]"}
# Characters a finding may not take beyond its value: Chinese characters and Chinese punctuation
# (full-width parentheses around an area code excepted: taking them hides nothing).
LABEL_CHARACTER = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff01-\uff07\uff0a-\uff0f\uff1a-\uff20]")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


# ---- the table's own checks (computed here so the table itself cannot be wrong) -------------------
def id_card_is_valid(number: str) -> bool:
    """GB 11643: 17 digits, a check character from the weighted sum mod 11, and a real birth date."""
    import datetime

    if not re.fullmatch(r"\d{17}[\dXx]", number):
        return False
    check = "10X98765432"[sum(int(c) * w for c, w in zip(number[:17], ID_WEIGHTS)) % 11]
    try:
        datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return number[17].upper() == check


def luhn_is_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _row_id(row: dict) -> str:
    return f"{row['id']:03d}"


def test_the_table_is_wide_enough() -> None:
    kinds = Counter(e["kind"] for row in POSITIVES for e in row["expect"])
    assert len(TABLE) >= 150 and len(NEGATIVES) >= 60
    assert set(kinds) == set(KINDS), kinds


@pytest.mark.parametrize("row", TABLE, ids=_row_id)
def test_the_row_itself_is_right(row: dict) -> None:
    for expected in row["expect"]:
        assert expected["kind"] in KINDS
        assert expected["value"] in row["text"]
        if expected["kind"] == "id_card":
            assert id_card_is_valid(expected["value"].replace(" ", "")), expected
            assert not luhn_is_valid(_digits(expected["value"])) or expected["value"][-1] in "Xx", "ambiguous with a card"
        if expected["kind"] == "bank_card":
            digits = _digits(expected["value"])
            assert 16 <= len(digits) <= 19 and luhn_is_valid(digits), expected
            assert not id_card_is_valid(digits), "ambiguous with an ID card"
        if expected["kind"] == "name":
            assert expected["value"].replace(" ", "") in row.get("names", []), expected
    if not row["expect"]:
        # A negative row's long digit runs really fail both checks.
        for run in re.findall(r"\d+", row["text"]):
            if 16 <= len(run) <= 19:
                assert not luhn_is_valid(run), run
        for candidate in re.findall(r"(?<!\d)\d{17}[\dXx](?![\dXx])", row["text"]):
            assert not id_card_is_valid(candidate), candidate


def test_the_checks_themselves() -> None:
    # Hand-worked: 11010519491231002X is the standard's own example (weighted sum 167, 167 mod 11 = 2 -> X).
    assert id_card_is_valid("11010519491231002X") and id_card_is_valid("11010519491231002x")
    assert not id_card_is_valid("110105194912310021")
    assert not id_card_is_valid("11010519490230002" + "10X98765432"[sum(int(c) * w for c, w in zip("11010519490230002", ID_WEIGHTS)) % 11])  # 30 February
    assert luhn_is_valid("4111111111111111") and not luhn_is_valid("4111111111111112")


# ---- scoring the detector -------------------------------------------------------------------------
def _detector():
    return pytest.importorskip("shared.pii", reason="the detector (shared.pii.find_personal_data) is not built yet")


def _occurrences(text: str, value: str) -> list[tuple[int, int]]:
    return [(m.start(), m.start() + len(value)) for m in re.finditer(re.escape(value), text)]


def _covers(finding, kind: str, start: int, end: int, text: str) -> bool:
    if finding.kind != kind or finding.start > start or finding.end < end:
        return False
    beyond = text[finding.start:start] + text[end:finding.end]
    return not LABEL_CHARACTER.search(beyond)


def _find(row: dict):
    return _detector().find_personal_data(row["text"], names=tuple(row.get("names", ())))


def _misses(row: dict, findings) -> list[str]:
    missed = []
    for expected in row["expect"]:
        for start, end in _occurrences(row["text"], expected["value"]):
            if not any(_covers(f, expected["kind"], start, end, row["text"]) for f in findings):
                missed.append(f"{expected['kind']} {expected['value']!r}@{start}")
    return missed


def _describe(findings) -> str:
    return ", ".join(f"{f.kind}:{f.text!r}@{f.start}" for f in findings) or "none"


@pytest.mark.parametrize("row", POSITIVES, ids=_row_id)
def test_each_expected_value_is_found_with_its_kind(row: dict) -> None:
    findings = _find(row)
    missed = _misses(row, findings)
    assert not missed, f"{row['text']!r}: missed {missed}; found {_describe(findings)}"


@pytest.mark.parametrize("row", NEGATIVES, ids=_row_id)
def test_a_text_without_personal_data_gives_no_finding(row: dict) -> None:
    findings = _find(row)
    assert findings == [], f"{row['text']!r}: false positives {_describe(findings)}"


@pytest.mark.parametrize("row", POSITIVES, ids=_row_id)
def test_masking_leaves_no_expected_value_and_puts_its_placeholder(row: dict) -> None:
    masked = _detector().mask_personal_data(row["text"], names=tuple(row.get("names", ())))
    for expected in row["expect"]:
        value = expected["value"]
        if expected["kind"] == "name":
            assert value not in masked and value.replace(" ", "") not in masked, masked
        else:
            for run in re.findall(r"\d{3,}", value):
                assert run not in masked, f"{run} still in {masked!r}"
            assert value not in masked, masked
        assert PLACEHOLDER_OF[expected["kind"]] in masked, masked


def test_the_placeholders_are_the_agreed_ones() -> None:
    assert _detector().PLACEHOLDERS == PLACEHOLDER_OF


def test_negatives_mask_to_themselves() -> None:
    detector = _detector()
    changed = [row["id"] for row in NEGATIVES
               if detector.mask_personal_data(row["text"], names=tuple(row.get("names", ()))) != row["text"]]
    assert not changed, f"negative rows changed by masking: {changed}"


def score(find) -> dict[str, dict[str, int]]:
    """Per kind: expected occurrences found (tp), missed (fn), and findings covering nothing expected (fp)."""
    tally = {kind: Counter() for kind in KINDS}
    for row in TABLE:
        findings = find(row)
        wanted = [(e["kind"], s, t) for e in row["expect"] for s, t in _occurrences(row["text"], e["value"])]
        for kind, start, end in wanted:
            found = any(_covers(f, kind, start, end, row["text"]) for f in findings)
            tally[kind]["tp" if found else "fn"] += 1
        for f in findings:
            useful = any(_covers(f, kind, start, end, row["text"]) for kind, start, end in wanted)
            if not useful:
                tally.setdefault(f.kind, Counter())["fp"] += 1
    return tally


def test_summary_recall_and_precision(capsys) -> None:
    detector = _detector()
    tally = score(lambda row: detector.find_personal_data(row["text"], names=tuple(row.get("names", ()))))
    lines = [f"{'kind':<14}{'expected':>9}{'found':>7}{'recall':>8}{'false+':>8}{'precision':>11}"]
    total = Counter()
    for kind, counts in tally.items():
        total.update(counts)
        expected, tp, fp = counts["tp"] + counts["fn"], counts["tp"], counts["fp"]
        recall = tp / expected if expected else float("nan")
        precision = tp / (tp + fp) if tp + fp else float("nan")
        lines.append(f"{kind:<14}{expected:>9}{tp:>7}{recall:>8.2%}{fp:>8}{precision:>11.2%}")
    expected = total["tp"] + total["fn"]
    lines.append(f"{'all':<14}{expected:>9}{total['tp']:>7}{total['tp'] / expected:>8.2%}{total['fp']:>8}"
                 f"{total['tp'] / max(1, total['tp'] + total['fp']):>11.2%}")
    with capsys.disabled():
        print("\npersonal-data detector on the held-out table:\n" + "\n".join(lines))
    assert expected > 0
