"""Who handles a claim: the company within its authority, else the developer (hand-worked cases)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.routing.claims import decide_claim

AUTHORITY = Decimal("10000")


@pytest.mark.parametrize(("amount", "involved", "to_developer"), [
    (Decimal("9999.99"), False, False),  # within the authority: the company settles
    (Decimal("10000"), False, False),  # equal to it: still within ("exceeds" is more than)
    (Decimal("10000.01"), False, True),  # one fen more: the developer
    (Decimal("200"), True, True),  # a small loss that involves the developer: the developer
])
def test_compensation(amount: Decimal, involved: bool, to_developer: bool) -> None:
    decision = decide_claim("compensation", amount_yuan=amount, developer_involved=involved, authority_yuan=AUTHORITY)
    assert decision.to_developer is to_developer


def test_the_reasons_name_the_amounts_in_chinese() -> None:
    over = decide_claim("compensation", amount_yuan=Decimal("12500"), developer_involved=False,
                        authority_yuan=AUTHORITY)
    assert over.reason == "索赔金额 12,500.00 元超过公司权限 10,000.00 元，提交开发商（地产公司）处理"
    within = decide_claim("compensation", amount_yuan=Decimal("800.5"), developer_involved=False,
                          authority_yuan=AUTHORITY)
    assert within.reason == "索赔金额 800.50 元在公司权限 10,000.00 元以内，由公司直接处理"


def test_a_return_or_exchange_after_move_in_always_goes_to_the_developer() -> None:
    decision = decide_claim("return_exchange", amount_yuan=None, developer_involved=False, authority_yuan=AUTHORITY)
    assert decision.to_developer and "退（换）房" in decision.reason


def test_a_compensation_claim_needs_an_amount() -> None:
    with pytest.raises(ValueError):
        decide_claim("compensation", amount_yuan=None, developer_involved=False)
