"""Sending one message: e-mail over SMTP (the standard library's smtplib, in a worker thread) and
the JSON webhooks of chat group robots.

WeCom (企业微信) and DingTalk (钉钉) group robots both take ``{"msgtype": "text", "text":
{"content": "…"}}`` and answer ``{"errcode": 0, …}`` when they took it; WeCom @-mentions staff by
``text.mentioned_list``, DingTalk by ``at.atUserIds``. A non-2xx answer, a non-zero ``errcode`` or
no answer in time is a failure, retried later by the watcher.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol

import httpx


class SendFailed(Exception):
    """The message did not get through; the text is safe to store (no address, no content)."""


class Sender(Protocol):
    async def send(self, *, channel: str, address: str, subject: str, body: str,
                   mentions: tuple[str, ...] = ()) -> None: ...


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    sender: str = "careloop@localhost"
    username: str | None = None
    password: str | None = None
    #: "none", "starttls" or "ssl" (SMTPS).
    security: str = "none"
    timeout_s: float = 10.0


class ChannelSender:
    """Sends by the notification's channel: ``email`` through SMTP, ``wecom``/``dingtalk`` by webhook."""

    def __init__(self, *, smtp: SmtpConfig | None, http_timeout_s: float = 10.0) -> None:
        self.smtp = smtp
        self.http_timeout_s = http_timeout_s

    async def send(self, *, channel: str, address: str, subject: str, body: str,
                   mentions: tuple[str, ...] = ()) -> None:
        if channel == "email":
            await asyncio.to_thread(self._send_mail, address, subject, body)
        elif channel in ("wecom", "dingtalk"):
            await self._post_webhook(channel, address, f"{subject}\n{body}", mentions)
        else:
            raise SendFailed(f"unknown channel {channel!r}")

    def _send_mail(self, to: str, subject: str, body: str) -> None:
        config = self.smtp
        if config is None:
            raise SendFailed("no SMTP server configured (CARELOOP_NOTIFY_SMTP_HOST)")
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = config.sender, to, subject
        message["Message-ID"] = make_msgid(domain="careloop")
        message.set_content(body, charset="utf-8")
        try:
            if config.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout_s,
                                                        context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
            with client:
                if config.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if config.username:
                    client.login(config.username, config.password or "")
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise SendFailed(f"SMTP: {type(exc).__name__}: {_smtp_reason(exc)}") from exc

    async def _post_webhook(self, kind: str, url: str, content: str, mentions: tuple[str, ...]) -> None:
        payload: dict[str, Any] = {"msgtype": "text", "text": {"content": content}}
        if mentions and kind == "wecom":
            payload["text"]["mentioned_list"] = list(mentions)
        elif mentions:
            payload["at"] = {"atUserIds": list(mentions), "isAtAll": False}
        try:
            async with httpx.AsyncClient(timeout=self.http_timeout_s) as client:
                response = await client.post(url, json=payload)
        except httpx.HTTPError as exc:
            raise SendFailed(f"webhook: {type(exc).__name__}") from exc
        if response.status_code // 100 != 2:
            raise SendFailed(f"webhook: HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if isinstance(answer, dict) and answer.get("errcode", 0) != 0:
            raise SendFailed(f"webhook: errcode {answer.get('errcode')} {str(answer.get('errmsg', ''))[:100]}")


def _smtp_reason(exc: Exception) -> str:
    # An SMTP reply's code and text, never the recipient (SMTPRecipientsRefused carries addresses).
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "recipient refused"
    code = getattr(exc, "smtp_code", None)
    return f"{code}" if code else str(exc)[:100]
