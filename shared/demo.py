"""Demo data for `careloop dev`: a small group with two subsidiaries and a month of feedback."""

from __future__ import annotations

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


# Items of the shipped household satisfaction template (services/survey/builtin.py).
SURVEY_ITEMS = ("property_service", "cleaning", "maintenance")


def load_demo_data(urls: dict[str, str], *, token: str) -> dict[str, Any]:
    """Post the demo feedback and a few survey forms through the public HTTP APIs, as the caller
    whose bearer ``token`` is given (the dev issuer's ``demo-loader``)."""
    posted = {"feedback": 0, "survey_responses": 0}
    with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {token}"}) as client:
        for unit in ORG_UNITS:
            response = client.post(f"{urls['intake']}/api/v1/org-units", json=unit)
            if response.status_code != 409:  # registered by an earlier run
                response.raise_for_status()
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
