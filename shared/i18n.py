"""The language a person reads CareLoop in: Chinese by default, English on request.

A request asks for English with ``?lang=en`` or an ``Accept-Language`` whose first choice is English;
everything else (no header, ``zh-CN``, ``zh``) reads Chinese. The HTTP middleware in shared/http.py
sets the language of the request; code that writes for people picks with :func:`pick`.
"""

from __future__ import annotations

import contextvars
from typing import Literal

Lang = Literal["zh", "en"]

_language: contextvars.ContextVar[Lang] = contextvars.ContextVar("careloop_language", default="zh")


def language_of(query_lang: str | None, accept_language: str | None) -> Lang:
    """``?lang=`` first, then the first choice of Accept-Language; Chinese otherwise."""
    if query_lang:
        return "en" if query_lang.lower().startswith("en") else "zh"
    if accept_language:
        first = accept_language.split(",")[0].split(";")[0].strip().lower()
        if first.startswith("en"):
            return "en"
    return "zh"


def current_language() -> Lang:
    return _language.get()


def set_language(lang: Lang) -> contextvars.Token[Lang]:
    return _language.set(lang)


def reset_language(token: contextvars.Token[Lang]) -> None:
    _language.reset(token)


def pick(zh: str, en: str | None) -> str:
    """The text in the request's language (Chinese when no English is known)."""
    return en if en is not None and current_language() == "en" else zh


WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def yes_no(value: bool | None) -> str:
    """A boolean as a person reads it: 是 / 否 (Yes / No), blank when unknown."""
    if value is None:
        return ""
    if current_language() == "en":
        return "Yes" if value else "No"
    return "是" if value else "否"


__all__ = ["WEEKDAYS_ZH", "Lang", "current_language", "language_of", "pick", "reset_language", "set_language", "yes_no"]
