"""The registry's use cases. Each change bumps the record's revision and queues its registry event
in the caller's transaction; only the caller's unit of work commits.

A change that changes nothing (the same PUT twice, a re-imported row) keeps the revision and
queues nothing, so imports can be run again safely.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, Literal, Protocol, TypeVar, get_args

import sqlalchemy as sa
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.registry import domain
from services.intake.registry.domain import (
    CustomerKind,
    FieldProblem,
    OrgLevel,
    OrgUnitType,
    RecordNotFound,
    RegistryConflict,
    RegistryRefused,
)
from services.intake.registry.models import Customer, OrgUnit, Project, Unit
from shared.auth.principal import Principal, Role, path_within
from shared.clock import Clock
from shared.events import Event, OrgPath
from shared.events.catalog import ProjectRegisteredData, UnitRecord
from shared.events.envelope import CODE_PATTERN
from shared.events.inbound import ContactDetails
from shared.events.vocabulary import ProjectStage
from shared.pii import normalize_email, normalize_phone

M = TypeVar("M")


class Registrar(Protocol):
    """What a use case needs of a unit of work: its session and a way to queue events."""

    session: AsyncSession

    def publish(self, *events: Event) -> None: ...


Outcome = Literal["created", "updated", "unchanged"]

# --- commands ----------------------------------------------------------------------------------

_COMMAND = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)
Code = Annotated[str, StringConstraints(pattern=CODE_PATTERN)]
Building = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40), AfterValidator(normalize_phone)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(normalize_email)]


class OrgUnitInput(BaseModel):
    model_config = _COMMAND

    path: str = Field(min_length=1, max_length=200, description="'hx', 'hx/east' or 'hx/east/lakeside'")
    level: OrgLevel | None = Field(default=None, description="derived from the path when left out")
    name: str = Field(min_length=1, max_length=200)
    unit_type: OrgUnitType | None = Field(
        default=None,
        description="group, subsidiary, project_department (项目经理部) or property_office (管理处)",
    )


class OrgUnitChange(BaseModel):
    model_config = _COMMAND

    name: str = Field(min_length=1, max_length=200)
    unit_type: OrgUnitType | None = Field(default=None, description="kept when left out")
    expected_revision: int | None = Field(default=None, ge=1, description="refuse (409) unless still at it")


class ProjectFields(BaseModel):
    model_config = _COMMAND

    org: OrgPath = Field(description="the project department or property office that runs it")
    name: str = Field(min_length=1, max_length=200)
    contract_number: str | None = Field(default=None, max_length=64)
    stage: ProjectStage
    completion_date: date | None = None
    warranty_end: date | None = None
    households: int | None = Field(default=None, ge=0)
    occupied_units: int | None = Field(default=None, ge=0)
    occupancy_start: date | None = None
    buildings: list[Building] = Field(default_factory=list, max_length=500)


class ProjectInput(ProjectFields):
    project_id: Code


class ProjectChange(ProjectFields):
    expected_revision: int | None = Field(default=None, ge=1)


class UnitInput(BaseModel):
    """A unit to create or change. ``occupied`` and ``household_id`` left out keep what is stored
    (a new unit starts unoccupied, without a household); an explicit null household clears it."""

    model_config = _COMMAND

    building: Building
    label: str = Field(min_length=1, max_length=64, description="unit-room, e.g. '2-1201'")
    occupied: bool = False
    household_id: uuid.UUID | None = None


class CustomerFields(BaseModel):
    model_config = _COMMAND

    customer_kind: CustomerKind = "person"
    name: str | None = Field(default=None, max_length=100)
    company: str | None = Field(default=None, max_length=200)
    phones: list[Phone] = Field(default_factory=list, max_length=10)
    emails: list[Email] = Field(default_factory=list, max_length=10)
    key_customer: bool = False
    project_ids: list[Code] = Field(default_factory=list, max_length=100)
    unit_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)

    @field_validator("phones", "emails", "project_ids", "unit_ids")
    @classmethod
    def _once_each(cls, values: list[Any]) -> list[Any]:
        return list(dict.fromkeys(values))


class CustomerInput(CustomerFields):
    org: OrgPath | None = Field(
        default=None, description="org unit the customer's events are filed under; else their first project's"
    )


class CustomerChange(CustomerFields):
    expected_revision: int | None = Field(default=None, ge=1)


# --- helpers -----------------------------------------------------------------------------------


async def _locked(uow: Registrar, model: type[M], *criteria: Any) -> M | None:
    query = sa.select(model).where(*criteria).with_for_update().execution_options(populate_existing=True)
    return (await uow.session.execute(query)).scalar_one_or_none()


def _expect_revision(kind: str, key: object, current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise RegistryConflict(
            "revision_conflict", f"{domain.RECORD_KIND_ZH.get(kind, kind)} {key} 的当前版本是 {current}，不是 {expected}",
            f"{kind} {key} is at revision {current}, not {expected}", current_revision=current,
        )


async def _advisory_lock(uow: Registrar, *keys: str) -> None:
    # Sorted, so that two transactions taking several locks take them in the same order.
    for key in sorted(set(keys)):
        await uow.session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})


# --- org scope ---------------------------------------------------------------------------------
# A use case given a ``caller`` changes only records inside the caller's org units (the same check
# for a single-record route and for each import row); ``caller=None`` is intake itself (its inbound
# consumer, tests of the rules), which is trusted.


def _within(caller: Principal | None, org_path: str, *, field: str, kind: str, key: str) -> None:
    if caller is not None and not caller.may_see(org_path):
        raise domain.OutOfScope(field, kind, key)


def customer_in_scope(caller: Principal, customer: Customer, project_orgs: dict[str, str]) -> bool:
    """Whether ``caller`` may reach ``customer``: one of its projects (``project_orgs``: project id →
    org path) or, with or without projects, the org unit that registered it lies in the caller's
    units. A customer kept before that unit was recorded (``org_path`` NULL) and without a project
    is treated as the group's: reachable by callers who see a whole group (or every group)."""
    if caller.sees_everything:
        return True
    if any(caller.may_see(project_orgs[p]) for p in customer.project_ids if p in project_orgs):
        return True
    if customer.org_path is not None:
        return caller.may_see(customer.org_path)
    return not customer.project_ids and any(len(scope) == 1 for scope in caller.scope_tuples())


async def project_orgs_of(uow: Registrar, project_ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(project_ids))
    if not wanted:
        return {}
    rows = await uow.session.execute(
        sa.select(Project.project_id, Project.org_group, Project.org_subsidiary, Project.org_project)
        .where(Project.project_id.in_(wanted)))
    return {r.project_id: f"{r.org_group}/{r.org_subsidiary}/{r.org_project}" for r in rows}


async def customers_in_scope(caller: Principal, customers: Sequence[Customer], *, uow: Registrar) -> list[Customer]:
    if caller.sees_everything or not customers:
        return list(customers)
    orgs = await project_orgs_of(uow, (p for c in customers for p in c.project_ids))
    return [c for c in customers if customer_in_scope(caller, c, orgs)]


# --- where feedback is filed ---------------------------------------------------------------------


async def misplaced(
    places: Sequence[tuple[OrgPath, str | None]], *, uow: Registrar, registered_orgs_only: bool
) -> list[FieldProblem | None]:
    """For each feedback's (org path, project id): why it cannot be filed there, or None.

    A project registered in the registry must lie in the org path given (its own project-level unit
    or a unit above it): feedback naming another subsidiary's or group's project is refused on
    ``project_id``. With ``registered_orgs_only`` (inbound records from other systems), the org
    path must itself be a registered org unit (``org_units``), else it is refused on ``org``.
    Project ids the registry does not know are left alone (feedback may precede registration)."""
    paths = {org.as_path() for org, _ in places}
    known_orgs = set((await uow.session.execute(
        sa.select(OrgUnit.path).where(OrgUnit.path.in_(sorted(paths)))
    )).scalars()) if registered_orgs_only and paths else set()
    project_orgs = await project_orgs_of(uow, (p for _, p in places if p))
    problems: list[FieldProblem | None] = []
    for org, project_id in places:
        path = org.as_path()
        if registered_orgs_only and path not in known_orgs:
            problems.append(FieldProblem("org", f"组织 {path} 尚未登记", f"org unit {path} is not registered"))
        elif project_id in project_orgs and not path_within(project_orgs[project_id], path):
            problems.append(FieldProblem(
                "project_id", f"项目 {project_id} 登记在 {project_orgs[project_id]}，不属于 {path}",
                f"project {project_id} is registered under {project_orgs[project_id]}, not under {path}"))
        else:
            problems.append(None)
    return problems


# --- org units ---------------------------------------------------------------------------------


async def register_org_unit(
    cmd: OrgUnitInput, *, uow: Registrar, clock: Clock, correlation_id: uuid.UUID | None = None,
    caller: Principal | None = None,
) -> OrgUnit:
    _within(caller, cmd.path, field="path", kind="org unit", key=cmd.path)
    parent = domain.parent_of(cmd.path)
    parent_exists = parent is None or await uow.session.get(OrgUnit, parent) is not None
    level, unit_type = domain.check_org_unit(
        path=cmd.path, level=cmd.level, unit_type=cmd.unit_type, parent_exists=parent_exists
    )
    now = clock()
    inserted = await uow.session.execute(
        pg_insert(OrgUnit)
        .values(path=cmd.path, level=level, name=cmd.name, unit_type=unit_type, parent_path=parent, revision=1,
                created_at=now, updated_at=now)
        .on_conflict_do_nothing()
        .returning(OrgUnit.path)
    )
    if inserted.first() is None:
        raise RegistryConflict("already_registered", f"组织 {cmd.path} 已登记，请用 PUT 修改",
                               f"org unit {cmd.path} is registered; change it with PUT", path=cmd.path)
    uow.publish(domain.org_unit_registered(
        path=cmd.path, level=level, name=cmd.name, unit_type=unit_type, revision=1, now=now,
        correlation_id=correlation_id,
    ))
    unit = await uow.session.get(OrgUnit, cmd.path)
    assert unit is not None
    return unit


async def update_org_unit(
    path: str, change: OrgUnitChange, *, uow: Registrar, clock: Clock, correlation_id: uuid.UUID | None = None,
    caller: Principal | None = None,
) -> OrgUnit:
    _within(caller, path, field="path", kind="org unit", key=path)
    unit = await _locked(uow, OrgUnit, OrgUnit.path == path)
    if unit is None:
        raise RecordNotFound("org unit", path)
    _expect_revision("org unit", path, unit.revision, change.expected_revision)
    _, unit_type = domain.check_org_unit(
        path=path, level=unit.level, unit_type=change.unit_type or unit.unit_type, parent_exists=True
    )
    if (unit.name, unit.unit_type) == (change.name, unit_type):
        return unit
    now = clock()
    unit.name, unit.unit_type = change.name, unit_type
    unit.revision += 1
    unit.updated_at = now
    uow.publish(domain.org_unit_registered(
        path=path, level=unit.level, name=unit.name, unit_type=unit.unit_type, revision=unit.revision, now=now,
        correlation_id=correlation_id,
    ))
    await uow.session.flush()
    return unit


async def get_org_unit(path: str, *, uow: Registrar) -> OrgUnit | None:
    return await uow.session.get(OrgUnit, path)


async def list_org_units(*, uow: Registrar, under: str | None = None) -> list[OrgUnit]:
    query = sa.select(OrgUnit).order_by(OrgUnit.path)
    if under:
        query = query.where(sa.or_(OrgUnit.path == under, OrgUnit.path.startswith(under + "/", autoescape=True)))
    return list((await uow.session.execute(query)).scalars())


# --- projects ----------------------------------------------------------------------------------


def project_facts(cmd: ProjectFields) -> domain.ProjectFacts:
    return domain.ProjectFacts(
        stage=cmd.stage, completion_date=cmd.completion_date, warranty_end=cmd.warranty_end,
        households=cmd.households, occupied_units=cmd.occupied_units, occupancy_start=cmd.occupancy_start,
        buildings=cmd.buildings,
    )


async def _check_project(uow: Registrar, cmd: ProjectFields) -> None:
    domain.check_project(project_facts(cmd))
    org_path = cmd.org.as_path()
    registered = await uow.session.get(OrgUnit, org_path)
    domain.check_project_org(org_path=org_path, registered_level=registered.level if registered else None)


def _project_values(cmd: ProjectFields) -> dict[str, Any]:
    if cmd.org.subsidiary is None or cmd.org.project is None:  # check_project_org has refused it already
        raise RegistryRefused.one("org", "请写明集团、子公司和项目经理部",
                                  "name the group, subsidiary and project department")
    return {
        "org_group": cmd.org.group, "org_subsidiary": cmd.org.subsidiary, "org_project": cmd.org.project,
        "name": cmd.name, "contract_number": cmd.contract_number, "stage": cmd.stage.value,
        "completion_date": cmd.completion_date, "warranty_end": cmd.warranty_end, "households": cmd.households,
        "occupied_units": cmd.occupied_units, "occupancy_start": cmd.occupancy_start, "buildings": list(cmd.buildings),
    }


def project_org(project: Project) -> OrgPath:
    return OrgPath(group=project.org_group, subsidiary=project.org_subsidiary, project=project.org_project)


def _announce_project(uow: Registrar, project: Project, *, now: datetime, correlation_id: uuid.UUID | None) -> None:
    data = ProjectRegisteredData(
        project_id=project.project_id, name=project.name, contract_number=project.contract_number,
        stage=ProjectStage(project.stage), completion_date=project.completion_date,
        warranty_end=project.warranty_end, households=project.households, occupied_units=project.occupied_units,
        occupancy_start=project.occupancy_start, buildings=tuple(project.buildings), revision=project.revision,
    )
    uow.publish(domain.project_registered(data, org=project_org(project), now=now, correlation_id=correlation_id))


def _may_place_project(caller: Principal | None, cmd: ProjectFields, project: Project | None = None) -> None:
    """A project is created, changed or moved only by a caller whose units hold it before and after."""
    if project is not None:
        _within(caller, project.org_path, field="project_id", kind="project", key=project.project_id)
    _within(caller, cmd.org.as_path(), field="org", kind="org unit", key=cmd.org.as_path())


async def register_project(
    cmd: ProjectInput, *, uow: Registrar, clock: Clock, correlation_id: uuid.UUID | None = None,
    caller: Principal | None = None,
) -> Project:
    _may_place_project(caller, cmd)
    await _check_project(uow, cmd)
    now = clock()
    inserted = await uow.session.execute(
        pg_insert(Project)
        .values(project_id=cmd.project_id, revision=1, created_at=now, updated_at=now, **_project_values(cmd))
        .on_conflict_do_nothing()
        .returning(Project.project_id)
    )
    if inserted.first() is None:
        raise RegistryConflict("already_registered", f"项目 {cmd.project_id} 已登记，请用 PUT 修改",
                               f"project {cmd.project_id} is registered; change it with PUT", project_id=cmd.project_id)
    project = await uow.session.get(Project, cmd.project_id)
    assert project is not None
    _announce_project(uow, project, now=now, correlation_id=correlation_id)
    return project


async def update_project(
    project_id: str, change: ProjectChange, *, uow: Registrar, clock: Clock, correlation_id: uuid.UUID | None = None,
    caller: Principal | None = None,
) -> Project:
    project = await _locked(uow, Project, Project.project_id == project_id)
    if project is None:
        raise RecordNotFound("project", project_id)
    _may_place_project(caller, change, project)
    _expect_revision("project", project_id, project.revision, change.expected_revision)
    await _change_project(uow, project, change, clock=clock, correlation_id=correlation_id)
    return project


async def save_project(
    cmd: ProjectInput, *, uow: Registrar, clock: Clock, correlation_id: uuid.UUID | None = None,
    caller: Principal | None = None,
) -> tuple[Project, Outcome]:
    """Register the project or bring it up to date (imports), with the checks of the single-record
    routes: the caller's units hold the project before and after."""
    project = await _locked(uow, Project, Project.project_id == cmd.project_id)
    if project is None:
        project = await register_project(cmd, uow=uow, clock=clock, correlation_id=correlation_id, caller=caller)
        return project, "created"
    _may_place_project(caller, cmd, project)
    changed = await _change_project(uow, project, cmd, clock=clock, correlation_id=correlation_id)
    return project, "updated" if changed else "unchanged"


async def _change_project(
    uow: Registrar, project: Project, cmd: ProjectFields, *, clock: Clock, correlation_id: uuid.UUID | None
) -> bool:
    await _check_project(uow, cmd)
    values = _project_values(cmd)
    if cmd.buildings:
        in_use = set((await uow.session.execute(
            sa.select(Unit.building).where(Unit.project_id == project.project_id).distinct()
        )).scalars())
        dropped = sorted(in_use - set(cmd.buildings))
        if dropped:
            raise RegistryRefused.one("buildings", f"楼栋 {'、'.join(dropped)} 仍有已登记的房屋",
                                      f"building(s) {', '.join(dropped)} still have registered units")
    if all(getattr(project, name) == value for name, value in values.items()):
        return False
    now = clock()
    for name, value in values.items():
        setattr(project, name, value)
    project.revision += 1
    project.updated_at = now
    _announce_project(uow, project, now=now, correlation_id=correlation_id)
    await uow.session.flush()
    return True


async def get_project(project_id: str, *, uow: Registrar) -> Project | None:
    return await uow.session.get(Project, project_id)


async def list_projects(*, uow: Registrar, org: str | None = None) -> list[Project]:
    query = sa.select(Project).order_by(Project.project_id)
    if org:
        segments = domain.org_path_segments(org, field_name="org")
        columns = (Project.org_group, Project.org_subsidiary, Project.org_project)
        query = query.where(*(column == code for column, code in zip(columns, segments, strict=False)))
    return list((await uow.session.execute(query)).scalars())


# --- units -------------------------------------------------------------------------------------


@dataclass
class UnitsOutcome:
    project_id: str
    org: OrgPath
    units: list[UnitRecord] = field(default_factory=list)  # every unit asked for, as it now stands
    changed: list[UnitRecord] = field(default_factory=list)  # the new and changed ones: what to announce
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def unit_record(unit: Unit) -> UnitRecord:
    return UnitRecord(unit_id=unit.unit_id, building=unit.building, label=unit.label, occupied=unit.occupied,
                      household_id=unit.household_id)


async def apply_units(
    project_id: str,
    units: Sequence[UnitInput],
    *,
    uow: Registrar,
    clock: Clock,
    correlation_id: uuid.UUID | None = None,
    field_prefix: str = "units",
    caller: Principal | None = None,
) -> UnitsOutcome:
    """Create or change a project's units without announcing them (see :func:`upsert_units`);
    customers who gain or lose a unit as its household are announced here. A ``caller`` changes
    only units of projects inside their org units, and names as households only customers they
    may reach (another is "no active customer", as it would be to them by id)."""
    project = await uow.session.get(Project, project_id)
    if project is None:
        raise RecordNotFound("project", project_id)
    _within(caller, project.org_path, field="project_id", kind="project", key=project_id)
    pairs = [(u.building, u.label) for u in units]
    domain.check_units(pairs, project_buildings=project.buildings, field_prefix=field_prefix)
    # One project's units are upserted one request at a time: no duplicate-key race on new units.
    await _advisory_lock(uow, f"intake:units:{project_id}")
    existing = {
        (u.building, u.label): u
        for u in (await uow.session.execute(
            sa.select(Unit)
            .where(Unit.project_id == project_id, sa.tuple_(Unit.building, Unit.label).in_(pairs))
            .with_for_update()
            .execution_options(populate_existing=True)
        )).scalars()
    }
    wanted_households = {u.household_id for u in units if u.household_id is not None}
    earlier_households = {u.household_id for u in existing.values() if u.household_id is not None}
    customers = await _customers_for_update(uow, wanted_households | earlier_households)
    if caller is not None:
        reachable = {c.id for c in await customers_in_scope(
            caller, [customers[h] for h in wanted_households if h in customers], uow=uow)}
        customers = {i: c for i, c in customers.items() if i in reachable or i not in wanted_households}
    missing = [
        FieldProblem(domain.item_field(field_prefix, i, "household_id"), "没有此编号的在册客户",
                     "no active customer has this id")
        for i, u in enumerate(units)
        if u.household_id is not None and u.household_id not in customers
    ]
    if missing:
        raise RegistryRefused(missing)

    now = clock()
    outcome = UnitsOutcome(project_id=project_id, org=project_org(project))
    touched: dict[uuid.UUID, Customer] = {}
    for wanted in units:
        unit = existing.get((wanted.building, wanted.label))
        given = wanted.model_fields_set
        if unit is None:
            unit = Unit(
                unit_id=uuid.uuid4(), project_id=project_id, building=wanted.building, label=wanted.label,
                occupied=wanted.occupied, household_id=wanted.household_id, created_at=now, updated_at=now,
            )
            uow.session.add(unit)
            existing[(wanted.building, wanted.label)] = unit
            earlier_household = None
            outcome.created += 1
        else:
            before = (unit.occupied, unit.household_id)
            earlier_household = unit.household_id
            if "occupied" in given:
                unit.occupied = wanted.occupied
            if "household_id" in given:
                unit.household_id = wanted.household_id
            if (unit.occupied, unit.household_id) == before:
                outcome.unchanged += 1
                outcome.units.append(unit_record(unit))
                continue
            unit.updated_at = now
            outcome.updated += 1
        if unit.household_id != earlier_household:
            # The customer records follow: the household that left loses the unit, the new one gains
            # it and the project (announced only when that changes what other services know).
            old = customers.get(earlier_household) if earlier_household is not None else None
            if old is not None and unit.unit_id in old.unit_ids:
                old.unit_ids = [u for u in old.unit_ids if u != unit.unit_id]
                touched[old.id] = old
            if unit.household_id is not None:
                new = customers[unit.household_id]
                if unit.unit_id not in new.unit_ids or project_id not in new.project_ids:
                    new.unit_ids = list(dict.fromkeys([*new.unit_ids, unit.unit_id]))
                    new.project_ids = list(dict.fromkeys([*new.project_ids, project_id]))
                    touched[new.id] = new
        record = unit_record(unit)
        outcome.units.append(record)
        outcome.changed.append(record)
    for customer in touched.values():
        await _announce_customer(uow, customer, now=now, correlation_id=correlation_id)
    await uow.session.flush()
    return outcome


async def upsert_units(
    project_id: str,
    units: Sequence[UnitInput],
    *,
    uow: Registrar,
    clock: Clock,
    correlation_id: uuid.UUID | None = None,
    caller: Principal | None = None,
) -> UnitsOutcome:
    """Create or change units of a project by (building, label) and announce the changed ones."""
    outcome = await apply_units(project_id, units, uow=uow, clock=clock, correlation_id=correlation_id,
                                caller=caller)
    if outcome.changed:
        uow.publish(*domain.units_registered(
            project_id, outcome.changed, org=outcome.org, now=clock(), correlation_id=correlation_id
        ))
    return outcome


async def list_units(project_id: str, *, uow: Registrar) -> list[Unit]:
    if await uow.session.get(Project, project_id) is None:
        raise RecordNotFound("project", project_id)
    query = sa.select(Unit).where(Unit.project_id == project_id).order_by(Unit.building, Unit.label)
    return list((await uow.session.execute(query)).scalars())


async def find_unit(project_id: str, building: str, label: str, *, uow: Registrar) -> Unit | None:
    query = sa.select(Unit).where(Unit.project_id == project_id, Unit.building == building, Unit.label == label)
    return (await uow.session.execute(query)).scalar_one_or_none()


# --- customers ---------------------------------------------------------------------------------


async def _customers_for_update(uow: Registrar, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Customer]:
    ids = sorted(set(ids))
    if not ids:
        return {}
    query = (
        sa.select(Customer)
        .where(Customer.id.in_(ids), Customer.erased_at.is_(None))
        .order_by(Customer.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {c.id: c for c in (await uow.session.execute(query)).scalars()}


async def _lock_contacts(uow: Registrar, phones: Sequence[str], emails: Sequence[str]) -> None:
    """Serialise registrations of the same phone or e-mail, so that two at once make one customer."""
    await _advisory_lock(uow, *(f"intake:contact:p:{p}" for p in phones), *(f"intake:contact:e:{e}" for e in emails))


async def _contact_holders(
    uow: Registrar, phones: Sequence[str], emails: Sequence[str], *, other_than: uuid.UUID | None = None
) -> list[Customer]:
    """Active customers holding any of these phones or e-mails, oldest first."""
    if not phones and not emails:
        return []
    matches = []
    if phones:
        matches.append(Customer.phones.overlap(list(phones)))
    if emails:
        matches.append(Customer.emails.overlap(list(emails)))
    query = sa.select(Customer).where(Customer.erased_at.is_(None), sa.or_(*matches))
    if other_than is not None:
        query = query.where(Customer.id != other_than)
    query = query.order_by(Customer.created_at, Customer.id).execution_options(populate_existing=True)
    return list((await uow.session.execute(query)).scalars())


def _contact_conflict(holders: Sequence[Customer], phones: Sequence[str], emails: Sequence[str]) -> RegistryConflict:
    problems = [
        {"field": f"{name}.{i}", "reason": f"已属于客户 {holder.id}", "reason_en": f"already belongs to customer {holder.id}"}
        for name, values, attr in (("phones", phones, "phones"), ("emails", emails, "emails"))
        for i, value in enumerate(values)
        for holder in holders
        if value in getattr(holder, attr)
    ]
    return RegistryConflict(
        "contact_in_use", "所填电话或电子邮箱已属于另一位客户，请改为修改那位客户",
        "a phone or e-mail given already belongs to another customer; change that customer instead",
        fields=problems, customer_id=str(holders[0].id),
    )


async def _checked_links(
    uow: Registrar, project_ids: Sequence[str], unit_ids: Sequence[uuid.UUID], *,
    caller: Principal | None = None, linked: Customer | None = None,
) -> tuple[list[str], list[uuid.UUID]]:
    """Registered projects and units only; a unit's project joins the customer's projects.

    A ``caller`` links (and unlinks) only projects and units inside their org units; links the
    customer (``linked``) already has may stay whatever their org."""
    problems: list[FieldProblem] = []
    kept_projects = set(linked.project_ids) if linked is not None else set()
    kept_units = set(linked.unit_ids) if linked is not None else set()
    orgs = await project_orgs_of(uow, [*project_ids, *kept_projects])
    outside = {p for p, org in orgs.items() if caller is not None and not caller.may_see(org)}
    for i, p in enumerate(project_ids):
        if p not in orgs:
            problems.append(FieldProblem(f"project_ids.{i}", f"项目 {p} 尚未登记", f"project {p} is not registered"))
        elif p in outside and p not in kept_projects:
            problems.append(domain.OutOfScope(f"project_ids.{i}", "project", p).problem)
    dropped = sorted(kept_projects.intersection(outside) - set(project_ids))
    problems += [domain.OutOfScope("project_ids", "project", p).problem for p in dropped]
    unit_projects = dict((await uow.session.execute(
        sa.select(Unit.unit_id, Unit.project_id).where(Unit.unit_id.in_(list(unit_ids)))
    )).all()) if unit_ids else {}
    problems += [
        FieldProblem(f"unit_ids.{i}", "没有此编号的房屋", "no unit has this id") for i, u in enumerate(unit_ids) if u not in unit_projects
    ]
    if caller is not None and not caller.sees_everything:
        unit_orgs = await project_orgs_of(uow, unit_projects.values())
        problems += [
            # a unit outside the caller's units does not exist for them
            FieldProblem(f"unit_ids.{i}", "没有此编号的房屋", "no unit has this id")
            for i, u in enumerate(unit_ids)
            if u in unit_projects and u not in kept_units and not caller.may_see(unit_orgs[unit_projects[u]])
        ]
    if problems:
        raise RegistryRefused(problems)
    projects = list(project_ids)
    projects += [p for p in dict.fromkeys(unit_projects[u] for u in unit_ids) if p not in projects]
    return projects, list(unit_ids)


async def _customer_org(uow: Registrar, customer: Customer, given: OrgPath | None = None) -> OrgPath:
    if given is not None:
        return given
    for project_id in customer.project_ids:
        project = await uow.session.get(Project, project_id)
        if project is not None:
            return project_org(project)
    if customer.org_path:
        return domain.org_of(customer.org_path)
    groups = list((await uow.session.execute(
        sa.select(OrgUnit.path).where(OrgUnit.level == "group").limit(2)
    )).scalars())
    return OrgPath(group=groups[0]) if len(groups) == 1 else domain.UNASSIGNED_ORG


async def _announce_customer(
    uow: Registrar,
    customer: Customer,
    *,
    now: datetime,
    correlation_id: uuid.UUID | None,
    created: bool = False,
    org: OrgPath | None = None,
) -> None:
    if not created:
        customer.revision += 1
    customer.updated_at = now
    uow.publish(domain.customer_registered(
        customer_id=customer.id, customer_kind=customer.customer_kind, key_customer=customer.key_customer,
        project_ids=customer.project_ids, unit_ids=customer.unit_ids, phones=customer.phones,
        emails=customer.emails, revision=customer.revision, org=await _customer_org(uow, customer, org),
        now=now, correlation_id=correlation_id,
    ))


def _new_customer(*, kind: str, name: str | None, company: str | None, phones: Sequence[str],
                  emails: Sequence[str], key_customer: bool, project_ids: Sequence[str],
                  unit_ids: Sequence[uuid.UUID], now: datetime, org_path: str | None = None) -> Customer:
    return Customer(
        id=uuid.uuid4(), customer_kind=kind, name=name, company=company, phones=list(phones), emails=list(emails),
        key_customer=key_customer, project_ids=list(project_ids), unit_ids=list(unit_ids), revision=1,
        created_at=now, updated_at=now, org_path=org_path,
    )


async def _registering_org(uow: Registrar, caller: Principal | None, given: OrgPath | None,
                           project_ids: Sequence[str]) -> str | None:
    """The org unit a new customer belongs to: the one named, else its first project's, else the
    caller's own when they have exactly one. A caller with several units names one; intake itself
    and callers of every group leave it to the single registered group (else NULL)."""
    if given is not None:
        _within(caller, given.as_path(), field="org", kind="org unit", key=given.as_path())
        return given.as_path()
    orgs = await project_orgs_of(uow, project_ids[:1])
    if project_ids and project_ids[0] in orgs:
        return orgs[project_ids[0]]
    if caller is not None and not caller.sees_everything:
        scopes = ["/".join(scope) for scope in caller.scope_tuples()]
        if len(scopes) == 1:
            return scopes[0]
        raise RegistryRefused.one("org", "请写明客户所属的组织", "name the org unit the customer belongs to")
    groups = list((await uow.session.execute(
        sa.select(OrgUnit.path).where(OrgUnit.level == "group").limit(2)
    )).scalars())
    return groups[0] if len(groups) == 1 else None


async def register_customer(
    cmd: CustomerInput, *, uow: Registrar, clock: Clock, correlation_id: uuid.UUID | None = None,
    caller: Principal | None = None,
) -> Customer:
    """Register a customer; it belongs to the org unit that registered it (:func:`_registering_org`).
    A ``caller`` registers only into their own units (``OutOfScope`` on ``org``) and links only
    projects and units inside them."""
    domain.check_customer(name=cmd.name, company=cmd.company, phones=cmd.phones, emails=cmd.emails)
    project_ids, unit_ids = await _checked_links(uow, cmd.project_ids, cmd.unit_ids, caller=caller)
    org_path = await _registering_org(uow, caller, cmd.org, project_ids)
    await _lock_contacts(uow, cmd.phones, cmd.emails)
    holders = await _contact_holders(uow, cmd.phones, cmd.emails)
    if holders:
        raise _contact_conflict(holders, cmd.phones, cmd.emails)
    now = clock()
    customer = _new_customer(
        kind=cmd.customer_kind, name=cmd.name, company=cmd.company, phones=cmd.phones, emails=cmd.emails,
        key_customer=cmd.key_customer, project_ids=project_ids, unit_ids=unit_ids, now=now, org_path=org_path,
    )
    uow.session.add(customer)
    await uow.session.flush()
    await _announce_customer(uow, customer, now=now, correlation_id=correlation_id, created=True, org=cmd.org)
    return customer


async def update_customer(
    customer_id: uuid.UUID, change: CustomerChange, *, uow: Registrar, clock: Clock,
    correlation_id: uuid.UUID | None = None, caller: Principal | None = None,
) -> Customer:
    """Change a customer. A ``caller`` changes only customers they may reach (else
    ``RecordNotFound``), and links or unlinks only projects and units inside their units."""
    customer = await _locked(uow, Customer, Customer.id == customer_id, Customer.erased_at.is_(None))
    if customer is None:
        raise RecordNotFound("customer", str(customer_id))
    _expect_revision("customer", customer_id, customer.revision, change.expected_revision)
    if caller is not None and not await customers_in_scope(caller, [customer], uow=uow):
        raise RecordNotFound("customer", str(customer_id))
    domain.check_customer(name=change.name, company=change.company, phones=change.phones, emails=change.emails)
    project_ids, unit_ids = await _checked_links(uow, change.project_ids, change.unit_ids, caller=caller,
                                                 linked=customer)
    await _lock_contacts(uow, change.phones, change.emails)
    holders = await _contact_holders(uow, change.phones, change.emails, other_than=customer_id)
    if holders:
        raise _contact_conflict(holders, change.phones, change.emails)
    values = {
        "customer_kind": change.customer_kind, "name": change.name, "company": change.company,
        "phones": list(change.phones), "emails": list(change.emails), "key_customer": change.key_customer,
        "project_ids": project_ids, "unit_ids": unit_ids,
    }
    if all(getattr(customer, name) == value for name, value in values.items()):
        return customer
    for name, value in values.items():
        setattr(customer, name, value)
    await _announce_customer(uow, customer, now=clock(), correlation_id=correlation_id)
    await uow.session.flush()
    return customer


async def get_customer(customer_id: uuid.UUID, *, uow: Registrar) -> Customer | None:
    """An active customer; an erased one is gone for everyone but the audit trail."""
    customer = await uow.session.get(Customer, customer_id)
    return customer if customer is not None and customer.erased_at is None else None


async def find_customers(*, uow: Registrar, phone: str | None = None, email: str | None = None) -> list[Customer]:
    """Active customers by phone or e-mail, given in any form ``shared.pii`` accepts."""
    problems = []
    phones, emails = [], []
    if phone:
        try:
            phones.append(normalize_phone(phone))
        except ValueError as exc:
            problems.append(FieldProblem("phone", domain.CONTACT_REASONS_ZH.get(str(exc), "不是有效的电话号码"), str(exc)))
    if email:
        try:
            emails.append(normalize_email(email))
        except ValueError as exc:
            problems.append(FieldProblem("email", domain.CONTACT_REASONS_ZH.get(str(exc), "不是有效的电子邮箱地址"), str(exc)))
    if problems:
        raise RegistryRefused(problems)
    if not phones and not emails:
        raise RegistryRefused.one("phone", "请按电话或电子邮箱查找客户", "look customers up by phone or e-mail")
    return await _contact_holders(uow, phones, emails)


def _subsidiary_reach(org: OrgPath | None) -> Principal | None:
    """What an inbound record of another system may link: its own subsidiary (or group, when it
    names no subsidiary)."""
    if org is None:
        return None
    path = "/".join(p for p in (org.group, org.subsidiary) if p)
    return Principal(subject="inbound-record", roles=frozenset({Role.SYSTEM}), scopes=(path,), client=True)


async def match_or_register_customer(
    contact: ContactDetails,
    *,
    customer_kind: str = "person",
    project_id: str | None,
    uow: Registrar,
    clock: Clock,
    org: OrgPath | None = None,
    correlation_id: uuid.UUID | None = None,
    key_customer: bool | None = None,
    unit_id: uuid.UUID | None = None,
    caller: Principal | None = None,
    foreign_match: Literal["refuse", "leave"] = "refuse",
) -> uuid.UUID:
    """The active customer with this phone (first) or e-mail, else a new one; queues
    CustomerRegistered when a customer is created or changed.

    A matched customer gains the project (when registered), the unit (``unit_id``, a unit of that
    project), a name or company it lacked, and a phone or e-mail nobody else holds. A new customer
    belongs to ``org`` (the feedback's or inbound event's org unit, the imported row's project's),
    else to its project's. With a ``caller`` (an import), a match the caller may not reach is
    refused on the contact field that matched: linking it would hand the caller another unit's
    customer.

    ``foreign_match="leave"`` (feedback: the information is recorded whoever the customer is) keeps
    the feedback's link to such a match but changes nothing on it: no project, unit, name or contact
    is added, so the match stays out of reach of the caller — or, for the records of other systems
    (no caller), of anyone outside the feedback's own subsidiary.
    """
    if customer_kind not in get_args(CustomerKind):
        kinds = ", ".join(get_args(CustomerKind))
        raise RegistryRefused.one("customer_kind", f"应为以下之一：{kinds}", f"one of {kinds}")
    phones = [contact.phone] if contact.phone else []
    emails = [contact.email] if contact.email else []
    project_ids = [project_id] if project_id and await uow.session.get(Project, project_id) is not None else []
    unit_ids = [unit_id] if unit_id is not None and project_ids else []
    await _lock_contacts(uow, phones, emails)
    holders = await _contact_holders(uow, phones, emails)
    by_phone = [c for c in holders if phones and phones[0] in c.phones]
    match = (by_phone or holders or [None])[0]
    reach = caller if caller is not None or foreign_match == "refuse" else _subsidiary_reach(org)
    if match is not None and reach is not None and not await customers_in_scope(reach, [match], uow=uow):
        if foreign_match == "leave":
            return match.id
        raise RegistryRefused.one("phone" if by_phone else "email", "已属于你的组织范围以外的客户",
                                  "belongs to a customer outside your org units")
    now = clock()
    if match is None:
        org_path = org.as_path() if org is not None else (await project_orgs_of(uow, project_ids)).get(
            project_ids[0]) if project_ids else None
        customer = _new_customer(
            kind=customer_kind, name=contact.name, company=contact.company, phones=phones, emails=emails,
            key_customer=bool(key_customer), project_ids=project_ids, unit_ids=unit_ids, now=now, org_path=org_path,
        )
        uow.session.add(customer)
        await uow.session.flush()
        await _announce_customer(uow, customer, now=now, correlation_id=correlation_id, created=True, org=org)
        return customer.id

    others = [c for c in holders if c.id != match.id]
    before = (match.name, match.company, match.phones, match.emails, match.project_ids, match.unit_ids,
              match.key_customer)
    match.name = match.name or contact.name
    match.company = match.company or contact.company
    if phones and phones[0] not in match.phones and not any(phones[0] in c.phones for c in others):
        match.phones = [*match.phones, phones[0]]
    if emails and emails[0] not in match.emails and not any(emails[0] in c.emails for c in others):
        match.emails = [*match.emails, emails[0]]
    if project_ids and project_ids[0] not in match.project_ids:
        match.project_ids = [*match.project_ids, project_ids[0]]
    if unit_ids and unit_ids[0] not in match.unit_ids:
        match.unit_ids = [*match.unit_ids, unit_ids[0]]
    if key_customer:
        match.key_customer = True
    if (match.name, match.company, match.phones, match.emails, match.project_ids, match.unit_ids,
            match.key_customer) != before:
        await _announce_customer(uow, match, now=now, correlation_id=correlation_id, org=org)
        await uow.session.flush()
    return match.id


__all__ = [
    "CustomerChange",
    "CustomerInput",
    "OrgUnitChange",
    "OrgUnitInput",
    "ProjectChange",
    "ProjectInput",
    "Registrar",
    "UnitInput",
    "UnitsOutcome",
    "apply_units",
    "customer_in_scope",
    "customers_in_scope",
    "project_facts",
    "project_org",
    "find_customers",
    "find_unit",
    "get_customer",
    "get_org_unit",
    "get_project",
    "list_org_units",
    "list_projects",
    "list_units",
    "match_or_register_customer",
    "misplaced",
    "register_customer",
    "register_org_unit",
    "register_project",
    "save_project",
    "unit_record",
    "update_customer",
    "update_org_unit",
    "update_project",
    "upsert_units",
]
