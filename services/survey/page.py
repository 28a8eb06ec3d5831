"""The household's survey page, reached by a one-time link: ``GET /s/{token}`` shows the form
(Chinese by default, ``?lang=en`` for English), ``POST /s/{token}`` takes the answers once.

Plain server-rendered HTML that works on a phone without JavaScript. The token is a credential:
the page is never cached, never indexed and sends no referrer.
"""

from __future__ import annotations

import html
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.survey import domain, service
from services.survey.domain import AnswersRefused, Template
from shared.db import UnitOfWorkFactory

Lang = Literal["zh", "en"]

TEXT: dict[str, dict[Lang, str]] = {
    "submit": {"zh": "提交", "en": "Submit"},
    "skip": {"zh": "不评价", "en": "No answer"},
    "required": {"zh": "必答", "en": "required"},
    "remark": {"zh": "其他意见或建议（选填）", "en": "Anything else you would like to tell us (optional)"},
    "thanks_title": {"zh": "提交成功", "en": "Thank you"},
    "too_many_title": {"zh": "请求过于频繁", "en": "Too many requests"},
    "too_many": {"zh": "您的请求过于频繁，请稍后再试。", "en": "Too many requests from your address: please try again shortly."},
    "thanks": {"zh": "感谢您的评价！我们已收到您的回答。", "en": "Thank you! We have received your answers."},
    "thanks_followup": {"zh": "您提出的不满意事项将转交责任部门跟进处理。",
                        "en": "The responsible department will follow up on what you were not satisfied with."},
    "fix": {"zh": "提交未成功，请检查：", "en": "Your answers could not be taken. Please check:"},
    "missing": {"zh": "请回答：", "en": "Please answer: "},
    "unavailable_title": {"zh": "无法填写", "en": "Survey unavailable"},
    "token_unknown": {"zh": "此链接无效。", "en": "This link is not valid."},
    "token_used": {"zh": "此链接已使用，您的回答已收到，无需重复提交。",
                   "en": "This link has already been used: your answers were received, there is no need to send them again."},
    "token_expired": {"zh": "此链接已过期。", "en": "This link has expired."},
    "campaign_closed": {"zh": "本次调查已结束。", "en": "This survey has closed."},
    "other_lang": {"zh": "English", "en": "中文"},
}

CSS = """
*{box-sizing:border-box}body{margin:0;font-family:-apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",
"WenQuanYi Micro Hei",sans-serif;background:#f4f6f8;color:#1f2933;line-height:1.5}
main{max-width:640px;margin:0 auto;padding:16px}header{display:flex;justify-content:space-between;align-items:center}
h1{font-size:1.3rem;margin:8px 0}.intro{color:#52606d}.lang{font-size:.9rem}
fieldset{background:#fff;border:1px solid #d9e2ec;border-radius:10px;margin:12px 0;padding:12px}
legend{font-weight:600;padding:0 4px}.req{color:#c0392b;font-size:.8rem;margin-left:4px}
label.opt{display:block;padding:10px;margin:6px 0;border:1px solid #d9e2ec;border-radius:8px;font-size:1rem}
label.opt input{margin-right:8px;transform:scale(1.2)}label.opt:has(input:checked){border-color:#2f80ed;background:#eaf2fe}
textarea{width:100%;min-height:90px;font-size:1rem;padding:8px;border-radius:8px;border:1px solid #d9e2ec}
button{width:100%;padding:14px;font-size:1.1rem;border:0;border-radius:10px;background:#2f80ed;color:#fff;margin:12px 0}
.errors{background:#fdecea;border:1px solid #f5c2c0;border-radius:10px;padding:10px 14px;color:#8a1c1c}
.missing{border-color:#e74c3c}.done{background:#fff;border-radius:10px;padding:24px;text-align:center}
"""


def lang_of(request: Request) -> Lang:
    return "en" if request.query_params.get("lang") == "en" else "zh"


def _page(lang: Lang, title: str, body: str, status_code: int = 200) -> HTMLResponse:
    document = (
        f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body><main>{body}</main></body></html>"
    )
    return HTMLResponse(document, status_code=status_code, headers={
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    })


def _unavailable(lang: Lang, code: str) -> HTMLResponse:
    message = TEXT.get(code, TEXT["token_unknown"])[lang]
    status_code = 404 if code == "token_unknown" else 410
    return _page(lang, TEXT["unavailable_title"][lang],
                 f'<div class="done" id="unavailable" data-reason="{code}"><h1>{TEXT["unavailable_title"][lang]}</h1>'
                 f"<p>{html.escape(message)}</p></div>", status_code)


def _label(lang: Lang, zh: str, en: str) -> str:
    return html.escape(zh if lang == "zh" else en)


def render_form(
    template: Template, *, token: str, lang: Lang, chosen: dict[str, str] | None = None, remark: str = "",
    errors: Sequence[str] = (), missing: Sequence[str] = (), status_code: int = 200,
) -> HTMLResponse:
    d = template.definition
    chosen = chosen or {}
    levels = [(k, v) for k, v in domain.LEVELS[d.scheme].items() if k != domain.HAZARD]
    other = "zh" if lang == "en" else "en"
    query = "?lang=en" if lang == "en" else ""
    title = _label(lang, d.title_zh, d.title_en)
    intro = (d.intro_zh if lang == "zh" else d.intro_en) or ""
    parts = [
        f'<header><h1>{title}</h1><a class="lang" href="?lang={other}">{TEXT["other_lang"][lang]}</a></header>',
        f'<p class="intro">{html.escape(intro)}</p>' if intro else "",
    ]
    if errors:
        items = "".join(f"<li>{html.escape(e)}</li>" for e in errors)
        parts.append(f'<div class="errors" role="alert" id="errors"><p>{TEXT["fix"][lang]}</p><ul>{items}</ul></div>')
    parts.append(f'<form method="post" action="{html.escape(token)}{query}">')
    for item in d.items:
        required = d.required(item)
        css = ' class="missing"' if item.item_id in missing else ""
        mark = f'<span class="req">{TEXT["required"][lang]}</span>' if required else ""
        parts.append(f'<fieldset{css} id="item-{item.item_id}"><legend>{_label(lang, item.label_zh, item.label_en)}'
                     f"{mark}</legend>")
        for level, (zh, en) in levels:
            checked = " checked" if chosen.get(item.item_id) == level else ""
            parts.append(f'<label class="opt"><input type="radio" name="item.{item.item_id}" value="{level}"'
                         f"{checked}>{_label(lang, zh, en)}</label>")
        if not required:
            checked = " checked" if not chosen.get(item.item_id) else ""
            parts.append(f'<label class="opt"><input type="radio" name="item.{item.item_id}" value=""{checked}>'
                         f'{TEXT["skip"][lang]}</label>')
        parts.append("</fieldset>")
    parts.append(f'<fieldset><legend>{TEXT["remark"][lang]}</legend>'
                 f'<textarea name="remark" maxlength="2000">{html.escape(remark)}</textarea></fieldset>')
    parts.append(f'<button type="submit" id="submit">{TEXT["submit"][lang]}</button></form>')
    return _page(lang, d.title_zh if lang == "zh" else d.title_en, "".join(parts), status_code)


class AddressLimiter:
    """At most ``per_minute`` requests per client address in any 60 s (a sliding window), in this
    replica. The survey page needs no token, so this is what keeps one address from flooding it."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic, max_addresses: int = 10_000):
        self.per_minute, self.clock, self.max_addresses = per_minute, clock, max_addresses
        self.seen: dict[str, deque[float]] = {}

    def retry_after(self, address: str) -> int:
        """0 when this request may go ahead (and counts it), else the seconds to wait."""
        now = self.clock()
        times = self.seen.get(address)
        if times is None:
            if len(self.seen) >= self.max_addresses:  # forget the quietest addresses first
                for key in sorted(self.seen, key=lambda k: self.seen[k][-1] if self.seen[k] else 0)[:len(self.seen) // 2]:
                    del self.seen[key]
            times = self.seen[address] = deque()
        while times and now - times[0] >= 60:
            times.popleft()
        if len(times) >= self.per_minute:
            return max(1, math.ceil(60 - (now - times[0])))
        times.append(now)
        return 0


def build_router(*, uow_factory: UnitOfWorkFactory, deps: service.Deps,
                 requests_per_minute: int = 30) -> APIRouter:
    limiter = AddressLimiter(requests_per_minute)

    def too_many(request: Request) -> HTMLResponse | None:
        address = request.client.host if request.client else "?"
        if not (wait := limiter.retry_after(address)):
            return None
        lang = lang_of(request)
        page = _page(lang, TEXT["too_many_title"][lang],
                     f'<div class="done" id="too-many"><h1>{TEXT["too_many_title"][lang]}</h1>'
                     f'<p>{TEXT["too_many"][lang]}</p></div>', status_code=429)
        page.headers["Retry-After"] = str(wait)
        return page

    router = APIRouter(tags=["survey page"], include_in_schema=False)

    @router.get("/s/{token}", response_class=HTMLResponse)
    async def show(token: str, request: Request) -> HTMLResponse:
        if refused := too_many(request):
            return refused
        lang = lang_of(request)
        async with uow_factory() as uow:
            try:
                invitation = await service.find_invitation(token, uow=uow)
                service.check_invitation(invitation, now=deps.clock())
            except AnswersRefused as exc:
                return _unavailable(lang, exc.code)
            template = await service.load_template(uow, invitation.template_id, invitation.template_version)
        return render_form(template, token=token, lang=lang)

    @router.post("/s/{token}", response_class=HTMLResponse)
    async def submit(token: str, request: Request) -> HTMLResponse:
        if refused := too_many(request):
            return refused
        lang = lang_of(request)
        form = await request.form()
        chosen = {k[len("item."):]: str(v) for k, v in form.multi_items() if k.startswith("item.") and str(v)}
        remark = str(form.get("remark") or "").strip()[:2000]
        template = None
        invitation = None
        answers: list[domain.Answer] = []
        try:
            async with uow_factory() as uow:
                invitation = await service.find_invitation(token, uow=uow, for_update=True)
                template = await service.load_template(uow, invitation.template_id, invitation.template_version)
                answers = _answers(template, chosen, remark)
                recorded = await service.answer_invitation(invitation, answers, uow=uow, deps=deps, channel="web")
                await uow.commit()
        except AnswersRefused as exc:
            async with uow_factory() as uow:
                # an unknown or spent link keeps the refusal only, never what was sent with it
                submitted = (answers or [domain.Answer(k, v) for k, v in chosen.items()]) if template else []
                await service.record_refusal(exc, uow=uow, clock=deps.clock, channel="web", invitation=invitation,
                                             submitted=submitted,
                                             correlation_id=invitation.correlation_id if invitation else None)
                await uow.commit()
            if template is None or exc.code != "invalid_answers":
                return _unavailable(lang, exc.code)
            missing = [i.item_id for i in template.definition.items
                       if template.definition.required(i) and not chosen.get(i.item_id)]
            return render_form(template, token=token, lang=lang, chosen=chosen, remark=remark,
                               errors=_messages(template, exc, missing, lang), missing=missing, status_code=422)
        followup = f'<p>{TEXT["thanks_followup"][lang]}</p>' if recorded.feedback else ""
        return _page(lang, TEXT["thanks_title"][lang],
                     f'<div class="done" id="thanks"><h1>{TEXT["thanks_title"][lang]}</h1>'
                     f'<p>{TEXT["thanks"][lang]}</p>{followup}</div>')

    return router


def _answers(template: Template, chosen: dict[str, str], remark: str) -> list[domain.Answer]:
    """The form's choices as answers; the free remark goes with the dissatisfied answers (so it
    reaches intake with them), or with the first answer when nothing was dissatisfied."""
    d = template.definition
    known = {i.item_id for i in d.items}
    answers = [domain.Answer(i.item_id, chosen.get(i.item_id) or None) for i in d.items]
    answers += [domain.Answer(k, v) for k, v in chosen.items() if k not in known]  # refused with the reason
    if remark:
        unhappy = domain.DISSATISFIED_LEVELS[d.scheme]
        targets = [a for a in answers if a.level in unhappy] or [a for a in answers if a.level][:1]
        answers = [domain.Answer(a.item_id, a.level, a.deduction, remark) if a in targets else a for a in answers]
    return answers


def _messages(template: Template, exc: AnswersRefused, missing: Sequence[str], lang: Lang) -> list[str]:
    d = template.definition
    out = []
    for item_id in missing:
        item = d.item(item_id)
        assert item is not None
        out.append(TEXT["missing"][lang] + (item.label_zh if lang == "zh" else item.label_en))
    out += [p.reason if lang == "zh" else p.reason_en or p.reason
            for p in exc.problems if not (p.reason_en or p.reason).startswith("required item")]
    return out
