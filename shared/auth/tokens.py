"""Verifying bearer tokens: signature against the issuer's published keys, then iss/aud/exp/nbf.

Keys come from the issuer's JWKS (OIDC discovery or a configured URL), cached and fetched again
when a token names a key id we have not seen (the issuer rotated its keys). Nothing here trusts the
token before its signature checks out.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import jwt
from jwt import PyJWK

from shared.auth.principal import Principal, Role
from shared.settings import AuthSettings


class TokenRefused(Exception):
    """The request carries no usable token; ``reason`` goes into WWW-Authenticate and the 401 body."""

    def __init__(self, reason: str, *, error: str = "invalid_token") -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


def claim(claims: dict[str, Any], dotted: str) -> Any:
    value: Any = claims
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return []


class KeySet:
    """The issuer's signing keys by key id: pinned, or fetched (and refetched on an unknown kid)."""

    # Do not let a stream of tokens with made-up key ids hammer the issuer.
    MIN_REFRESH_INTERVAL_S = 10.0

    def __init__(self, settings: AuthSettings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._settings = settings
        self._transport = transport
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()
        if settings.jwks:
            self._keys = self._parse(json.loads(settings.jwks))
            self._fetched_at = float("inf")

    @staticmethod
    def _parse(document: dict[str, Any]) -> dict[str, PyJWK]:
        keys: dict[str, PyJWK] = {}
        for entry in document.get("keys", []):
            if entry.get("use", "sig") != "sig":
                continue
            try:
                key = PyJWK(entry)
            except jwt.PyJWTError:
                continue  # an algorithm we do not use; the others still work
            keys[entry.get("kid", "")] = key
        return keys

    async def _jwks_url(self, client: httpx.AsyncClient) -> str:
        if self._settings.jwks_url:
            return self._settings.jwks_url
        if not self._settings.issuer:
            raise TokenRefused("no token issuer is configured (CARELOOP_AUTH_ISSUER)", error="server_error")
        discovery = self._settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
        response = await client.get(discovery)
        response.raise_for_status()
        return str(response.json()["jwks_uri"])

    async def _refresh(self) -> None:
        async with httpx.AsyncClient(timeout=5, transport=self._transport) as client:
            url = await self._jwks_url(client)
            response = await client.get(url)
            response.raise_for_status()
            self._keys = self._parse(response.json())
            self._fetched_at = time.monotonic()

    async def key(self, kid: str | None) -> PyJWK:
        kid = kid or ""
        stale = time.monotonic() - self._fetched_at > self._settings.jwks_cache_s
        if kid not in self._keys or stale:
            async with self._lock:
                since = time.monotonic() - self._fetched_at
                if (kid not in self._keys and since > self.MIN_REFRESH_INTERVAL_S) or (
                    since > self._settings.jwks_cache_s
                ):
                    try:
                        await self._refresh()
                    except (httpx.HTTPError, KeyError, ValueError) as exc:
                        if not self._keys:
                            raise TokenRefused("the token issuer's keys cannot be fetched",
                                               error="server_error") from exc
        if kid not in self._keys:
            raise TokenRefused("the token is signed with an unknown key")
        return self._keys[kid]


class TokenVerifier:
    """Checks a bearer token and says who it names.

    A token that checked out is remembered (at most ``CACHE_SIZE`` of them) for as long as the keys
    it was checked against are (``jwks_cache_s``), so that a client sending the same token with every
    request pays for the signature once, not per request; its ``exp`` and ``nbf`` are still checked
    every time. A refused token is never remembered.
    """

    CACHE_SIZE = 4096

    def __init__(self, settings: AuthSettings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.keys = KeySet(settings, transport=transport)
        # token -> (principal, exp, nbf, remembered until on the monotonic clock)
        self._verified: dict[str, tuple[Principal, float, float, float]] = {}

    async def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            principal, expires, not_before, until = known
            now = time.time()
            leeway = self.settings.leeway_s
            if time.monotonic() < until and not_before - leeway <= now <= expires + leeway:
                return principal
            del self._verified[token]  # checked again below, and refused if it has expired
        claims = await self._verify(token)
        principal = self.principal_of(claims)
        if self.settings.jwks_cache_s > 0:
            if len(self._verified) >= self.CACHE_SIZE:
                del self._verified[next(iter(self._verified))]  # the longest remembered
            self._verified[token] = (principal, float(claims["exp"]), float(claims.get("nbf", float("-inf"))),
                                     time.monotonic() + self.settings.jwks_cache_s)
        return principal

    async def _verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRefused("the token is malformed") from exc
        if header.get("alg") not in self.settings.algorithms:
            raise TokenRefused("the token's algorithm is not accepted")
        key = await self.keys.key(header.get("kid"))
        options = {"require": ["exp", "iat", "sub"], "verify_iss": bool(self.settings.issuer)}
        try:
            claims = jwt.decode(
                token, key=key, algorithms=self.settings.algorithms, audience=self.settings.audience,
                issuer=self.settings.issuer, leeway=self.settings.leeway_s, options=options,  # type: ignore[arg-type]
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenRefused("the token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise TokenRefused("the token is not valid yet") from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenRefused("the token's signature does not verify") from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenRefused("the token is not meant for CareLoop") from exc
        except jwt.InvalidIssuerError as exc:
            raise TokenRefused("the token comes from another issuer") from exc
        except jwt.PyJWTError as exc:
            raise TokenRefused(f"the token is invalid: {exc}") from exc
        return claims

    def principal_of(self, claims: dict[str, Any]) -> Principal:
        roles: set[Role] = set()
        for name in _strings(claim(claims, self.settings.roles_claim)):
            mapped = self.settings.role_map.get(name, name)
            if mapped in Role.__members__.values():
                roles.add(Role(mapped))
        scopes = tuple(_strings(claim(claims, self.settings.org_scopes_claim)))
        client = Role.SYSTEM in roles or bool(claims.get("client_id")) and "preferred_username" not in claims
        return Principal(subject=str(claims["sub"]), roles=frozenset(roles), scopes=scopes, client=client,
                         name=claims.get("preferred_username") or claims.get("name"))


__all__ = ["KeySet", "TokenRefused", "TokenVerifier", "claim"]
