"""Issue 20 item 6: the survey's one-time link was published in clear on survey.invitation-issued
(and kept in the outbox). Now the event has no link (v2; the upcaster drops it from v1 events) and
the delivery channel fetches it from GET /api/v1/invitations/{id}/link (SYSTEM, org-scoped, audited);
the token is derived from the invitation id under CARELOOP_SURVEY_LINK_KEY, only its hash is kept."""

from __future__ import annotations

import json
import uuid

from services.survey import domain
from shared.events import decode_event
from shared.events.surveys import SurveyInvitationIssued, SurveyInvitationIssuedData


def test_the_invitation_event_has_no_link_and_a_v1_event_loses_it() -> None:
    assert "link" not in SurveyInvitationIssuedData.model_fields
    assert SurveyInvitationIssued.SCHEMA_VERSION == 2
    raw = {"event_id": str(uuid.uuid4()), "event_type": "SurveyInvitationIssued", "schema_version": 1,
           "occurred_at": "2026-05-01T00:00:00Z", "correlation_id": str(uuid.uuid4()), "org": {"group": "hx"},
           "aggregate_id": str(uuid.uuid4()), "producer": "survey",
           "data": {"invitation_id": str(uuid.uuid4()), "purpose": "campaign", "template_id": "t",
                    "template_version": 1, "link": "http://x/s/SECRETSECRETSECRETSECRET",
                    "expires_at": "2026-06-01T00:00:00Z"}}
    event = decode_event(json.dumps(raw).encode())
    assert event.schema_version == 2 and "SECRET" not in event.to_json().decode()


def test_the_token_is_derived_from_the_id_under_the_key_and_only_its_hash_is_kept() -> None:
    invitation_id = uuid.UUID("00000000-0000-0000-0000-000000000001")
    token = domain.link_token("key-one-0123456789", invitation_id)
    assert domain.looks_like_token(token) and len(token) == 43  # 256 bits, URL-safe, unpadded
    assert token == domain.link_token("key-one-0123456789", invitation_id)  # fetched again: the same link
    assert token != domain.link_token("key-two-0123456789", invitation_id)
    assert token != domain.link_token("key-one-0123456789", uuid.uuid4())
    assert domain.token_hash(token) != token
