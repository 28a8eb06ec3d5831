"""Demo data for `careloop dev`: a small group with two subsidiaries, their projects (with their
warranty periods) and units, and some feedback and survey forms.

Loaded once per data directory: after a load, ``demo-loaded.json`` in the data directory records
which database got it (PostgreSQL's system identifier and the database's name and oid), so a
restart of the stack leaves the data as it is, and a new database (``--reset-data``, or another
``CARELOOP_DB_ADMIN_URL``) gets it again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

GROUP = "hx"
ORGS = [
    {"group": GROUP, "subsidiary": "east", "project": "lakeside"},
    {"group": GROUP, "subsidiary": "east", "project": "riverside"},
    {"group": GROUP, "subsidiary": "south", "project": "hillview"},
]

# Registered first: intake files inbound records (survey's remarks among them) only under a
# registered org unit.
ORG_UNITS = [
    {"path": GROUP, "name": "华兴集团"},
    {"path": f"{GROUP}/east", "name": "华东公司"},
    {"path": f"{GROUP}/east/lakeside", "name": "湖畔管理处", "unit_type": "property_office"},
    {"path": f"{GROUP}/east/riverside", "name": "江畔项目经理部"},
    {"path": f"{GROUP}/south", "name": "华南公司"},
    {"path": f"{GROUP}/south/hillview", "name": "山景管理处", "unit_type": "property_office"},
]

FEEDBACK: list[tuple[int, str, str, str]] = [
    (0, "complaint", "phone", "3号楼2单元1201卫生间漏水，天花板有水渍，请尽快处理"),
    (0, "complaint", "walk_in", "外墙出现裂缝，担心质量问题"),
    (1, "complaint", "wechat", "客服态度很差，打了三次电话都没人理"),
    (1, "complaint", "letter", "夜间施工噪音太大，影响休息"),
    (2, "complaint", "email", "The municipal road outside the estate has been dug up for weeks"),
    (2, "complaint", "web", "物业收费价格不透明"),
    (0, "suggestion", "site_meeting", "建议增加小区儿童游乐设施"),
    (2, "praise", "phone", "维修师傅很及时，表扬"),
]


# Repair requests (报修) of households, each with its unit: routing puts each on a work order and
# decides its warranty from the project's warranty period registered below.
REPAIR_REQUESTS: list[tuple[int, str, str]] = [
    (0, "3-2-1201", "厨房水管接口漏水，地面有积水"),
    (2, "5-1-0602", "卧室窗户关不严，下雨渗水"),
]


def demo_projects(today: date) -> list[dict[str, Any]]:
    """The demo's projects, their warranty periods counted from the day the demo is loaded:
    lakeside was completed a year ago with a two-year warranty (so a repair reported now is in
    warranty), hillview six years ago with a five-year one (ended a year ago: a repair is
    chargeable), riverside is still being built (no warranty yet)."""
    def years_before(n: int) -> date:
        return today - timedelta(days=365 * n)

    return [
        {"project_id": "lakeside", "org": ORGS[0], "name": "湖畔花园", "stage": "post_completion",
         "completion_date": years_before(1).isoformat(), "warranty_end": (years_before(1) + timedelta(days=730)).isoformat(),
         "households": 240, "occupied_units": 180, "buildings": ["1", "2", "3"]},
        {"project_id": "riverside", "org": ORGS[1], "name": "江畔华庭", "stage": "construction",
         "buildings": ["A", "B"]},
        {"project_id": "hillview", "org": ORGS[2], "name": "山景苑", "stage": "property_management",
         "completion_date": years_before(6).isoformat(), "warranty_end": (years_before(6) + timedelta(days=365 * 5)).isoformat(),
         "households": 320, "occupied_units": 300, "buildings": ["5", "6"]},
    ]


UNITS: dict[str, list[dict[str, Any]]] = {
    "lakeside": [{"building": "3", "label": "3-2-1201", "occupied": True},
                 {"building": "3", "label": "3-2-1202", "occupied": True},
                 {"building": "1", "label": "1-1-0301", "occupied": False}],
    "hillview": [{"building": "5", "label": "5-1-0602", "occupied": True},
                 {"building": "6", "label": "6-2-1101", "occupied": True}],
}


# Items of the shipped household satisfaction template (services/survey/builtin.py).
SURVEY_ITEMS = ("property_service", "cleaning", "maintenance")


def load_demo_data(urls: dict[str, str], *, token: str, settle: Callable[[], None] | None = None,
                   today: date | None = None) -> dict[str, Any]:
    """Register the demo's org units, projects (with their warranty periods) and units through
    intake's registry API, then post the demo feedback, repair requests and a few survey forms
    through the public HTTP APIs, as the caller whose bearer ``token`` is given (the dev issuer's
    ``demo-loader``). ``settle`` is called between the two (``careloop dev`` waits there until the
    pipeline is drained), so that routing knows each project's warranty before its repair requests
    arrive. What an earlier, interrupted load registered (409) is kept."""
    today = today or datetime.now(UTC).date()
    posted = {"org_units": 0, "projects": 0, "units": 0, "feedback": 0, "repair_requests": 0, "survey_responses": 0}
    with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {token}"}) as client:
        for unit in ORG_UNITS:
            response = client.post(f"{urls['intake']}/api/v1/org-units", json=unit)
            if response.status_code != 409:  # registered by an earlier run
                response.raise_for_status()
                posted["org_units"] += 1
        for project in demo_projects(today):
            response = client.post(f"{urls['intake']}/api/v1/projects", json=project)
            if response.status_code != 409:
                response.raise_for_status()
                posted["projects"] += 1
        for project_id, units in UNITS.items():
            response = client.post(f"{urls['intake']}/api/v1/projects/{project_id}/units", json={"units": units})
            response.raise_for_status()
            posted["units"] += int(response.json()["created"])
        if settle is not None:
            settle()
        for org_index, unit_label, text in REPAIR_REQUESTS:
            response = client.post(
                f"{urls['intake']}/api/v1/feedback",
                json={"kind": "repair_request", "channel": "phone", "text": text, "received_by": "cs-0001",
                      "org": ORGS[org_index], "project_id": ORGS[org_index]["project"], "unit": unit_label},
            )
            response.raise_for_status()
            posted["repair_requests"] += 1
        for org_index, kind, channel, text in FEEDBACK:
            response = client.post(
                f"{urls['intake']}/api/v1/feedback",
                json={"kind": kind, "channel": channel, "text": text, "received_by": "cs-0001",
                      "org": ORGS[org_index]},
            )
            response.raise_for_status()
            posted["feedback"] += 1
        for org, levels in ((ORGS[0], ["very_satisfied", "satisfied", "dissatisfied"]),
                            (ORGS[2], ["satisfied", "basically_satisfied", None])):
            response = client.post(
                f"{urls['survey']}/api/v1/survey-responses",
                json={"template_id": "household-satisfaction", "scheme": "B", "org": org,
                      "answers": [{"item_id": item, "level": lv} for item, lv in zip(SURVEY_ITEMS, levels, strict=True)]},
            )
            response.raise_for_status()
            posted["survey_responses"] += 1
    return posted


# --- loaded once per data directory ------------------------------------------------------------

MARKER = "demo-loaded.json"


def database_identity(admin_url: str) -> str:
    """Which database this is: the server's system identifier (new with every initdb), the
    database's name and its oid (new when it is dropped and created again)."""
    import asyncio

    import asyncpg

    async def read() -> str:
        conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            row = await conn.fetchrow(
                "SELECT (SELECT system_identifier FROM pg_control_system()) AS system, current_database() AS name, "
                "(SELECT oid FROM pg_database WHERE datname = current_database()) AS oid")
            assert row is not None
            return f"{row['system']}/{row['name']}/{row['oid']}"
        finally:
            await conn.close()

    return asyncio.run(read())


def loaded_before(data_dir: Path, identity: str) -> dict[str, Any] | None:
    """The record of an earlier load into this database, if any."""
    try:
        record = json.loads((data_dir / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("database") == identity else None


def mark_loaded(data_dir: Path, identity: str, summary: dict[str, Any]) -> None:
    record = {"database": identity, "loaded_at": datetime.now(UTC).isoformat(timespec="seconds"), "posted": summary}
    (data_dir / MARKER).write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n")
