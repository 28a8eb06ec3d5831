"""Contact details are normalised, validated and masked."""

from __future__ import annotations

import pytest

from shared.events.inbound import ContactDetails
from shared.pii import mask_email, mask_name, mask_phone, normalize_email, normalize_phone


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13800138000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("0086 13800138000", "+8613800138000"),
        ("010-12345678", "+861012345678"),
        ("0755-1234567", "+867551234567"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phones_become_e164(raw: str, e164: str) -> None:
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", ["12345", "1380013800", "23800138000", "+86 12345", "phone me"])
def test_bad_phones_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        normalize_phone(raw)


def test_emails_are_checked_and_their_domain_lowered() -> None:
    assert normalize_email(" Li.Lei@Example.COM ") == "Li.Lei@example.com"
    for bad in ("li.lei", "a@b", "a b@c.cn"):
        with pytest.raises(ValueError):
            normalize_email(bad)


def test_contact_details_validate_on_arrival() -> None:
    contact = ContactDetails(name="王小明", phone="138-0013-8000", email="w@x.cn")
    assert contact.phone == "+8613800138000"
    with pytest.raises(ValueError, match="phone"):
        ContactDetails(phone="12")


def test_masks_keep_enough_to_recognise() -> None:
    assert mask_phone("+8613800138000") == "+86138****8000"
    assert mask_email("li.lei@x.cn") == "l***@x.cn"
    assert mask_name("王小明") == "王**"
