"""The household's survey page in a real browser (headless Chromium): open the one-time link,
answer, submit, see the thanks page; a second submission with the same link is refused.

Needs Debian's ``chromium`` at /usr/bin/chromium and the ``playwright`` Python package (its own
browser downloads are never used). Without them this test fails: CI installs both.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import async_playwright

from services.survey.app import create_app
from shared.testing.auth import operator_headers
from shared.events import RepairAccepted, RepairAcceptedData
from shared.settings import Settings
from shared.testing.services import eventually
from survey_helpers import ORG, events_on, publish, survey_settings

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serving(app: FastAPI, port: int) -> AsyncIterator[str]:
    """The service on a real socket, as a browser needs it."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on",
                                           access_log=False))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(600):
            if server.started or task.done():
                break
            await asyncio.sleep(0.05)
        assert server.started, "the survey service did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_a_household_answers_a_return_visit_in_the_browser_once(migrated: Settings) -> None:
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        pytest.fail("Chromium is missing: apt-get install -y chromium chromium-driver")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    app = create_app(survey_settings(migrated, survey_public_url=f"http://127.0.0.1:{port}"))
    case_id = uuid.uuid4()
    now = datetime.now(UTC)
    repair = RepairAccepted.create(
        data=RepairAcceptedData(work_order_id=uuid.uuid4(), project_id="lakeside", case_ids=(case_id,),
                                defect_kind="leak", in_warranty=True, requested_at=now, accepted_at=now,
                                owner_signature_ref="sig-o", contractor_signature_ref="sig-c"),
        org=ORG, aggregate_id=uuid.uuid4(), occurred_at=now, producer="routing")
    async with serving(app, port) as base, httpx.AsyncClient(base_url=base, headers=operator_headers()) as api:
        await publish(migrated, repair)
        [issued] = await events_on(migrated, "SurveyInvitationIssued", until=lambda e: len(e) >= 1)
        # The event carries no link (issue 20): the delivery channel fetches it (the operator holds SYSTEM).
        assert "link" not in issued["data"]
        link = (await api.get(f"/api/v1/invitations/{issued['data']['invitation_id']}/link")).json()["link"]
        assert link.startswith(f"{base}/s/")

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                household = await browser.new_page(viewport=PHONE)
                other_tab = await browser.new_page(viewport=PHONE)
                await household.goto(link)
                assert await household.inner_text("h1") == "维修回访"
                assert await household.inner_text("#submit") == "提交"
                await other_tab.goto(f"{link}?lang=en")  # the same link, opened again before the first answer
                assert await other_tab.inner_text("h1") == "Repair return visit"

                # Leaving a required item out is refused, with the reason on the page.
                await household.check('input[name="item.attitude"][value="very_satisfied"]')
                await household.check('input[name="item.punctuality"][value="satisfied"]')
                await household.screenshot(path=str(ARTIFACTS / "survey_page_form.png"), full_page=True)
                await household.click("#submit")
                assert "请回答：维修质量" in await household.inner_text("#errors")
                assert await household.is_checked('input[name="item.attitude"][value="very_satisfied"]')

                await household.check('input[name="item.quality"][value="dissatisfied"]')
                await household.fill("textarea[name=remark]", "墙面仍有渗水痕迹")
                await household.click("#submit")
                await household.wait_for_selector("#thanks")
                assert "感谢您的评价" in await household.inner_text("#thanks")
                await household.screenshot(path=str(ARTIFACTS / "survey_page_thanks.png"), full_page=True)

                # The second submission with the same token is refused.
                for item, level in (("attitude", "satisfied"), ("punctuality", "satisfied"), ("quality", "satisfied")):
                    await other_tab.check(f'input[name="item.{item}"][value="{level}"]')
                await other_tab.click("#submit")
                await other_tab.wait_for_selector("#unavailable")
                assert await other_tab.get_attribute("#unavailable", "data-reason") == "token_used"
                assert "already been used" in await other_tab.inner_text("#unavailable")
                await other_tab.screenshot(path=str(ARTIFACTS / "survey_page_refused.png"), full_page=True)
            finally:
                await browser.close()

        [returned] = await events_on(migrated, "SurveyReturned", until=lambda e: len(e) >= 1)
        assert returned["data"]["case_id"] == str(case_id) and returned["data"]["channel"] == "web"
        assert [a["level"] for a in returned["data"]["answers"]] == ["very_satisfied", "satisfied", "dissatisfied"]
        refused = await eventually(lambda: api.get("/api/v1/refused-answers"), until=lambda r: len(r.json()) >= 2)
        assert sorted(r["reason_code"] for r in refused.json()) == ["invalid_answers", "token_used"]
    assert (ARTIFACTS / "survey_page_thanks.png").stat().st_size > 0
