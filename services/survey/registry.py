"""Survey's copy of intake's registry (projects, units, households), kept from intake's events,
and the erasure of a customer: survey drops every link to the person it holds."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.survey.models import (
    CaseRecord,
    Household,
    Invitation,
    ProjectCopy,
    RefusedAnswers,
    SurveyResponse,
    UnitCopy,
)
from shared.clock import CHINA
from shared.db import UnitOfWork
from shared.events.catalog import CustomerErased, CustomerRegistered, ProjectRegistered, UnitsRegistered
from shared.events.vocabulary import ProjectStage


async def apply_project(event: ProjectRegistered, *, uow: UnitOfWork) -> None:
    d = event.data
    seen_on = event.occurred_at.astimezone(CHINA).date()
    values = {
        "org_group": event.org.group, "org_subsidiary": event.org.subsidiary, "org_project": event.org.project,
        "stage": d.stage.value, "completion_date": d.completion_date, "warranty_end": d.warranty_end,
        "households": d.households, "occupied_units": d.occupied_units, "occupancy_start": d.occupancy_start,
        "buildings": list(d.buildings), "revision": d.revision,
    }
    project = (await uow.session.execute(
        sa.select(ProjectCopy).where(ProjectCopy.project_id == d.project_id).with_for_update()
    )).scalar_one_or_none()
    if project is None:
        # No signing date in the registry: a project first heard of before construction counts as
        # signed that day, so its pre-construction check falls in the first week (evaluations.py).
        uow.session.add(ProjectCopy(
            project_id=d.project_id, stage_since=seen_on, first_seen=seen_on,
            signed_on=seen_on if d.stage is ProjectStage.PRE_CONSTRUCTION else None, **values,
        ))
        return
    if d.revision <= project.revision:
        return  # an older or repeated revision
    if project.stage != d.stage.value:
        project.stage_since = seen_on
    for name, value in values.items():
        setattr(project, name, value)


async def apply_units(event: UnitsRegistered, *, uow: UnitOfWork) -> None:
    d = event.data
    households = {u.household_id for u in d.units if u.household_id is not None}
    erased = set()
    if households:
        erased = set((await uow.session.execute(
            sa.select(Household.customer_id).where(Household.customer_id.in_(households),
                                                    Household.erased_at.is_not(None))
        )).scalars())
    rows = [
        {"unit_id": u.unit_id, "project_id": d.project_id, "building": u.building, "label": u.label,
         "occupied": u.occupied, "household_id": None if u.household_id in erased else u.household_id}
        for u in d.units
    ]
    statement = pg_insert(UnitCopy).values(rows)
    await uow.session.execute(statement.on_conflict_do_update(
        index_elements=[UnitCopy.unit_id],
        set_={c: statement.excluded[c] for c in ("project_id", "building", "label", "occupied", "household_id")},
    ))


async def apply_customer(event: CustomerRegistered, *, uow: UnitOfWork) -> None:
    d = event.data
    values = {"customer_kind": d.customer_kind, "project_ids": list(d.project_ids), "unit_ids": list(d.unit_ids),
              "has_phone": d.has_phone, "has_email": d.has_email, "revision": d.revision}
    statement = pg_insert(Household).values(customer_id=d.customer_id, **values)
    await uow.session.execute(statement.on_conflict_do_update(
        index_elements=[Household.customer_id], set_=values,
        # Never revive an erased customer, and never go back to an older revision.
        where=sa.and_(Household.erased_at.is_(None), Household.revision < d.revision),
    ))


async def erase_customer(event: CustomerErased, *, uow: UnitOfWork) -> None:
    """Remove every reference to the customer: the household link of its units, its invitations,
    responses, refused forms and cases keep no customer id. A tombstone stops a late
    CustomerRegistered or UnitsRegistered from bringing the link back."""
    customer_id = event.data.customer_id
    tombstone = {"customer_kind": None, "project_ids": [], "unit_ids": [], "has_phone": False, "has_email": False,
                 "erased_at": event.data.erased_at}
    statement = pg_insert(Household).values(customer_id=customer_id, revision=0, **tombstone)
    await uow.session.execute(statement.on_conflict_do_update(index_elements=[Household.customer_id], set_=tombstone))
    for table, column in ((UnitCopy, UnitCopy.household_id), (Invitation, Invitation.household_id),
                          (SurveyResponse, SurveyResponse.household_id),
                          (RefusedAnswers, RefusedAnswers.household_id)):
        await uow.session.execute(sa.update(table).where(column == customer_id).values({column.key: None}))
    await uow.session.execute(
        sa.update(CaseRecord).where(CaseRecord.customer_id == customer_id).values(customer_id=None))


async def get_project(project_id: str, *, uow: UnitOfWork) -> ProjectCopy | None:
    return await uow.session.get(ProjectCopy, project_id)


async def unit_counts(project_id: str, *, uow: UnitOfWork) -> dict[str, dict[str, int]]:
    """building -> {units, occupied, households} (households: units with a household on record)."""
    rows = await uow.session.execute(
        sa.select(UnitCopy.building, sa.func.count(),
                  sa.func.count().filter(UnitCopy.occupied),
                  sa.func.count(UnitCopy.household_id))
        .where(UnitCopy.project_id == project_id).group_by(UnitCopy.building).order_by(UnitCopy.building)
    )
    return {b: {"units": n, "occupied": o, "households": h} for b, n, o, h in rows.all()}
