"""The foundation's keyword classification and the routing table of DOMAIN.md §3."""

from __future__ import annotations

import pytest

from services.routing.domain import ROUTING_TABLE, classify, complaint_class_of
from shared.events.vocabulary import ComplaintCategory as Cat
from shared.events.vocabulary import Department as Dept


@pytest.mark.parametrize(
    ("text", "category", "complaint_class", "lead"),
    [
        ("卫生间漏水，墙面渗水", Cat.PRODUCT_QUALITY, 2, Dept.ENGINEERING_QUALITY),
        ("客服态度恶劣，互相推诿", Cat.SERVICE_ATTITUDE, 1, Dept.CUSTOMER_SERVICE),
        ("夜间施工噪音和扬尘", Cat.SITE_SAFETY_ENVIRONMENT, 1, Dept.SAFETY_ENVIRONMENT),
        ("市政道路开挖，公交站被占", Cat.EXTERNAL_ENVIRONMENT, 3, Dept.CUSTOMER_SERVICE),
        ("The delivery is delayed again, schedule slipped", Cat.PRODUCTION_DELIVERY, 1, Dept.BUSINESS),
    ],
)
def test_keywords_pick_category_class_and_lead(text: str, category: Cat, complaint_class: int, lead: Dept) -> None:
    result = classify(text)
    assert (result.category, result.complaint_class, result.lead_department) == (category, complaint_class, lead)
    assert result.rules_fired and result.confidence >= 0.7
    assert result.valid is (complaint_class == 1)


def test_no_signal_means_low_confidence_and_no_rules() -> None:
    result = classify("你好")
    assert result.rules_fired == () and result.confidence < 0.5


def test_importance_markers() -> None:
    assert classify("已经向媒体反映漏水问题").important
    assert not classify("卫生间漏水").important


def test_every_category_is_routed_and_classed() -> None:
    assert set(ROUTING_TABLE) == set(Cat)
    assert ROUTING_TABLE[Cat.PRODUCT_QUALITY] == (Dept.ENGINEERING_QUALITY, (Dept.BUSINESS,))
    assert ROUTING_TABLE[Cat.PRODUCTION_DELIVERY] == (Dept.BUSINESS, (Dept.PRODUCTION,))
    assert {complaint_class_of(c) for c in Cat} == {1, 2, 3}
