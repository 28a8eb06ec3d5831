"""Templates over HTTP: the built-ins, creating and versioning one, responses recording the
version they answered, and paper forms entered by staff (the foundation's contract included)."""

from __future__ import annotations

import pytest

from services.survey.app import create_app
from shared.settings import Settings
from shared.testing.services import running_service
from survey_helpers import ORG, FakeClock, events_on, survey_settings

pytestmark = pytest.mark.integration

ORG_JSON = ORG.model_dump()


async def test_templates_are_versioned_and_responses_keep_their_version(migrated: Settings) -> None:
    async with running_service(create_app(survey_settings(migrated), clock=FakeClock())) as client:
        listed = (await client.get("/api/v1/templates")).json()
        assert {t["template_id"]: t["scheme"] for t in listed} == {
            "complaint-return-visit": "B", "customer-satisfaction-weighted": "A", "household-satisfaction": "B",
            "project-post-completion": "C", "project-pre-construction": "C", "project-process": "C",
            "repair-return-visit": "B", "service-three-level": "D"}

        definition = {"scheme": "D", "title_zh": "物业服务三级评价", "title_en": "Three-level property service",
                      "target_percent": 80, "items": [
                          {"item_id": "service", "label_zh": "服务", "label_en": "Service"},
                          {"item_id": "safety", "label_zh": "安全", "label_en": "Safety", "required": False}]}
        created = await client.post("/api/v1/templates", json={"template_id": "estate-three", **definition})
        assert created.status_code == 201 and created.json()["version"] == 1
        assert created.json()["scheme_name"] == "三级评价"
        assert (await client.post("/api/v1/templates", json={"template_id": "estate-three", **definition})
                ).status_code == 409
        unchanged = (await client.put("/api/v1/templates/estate-three", json=definition)).json()
        assert (unchanged["version"], unchanged["created"]) == (1, False)
        changed = {**definition, "items": [*definition["items"],
                                           {"item_id": "greenery", "label_zh": "绿化", "label_en": "Greenery"}]}
        v2 = (await client.put("/api/v1/templates/estate-three", json=changed)).json()
        assert (v2["version"], v2["created"]) == (2, True)
        bad = await client.put("/api/v1/templates/estate-three", json={**definition, "target_percent": None})
        assert bad.status_code == 422
        assert [f["reason"] for f in bad.json()["fields"]] == ["方案 D 的模板须写明目标满意率（target_percent）"]

        # v2 requires greenery; a v1 form is still taken as v1.
        old_form = {"template_id": "estate-three", "template_version": 1, "org": ORG_JSON,
                    "answers": [{"item_id": "service", "level": "satisfied"}]}
        assert (await client.post("/api/v1/survey-responses", json=old_form)).json()["template_version"] == 1
        current = await client.post("/api/v1/survey-responses", json={**old_form, "template_version": None})
        assert current.status_code == 422
        assert current.json()["fields"] == [{"field": "answers", "reason": "必答题 'greenery' 未作答"}]
        english = await client.post("/api/v1/survey-responses", params={"lang": "en"},
                                    json={**old_form, "template_version": None})
        assert english.status_code == 422
        assert english.json()["fields"] == [{"field": "answers", "reason": "required item 'greenery' is not answered"}]
        wrong_scheme = await client.post("/api/v1/survey-responses", json={**old_form, "scheme": "B"})
        assert wrong_scheme.status_code == 422 and wrong_scheme.json()["error"] == "scheme_mismatch"
        unknown = await client.post("/api/v1/survey-responses", json={
            "template_id": "nobody-knows", "org": ORG_JSON, "answers": [{"item_id": "q1", "level": "satisfied"}]})
        assert unknown.status_code == 422 and unknown.json()["fields"][0]["field"] == "template_id"
        v2_form = await client.post("/api/v1/survey-responses", json={
            "template_id": "estate-three", "org": ORG_JSON, "answers": [
                {"item_id": "service", "level": "satisfied"}, {"item_id": "greenery", "level": "dissatisfied"}]})
        assert v2_form.status_code == 201
        # 1 of 2 satisfied = 50 % < 80 % target: a review is due; the dissatisfied item goes to intake
        assert (v2_form.json()["template_version"], v2_form.json()["score"], v2_form.json()["satisfied"]) == (
            2, 50.0, False)
        assert v2_form.json()["feedback_sent"] == [f"{v2_form.json()['response_id']}:greenery"]

        # The foundation's contract: an unregistered template scored by its scheme alone.
        legacy = await client.post("/api/v1/survey-responses", json={
            "template_id": "household", "scheme": "B", "org": ORG_JSON,
            "answers": [{"item_id": "q1", "level": "satisfied"}, {"item_id": "q2", "level": None}]})
        assert legacy.status_code == 201 and legacy.json()["score"] == 100.0

        returned = await events_on(migrated, "SurveyReturned", until=lambda e: len(e) >= 3)
        assert sorted((e["data"]["template_id"], e["data"]["template_version"]) for e in returned) == [
            ("estate-three", 1), ("estate-three", 2), ("household", 1)]
        refused = (await client.get("/api/v1/refused-answers")).json()
        assert sorted(r["reason_code"] for r in refused) == [  # the greenery form twice: in Chinese, in English
            "invalid_answers", "invalid_answers", "scheme_mismatch", "unknown_template"]
