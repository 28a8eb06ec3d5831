"""Erasure on request (docs/domain.md §2): the person is anonymised in intake, and every other service
hears of it through CustomerErased and removes what it holds."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import sqlalchemy as sa

from services.intake import domain
from services.intake.models import Customer, FeedbackRecord, outbox
from services.intake.registry.domain import RecordNotFound
from services.intake.registry.service import _customer_org
from shared.clock import Clock
from shared.db import UnitOfWork
from shared.events.catalog import CustomerErased
from shared.events.catalog import CustomerErasedData
from shared.erasure import clear_published_events
from shared.pii import PLACEHOLDERS, mask_personal_data

PRODUCER = "intake"


@dataclass(frozen=True)
class Erasure:
    customer_id: uuid.UUID
    erased_at: datetime
    feedback_scrubbed: int
    already_erased: bool


def scrub_text(text: str, *, name: str | None, company: str | None, phones: list[str], emails: list[str]) -> str:
    """The text without the person's contact details or names (the procedures' free text stays).

    The one detector finds every phone, ID-card, card number and e-mail and the person's names
    (also written with spaces between the characters); the registered numbers and addresses are
    removed first in whatever form they were written, in case a form escapes the detector.
    """
    for phone in phones:
        national = phone[3:] if phone.startswith("+86") else phone
        text = re.sub(r"[\s\-]?".join(re.escape(d) for d in national), PLACEHOLDERS["mobile"], text)
    for email in emails:
        text = re.sub(re.escape(email), PLACEHOLDERS["email"], text, flags=re.IGNORECASE)
    return mask_personal_data(text, names=[n.strip() for n in (name, company) if n])


async def erase_customer(
    customer_id: uuid.UUID,
    *,
    reason: Literal["customer_request", "retention_expired", "other"],
    uow: UnitOfWork,
    clock: Clock,
    correlation_id: uuid.UUID | None = None,
) -> Erasure:
    customer = (await uow.session.execute(
        sa.select(Customer).where(Customer.id == customer_id).with_for_update()
    )).scalar_one_or_none()
    if customer is None:
        raise RecordNotFound("customer", str(customer_id))
    if customer.erased_at is not None:
        return Erasure(customer.id, customer.erased_at, 0, already_erased=True)
    now = clock()
    feedback = (await uow.session.execute(
        sa.select(FeedbackRecord).where(FeedbackRecord.customer_id == customer_id).with_for_update()
    )).scalars().all()
    for record in feedback:
        record.text = scrub_text(record.text, name=customer.name, company=customer.company,
                                 phones=list(customer.phones), emails=list(customer.emails))
    # the published events that name the person or their feedback leave the outbox with them
    await clear_published_events(uow.session, outbox, [str(customer.id), *(str(record.id) for record in feedback)])
    if feedback:
        domain.forget_texts()  # the duplicate check's memory of texts must not keep what was erased
    org = await _customer_org(uow, customer)
    customer.name = customer.company = None
    customer.phones, customer.emails = [], []
    customer.erased_at = customer.updated_at = now
    customer.revision += 1
    uow.publish(CustomerErased.create(
        data=CustomerErasedData(customer_id=customer.id, erased_at=now, reason=reason),
        org=org, aggregate_id=customer.id, occurred_at=now, producer=PRODUCER, correlation_id=correlation_id,
    ))
    return Erasure(customer.id, now, len(feedback), already_erased=False)
