"""Display names of the domain's codes (states, actions, categories, departments, deadlines…), in
Chinese and English: one file (``labels.json`` beside this module) read by every service's API
answers, reporting's exports and the dashboard (served as ``/dashboard/labels.json``)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from shared.i18n import Lang, current_language

LABELS_FILE = Path(__file__).with_name("labels.json")


@cache
def labels() -> dict[str, dict[str, dict[str, str]]]:
    return json.loads(LABELS_FILE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def name_of(vocabulary: str, code: Any, lang: Lang | None = None) -> str:
    """A code's display name in ``lang`` (default: the request's language, Chinese outside one);
    the code itself when the file has no name for it, '' for None."""
    if code is None:
        return ""
    key = str(code).lower() if isinstance(code, bool) else str(code)
    entry = labels().get(vocabulary, {}).get(key)
    if entry is None:
        return str(code)
    return entry.get(lang or current_language()) or entry.get("zh") or str(code)


__all__ = ["LABELS_FILE", "labels", "name_of"]
