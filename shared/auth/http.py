"""Authentication and role checks for every HTTP route.

Each route states who may call it with ``Depends(require(Role.X, ...))`` (or the ``caller`` form
that also hands the :class:`Principal` to the route). A request without a valid bearer token gets
401 with ``WWW-Authenticate``; a caller without one of the route's roles gets 403, logged with the
subject, roles and route (never the token, never personal data). :func:`check_routes_declare_roles`
makes an app refuse to start when an API route forgets to say who may call it.
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.routing import APIRoute

from shared.auth.principal import Principal, Role
from shared.auth.tokens import TokenRefused, TokenVerifier

log = logging.getLogger("careloop.access")

# Paths that answer without a token: health and service descriptions, the API documents, and the
# survey page, whose one-time token in the URL is the household's credential.
PUBLIC_PREFIXES: tuple[str, ...] = ("/health/", "/asyncapi.json", "/docs", "/redoc", "/openapi.json", "/s/",
                                    "/dashboard")


@dataclass
class Access:
    """The authenticated caller of the current request, for the audit trail."""

    principal: Principal
    method: str
    route: str
    path_params: dict[str, str]
    correlation_id: uuid.UUID | None
    audited: bool = field(default=False)

    @property
    def changes_state(self) -> bool:
        return self.method not in ("GET", "HEAD", "OPTIONS")


_PRINCIPAL_KEY = "careloop.principal"
_access: contextvars.ContextVar[Access | None] = contextvars.ContextVar("careloop_access", default=None)


def current_access() -> Access | None:
    return _access.get()


def install_auth(app: FastAPI, verifier: TokenVerifier) -> None:
    app.state.token_verifier = verifier


def _unauthorized(reason: str, *, error: str | None) -> HTTPException:
    challenge = 'Bearer realm="careloop"'
    if error:
        challenge += f', error="{error}", error_description="{reason}"'
    return HTTPException(401, {"error": "unauthorized", "reason": reason}, headers={"WWW-Authenticate": challenge})


async def authenticate(request: Request) -> Principal:
    # Cached in the ASGI scope, which is this request's own (request.state may be shared lifespan state).
    cached = request.scope.get(_PRINCIPAL_KEY)
    if isinstance(cached, Principal):
        return cached
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthorized("a bearer token is required", error=None)
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header must be 'Bearer <token>'", error="invalid_request")
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        raise _unauthorized("this service has no token verifier", error="invalid_token")
    try:
        principal = await verifier.verify(token.strip())
    except TokenRefused as exc:
        log.info("token refused", extra={"reason": exc.reason, "path": _route_of(request)})
        raise _unauthorized(exc.reason, error=exc.error if exc.error != "server_error" else "invalid_token") from exc
    request.scope[_PRINCIPAL_KEY] = principal
    return principal


def _route_of(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", None) or request.url.path


def require(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that admits only callers holding one of ``roles``; it returns the caller."""
    allowed = frozenset(roles)
    if not allowed:
        raise ValueError("a route must name at least one role")

    async def caller(request: Request) -> Principal:
        principal = await authenticate(request)
        route = _route_of(request)
        if not principal.has_any(allowed):
            log.warning("forbidden", extra={"subject": principal.subject, "roles": sorted(principal.roles),
                                             "method": request.method, "route": route,
                                             "allowed_roles": sorted(allowed)})
            raise HTTPException(403, {"error": "forbidden", "reason": "your roles do not allow this",
                                      "allowed_roles": sorted(allowed)})
        _access.set(Access(principal=principal, method=request.method, route=route,
                           path_params=dict(request.path_params),
                           correlation_id=getattr(request.state, "correlation_id", None)))
        return principal

    caller.careloop_roles = allowed  # type: ignore[attr-defined]
    return caller


def api_routes(routes: Iterable[Any], prefix: str = "", inherited: tuple[Any, ...] = ()
               ) -> Iterable[tuple[str, APIRoute, tuple[Any, ...]]]:
    """Every APIRoute with its full path and the dependencies it inherits from router inclusion
    (recent FastAPI keeps included routers as such instead of copying their routes)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route, inherited
        elif (original := getattr(route, "original_router", None)) is not None:
            context = getattr(route, "include_context", None)
            yield from api_routes(original.routes, prefix + (getattr(context, "prefix", "") or ""),
                                  inherited + tuple(getattr(context, "dependencies", None) or ()))


def declared_roles(route: APIRoute, inherited: tuple[Any, ...] = ()) -> frozenset[Role] | None:
    """The roles a route admits (the intersection of every ``require`` on it), or None."""
    found: list[frozenset[Role]] = []
    for dep in inherited:
        roles = getattr(getattr(dep, "dependency", None), "careloop_roles", None)
        if roles is not None:
            found.append(roles)

    def walk(dependant: Any) -> None:
        for dep in dependant.dependencies:
            roles = getattr(dep.call, "careloop_roles", None)
            if roles is not None:
                found.append(roles)
            walk(dep)

    walk(route.dependant)
    if not found:
        return None
    out = found[0]
    for roles in found[1:]:
        out = out & roles
    return out


def is_public(path: str) -> bool:
    return any(path == p.rstrip("/") or path.startswith(p) for p in PUBLIC_PREFIXES)


def check_routes_declare_roles(routes: Iterable[Any]) -> None:
    found = list(api_routes(routes))
    if not found:
        raise RuntimeError("no API routes found to check: has FastAPI changed how it keeps routers?")
    missing = [f"{sorted(r.methods)} {path}" for path, r, inherited in found
               if not is_public(path) and declared_roles(r, inherited) is None]
    if missing:
        raise RuntimeError("routes that do not say which roles may call them: " + ", ".join(missing))


def access_table(app: FastAPI) -> list[tuple[str, str, list[str]]]:
    """(method, path, roles) for every protected route: the access matrix, for docs and tests."""
    rows = []
    for path, route, inherited in api_routes(app.routes):
        if (roles := declared_roles(route, inherited)) is not None:
            for method in sorted(route.methods):
                rows.append((method, path, sorted(str(r) for r in roles)))
    return rows


__all__ = ["PUBLIC_PREFIXES", "Access", "access_table", "authenticate", "check_routes_declare_roles",
           "current_access", "declared_roles", "install_auth", "require"]
