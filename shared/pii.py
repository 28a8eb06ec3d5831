"""Personal data: normalising and validating contact details, and masking them for display.

Contact details live only in intake's tables. Everything else refers to a customer by id.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-().]")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0[1-9]\d{1,2}\d{7,8}$")
_INTERNATIONAL = re.compile(r"^\+[1-9]\d{7,14}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")


def normalize_phone(raw: str) -> str:
    """A phone number in E.164 form: '+8613800138000', '+861012345678' (a Beijing landline).

    Accepts mainland mobiles and landlines with their area code, with or without +86/0086, and
    international numbers written with '+'. Raises ValueError with the reason otherwise.
    """
    digits = _SEPARATORS.sub("", raw.strip())
    if digits.startswith("0086"):
        digits = "+86" + digits[4:]
    if digits.startswith("+86"):
        national = digits[3:]
        if _MOBILE.match(national):
            return "+86" + national
        if _LANDLINE.match("0" + national.lstrip("0")):
            return "+86" + national.lstrip("0")
        raise ValueError("not a valid mainland China phone number")
    if _MOBILE.match(digits):
        return "+86" + digits
    if _LANDLINE.match(digits):
        return "+86" + digits[1:]
    if _INTERNATIONAL.match(digits):
        return digits
    raise ValueError("not a valid phone number: give a mobile, a landline with its area code, or +country code")


def normalize_email(raw: str) -> str:
    email = raw.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise ValueError("not a valid e-mail address")
    local, domain = email.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def mask_phone(phone: str) -> str:
    """'+8613800138000' → '+86138****8000': enough to recognise, not enough to call."""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:-8] + "****" + phone[-4:]


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"


def mask_name(name: str) -> str:
    """'王小明' → '王**'; 'Li Lei' → 'L*****'."""
    return name[:1] + "*" * (len(name) - 1) if name else name


#: The reasons above as people read them in Chinese (shared/http.py gives them for a request body,
#: intake's imports for a sheet's cell).
REASONS_ZH = {
    "not a valid mainland China phone number": "不是有效的中国大陆电话号码",
    "not a valid phone number: give a mobile, a landline with its area code, or +country code":
        "不是有效的电话号码：请填写手机号、带区号的座机或 +国家代码",
    "not a valid e-mail address": "不是有效的电子邮箱地址",
}


# The one detector of personal data in free text (logs, masked answers, audit, erasure, events).
from shared.pii_detect import (  # noqa: E402
    PLACEHOLDERS,
    Finding,
    PiiKind,
    contains_personal_data,
    find_personal_data,
    is_id_card_number,
    mask_personal_data,
    passes_luhn,
)

__all__ = [
    "PLACEHOLDERS", "REASONS_ZH", "Finding", "PiiKind", "contains_personal_data", "find_personal_data",
    "is_id_card_number", "mask_email", "mask_name", "mask_personal_data", "mask_phone", "normalize_email",
    "normalize_phone", "passes_luhn",
]
