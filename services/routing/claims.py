"""Claims for compensation and requests to return or exchange a home after move-in (the property
company's procedure, §4.4 and §4.5 of its complaint procedure):

- a claim whose loss involves the developer, or whose amount exceeds the company's authority (a
  setting, in yuan), is handed to the developer; a claim within the authority that the company
  bears is settled by the company itself;
- a request to return or exchange a home after move-in is always handed to the developer.

Pure: the use case (``services.routing.service.record_claim``) stores the claim and, when the
decision says so, hands the case over.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

ClaimKind = Literal["compensation", "return_exchange"]

#: The company's authority when no setting says otherwise (the procedures name no amount).
DEFAULT_AUTHORITY_YUAN = Decimal("10000")


@dataclass(frozen=True)
class ClaimDecision:
    to_developer: bool
    #: Why, in the quality department's words (shown on the case and in its history).
    reason: str


def decide_claim(kind: ClaimKind, *, amount_yuan: Decimal | None, developer_involved: bool,
                 authority_yuan: Decimal = DEFAULT_AUTHORITY_YUAN) -> ClaimDecision:
    """Who handles the claim. An amount equal to the authority is still within it."""
    if kind == "return_exchange":
        return ClaimDecision(True, "入伙后顾客提出退（换）房，由公司转开发商（地产公司）处理")
    if amount_yuan is None:
        raise ValueError("a claim for compensation needs its amount")
    amount = f"{amount_yuan:,.2f}"
    authority = f"{authority_yuan:,.2f}"
    if developer_involved:
        return ClaimDecision(True, f"索赔损失与开发商（地产公司）有关，金额 {amount} 元，提交开发商处理")
    if amount_yuan > authority_yuan:
        return ClaimDecision(True, f"索赔金额 {amount} 元超过公司权限 {authority} 元，提交开发商（地产公司）处理")
    return ClaimDecision(False, f"索赔金额 {amount} 元在公司权限 {authority} 元以内，由公司直接处理")
