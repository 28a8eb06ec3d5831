"""Item 3: personal data in free text is found as people write it (development table of forms).

Each row gives the text and the pieces a reader would mark by hand, with their kind; every other
character must stay. Check digits of the ID-card and card numbers below were worked by hand:
11010519491231002X: sum of digits × weights 7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2 = 167, 167 mod 11 = 2 → 'X'.
4111111111111111 and 6222021234567890128 pass Luhn (doubled-digit sums 30 and 60).
"""

from __future__ import annotations

import pytest

from shared.logging import redact
from shared.pii import (
    PLACEHOLDERS,
    Finding,
    contains_personal_data,
    find_personal_data,
    is_id_card_number,
    mask_personal_data,
    passes_luhn,
)

NAMES = ("王小明", "杭州绿城物业服务有限公司", "Li Lei", "李")

POSITIVE: list[tuple[str, list[tuple[str, str]]]] = [
    # the forms of the review (issue item 3)
    ("电话13912345671", [("mobile", "13912345671")]),
    ("请打 139 1234 5672 找我", [("mobile", "139 1234 5672")]),
    ("+86 139-1234-5673", [("mobile", "+86 139-1234-5673")]),
    ("座机0571-88886666", [("landline", "0571-88886666")]),
    # mobiles
    ("13912345671", [("mobile", "13912345671")]),
    ("手机：13912345671。", [("mobile", "13912345671")]),
    ("Tel:13912345671", [("mobile", "13912345671")]),
    ("TEL13912345671", [("mobile", "13912345671")]),
    ("mobile 158-0000-1111", [("mobile", "158-0000-1111")]),
    ("139.1234.5671", [("mobile", "139.1234.5671")]),
    ("0086 13912345671", [("mobile", "0086 13912345671")]),
    ("8613912345671", [("mobile", "8613912345671")]),
    ("86-13912345671", [("mobile", "86-13912345671")]),
    ("(+86)13912345671", [("mobile", "(+86)13912345671")]),
    ("+8613912345671", [("mobile", "+8613912345671")]),
    ("１３９１２３４５６７１", [("mobile", "１３９１２３４５６７１")]),
    ("打13912345671或13912345672", [("mobile", "13912345671"), ("mobile", "13912345672")]),
    ("13912345671/18612345678", [("mobile", "13912345671"), ("mobile", "18612345678")]),
    ("13912345671、13912345672", [("mobile", "13912345671"), ("mobile", "13912345672")]),
    ("13912345671,13912345672", [("mobile", "13912345671"), ("mobile", "13912345672")]),
    ("0571-88886666,13912345671", [("landline", "0571-88886666"), ("mobile", "13912345671")]),
    ("1３９12345671", [("mobile", "1３９12345671")]),
    ("3-2-1201 13912345671", [("mobile", "13912345671")]),
    ("联系人王先生13912345671，谢谢", [("mobile", "13912345671")]),
    # landlines
    ("(010)12345678", [("landline", "(010)12345678")]),
    ("（010）12345678", [("landline", "（010）12345678")]),
    ("0571 8888 6666", [("landline", "0571 8888 6666")]),
    ("057188886666", [("landline", "057188886666")]),
    ("010-8888666", [("landline", "010-8888666")]),
    ("+86 571 8888 6666", [("landline", "+86 571 8888 6666")]),
    ("+86-10-12345678", [("landline", "+86-10-12345678")]),
    ("0086-10-12345678", [("landline", "0086-10-12345678")]),
    ("+86 (0)571 8888 6666", [("landline", "+86 (0)571 8888 6666")]),
    ("0571-88886666-123", [("landline", "0571-88886666-123")]),
    ("0571-88886666转8001", [("landline", "0571-88886666转8001")]),
    ("0571-88886666 ext. 8001", [("landline", "0571-88886666 ext. 8001")]),
    ("TEL (0571) 8888-6666", [("landline", "(0571) 8888-6666")]),
    ("０５７１－８８８８６６６６", [("landline", "０５７１－８８８８６６６６")]),
    ("(0571)-88886666", [("landline", "(0571)-88886666")]),
    ("+86 (571) 8888 6666", [("landline", "+86 (571) 8888 6666")]),
    ("tel: +86-571-88886666", [("landline", "+86-571-88886666")]),
    ("电话: 0571-8888 6666转 8001", [("landline", "0571-8888 6666转 8001")]),
    # international
    ("+852 9123 4567", [("international", "+852 9123 4567")]),
    ("00852-91234567", [("international", "00852-91234567")]),
    ("0044 20 7946 0958", [("international", "0044 20 7946 0958")]),
    ("+44 (0)20 7946 0958", [("international", "+44 (0)20 7946 0958")]),
    ("+1 (415) 555-2671", [("international", "+1 (415) 555-2671")]),
    ("+14155552671", [("international", "+14155552671")]),
    ("+886 912 345 678", [("international", "+886 912 345 678")]),
    ("+81-3-1234-5678", [("international", "+81-3-1234-5678")]),
    ("+44 20 7946 0958 13912345671", [("international", "+44 20 7946 0958"), ("mobile", "13912345671")]),
    # ID cards
    ("身份证11010519491231002X", [("id_card", "11010519491231002X")]),
    ("身份证号：11010519491231002x。", [("id_card", "11010519491231002x")]),
    ("110105 19491231 002X", [("id_card", "110105 19491231 002X")]),
    ("老证110105491231002", [("id_card", "110105491231002")]),
    # e-mail
    ("邮箱zhang.san@example.com.cn谢谢", [("email", "zhang.san@example.com.cn")]),
    ("mail: a_b-c+tag@mail.qq.com.", [("email", "a_b-c+tag@mail.qq.com")]),
    ("13912345671@qq.com", [("email", "13912345671@qq.com")]),
    ("ZHANG@Example.ORG", [("email", "ZHANG@Example.ORG")]),
    # bank cards
    ("卡号4111111111111111", [("bank_card", "4111111111111111")]),
    ("6222 0212 3456 7890 128", [("bank_card", "6222 0212 3456 7890 128")]),
    ("4111-1111-1111-1111", [("bank_card", "4111-1111-1111-1111")]),
    ("6222021234567890128", [("bank_card", "6222021234567890128")]),
    # names
    ("王小明说漏水", [("name", "王小明")]),
    ("王 小 明来电", [("name", "王 小 明")]),
    ("杭州绿城物业服务有限公司的王小明", [("name", "杭州绿城物业服务有限公司"), ("name", "王小明")]),
    ("Li Lei called; LiLei again", [("name", "Li Lei"), ("name", "LiLei")]),
    # mixed
    ("王小明 13912345671 zhang@qq.com 11010519491231002X",
     [("name", "王小明"), ("mobile", "13912345671"), ("email", "zhang@qq.com"), ("id_card", "11010519491231002X")]),
]

NEGATIVE = [
    "WO2026120313912345671",            # an order number that contains a mobile
    "单号CL-2026-000123",                 # a case number
    "2026-12-03 13:45",                  # a date and a time
    "预约 2026年12月3日 14:00-16:00",
    "20261203",
    "金额1,234.56元",
    "金额13,912,345,671元",
    "价格 ¥13,912.00",
    "13912345671.5",                     # a decimal
    "3-2-1201室",                         # a unit number
    "12栋2单元1201",
    "订单号 202612031234567890",          # 18 digits, no valid ID card (province 20), no card (starts 2)
    "110105194912310021",                # an ID-card number with a wrong check digit
    "11010519491332002X",                # month 13
    "4111111111111112",                  # fails Luhn
    "1234567890123456",                  # starts 1
    "4006008888",                        # a hotline
    "123456789012",
    "98765",
    "SF1234567890123",                   # a parcel number
    "IMG_13912345671.jpg",
    "v13912345671",
    "a@b",
    "李先生反映",                          # one-character names are not matched
    "Lily",                              # 'Li Lei' is not in 'Lily'
    "王小红",                              # not the registered name
    "第13912345671元",                     # an amount
    "面积00123平方",
    "时间戳1701234567890",                 # a timestamp in milliseconds
    "邮编310000",
    "QQ 123456789",
    "2026.12.03",
    "工号A13912345671",                    # letters glued to the digits: an identifier
]


@pytest.mark.parametrize(("text", "expected"), POSITIVE)
def test_forms_people_write_are_found(text: str, expected: list[tuple[str, str]]) -> None:
    found = find_personal_data(text, names=NAMES)
    assert [(f.kind, f.text) for f in found] == expected
    for f in found:
        assert text[f.start:f.end] == f.text


@pytest.mark.parametrize("text", NEGATIVE)
def test_no_false_positives(text: str) -> None:
    assert find_personal_data(text, names=NAMES) == []
    assert not contains_personal_data(text, names=NAMES)
    assert mask_personal_data(text, names=NAMES) == text


def test_mask_replaces_each_finding_by_its_placeholder() -> None:
    text = "王小明（身份证11010519491231002X）电话13912345671，座机0571-88886666，邮箱zhang@qq.com，卡4111111111111111"
    assert mask_personal_data(text, names=["王小明"]) == (
        "[姓名]（身份证[身份证号]）电话[电话]，座机[电话]，邮箱[邮箱]，卡[银行卡号]"
    )


def test_findings_are_sorted_and_do_not_overlap() -> None:
    found = find_personal_data("13912345671@qq.com 王小明 +852 9123 4567", names=["王小明", "小明"])
    assert found == [Finding("email", 0, 18, "13912345671@qq.com"), Finding("name", 19, 22, "王小明"),
                     Finding("international", 23, 37, "+852 9123 4567")]


def test_placeholders_are_chinese() -> None:
    assert PLACEHOLDERS == {"mobile": "[电话]", "landline": "[电话]", "international": "[电话]",
                            "id_card": "[身份证号]", "email": "[邮箱]", "bank_card": "[银行卡号]", "name": "[姓名]"}


def test_checksums() -> None:
    assert is_id_card_number("11010519491231002X")
    assert not is_id_card_number("110105194912310021")
    assert is_id_card_number("440524188001010014")  # GB 11643's own example: sum 195, 195 mod 11 = 8 → '4'
    assert passes_luhn("4111111111111111") and not passes_luhn("4111111111111112")


def test_logs_use_the_same_detector() -> None:
    """Before this change `redact` left all of these in clear (it knew only bare mobiles and e-mails)."""
    assert redact("电话13912345671 139 1234 5672 +86 139-1234-5673 座机0571-88886666 身份证11010519491231002X") == (
        "电话[电话] [电话] [电话] 座机[电话] 身份证[身份证号]"
    )


def test_a_long_text_full_of_findings_is_scanned_quickly() -> None:
    """Logs and events run every text through the detector: 3,000 findings must not cost seconds
    (choosing non-overlapping findings was quadratic before)."""
    import time

    started = time.perf_counter()
    found = find_personal_data("王小明，13912345671；" * 3000, names=["王小明"])
    assert len(found) == 6000
    assert time.perf_counter() - started < 0.5
