"""Routing's rules: which subject a complaint is about, its class, and who leads it (DOMAIN.md §3).

This is the foundation's first cut of classification: a small keyword table. The versioned rule
file with word segmentation, confidence calibration and the triage queue replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.events.vocabulary import ComplaintCategory as Cat
from shared.events.vocabulary import Department as Dept

RULES_VERSION = "foundation-1"

# Routing by subject (seeds 001, 003): lead department, assisting departments.
ROUTING_TABLE: dict[Cat, tuple[Dept, tuple[Dept, ...]]] = {
    Cat.PRODUCT_QUALITY: (Dept.ENGINEERING_QUALITY, (Dept.BUSINESS,)),
    Cat.PRODUCTION_DELIVERY: (Dept.BUSINESS, (Dept.PRODUCTION,)),
    Cat.CONTRACT_AFTER_SALES: (Dept.BUSINESS, ()),
    Cat.PRICE: (Dept.BUSINESS, ()),
    Cat.SITE_SAFETY_ENVIRONMENT: (Dept.SAFETY_ENVIRONMENT, (Dept.PROJECT_DEPARTMENT,)),
    Cat.SERVICE_ATTITUDE: (Dept.CUSTOMER_SERVICE, (Dept.GENERAL_AFFAIRS,)),
    Cat.EXTERNAL_ENVIRONMENT: (Dept.CUSTOMER_SERVICE, ()),
}

# Phrase → category; the first category with the most hits wins.
KEYWORDS: dict[Cat, tuple[str, ...]] = {
    Cat.PRODUCT_QUALITY: ("漏水", "渗水", "裂缝", "质量", "空鼓", "脱落", "leak", "crack", "quality", "defect"),
    Cat.PRODUCTION_DELIVERY: ("交货", "工期", "延期", "进度", "delivery", "delay", "schedule"),
    Cat.CONTRACT_AFTER_SALES: ("合同", "索赔", "赔偿", "售后", "contract", "claim", "compensation"),
    Cat.PRICE: ("价格", "收费", "费用", "price", "fee", "charge"),
    Cat.SITE_SAFETY_ENVIRONMENT: ("噪音", "扬尘", "安全", "施工垃圾", "noise", "dust", "safety"),
    Cat.SERVICE_ATTITUDE: ("态度", "不理", "推诿", "服务", "attitude", "rude", "service"),
    Cat.EXTERNAL_ENVIRONMENT: ("市政", "公交", "外部", "公共设施", "municipal", "public road"),
}

IMPORTANT_MARKERS = ("媒体", "政府", "集团", "12345", "多次", "media", "government", "repeated")


@dataclass(frozen=True)
class Classification:
    category: Cat
    complaint_class: int
    valid: bool
    important: bool
    confidence: float
    rules_fired: tuple[str, ...]
    lead_department: Dept
    assisting_departments: tuple[Dept, ...]


def complaint_class_of(category: Cat) -> int:
    """Class 2: building quality and facilities; class 3: outside our area; class 1: our own service."""
    if category is Cat.PRODUCT_QUALITY:
        return 2
    if category is Cat.EXTERNAL_ENVIRONMENT:
        return 3
    return 1


def classify(text: str) -> Classification:
    lowered = text.lower()
    hits: dict[Cat, list[str]] = {}
    for category, phrases in KEYWORDS.items():
        for phrase in phrases:
            if phrase in lowered:
                hits.setdefault(category, []).append(phrase)
    if hits:
        category = max(hits, key=lambda c: len(hits[c]))
        fired = tuple(f"kw:{category.value}:{p}" for p in hits[category])
        confidence = min(0.95, 0.6 + 0.1 * len(hits[category]))
    else:
        category, fired, confidence = Cat.SERVICE_ATTITUDE, (), 0.3
    complaint_class = complaint_class_of(category)
    lead, assists = ROUTING_TABLE[category]
    return Classification(
        category=category,
        complaint_class=complaint_class,
        valid=complaint_class == 1,
        important=any(marker in lowered for marker in IMPORTANT_MARKERS),
        confidence=confidence,
        rules_fired=fired,
        lead_department=lead,
        assisting_departments=assists,
    )
