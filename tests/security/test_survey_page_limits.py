"""Item 7: the public survey page. A POST to an unknown link keeps a bounded refusal, never what was
sent with it (before: every submitted field was stored, 2 MB per request); and one address is
rate-limited (before: unthrottled)."""

from __future__ import annotations

import asyncpg
import pytest

from services.survey.app import create_app
from services.survey.page import AddressLimiter
from shared.settings import Settings
from shared.testing.services import running_service
from tests.survey.integration.survey_helpers import survey_settings

pytestmark = pytest.mark.integration


def test_the_limiter_counts_a_sliding_minute_per_address() -> None:
    now = [1000.0]
    limiter = AddressLimiter(3, clock=lambda: now[0])
    assert [limiter.retry_after("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.retry_after("a") == 60  # the first of the three leaves the window in 60 s
    assert limiter.retry_after("b") == 0  # another address is not held back
    now[0] += 59.5
    assert limiter.retry_after("a") == 1
    now[0] += 0.5
    assert limiter.retry_after("a") == 0  # the oldest one left the window


async def test_unknown_link_keeps_no_submitted_fields_and_one_address_is_throttled(migrated: Settings) -> None:
    settings = survey_settings(migrated, survey_page_requests_per_minute=4)
    big = "x" * 1_000_000  # two fields of 1 MB: 2 MB a request, under the body limit
    async with running_service(create_app(settings)) as survey:
        for i in range(3):
            response = await survey.post(f"/s/no-such-token-{i}", data={f"item.{'k' * 5000}": big, "remark": big})
            assert response.status_code < 500 and response.status_code != 429, response.status_code
        response = await survey.get("/s/no-such-token")
        assert response.status_code != 429
        throttled = await survey.post("/s/no-such-token", data={"item.q1": "A"})
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    assert "请求过于频繁" in throttled.text

    conn = await asyncpg.connect(migrated.db.admin_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch("SELECT answers, pg_column_size(t.*) AS size FROM survey.refused_answers t")
    finally:
        await conn.close()
    assert len(rows) == 3
    for row in rows:
        assert row["answers"] in (None, "[]")
        assert row["size"] < 4096, row["size"]
