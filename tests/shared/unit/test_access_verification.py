"""Token verification the way a company's identity provider is used: OIDC discovery, the JWKS
fetched once and again when the issuer rotates its key, configurable claims; and the guard that
makes a service refuse to start when one of its API routes does not say who may call it."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from shared.auth import Principal, Role, TokenRefused, TokenVerifier, access_table, check_routes_declare_roles, require
from shared.auth.issuer import DEMO_USERS, SigningKey, issuer_app
from shared.auth.principal import path_within
from shared.settings import AuthSettings

ISSUER = "https://login.example.com"


class Issuer:
    """The dev issuer's app behind an httpx transport, counting fetches, with a key to rotate."""

    def __init__(self) -> None:
        self.key = SigningKey.generate()
        self.fetches: list[str] = []

    def transport(self) -> httpx.AsyncBaseTransport:
        issuer = self

        class Counting(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                issuer.fetches.append(request.url.path)
                inner = httpx.ASGITransport(app=issuer_app(issuer.key, issuer=ISSUER))
                return await inner.handle_async_request(request)

        return Counting()


async def test_keys_come_from_discovery_and_are_fetched_again_when_the_issuer_rotates_them() -> None:
    issuer = Issuer()
    verifier = TokenVerifier(AuthSettings(issuer=ISSUER), transport=issuer.transport())
    principal = await verifier.verify(issuer.key.mint_for("handler-east", issuer=ISSUER))
    assert principal == Principal(subject="handler-east", roles=frozenset({Role.HANDLER}), scopes=("hx/east",))
    assert issuer.fetches == ["/.well-known/openid-configuration", "/jwks.json"]
    await verifier.verify(issuer.key.mint_for("quality", issuer=ISSUER))
    assert len(issuer.fetches) == 2  # cached

    issuer.key = SigningKey.generate()  # the issuer rotates its key
    verifier.keys.MIN_REFRESH_INTERVAL_S = 0
    rotated = await verifier.verify(issuer.key.mint_for("executive", issuer=ISSUER))
    assert rotated.roles == {Role.EXECUTIVE} and len(issuer.fetches) == 4


async def test_an_unreachable_issuer_refuses_tokens_instead_of_trusting_them() -> None:
    class Down(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("down")

    verifier = TokenVerifier(AuthSettings(issuer=ISSUER), transport=Down())
    with pytest.raises(TokenRefused, match="cannot be fetched"):
        await verifier.verify(SigningKey.generate().mint_for("admin", issuer=ISSUER))
    with pytest.raises(TokenRefused, match="no token issuer"):
        await TokenVerifier(AuthSettings()).verify(SigningKey.generate().mint_for("admin", issuer=ISSUER))


def test_roles_and_org_scopes_come_from_the_configured_claims_and_role_names() -> None:
    settings = AuthSettings(issuer=ISSUER, roles_claim="realm_access.roles", org_scopes_claim="org_units",
                            role_map={"kf": "customer_service", "zlb": "quality"})
    principal = TokenVerifier(settings).principal_of({
        "sub": "u-17", "realm_access": {"roles": ["kf", "zlb", "offline_access"]}, "org_units": "hx/east hx/south"})
    assert principal.roles == {Role.CUSTOMER_SERVICE, Role.QUALITY}
    assert principal.scopes == ("hx/east", "hx/south")
    assert principal.may_see("hx/east/lakeside") and principal.may_see("hx/south")
    assert not principal.may_see("hx") and not principal.may_see("hx/eastern") and not principal.may_see("hy/east")
    assert principal.sees_contact_details


def test_org_paths_nest_by_whole_codes() -> None:
    assert path_within("hx/east/lakeside", "hx/east") and path_within("hx/east", "hx/east")
    assert not path_within("hx/east2", "hx/east") and not path_within("hx", "hx/east")
    assert path_within("anything/at/all", "*")


def test_demo_users_never_get_every_group() -> None:
    assert all("*" not in user.orgs for user in DEMO_USERS.values())


def test_a_service_with_a_route_that_names_no_roles_refuses_to_start() -> None:
    router = APIRouter(prefix="/api/v1")

    @router.get("/guarded", dependencies=[Depends(require(Role.QUALITY))])
    async def guarded() -> dict[str, str]:
        return {}

    @router.get("/forgotten")
    async def forgotten() -> dict[str, str]:
        return {}

    app = FastAPI()
    app.include_router(router)
    with pytest.raises(RuntimeError, match=r"\['GET'\] /api/v1/forgotten"):
        check_routes_declare_roles(app.routes)
    assert ("GET", "/api/v1/guarded", ["quality"]) in access_table(app)
    with pytest.raises(ValueError):
        require()


async def test_a_token_that_checked_out_is_not_checked_again_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    import jwt as jwt_module

    issuer = Issuer()
    verifier = TokenVerifier(AuthSettings(issuer=ISSUER, leeway_s=0), transport=issuer.transport())
    decoded: list[str] = []
    real_decode = jwt_module.decode

    def counting_decode(token: str, *args: object, **kwargs: object) -> object:
        decoded.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt_module, "decode", counting_decode)
    token = issuer.key.mint_for("handler-east", issuer=ISSUER, ttl_s=2)
    first = await verifier.verify(token)
    assert await verifier.verify(token) == first and await verifier.verify(token) == first
    assert len(decoded) == 1  # the signature was checked once

    # a tampered copy is never taken for the remembered one
    head, payload, signature = token.split(".")
    with pytest.raises(TokenRefused):
        await verifier.verify(f"{head}.{payload}.{signature[:-4]}AAAA")

    # once it expires, the remembered token is refused like any other expired one
    await asyncio.sleep(3.1)
    with pytest.raises(TokenRefused, match="expired"):
        await verifier.verify(token)

    # nothing is remembered when the keys are not cached either
    uncached = TokenVerifier(AuthSettings(issuer=ISSUER, jwks_cache_s=0), transport=issuer.transport())
    decoded.clear()
    fresh = issuer.key.mint_for("quality", issuer=ISSUER, ttl_s=60)
    await uncached.verify(fresh)
    await uncached.verify(fresh)
    assert len(decoded) == 2
