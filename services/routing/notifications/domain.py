"""Who is told, when a warning is due, and what the message says. Pure: no I/O.

The directory names, per org unit and role, the people (staff id, e-mail) and the chat groups
(a WeCom or DingTalk group robot's webhook) that hear of a case. A case is told to the nearest unit
up its org path that names someone for the role: a project department's own quality officer if it
has one, else its subsidiary's, else the group's.

Messages are in Chinese and carry only what a colleague needs to find the case: its id, project,
category, the deadline and its due time. Never the customer's name, phone, address or words.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.calendar import UnitCalendar

Channel = Literal["email", "wecom", "dingtalk"]
Reason = Literal["escalation", "deadline_warning", "deadline_breached"]


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1, max_length=64, description="staff id (also @-mentioned in the chat)")
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")


class Chat(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=64, description="the chat group, as shown in history")
    kind: Literal["wecom", "dingtalk"]
    url: str = Field(pattern=r"^https?://", description="the group robot's webhook URL")


class RecipientGroup(BaseModel):
    """Who hears for one role of one org unit, e.g. ``hx/east`` + ``quality_department``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    org: str = Field(min_length=1, description="org path: hx, hx/east, hx/east/lakeside")
    role: str = Field(min_length=1, description="quality_department, executive, customer_service, a department…")
    people: tuple[Person, ...] = ()
    chats: tuple[Chat, ...] = ()


@dataclass(frozen=True)
class Address:
    recipient: str
    channel: Channel
    address: str
    #: Staff ids to @-mention in a chat message.
    mentions: tuple[str, ...] = ()


class Directory:
    def __init__(self, groups: tuple[RecipientGroup, ...] | list[RecipientGroup] = ()) -> None:
        self._groups: dict[tuple[str, str], RecipientGroup] = {}
        for group in groups:
            key = (_path(group.org), group.role)
            if key in self._groups:
                raise ValueError(f"recipients for {group.role} of {group.org} are named twice")
            self._groups[key] = group

    def group_for(self, org_path: str, role: str) -> RecipientGroup | None:
        """The nearest unit up ``org_path`` that names someone for ``role``."""
        parts = _path(org_path).split("/")
        for depth in range(len(parts), 0, -1):
            group = self._groups.get(("/".join(parts[:depth]), role))
            if group is not None and (group.people or group.chats):
                return group
        return None

    def addresses(self, org_path: str, role: str) -> list[Address]:
        group = self.group_for(org_path, role)
        if group is None:
            return []
        out = [Address(person.id, "email", person.email) for person in group.people if person.email]
        mentions = tuple(person.id for person in group.people)
        out += [Address(chat.name, chat.kind, chat.url, mentions) for chat in group.chats]
        return out


def _path(org_path: str) -> str:
    return "/".join(part for part in org_path.strip().split("/") if part)


# --- when the "about to be missed" notice is due ----------------------------------------------


def warning_moment(unit: UnitCalendar, due: datetime, lead: timedelta) -> datetime:
    """The latest moment with ``lead`` of the unit's working time still left before ``due``.

    Counted backwards over the unit's working periods, so 1 working hour before a deadline due
    Monday 09:30 (hours 08:30-12:00, 13:30-17:30) is Monday 08:30, and one due Monday 08:45 is the
    Friday before at 16:45 (15 minutes on Monday, 45 on Friday). A deadline in calendar time is
    warned the same way: the warning should reach people while they are at work.
    """
    if lead <= timedelta():
        return due
    end = due.astimezone(UTC)
    remaining = lead
    day = due.astimezone(unit.zone).date()
    for _ in range(400):
        if unit.is_working_day(day):
            for period_start, period_end in reversed(_periods(unit, day)):
                if period_start >= end:
                    continue
                stop = min(end, period_end)
                available = stop - period_start
                if remaining <= available:
                    return (stop - remaining).astimezone(unit.zone)
                remaining -= available
                end = period_start
        day -= timedelta(days=1)
    raise ValueError(f"no working time for {unit.org_path!r} in the 400 days before {due.isoformat()}")


def _periods(unit: UnitCalendar, day: date) -> tuple[tuple[datetime, datetime], ...]:
    return unit._periods(day)  # the unit's working periods of the day, as UTC instants


# --- retries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    #: The wait after the first failure; each further failure doubles it, up to ``max_delay``.
    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    #: After this many failed attempts the notification is given up (and that is recorded).
    max_attempts: int = 8

    def delay_after(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failure: 30 s, 60 s, 120 s, … capped."""
        return min(self.first_delay * (2 ** max(attempts - 1, 0)), self.max_delay)


# --- the message ------------------------------------------------------------------------------

DEADLINE_LABELS = {
    "first_response": "首次响应",
    "difficult_escalation": "疑难投诉上报（质量部与主管领导）",
    "measures_report": "处理措施上报",
    "result_delivery": "处理结果反馈顾客",
    "quality_department": "质量部跟踪期限",
}

ROLE_LABELS = {
    "quality_department": "质量部",
    "executive": "主管领导",
    "customer_service_supervisor": "客服主管",
    "customer_service": "客户服务中心",
    "business": "业务部",
    "engineering_quality": "工程质量部",
    "production": "生产部",
    "construction_management": "施工管理部",
    "safety_environment": "安质环保部",
    "general_affairs": "综合部",
    "project_department": "项目经理部",
    "group": "集团公司",
    "government": "政府部门",
    "developer": "开发商",
}

CATEGORY_LABELS = {
    "product_quality": "产品质量、技术",
    "production_delivery": "交货期、数量、生产能力",
    "contract_after_sales": "订单、合同、售后、索赔、顾客财产",
    "price": "价格",
    "site_safety_environment": "现场环境与安全",
    "service_attitude": "服务态度、服务提供",
    "external_environment": "外部环境、公共设施",
}

CHANNEL_LABELS = {"email": "邮件", "wecom": "企业微信群", "dingtalk": "钉钉群"}
REASON_LABELS = {"escalation": "投诉升级", "deadline_warning": "期限即将到期", "deadline_breached": "期限已超时"}


@dataclass(frozen=True)
class CaseSummary:
    """What a message may say about a case: no personal data."""

    case_id: uuid.UUID
    org_path: str
    project_id: str | None
    category: str | None
    complaint_class: int | None


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def _local(moment: datetime, unit: UnitCalendar) -> str:
    local = unit.local(moment)
    return f"{local:%Y-%m-%d %H:%M}"


def compose(reason: Reason, case: CaseSummary, unit: UnitCalendar, *, role: str,
            deadline_kind: str | None = None, due_at: datetime | None = None) -> Message:
    """The Chinese text of one notification."""
    role_label = ROLE_LABELS.get(role, role)
    lines = [f"案件编号：{case.case_id}", f"项目：{case.project_id or case.org_path}（{case.org_path}）"]
    if case.category:
        klass = f"（{case.complaint_class}类投诉）" if case.complaint_class else ""
        lines.append(f"类别：{CATEGORY_LABELS.get(case.category, case.category)}{klass}")
    label = DEADLINE_LABELS.get(deadline_kind or "", deadline_kind or "")
    if deadline_kind and due_at is not None:
        lines.append(f"期限：{label}，{_local(due_at, unit)} 到期")
    if reason == "escalation":
        head = f"投诉已升级至{role_label}，请及时跟进处理。"
    elif reason == "deadline_warning":
        head = f"“{label}”期限将于 {_local(due_at, unit) if due_at else ''} 到期，尚未完成，请尽快处理。"
    else:
        head = f"“{label}”期限已于 {_local(due_at, unit) if due_at else ''} 到期未完成，已升级至{role_label}。"
    subject = f"【CareLoop·{REASON_LABELS[reason]}】案件 {str(case.case_id)[:8]}"
    if deadline_kind:
        subject += f" {label}"
    return Message(subject=subject, body="\n".join([head, *lines]))
