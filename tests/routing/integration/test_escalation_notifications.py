"""Difficult complaints, the quality department's deadline, and notifications to people, on the
real broker and PostgreSQL, a real SMTP server (aiosmtpd) and a local HTTP server standing in for
the WeCom / DingTalk group robots. Two routing replicas run side by side: every message arrives
exactly once.

Hours: the default Mon-Fri 08:30-12:00, 13:30-17:30 (half a working day is 3h45m).
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiosmtpd.controller import Controller

from services.routing.app import create_app
from services.routing.config import RoutingSettings
from shared.events import FeedbackReceived, FeedbackReceivedData, OrgPath
from shared.settings import Settings
from shared.testing.clock import FakeClock
from shared.testing.services import eventually, publish_raw, read_topic, running_service
from shared.topics import CASE_ESCALATED, DEADLINE_BREACHED, DEADLINES_SCHEDULED, FEEDBACK_RECEIVED

pytestmark = pytest.mark.integration

CN = ZoneInfo("Asia/Shanghai")
ORG = OrgPath(group="hx", subsidiary="east", project="lakeside")
CUSTOMER_TEXT = "物业收费价格不透明，多收了费用，我的电话13800138000"


# --- a real SMTP server and a chat robot --------------------------------------------------------


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


class Robot:
    """Records each JSON POST by path; answers as WeCom / DingTalk do, or fails the first
    ``fail_first`` posts to a path with HTTP 500 (a robot that is down for a moment)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        self.fail_first: dict[str, int] = {}
        self.lock = threading.Lock()


@contextlib.contextmanager
def robot_server() -> Iterator[tuple[Robot, str]]:
    robot = Robot()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            with robot.lock:
                failing = robot.fail_first.get(self.path, 0)
                if failing:
                    robot.fail_first[self.path] = failing - 1
                else:
                    robot.posts.append((self.path, body))
            answer = json.dumps({"errcode": 0, "errmsg": "ok"}).encode()
            self.send_response(500 if failing else 200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield robot, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def recipients(robot_url: str) -> list[dict]:
    return [
        {"org": "hx/east", "role": "quality_department",
         "people": [{"id": "q-east-1", "email": "q-east-1@hx.example"}],
         "chats": [{"name": "华东质量部群", "kind": "wecom", "url": f"{robot_url}/wecom/quality"}]},
        {"org": "hx", "role": "executive",
         "people": [{"id": "exec-1", "email": "exec-1@hx.example"}],
         "chats": [{"name": "领导群", "kind": "dingtalk", "url": f"{robot_url}/dingtalk/exec"}]},
        {"org": "hx/east/lakeside", "role": "business", "people": [{"id": "biz-lake-1", "email": "biz@hx.example"}]},
    ]


def routing_settings(settings: Settings, smtp_port: int, robot_url: str) -> RoutingSettings:
    return RoutingSettings(**{
        **dict(settings), "deadline_scan_interval_s": 0.1, "notify_scan_interval_s": 0.1,
        "notify_smtp_host": "127.0.0.1", "notify_smtp_port": smtp_port, "notify_smtp_from": "careloop@hx.example",
        "notify_recipients": recipients(robot_url), "notify_retry_first_s": 60, "notify_warning_lead_working_hours": 1,
    })


@contextlib.asynccontextmanager
async def two_replicas(settings: Settings, clock: FakeClock, smtp_port: int,
                       robot_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    config = routing_settings(settings, smtp_port, robot_url)
    async with running_service(create_app(config, clock=clock)) as one, \
            running_service(create_app(config, clock=clock)) as two:
        yield one, two


def feedback(*, received_at: datetime) -> FeedbackReceived:
    data = FeedbackReceivedData(feedback_id=uuid.uuid4(), kind="complaint", channel="phone", text=CUSTOMER_TEXT,
                                received_at=received_at, received_by="cs-0001", project_id="lakeside")
    return FeedbackReceived.create(data=data, org=ORG, aggregate_id=data.feedback_id, occurred_at=received_at,
                                   producer="intake")


async def open_case(settings: Settings, client: httpx.AsyncClient, clock: FakeClock) -> dict:
    event = feedback(received_at=clock.now)
    await publish_raw(settings, FEEDBACK_RECEIVED, event.to_json(), key=event.key)

    async def find() -> list:
        return (await client.get("/api/v1/cases", params={"feedback_id": str(event.data.feedback_id)})).json()

    [case] = await eventually(find, until=lambda cases: len(cases) == 1)
    return (await client.get(f"/api/v1/cases/{case['case_id']}")).json()


async def post(client: httpx.AsyncClient, case: dict, step: str, **body: object) -> dict:
    response = await client.post(f"/api/v1/cases/{case['case_id']}/{step}", json={"actor": "h-1", **body})
    assert response.status_code == 200, (step, response.text)
    return response.json()


def deadline(case: dict, kind: str) -> dict:
    return {d["kind"]: d for d in case["deadlines"]}[kind]


async def sent(client: httpx.AsyncClient, case: dict, count: int) -> dict:
    async def probe() -> dict:
        return (await client.get(f"/api/v1/cases/{case['case_id']}")).json()

    # the detail reads history and notifications in separate statements: wait until both say so
    return await eventually(probe, until=lambda c: sum(1 for n in c["notifications"] if n["sent_at"]) >= count
                            and sum(1 for s in c["history"] if s["action"] == "notified") >= count)


def assert_no_customer_data(text: str) -> None:
    assert "13800138000" not in text and "多收了费用" not in text and "cs-0001" not in text


# --- the tests ----------------------------------------------------------------------------------


async def test_a_difficult_complaint_is_met_only_when_quality_and_the_executive_both_heard(migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 9, 0, tzinfo=CN))  # Mon, working time
    with smtp_server() as (mailbox, smtp_port), robot_server() as (robot, robot_url):
        async with two_replicas(migrated, clock, smtp_port, robot_url) as (one, two):
            case = await open_case(migrated, one, clock)
            assert (case["complaint_class"], case["lead_department"]) == (1, "business")
            case = await post(one, case, "difficult", note="涉及多部门，无法立即解决")
            # marked Mon 09:00: half a working day is 3h45m: 09:00-12:00 3h, 13:30 + 45m → 14:15
            escalation = deadline(case, "difficult_escalation")
            assert datetime.fromisoformat(escalation["due_at"]) == datetime(2026, 6, 1, 14, 15, tzinfo=CN)

            clock.now = datetime(2026, 6, 1, 10, 0, tzinfo=CN)
            case = await post(two, case, "escalate", to="quality_department", reason="疑难投诉上报质量部")
            # only the quality department so far: the deadline still runs
            assert deadline(case, "difficult_escalation")["met_at"] is None
            assert case["quality_notified_at"] is not None and case["executive_notified_at"] is None
            clock.now = datetime(2026, 6, 1, 11, 0, tzinfo=CN)
            case = await post(one, case, "escalate", to="executive", reason="疑难投诉上报主管领导")
            met = deadline(case, "difficult_escalation")
            assert datetime.fromisoformat(met["met_at"]) == datetime(2026, 6, 1, 11, 0, tzinfo=CN)

            # quality: an e-mail to q-east-1 and its WeCom group; the executive: an e-mail to exec-1
            # and the DingTalk group. Four messages, each once although two replicas run.
            case = await sent(one, case, 4)
            await eventually(lambda: _count(mailbox, robot), until=lambda n: n == (2, 2))
    by_recipient = {(n["recipient"], n["channel"]): n for n in case["notifications"]}
    assert set(by_recipient) == {("q-east-1", "email"), ("华东质量部群", "wecom"),
                                 ("exec-1", "email"), ("领导群", "dingtalk")}
    assert all(n["reason"] == "escalation" and n["attempts"] == 1 for n in by_recipient.values())
    assert len(mailbox.messages) == 2 and len(robot.posts) == 2
    mails = {m["To"]: m for m in mailbox.messages}
    quality_mail = mails["q-east-1@hx.example"]
    assert quality_mail["Subject"] == f"【CareLoop·投诉升级】案件 {case['case_id'][:8]}"
    body = quality_mail.get_content().replace("\r\n", "\n")
    assert body.startswith("投诉已升级至质量部，请及时跟进处理。\n") and f"案件编号：{case['case_id']}" in body
    assert_no_customer_data(body)
    posts = dict(robot.posts)
    assert posts["/wecom/quality"]["msgtype"] == "text"
    assert posts["/wecom/quality"]["text"]["mentioned_list"] == ["q-east-1"]
    assert posts["/dingtalk/exec"]["at"] == {"atUserIds": ["exec-1"], "isAtAll": False}
    assert posts["/dingtalk/exec"]["text"]["content"].startswith(f"【CareLoop·投诉升级】案件 {case['case_id'][:8]}")
    for _, payload in robot.posts:
        assert_no_customer_data(payload["text"]["content"])
    notes = [s["note"] for s in case["history"] if s["action"] == "notified"]
    assert sorted(notes) == sorted([
        "已通过邮件通知 q-east-1（质量部）：投诉升级", "已通过企业微信群通知 华东质量部群（质量部）：投诉升级",
        "已通过邮件通知 exec-1（主管领导）：投诉升级", "已通过钉钉群通知 领导群（主管领导）：投诉升级"])


async def _count(mailbox: Mailbox, robot: Robot) -> tuple[int, int]:
    return len(mailbox.messages), len(robot.posts)


async def test_the_quality_departments_deadline_is_warned_breached_escalated_and_retried(migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 9, 0, tzinfo=CN))
    with smtp_server() as (mailbox, smtp_port), robot_server() as (robot, robot_url):
        robot.fail_first["/dingtalk/exec"] = 1  # the executives' robot is down for the first post
        async with two_replicas(migrated, clock, smtp_port, robot_url) as (one, two):
            case = await open_case(migrated, one, clock)
            refused = await one.post(f"/api/v1/cases/{case['case_id']}/quality-deadline",
                                     json={"actor": "qa-1", "due_at": "2026-06-01T16:00:00+08:00"})
            assert refused.status_code == 409 and "疑难" in refused.json()["reason"]
            case = await post(one, case, "difficult")
            past = await one.post(f"/api/v1/cases/{case['case_id']}/quality-deadline",
                                  json={"actor": "qa-1", "due_at": "2026-06-01T08:00:00+08:00"})
            assert past.status_code == 422
            assert past.json()["fields"] == [{"field": "due_at", "reason": "到期时间须晚于当前时间", "type": "value_error"}]
            case = await post(one, case, "quality-deadline", actor="qa-1", due_at="2026-06-01T16:00:00+08:00",
                              note="质量部跟踪")
            quality = deadline(case, "quality_department")
            assert datetime.fromisoformat(quality["due_at"]) == datetime(2026, 6, 1, 16, 0, tzinfo=CN)
            assert "质量部（qa-1）" in quality["explanation"] and quality["met_at"] is None
            english = (await one.get(f"/api/v1/cases/{case['case_id']}", params={"lang": "en"})).json()
            assert deadline(english, "quality_department")["explanation"] == (
                "set by the quality department (qa-1) on 2026-06-01 09:00: handling must end by 2026-06-01 16:00 "
                "(met when the case is resolved)")

            # 1 working hour before Mon 16:00 is 15:00: at 14:59 nothing, at 15:00 the warning.
            # (The escalation deadline, due 14:15 and unmet, is breached at 14:59 meanwhile.)
            clock.now = datetime(2026, 6, 1, 14, 59, tzinfo=CN)
            # the escalation deadline's breach goes to the executive: the e-mail gets through, the
            # DingTalk robot answers 500 and is tried again 60 s later
            case = await eventually(lambda: _detail(one, case), until=lambda c: sorted(
                (n["recipient"], bool(n["sent_at"]), n["attempts"]) for n in c["notifications"]
                if n["deadline_kind"] == "difficult_escalation") == [("exec-1", True, 1), ("领导群", False, 1)])
            [failed] = [n for n in case["notifications"] if n["recipient"] == "领导群"]
            assert failed["last_error"] == "webhook: HTTP 500"
            assert not [n for n in case["notifications"] if n["reason"] == "deadline_warning"
                        and n["deadline_kind"] == "quality_department"]
            clock.now = datetime(2026, 6, 1, 15, 0, tzinfo=CN)

            async def warnings() -> list:
                detail = (await one.get(f"/api/v1/cases/{case['case_id']}")).json()
                return [n for n in detail["notifications"] if n["reason"] == "deadline_warning" and n["sent_at"]]

            warned = await eventually(warnings, until=lambda ns: len(ns) == 3)
            # warned: the lead department (business at lakeside: biz-lake-1) and the quality department
            assert {(n["recipient"], n["deadline_kind"]) for n in warned} == {
                ("biz-lake-1", "quality_department"), ("q-east-1", "quality_department"),
                ("华东质量部群", "quality_department")}

            # past 16:00, unmet: breached, escalated to the executive, the quality department told too
            clock.now = datetime(2026, 6, 1, 16, 1, tzinfo=CN)
            records = await read_topic(migrated, DEADLINE_BREACHED, until=lambda rs: any(
                json.loads(r.value)["data"]["kind"] == "quality_department"
                and json.loads(r.value)["data"]["case_id"] == case["case_id"] for r in rs))
            [breach] = [json.loads(r.value)["data"] for r in records
                        if json.loads(r.value)["data"]["case_id"] == case["case_id"]
                        and json.loads(r.value)["data"]["kind"] == "quality_department"]
            assert breach["escalated_to"] == "executive"

            async def breach_notices() -> list:
                detail = (await one.get(f"/api/v1/cases/{case['case_id']}")).json()
                return [n for n in detail["notifications"] if n["reason"] == "deadline_breached"
                        and n["deadline_kind"] == "quality_department" and n["sent_at"]]

            breached = await eventually(breach_notices, until=lambda ns: len(ns) == 4)
            assert {n["recipient"] for n in breached} == {"exec-1", "领导群", "q-east-1", "华东质量部群"}

            # the DingTalk post of the first breach failed once (HTTP 500): tried again 60 s later
            clock.now = datetime(2026, 6, 1, 16, 5, tzinfo=CN)
            detail = await eventually(
                lambda: _detail(one, case),
                until=lambda c: all(n["sent_at"] for n in c["notifications"]))
    retried = [n for n in detail["notifications"] if n["recipient"] == "领导群" and n["deadline_kind"] == "difficult_escalation"]
    assert [(n["attempts"], n["last_error"]) for n in retried] == [(2, None)]
    # every message once, although two replicas ran: the robot took each post once
    # (dingtalk: the escalation deadline's breach, the quality deadline's; wecom: its warning, its breach)
    assert sorted(path for path, _ in robot.posts) == ["/dingtalk/exec", "/dingtalk/exec",
                                                       "/wecom/quality", "/wecom/quality"]
    texts = [p["text"]["content"] for _, p in robot.posts]
    assert any("“质量部跟踪期限”期限将于 2026-06-01 16:00 到期" in t for t in texts)
    assert any("“质量部跟踪期限”期限已于 2026-06-01 16:00 到期未完成，已升级至主管领导。" in t for t in texts)
    mails = [m["To"] for m in mailbox.messages]
    assert sorted(mails) == sorted(["exec-1@hx.example",  # difficult_escalation breached
                                    "biz@hx.example", "q-east-1@hx.example",  # warnings
                                    "exec-1@hx.example", "q-east-1@hx.example"])  # quality deadline breached
    for message in mailbox.messages:
        assert_no_customer_data(message.get_content())
    scheduled = await read_topic(migrated, DEADLINES_SCHEDULED, until=lambda rs: len(rs) >= 1)
    kinds = [d["kind"] for r in scheduled for d in json.loads(r.value)["data"]["deadlines"]
             if json.loads(r.value)["data"]["case_id"] == case["case_id"]]
    assert kinds.count("quality_department") == 1


async def _detail(client: httpx.AsyncClient, case: dict) -> dict:
    return (await client.get(f"/api/v1/cases/{case['case_id']}")).json()


async def test_a_message_that_never_gets_through_is_given_up_and_that_is_recorded(migrated: Settings) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 9, 0, tzinfo=CN))
    closed_port = free_port()  # nothing listens there: every SMTP attempt fails
    config = RoutingSettings(**{
        **dict(migrated), "deadline_scan_interval_s": 0.1, "notify_scan_interval_s": 0.1,
        "notify_smtp_host": "127.0.0.1", "notify_smtp_port": closed_port, "notify_send_timeout_s": 2,
        "notify_retry_first_s": 60, "notify_max_attempts": 2,
        "notify_recipients": [{"org": "hx", "role": "quality_department",
                               "people": [{"id": "q-group", "email": "q-group@hx.example"}]}],
    })
    async with running_service(create_app(config, clock=clock)) as client:
        case = await open_case(migrated, client, clock)
        case = await post(client, case, "escalate", to="quality_department", reason="请质量部跟进")
        first = await eventually(lambda: _detail(client, case), until=lambda c: c["notifications"]
                                 and c["notifications"][0]["attempts"] == 1)
        [note] = first["notifications"]
        assert note["sent_at"] is None and note["failed_at"] is None and note["last_error"].startswith("SMTP: ")
        # the second and last attempt is due 60 s after the first
        clock.now += timedelta(seconds=59)
        assert (await _detail(client, case))["notifications"][0]["attempts"] == 1
        clock.now += timedelta(seconds=1)
        given_up = await eventually(lambda: _detail(client, case),
                                    until=lambda c: c["notifications"][0]["failed_at"] is not None
                                    and any(s["action"] == "notification_failed" for s in c["history"]))
    [note] = given_up["notifications"]
    assert (note["attempts"], note["sent_at"]) == (2, None)
    [failed] = [s for s in given_up["history"] if s["action"] == "notification_failed"]
    assert failed["note"].startswith("未能通过邮件通知 q-group（质量部）：投诉升级：2 次均未发送成功，已放弃（SMTP: ")
