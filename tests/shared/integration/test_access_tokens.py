"""Who may call at all: bearer tokens on the real stack (intake on the real broker and PostgreSQL).

No token → 401 with a Bearer challenge; expired, not-yet-valid, tampered, foreign-issuer,
wrong-audience and unknown-key tokens → 401; health and the survey page stay open; a caller
without one of the route's roles → 403, logged without the token.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid

import httpx
import pytest

from services.intake.app import create_app as intake_app
from services.survey.app import create_app as survey_app
from shared.auth import Role
from shared.auth.issuer import SigningKey
from shared.settings import Settings
from shared.testing.auth import TEST_AUDIENCE, TEST_ISSUER, bearer, token
from shared.testing.services import running_service

pytestmark = pytest.mark.integration

FEEDBACK = {"kind": "complaint", "channel": "phone", "text": "卫生间漏水", "received_by": "cs-0001",
            "org": {"group": "hx", "subsidiary": "east", "project": "lakeside"}}


def tampered(jwt_text: str, **changes: object) -> str:
    """The same signature over different claims: what an attacker who edits a token gets."""
    header, payload, signature = jwt_text.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def auth(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


async def test_no_token_or_a_bad_one_is_refused_with_401(migrated: Settings) -> None:
    async with running_service(intake_app(migrated)) as intake:
        anonymous = httpx.Headers({"Authorization": ""})
        for method, path in (("GET", f"/api/v1/feedback/{uuid.uuid4()}"), ("GET", "/api/v1/org-units"),
                             ("POST", "/api/v1/customers/lookup")):
            response = await intake.request(method, path, headers=anonymous, json={"phone": "13800138000"})
            assert response.status_code == 401, (path, response.text)
            assert response.headers["www-authenticate"].startswith('Bearer realm="careloop"')
            assert response.json()["error"] == "unauthorized"
        assert (await intake.post("/api/v1/feedback", json=FEEDBACK, headers=anonymous)).status_code == 401
        basic = await intake.get("/api/v1/org-units", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
        assert basic.status_code == 401 and 'error="invalid_request"' in basic.headers["www-authenticate"]

        cs = token("cs-1", roles=[Role.CUSTOMER_SERVICE], orgs=["hx"])
        expired = token("cs-1", roles=[Role.CUSTOMER_SERVICE], orgs=["hx"], now=time.time() - 7200, ttl_s=600)
        not_yet = token("cs-1", roles=[Role.CUSTOMER_SERVICE], orgs=["hx"], now=time.time() + 3600)
        elsewhere = SigningKey.generate().mint("cs-1", roles=["customer_service"], orgs=["hx"], issuer=TEST_ISSUER,
                                               audience=TEST_AUDIENCE)
        foreign_issuer = token("cs-1", roles=[Role.CUSTOMER_SERVICE], orgs=["hx"], iss="https://evil.example")
        other_audience = token("cs-1", roles=[Role.CUSTOMER_SERVICE], orgs=["hx"], aud="another-app")
        cases = {
            "expired": (expired, "expired"),
            "not yet valid": (not_yet, "not valid yet"),
            "tampered roles": (tampered(cs, roles=["administrator"]), "signature"),
            "tampered scope": (tampered(cs, careloop_orgs=["*"]), "signature"),
            "signed by another key": (elsewhere, "unknown key"),
            "another issuer": (foreign_issuer, "another issuer"),
            "another audience": (other_audience, "not meant for CareLoop"),
            "unsigned": (tampered(cs).rsplit(".", 1)[0] + ".", "signature"),
            "garbage": ("not-a-jwt", "malformed"),
        }
        for name, (value, reason) in cases.items():
            response = await intake.get("/api/v1/org-units", headers=auth(value))
            assert response.status_code == 401, name
            assert reason in response.json()["reason"], (name, response.json())
            assert 'error="invalid_token"' in response.headers["www-authenticate"], name
        assert (await intake.get("/api/v1/org-units", headers=auth(cs))).status_code == 200  # the genuine one

        # health stays open for probes
        for path in ("/health/live", "/health/ready"):
            assert (await intake.get(path, headers=anonymous)).status_code == 200


async def test_a_role_the_route_does_not_name_gets_403_and_a_log_line(
    migrated: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_service(intake_app(migrated)) as intake:
        executive = bearer("exec-1", roles=[Role.EXECUTIVE], orgs=["hx"])
        caplog.set_level(logging.WARNING, logger="careloop.access")
        erase = await intake.post(f"/api/v1/customers/{uuid.uuid4()}/erasure", json={}, headers=executive)
        assert erase.status_code == 403
        assert erase.json()["error"] == "forbidden"
        assert erase.json()["allowed_roles"] == ["administrator", "customer_service"]
        refusal = [r for r in caplog.records if r.getMessage() == "forbidden"]
        assert refusal and refusal[-1].subject == "exec-1" and refusal[-1].route == "/api/v1/customers/{customer_id}/erasure"
        assert "Bearer" not in caplog.text  # the token is never logged

        system = bearer("callcentre", roles=[Role.SYSTEM], orgs=["hx"], client=True)
        assert (await intake.post("/api/v1/org-units", json={"path": "hx", "name": "华兴"},
                                  headers=system)).status_code == 403
        # an integrating system may submit feedback, inside its org units
        assert (await intake.post("/api/v1/feedback", json=FEEDBACK, headers=system)).status_code == 201
        # a token without any CareLoop role may do nothing
        nobody = bearer("nobody", roles=["some-idp-role"], orgs=["hx"])
        assert (await intake.get("/api/v1/org-units", headers=nobody)).status_code == 403


async def test_the_survey_page_answers_without_a_token_and_only_its_link_opens_it(migrated: Settings) -> None:
    async with running_service(survey_app(migrated)) as survey:
        anonymous = httpx.Headers({"Authorization": ""})
        page = await survey.get(f"/s/{'x' * 40}", headers=anonymous)
        assert page.status_code != 401  # no bearer token asked; the link itself is the credential
        assert page.status_code in (404, 410)
        assert (await survey.get("/api/v1/invitations", headers=anonymous)).status_code == 401
