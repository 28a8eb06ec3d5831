"""Issue 20 item 2, the rule itself: who may reach a customer (pure, no infrastructure)."""

from __future__ import annotations

import uuid

import pytest

from services.intake.registry.models import Customer
from services.intake.registry.service import customer_in_scope
from shared.auth.principal import EVERY_GROUP, Principal, Role

PROJECT_ORGS = {"LS-01": "hx/east/lakeside", "BAY-01": "hx/south/bay"}


def caller(*scopes: str) -> Principal:
    return Principal(subject="someone", roles=frozenset({Role.CUSTOMER_SERVICE}), scopes=scopes)


def customer(*, org_path: str | None, project_ids: tuple[str, ...] = ()) -> Customer:
    return Customer(id=uuid.uuid4(), customer_kind="person", project_ids=list(project_ids), org_path=org_path)


@pytest.mark.parametrize(("who", "whom", "reachable"), [
    # no project: the registering unit decides
    (caller("hx/east"), customer(org_path="hx/south"), False),
    (caller("hx/south"), customer(org_path="hx/south"), True),
    (caller("hx/south/bay"), customer(org_path="hx/south"), False),  # registered above the project's unit
    (caller("hx"), customer(org_path="hx/south/bay"), True),
    # a project inside the caller's units reaches the customer, wherever it was registered
    (caller("hx/east"), customer(org_path="hx/south", project_ids=("LS-01",)), True),
    (caller("hx/east"), customer(org_path="hx/south/bay", project_ids=("BAY-01",)), False),
    (caller("hx/east"), customer(org_path=None, project_ids=("BAY-01",)), False),
    # kept before the registering unit was recorded, no project: only whole-group callers
    (caller("hx/east"), customer(org_path=None), False),
    (caller("hx"), customer(org_path=None), True),
    (caller(EVERY_GROUP), customer(org_path=None), True),
    (caller(), customer(org_path="hx/east"), False),  # a token without scopes reaches nobody
])
def test_who_reaches_a_customer(who: Principal, whom: Customer, reachable: bool) -> None:
    assert customer_in_scope(who, whom, PROJECT_ORGS) is reachable
