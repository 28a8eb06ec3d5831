"""Item 3 in other services' answers: free text staff wrote (case step notes, corrective actions,
waivers, published summaries) may quote a customer; routing answers it through the one detector.
Before the fix a step note "回电13912345671，王女士身份证11010519491231002X" was answered as written."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.routing.api import CorrectiveActionOut, PublicationOut, StepOut, WaiverOut

AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
NOTE = "回电13912345671，身份证11010519491231002X，邮箱wxm@example.com"
MASKED = "回电[电话]，身份证[身份证号]，邮箱[邮箱]"


def test_routing_answers_mask_staff_free_text() -> None:
    step = StepOut(action="acknowledge", previous_state="open", state="acknowledged", actor="cs-1", at=AT, note=NOTE)
    assert step.note == MASKED
    action = CorrectiveActionOut(action_id=uuid.uuid4(), department="property", description=NOTE, recorded_by="q-1",
                                 recorded_at=AT, verified_by=None, verified_at=None, effective=None,
                                 verification_note="座机0571-88886666")
    assert (action.description, action.verification_note) == (MASKED, "座机[电话]")
    assert WaiverOut(reason=NOTE, recorded_by="q-1", recorded_at=AT).reason == MASKED
    assert PublicationOut(basis="x", summary=NOTE, published_by="q-1", published_at=AT).summary == MASKED
