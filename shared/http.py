"""The HTTP face every service shares: health, correlation ids, field-level validation errors."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth.http import check_routes_declare_roles, install_auth
from shared.auth.tokens import TokenVerifier
from shared.i18n import current_language, language_of, reset_language, set_language
from shared.logging import reset_correlation_id, set_correlation_id
from shared.pii import REASONS_ZH
from shared.runtime import ServiceRuntime

log = logging.getLogger(__name__)

CORRELATION_HEADER = "X-Correlation-ID"
_CORRELATION_HEADER_NAME = CORRELATION_HEADER.lower().encode("latin-1")


class BodySizeLimitMiddleware:
    """Refuse a request body over ``max_bytes`` (``CARELOOP_HTTP_MAX_BODY_BYTES``) with 413 and a
    Chinese reason, before the body is read whole: a declared ``Content-Length`` over the limit is
    refused before a byte is read; a body without one (chunked) is read only up to the limit."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _refusal(self) -> JSONResponse:
        return JSONResponse(status_code=413, content={
            "error": "payload_too_large",
            "reason": f"请求体过大：最多 {self.max_bytes} 字节",
            "fields": [{"field": "body", "reason": f"请求体过大：最多 {self.max_bytes} 字节",
                        "type": "too_large"}]})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((value for name, value in scope["headers"] if name == b"content-length"), None)
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                too_large = False  # the server refuses a malformed length itself
            if too_large:
                await self._refusal()(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if not any(name == b"transfer-encoding" for name, _ in scope["headers"]):
            await self.app(scope, receive, send)  # no body
            return
        # Chunked: read at most the limit, then hand the body on as it came.
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refusal()(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def correlation_id_of(request: Request) -> uuid.UUID:
    return request.state.correlation_id  # type: ignore[no-any-return]


class CorrelationIdMiddleware:
    """Take the caller's correlation id (a UUID) or start one; echo it; put it on every log line.

    Plain ASGI: a ``BaseHTTPMiddleware`` would run every request through an extra task and memory
    streams, a large share of a small request's cost."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == _CORRELATION_HEADER_NAME), None)
        try:
            correlation_id = uuid.UUID(given.decode("latin-1")) if given else uuid.uuid4()
        except ValueError:
            refusal = JSONResponse(
                status_code=400,
                content={
                    "error": "invalid_header",
                    "fields": [{"field": f"header.{CORRELATION_HEADER}", "reason": "must be a UUID"}],
                },
            )
            await refusal(scope, receive, send)
            return
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        echoed = (_CORRELATION_HEADER_NAME, str(correlation_id).encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0].lower() != _CORRELATION_HEADER_NAME]
                message = {**message, "headers": [*headers, echoed]}
            await send(message)

        token = set_correlation_id(str(correlation_id))
        # The language people read answers in: Chinese unless ?lang=en or Accept-Language says English.
        query = scope.get("query_string", b"")
        query_lang = next((part[5:].decode("latin-1") for part in query.split(b"&") if part.startswith(b"lang=")), None)
        accept = next((value for name, value in scope["headers"] if name == b"accept-language"), None)
        language = set_language(language_of(query_lang, accept.decode("latin-1") if accept else None))
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            reset_language(language)
            reset_correlation_id(token)


# Pydantic's error types as people read them (Chinese first); {name}s come from the error's context.
_REASONS_ZH: dict[str, str] = {
    "missing": "必填",
    "extra_forbidden": "不认识的字段",
    "string_too_short": "太短：至少 {min_length} 个字符",
    "string_too_long": "太长：至多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不对",
    "string_type": "应为文本",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "decimal_parsing": "应为数字",
    "bool_parsing": "应为是或否（true / false）",
    "bool_type": "应为是或否（true / false）",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应不小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应不大于 {le}",
    "literal_error": "应为以下之一：{expected}",
    "enum": "应为以下之一：{expected}",
    "uuid_parsing": "应为 UUID",
    "uuid_type": "应为 UUID",
    "datetime_parsing": "应为日期时间（ISO 8601，如 2027-01-04T09:30:00+08:00）",
    "datetime_from_date_parsing": "应为日期时间（ISO 8601，如 2027-01-04T09:30:00+08:00）",
    "datetime_type": "应为日期时间（ISO 8601）",
    "timezone_aware": "需要带时区的时间（如 +08:00）",
    "date_parsing": "应为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）",
    "date_type": "应为日期（YYYY-MM-DD）",
    "json_invalid": "请求体不是合法的 JSON",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "dict_type": "应为对象",
    "list_type": "应为列表",
    "tuple_type": "应为列表",
    "too_short": "至少 {min_length} 项",
    "too_long": "至多 {max_length} 项",
    "url_parsing": "应为网址",
    "value_error": "{error}",
    "assertion_error": "{error}",
}


def reason_zh(error: Any) -> str:
    """A pydantic error's reason as people read it in Chinese (never the input itself)."""
    template = _REASONS_ZH.get(str(error.get("type")))
    if template is None:
        return "取值无效"
    context = {key: str(value) for key, value in (error.get("ctx") or {}).items()}
    if "expected" in context:  # pydantic's list of choices: "'x' or 'y'"
        context["expected"] = context["expected"].replace(" or ", " 或 ")
    try:
        text = template.format(**context)
    except (KeyError, IndexError):
        text = template.split("：")[0]
    # a value_error carries our own words ("Value error, " is pydantic's); shared.pii's in Chinese
    text = text.removeprefix("Value error, ")
    return REASONS_ZH.get(text, text) if text else "取值无效"


def field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic errors as ``[{field, reason, type}]``; the offending input is never echoed.

    ``reason`` is Chinese unless the request asked for English (shared/i18n.py)."""
    english = current_language() == "en"
    out = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())]
        if loc and loc[0] == "body":
            loc = loc[1:]
        if error.get("type") == "json_invalid":
            loc = []  # the position is not a field: the body as a whole is not JSON
        out.append(
            {
                "field": ".".join(loc) or "(body)",
                "reason": str(error.get("msg", "invalid")) if english else reason_zh(error),
                "type": str(error.get("type", "value_error")),
            }
        )
    return out


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        status_code=422, content={"error": "validation_failed", "fields": field_errors(exc.errors())}
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Routes raise ``HTTPException(status, {"error": ..., ...})``; the dict is the whole body."""
    assert isinstance(exc, StarletteHTTPException)
    body = exc.detail if isinstance(exc.detail, dict) else {"error": str(exc.detail)}
    return JSONResponse(status_code=exc.status_code, content=body, headers=getattr(exc, "headers", None))


def health_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "alive", "service": runtime.service}

    @router.get("/health/ready")
    async def ready() -> JSONResponse:
        checks = await runtime.readiness()
        ok = all(checks.values())
        content: dict[str, Any] = {"status": "ready" if ok else "not_ready", "service": runtime.service,
                                   "checks": checks}
        if notes := runtime.readiness_notes():
            content["notes"] = notes  # reported, never a reason to take the replica out of service
        return JSONResponse(status_code=200 if ok else 503, content=content)

    @router.get("/health/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """Prometheus text format: this replica's relay and consumers, and the service's parked
        outbox rows (``careloop dlq parked``: rows the broker refused for good)."""
        return Response(await runtime.metrics_text(), media_type="text/plain; version=0.0.4")

    @router.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi() -> JSONResponse:
        from faststream.specification import AsyncAPI

        spec = AsyncAPI(runtime.broker, title=f"CareLoop {runtime.service}", schema_version="3.0.0")
        return JSONResponse(spec.to_jsonable())

    return router


def create_service_app(
    runtime: ServiceRuntime, *, title: str, routers: Sequence[APIRouter] = ()
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, version="1", lifespan=lifespan)
    app.state.runtime = runtime
    auth = runtime.settings.auth
    if runtime.settings.environment == "production" and not (auth.issuer or auth.jwks_url or auth.jwks):
        raise RuntimeError("no token issuer configured: set CARELOOP_AUTH_ISSUER (or _JWKS_URL / _JWKS)")
    install_auth(app, TokenVerifier(auth))
    app.add_middleware(CorrelationIdMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=runtime.settings.http_max_body_bytes)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.include_router(health_router(runtime))
    for router in routers:
        app.include_router(router)
    check_routes_declare_roles(app.routes)
    return app
