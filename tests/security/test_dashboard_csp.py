"""Item 13 (second half): the reporting dashboard's pages carry a Content-Security-Policy like the
survey page's: scripts, styles and data only from the service itself, no framing, no plugins."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from services.reporting.app import mount_dashboard


@pytest.fixture
async def client() -> httpx.AsyncClient:
    app = FastAPI()
    mount_dashboard(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting") as c:
        yield c


def directives(header: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/index.html", "/dashboard/complaint-list.html",
                                  "/dashboard/dashboard.js", "/dashboard/labels.json"])
async def test_every_dashboard_answer_carries_the_policy(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    policy = directives(response.headers.get("content-security-policy", ""))
    assert policy.get("default-src") == ["'none'"]
    assert policy.get("script-src") == ["'self'"]  # no inline script, no eval, no CDN
    assert policy.get("connect-src") == ["'self'"]  # the views are fetched from this service only
    assert policy.get("frame-ancestors") == ["'none'"]
    assert policy.get("base-uri") == ["'none'"]
    assert policy.get("object-src") == ["'none'"]
    assert policy.get("form-action") == ["'self'"]
    assert response.headers.get("x-frame-options") == "DENY"
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("referrer-policy") == "no-referrer"  # the token sits in the fragment


async def test_the_redirect_to_the_dashboard_carries_it_too(client: httpx.AsyncClient) -> None:
    response = await client.get("/dashboard?period=2027-03")
    assert response.status_code in (302, 307)
    assert "frame-ancestors 'none'" in response.headers.get("content-security-policy", "")


async def test_the_dashboard_pages_load_nothing_the_policy_forbids(client: httpx.AsyncClient) -> None:
    """No inline script or handler and no foreign origin in the pages (the policy would block them)."""
    for page in ("/dashboard/index.html", "/dashboard/complaint-list.html"):
        text = (await client.get(page)).text
        assert "<script>" not in text and " onclick=" not in text and " onload=" not in text
        assert "http://" not in text and "https://" not in text
