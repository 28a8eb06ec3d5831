"""A small OIDC-compatible token issuer for the local development stack and the tests.

It signs RS256 tokens with a key pair kept in the dev stack's data directory and publishes the
public half the way identity providers do (``/.well-known/openid-configuration`` and a JWKS), so
the services verify its tokens with exactly the code they use for a company's identity provider.
Its token endpoint hands a token to any demo user by name: it must never face a real network.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shared.auth.principal import Role


@dataclass(frozen=True)
class DemoUser:
    roles: tuple[Role, ...]
    orgs: tuple[str, ...]
    name: str
    client: bool = False


# The demo group of shared/demo.py: group hx, subsidiaries east (lakeside, riverside) and south.
DEMO_USERS: dict[str, DemoUser] = {
    "admin": DemoUser((Role.ADMINISTRATOR,), ("hx",), "系统管理员 Administrator"),
    "cs-east": DemoUser((Role.CUSTOMER_SERVICE,), ("hx/east",), "客服 East customer service"),
    "cs-group": DemoUser((Role.CUSTOMER_SERVICE,), ("hx",), "集团客服中心 Group customer service"),
    "handler-east": DemoUser((Role.HANDLER,), ("hx/east",), "East department handler"),
    "handler-south": DemoUser((Role.HANDLER,), ("hx/south",), "South department handler"),
    "handler-lakeside": DemoUser((Role.HANDLER,), ("hx/east/lakeside",), "Lakeside project handler"),
    "quality": DemoUser((Role.QUALITY,), ("hx",), "质量部 Quality department"),
    "site-east": DemoUser((Role.SITE_TEAM,), ("hx/east",), "East repair team"),
    "manager-east": DemoUser((Role.CUSTOMER_MANAGER,), ("hx/east",), "East customer manager"),
    "executive": DemoUser((Role.EXECUTIVE,), ("hx",), "集团领导 Executive"),
    "callcentre": DemoUser((Role.SYSTEM,), ("hx",), "Call centre system", client=True),
    # What `careloop dev` loads the demo data with: customer service across the group, able to
    # register its org units too.
    "demo-loader": DemoUser((Role.CUSTOMER_SERVICE, Role.ADMINISTRATOR, Role.QUALITY), ("hx",), "Demo loader"),
}


class SigningKey:
    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self.private_key = private_key
        public = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        # The key id is the RFC 7638 thumbprint, so a regenerated key never reuses an old id.
        import base64
        import hashlib
        import json

        canonical = json.dumps({k: public[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
        self._public_jwk = {**public, "kid": self.kid, "use": "sig", "alg": "RS256"}

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKey:
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            return cls(key)
        signing = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(signing.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        return signing

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(self._public_jwk)]}

    def mint(
        self, subject: str, *, roles: Iterable[str], orgs: Iterable[str], issuer: str, audience: str = "careloop",
        ttl_s: int = 3600, now: float | None = None, name: str | None = None, client: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> str:
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": issuer, "aud": audience, "sub": subject, "iat": issued, "nbf": issued, "exp": issued + ttl_s,
            "jti": str(uuid.uuid4()), "roles": [str(r) for r in roles], "careloop_orgs": list(orgs),
        }
        if client:
            claims["client_id"] = subject
        elif name:
            claims["preferred_username"] = subject
            claims["name"] = name
        claims.update(extra or {})
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid})

    def mint_for(self, user: str, *, issuer: str, audience: str = "careloop", ttl_s: int = 3600) -> str:
        demo = DEMO_USERS[user]
        return self.mint(user, roles=demo.roles, orgs=demo.orgs, issuer=issuer, audience=audience, ttl_s=ttl_s,
                         name=demo.name, client=demo.client)


def dev_key_path(data_dir: str | Path) -> Path:
    return Path(data_dir).resolve() / "dev-issuer" / "signing-key.pem"


def dev_issuer_url(port: int, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{port}"


def issuer_app(key: SigningKey, *, issuer: str, audience: str = "careloop") -> Any:
    """The dev issuer's HTTP face: discovery, keys, and a token for any demo user."""
    from fastapi import FastAPI, Form, HTTPException

    app = FastAPI(title="CareLoop development token issuer", version="1")

    @app.get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, Any]:
        return {
            "issuer": issuer, "jwks_uri": f"{issuer}/jwks.json", "token_endpoint": f"{issuer}/token",
            "grant_types_supported": ["password", "client_credentials"], "id_token_signing_alg_values_supported":
            ["RS256"], "response_types_supported": ["token"], "subject_types_supported": ["public"],
        }

    @app.get("/jwks.json")
    async def jwks() -> dict[str, Any]:
        return key.jwks()

    @app.get("/users")
    async def users() -> dict[str, Any]:
        return {name: {"roles": list(u.roles), "orgs": list(u.orgs), "name": u.name} for name, u in DEMO_USERS.items()}

    @app.post("/token")
    async def token(grant_type: str = Form("password"), username: str | None = Form(None),
                    client_id: str | None = Form(None)) -> dict[str, Any]:
        user = username if grant_type == "password" else client_id
        if not user or user not in DEMO_USERS:
            raise HTTPException(400, {"error": "invalid_grant", "error_description": "not a demo user"})
        return {"access_token": key.mint_for(user, issuer=issuer, audience=audience), "token_type": "Bearer",
                "expires_in": 3600}

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "alive", "service": "dev-issuer"}

    return app


__all__ = ["DEMO_USERS", "DemoUser", "SigningKey", "dev_issuer_url", "dev_key_path", "issuer_app"]
