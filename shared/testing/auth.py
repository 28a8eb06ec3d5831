"""Tokens for tests: one signing key per test session, pinned in the test settings.

``running_service`` clients carry :data:`TEST_OPERATOR`'s token by default (every role, every
group), so tests about something else need not think about access; tests about access pass
``headers=bearer(...)`` for the caller they mean.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable

from shared.auth.issuer import SigningKey
from shared.auth.principal import EVERY_GROUP, Role
from shared.settings import AuthSettings

TEST_ISSUER = "https://issuer.careloop.test"
TEST_AUDIENCE = "careloop"
TEST_OPERATOR = "test-operator"


@functools.cache
def test_key() -> SigningKey:
    return SigningKey.generate()


def test_auth_settings() -> AuthSettings:
    return AuthSettings(issuer=TEST_ISSUER, audience=TEST_AUDIENCE, jwks=json.dumps(test_key().jwks()))


def test_auth_env() -> dict[str, str]:
    """The same settings as environment variables, for services run as processes."""
    return {"CARELOOP_AUTH_ISSUER": TEST_ISSUER, "CARELOOP_AUTH_AUDIENCE": TEST_AUDIENCE,
            "CARELOOP_AUTH_JWKS": json.dumps(test_key().jwks())}


def token(subject: str = TEST_OPERATOR, *, roles: Iterable[Role | str] = tuple(Role),
          orgs: Iterable[str] = (EVERY_GROUP,), ttl_s: int = 3600, now: float | None = None,
          client: bool = False, **extra: object) -> str:
    return test_key().mint(subject, roles=roles, orgs=orgs, issuer=TEST_ISSUER, audience=TEST_AUDIENCE,
                           ttl_s=ttl_s, now=now, name=None if client else subject, client=client, extra=dict(extra))


def bearer(subject: str = TEST_OPERATOR, **kwargs: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(subject, **kwargs)}"}  # type: ignore[arg-type]


@functools.cache
def operator_token() -> str:
    # A long-lived token: some suites run for many minutes on one client.
    return token(TEST_OPERATOR, ttl_s=24 * 3600)


def operator_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {operator_token()}"}


__all__ = ["TEST_AUDIENCE", "TEST_ISSUER", "TEST_OPERATOR", "bearer", "operator_headers", "operator_token", "test_auth_env",
           "test_auth_settings", "test_key", "token"]
