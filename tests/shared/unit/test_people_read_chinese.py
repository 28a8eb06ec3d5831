"""What people read is Chinese by default and English on request: validation reasons, languages."""

from __future__ import annotations

import uuid
from typing import Literal

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.http import CorrelationIdMiddleware, _validation_error
from shared.i18n import current_language, language_of, yes_no
from shared.pii import normalize_email
from fastapi.exceptions import RequestValidationError


class Visit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Field(min_length=2, max_length=8)
    households: int = Field(ge=1)
    outcome: Literal["satisfied", "dissatisfied"]
    case_id: uuid.UUID
    email: str | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else normalize_email(value)


def app() -> FastAPI:
    api = FastAPI()
    api.add_middleware(CorrelationIdMiddleware)
    api.add_exception_handler(RequestValidationError, _validation_error)

    @api.post("/visits")
    async def visits(body: Visit) -> dict[str, str]:
        return {"ok": "yes"}

    @api.get("/lang")
    async def lang() -> dict[str, str]:
        return {"lang": current_language(), "yes": yes_no(True)}

    return api


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [(None, None, "zh"), ("en", None, "en"), (None, "en-GB,en;q=0.9", "en"), (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
     ("zh", "en", "zh")],
)
def test_the_language_is_chinese_unless_english_is_asked_for(query: str | None, header: str | None,
                                                             expected: str) -> None:
    assert language_of(query, header) == expected


async def test_validation_reasons_are_chinese_by_default_and_english_on_request() -> None:
    bad = {"actor": "x", "households": 0, "outcome": "meh", "case_id": "not-a-uuid", "extra": 1, "email": "no-at-sign"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://t") as client:
        zh = (await client.post("/visits", json=bad)).json()["fields"]
        en = (await client.post("/visits", params={"lang": "en"}, json=bad)).json()["fields"]
        missing = (await client.post("/visits", json={})).json()["fields"]
        not_json = (await client.post("/visits", content=b"{", headers={"content-type": "application/json"})).json()
        assert (await client.get("/lang")).json() == {"lang": "zh", "yes": "是"}
        assert (await client.get("/lang", headers={"accept-language": "en-US"})).json() == {"lang": "en", "yes": "Yes"}
    reasons = {f["field"]: f["reason"] for f in zh}
    assert reasons == {
        "actor": "太短：至少 2 个字符",
        "households": "应不小于 1",
        "outcome": "应为以下之一：'satisfied' 或 'dissatisfied'",
        "case_id": "应为 UUID",
        "extra": "不认识的字段",
        "email": "不是有效的电子邮箱地址",  # our own check's words, in Chinese too
    }
    assert {f["field"]: f["reason"] for f in en}["actor"] == "String should have at least 2 characters"
    assert {f["field"] for f in missing} == {"actor", "households", "outcome", "case_id"}
    assert all(f["reason"] == "必填" for f in missing)
    assert not_json["fields"][0]["reason"] == "请求体不是合法的 JSON"
