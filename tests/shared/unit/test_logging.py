"""Logs are JSON, carry the correlation id, and never print personal data."""

from __future__ import annotations

import json
import logging

from shared.logging import JsonFormatter, redact, reset_correlation_id, set_correlation_id


def format_record(msg: str, *args: object, **extra: object) -> dict:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return json.loads(JsonFormatter("intake").format(record))


def test_phone_numbers_and_emails_are_masked() -> None:
    text = "call 13800138000 or +86 139-0000? no: 021-12345678, mail li.lei@example.com.cn"
    masked = redact(text)
    assert "13800138000" not in masked
    assert "021-12345678" not in masked
    assert "li.lei@example.com.cn" not in masked
    assert masked.count("[电话]") == 2 and "[邮箱]" in masked


def test_ids_and_counts_survive_redaction() -> None:
    text = "case 6f1c2a7e-5b8e-4c1e-9a55-2f3f1c0d9e11 batch of 200 in 2026-05"
    assert redact(text) == text


def test_message_args_and_extra_fields_are_scrubbed() -> None:
    entry = format_record("customer %s", "13912345678", contact={"email": "a@b.cn", "n": 3})
    assert entry["message"] == "customer [电话]"
    assert entry["contact"] == {"email": "[邮箱]", "n": 3}
    assert entry["service"] == "intake" and entry["level"] == "info"


def test_the_correlation_id_is_on_every_line() -> None:
    token = set_correlation_id("c-123")
    try:
        assert format_record("hello")["correlation_id"] == "c-123"
    finally:
        reset_correlation_id(token)
    assert "correlation_id" not in format_record("hello")
