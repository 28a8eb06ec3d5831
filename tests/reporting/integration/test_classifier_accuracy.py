"""The classifier against the staff's corrections, per month and per subject, on the real broker and
PostgreSQL, with the events delivered twice and out of order (a correction before the first answer).

Worked by hand, May 2026 at hx/east/lakeside:

| case | the classifier said | a person                                   | counts as                    |
|------|---------------------|--------------------------------------------|------------------------------|
| A    | product_quality / 2 | —                                          | right                        |
| B    | price / 1           | reclassified to service_attitude / 1       | subject corrected            |
| C    | price / 1           | reclassified to price / 1, valid → invalid | right (same subject, class)  |
| D    | service_attitude /1 | reclassified to product_quality / 2        | subject and class corrected  |
| E    | (sent to triage)    | classified product_quality / 2 by a person | not the classifier's answer  |

May: 4 classified by the classifier, 2 corrected: accuracy 50 %. Per subject the classifier chose:
product_quality 1 classified, 0 corrected, 100 %; price 2, 1 corrected (subject 1, class 0), 50 %;
service_attitude 1, 1 corrected (subject 1, class 1), 0 %. One complaint classified by people.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.reporting.app import create_app
from shared.events import ComplaintClassified, ComplaintClassifiedData, Event, OrgPath
from shared.events.cases import CaseOpened, CaseOpenedData, ComplaintReclassified, ComplaintReclassifiedData
from shared.settings import Settings
from shared.testing.services import eventually, publish_events, running_service

pytestmark = pytest.mark.integration

CN = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 5, 6, 10, 0, tzinfo=CN)
ORG = OrgPath(group="hx", subsidiary="east", project="lakeside")
DEPT = {"product_quality": "engineering_quality", "price": "business", "service_attitude": "customer_service"}


def _event(cls: type[Event], data: object, case: uuid.UUID, at: datetime) -> Event:
    return cls.create(data=data, org=ORG, aggregate_id=case, occurred_at=at, producer="routing", correlation_id=case)


def case(n: int, said: tuple[str, int] | None, *, person: tuple[str, int, bool] | None = None,
         by: str = "rules") -> list[Event]:
    case_id, feedback = uuid.uuid4(), uuid.uuid4()
    received = T0 + timedelta(hours=n)
    events: list[Event] = [_event(CaseOpened, CaseOpenedData(
        case_id=case_id, feedback_id=feedback, kind="complaint", received_at=received, first_contact_owner="cs-1"),
        case_id, received)]
    if said is not None:
        category, klass = said
        events.append(_event(ComplaintClassified, ComplaintClassifiedData(
            case_id=case_id, feedback_id=feedback, category=category, complaint_class=klass, valid=klass == 1,
            important=False, confidence=0.9 if by == "rules" else 1.0,
            rules_version="2026.12-1+model:m-test" if by == "rules" else f"manual:{by}",
            lead_department=DEPT[category], received_at=received, classified_by=by), case_id, received))
    if person is not None:
        category, klass, valid = person
        events.append(_event(ComplaintReclassified, ComplaintReclassifiedData(
            case_id=case_id, feedback_id=feedback, category=category, complaint_class=klass, valid=valid,
            important=False, confidence=1.0, rules_version="manual:qa-1", lead_department=DEPT[category],
            received_at=received, classified_by="qa-1", previous_category=said[0] if said else None,
            previous_class=said[1] if said else None, reason="看错了主题"), case_id, received + timedelta(hours=3)))
    return events


async def publish(settings: Settings, events: list[Event]) -> None:
    await publish_events(settings, events)


async def test_the_classifiers_monthly_accuracy_against_the_corrections(migrated: Settings) -> None:
    events = [
        *case(1, ("product_quality", 2)),
        *case(2, ("price", 1), person=("service_attitude", 1, True)),
        *case(3, ("price", 1), person=("price", 1, False)),
        *case(4, ("service_attitude", 1), person=("product_quality", 2, False)),
        *case(5, ("product_quality", 2), by="cs-2"),  # triaged: a person classified it
    ]
    delivery = events + random.Random(3).sample(events, 5)
    random.Random(5).shuffle(delivery)
    async with running_service(create_app(migrated, clock=lambda: datetime(2026, 6, 2, tzinfo=CN))) as reporting:
        await publish(migrated, delivery)

        async def view() -> dict:
            r = await reporting.get("/api/v1/reports/classifier-accuracy",
                                    params={"org": "hx/east", "until": "2026-05", "months": 2})
            assert r.status_code == 200, r.text
            return r.json()

        def may(v: dict) -> dict:
            return next(m for m in v["months"] if m["period"] == "2026-05")

        result = await eventually(view, until=lambda v: may(v)["classified"] == 4 and may(v)["corrected"] == 2
                                  and may(v)["classified_by_people"] == 1, timeout=40)
        month = may(result)
        assert (month["classified"], month["corrected"], month["accuracy"]) == (4, 2, 50.0)
        assert month["classifier_versions"] == {"2026.12-1+model:m-test": 4}
        assert [(c["category"], c["classified"], c["corrected_subject"], c["corrected_class"], c["accuracy"])
                for c in month["by_category"]] == [
            ("price", 2, 1, 0, 50.0), ("product_quality", 1, 0, 0, 100.0), ("service_attitude", 1, 1, 1, 0.0)]
        april = next(m for m in result["months"] if m["period"] == "2026-04")
        assert (april["classified"], april["accuracy"]) == (0, None)

        csv = await reporting.get("/api/v1/reports/classifier-accuracy",
                                  params={"org": "hx/east", "until": "2026-05", "months": 1, "format": "csv"})
        assert csv.status_code == 200
        text = csv.content.decode("utf-8-sig")
        assert "准确率 %" in text and "价格" in text
