"""Explainable, configurable complaint classification (docs/domain.md §3).

``classify`` reads a complaint with the versioned rules in ``rules.toml`` and says which subject it
is about, its class, whether it is valid and important, who leads and assists, how sure it is and
which rules made it so.
"""

from services.routing.classification.classifier import (
    DEFAULT_RULES_PATH,
    Classification,
    Route,
    Rules,
    RulesError,
    classify,
    default_rules,
    load_rules,
    parse_rules,
)

__all__ = [
    "DEFAULT_RULES_PATH",
    "Classification",
    "Route",
    "Rules",
    "RulesError",
    "classify",
    "default_rules",
    "load_rules",
    "parse_rules",
]
