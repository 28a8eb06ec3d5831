"""The registry's HTTP routes: org units, projects, units, customers, imports.

Customer routes return contact details in clear only to the roles that call or visit customers
(customer service, customer managers, repair teams), masked to everyone else; each read in clear is
in the audit trail, and nothing here logs them. Errors: 422 ``{"error": "validation_failed", "fields": [{field,
reason}]}``, 404 ``{"error": "not_found", ...}``, 409 for a record that exists, a revision that
moved on, or a phone / e-mail held by another customer.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from services.intake.registry import imports, service
from services.intake.registry.domain import (
    FieldProblem,
    OutOfScope,
    RecordNotFound,
    RegistryConflict,
    RegistryRefused,
)
from services.intake.registry.models import Customer, OrgUnit, Project, Unit
from shared.auth import EVERYONE, Principal, Role, require
from shared.auth.audit import record_personal_data_read
from shared.clock import Clock
from shared.db import UnitOfWorkFactory
from shared.events import OrgPath
from shared.events.vocabulary import ProjectStage
from shared.http import correlation_id_of
from shared.i18n import pick
from shared.labels import name_of
from shared.pii import mask_email, mask_name, mask_phone
from shared.pagination import Page

# --- responses ---------------------------------------------------------------------------------


class OrgUnitOut(BaseModel):
    path: str
    level: str
    name: str
    unit_type: str
    parent_path: str | None
    revision: int

    @classmethod
    def of(cls, unit: OrgUnit) -> OrgUnitOut:
        return cls(path=unit.path, level=unit.level, name=unit.name, unit_type=unit.unit_type,
                   parent_path=unit.parent_path, revision=unit.revision)


class ProjectOut(BaseModel):
    project_id: str
    org: OrgPath
    name: str
    contract_number: str | None
    stage: ProjectStage
    stage_name: str = Field(default="", description="the stage as people read it (前期, 过程, 后期, 物业管理)")
    completion_date: date | None
    warranty_end: date | None
    households: int | None
    occupied_units: int | None
    occupancy_start: date | None
    buildings: list[str]
    revision: int

    @classmethod
    def of(cls, project: Project) -> ProjectOut:
        return cls(
            project_id=project.project_id, org=service.project_org(project), name=project.name,
            contract_number=project.contract_number, stage=ProjectStage(project.stage),
            stage_name=name_of("project_stage", project.stage), completion_date=project.completion_date, warranty_end=project.warranty_end,
            households=project.households, occupied_units=project.occupied_units,
            occupancy_start=project.occupancy_start, buildings=list(project.buildings), revision=project.revision,
        )


class UnitOut(BaseModel):
    unit_id: uuid.UUID
    building: str
    label: str
    occupied: bool
    household_id: uuid.UUID | None

    @classmethod
    def of(cls, unit: Unit) -> UnitOut:
        return cls(unit_id=unit.unit_id, building=unit.building, label=unit.label, occupied=unit.occupied,
                   household_id=unit.household_id)


class UnitsIn(BaseModel):
    units: list[service.UnitInput] = Field(min_length=1, max_length=2000)


class UnitsOut(BaseModel):
    project_id: str
    created: int
    updated: int
    unchanged: int
    units: list[UnitOut]


class CustomerOut(BaseModel):
    """Contains personal data: for staff tools only, never for logs or reports."""

    customer_id: uuid.UUID
    customer_kind: str
    name: str | None
    company: str | None
    phones: list[str]
    emails: list[str]
    key_customer: bool
    project_ids: list[str]
    unit_ids: list[uuid.UUID]
    revision: int

    @classmethod
    def of(cls, customer: Customer, *, clear: bool) -> CustomerOut:
        """``clear``: contact details as stored; otherwise masked (enough to recognise, not to call)."""
        phones, emails, name = list(customer.phones), list(customer.emails), customer.name
        if not clear:
            phones, emails = [mask_phone(p) for p in phones], [mask_email(e) for e in emails]
            name = mask_name(name) if name else name
        return cls(
            customer_id=customer.id, customer_kind=customer.customer_kind, name=name,
            company=customer.company, phones=phones, emails=emails,
            key_customer=customer.key_customer, project_ids=list(customer.project_ids),
            unit_ids=list(customer.unit_ids), revision=customer.revision,
        )


class CustomerLookup(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)


class FieldReason(BaseModel):
    field: str
    reason: str


class ImportRowOut(BaseModel):
    row: int = Field(description="the row number a spreadsheet shows (the header is row 1)")
    status: str = Field(description="taken | refused")
    record: str | None = None
    outcome: str | None = Field(default=None, description="created | updated | unchanged")
    reasons: list[FieldReason] = []


class ImportReportOut(BaseModel):
    kind: str
    dry_run: bool
    total: int
    taken: int
    refused: int
    ignored_columns: list[str]
    rows: list[ImportRowOut]

    @classmethod
    def of(cls, report: imports.ImportReport) -> ImportReportOut:
        return cls(
            kind=report.kind, dry_run=report.dry_run, total=len(report.rows), taken=report.taken,
            refused=report.refused, ignored_columns=report.ignored_columns,
            rows=[
                ImportRowOut(row=r.row, status=r.status, record=r.record, outcome=r.outcome,
                             reasons=[FieldReason(field=p.field, reason=p.for_people()) for p in r.reasons])
                for r in report.rows
            ],
        )


# --- errors ------------------------------------------------------------------------------------


def _fields(problems: tuple[FieldProblem, ...]) -> list[dict[str, str]]:
    return [{"field": p.field, "reason": p.for_people()} for p in problems]


def _conflict_body(exc: RegistryConflict) -> dict[str, object]:
    """The 409's body: the reason, and each clashing field's, in the request's language."""
    details = dict(exc.details)
    if "fields" in details:
        details["fields"] = [{"field": f["field"], "reason": pick(f["reason"], f.get("reason_en"))}
                             for f in details["fields"]]
    return {"error": exc.error, "reason": exc.for_people(), **details}


@contextlib.contextmanager
def _registry_errors() -> Iterator[None]:
    try:
        yield
    except (RegistryRefused, imports.ImportRefused) as exc:
        raise HTTPException(422, {"error": "validation_failed", "fields": _fields(exc.problems)}) from exc
    except RecordNotFound as exc:
        raise HTTPException(404, {"error": "not_found", "kind": exc.kind, "key": exc.key}) from exc
    except OutOfScope as exc:
        # as POST /feedback for an org unit outside the caller's
        raise HTTPException(403, {"error": "out_of_scope", "field": exc.problem.field,
                                  "reason": exc.problem.for_people()}) from exc
    except RegistryConflict as exc:
        raise HTTPException(409, _conflict_body(exc)) from exc


def _not_found(kind: str, key: object) -> HTTPException:
    return HTTPException(404, {"error": "not_found", "kind": kind, "key": str(key)})


_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["file"],
                           "properties": {"file": {"type": "string", "format": "binary"}}},
            },
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                "schema": {"type": "string", "format": "binary"},
            },
        },
    }
}


async def customers_visible_to(caller: Principal, customers: list[Customer], *,
                               uow_factory: UnitOfWorkFactory) -> list[Customer]:
    """Customers of the caller's org units: linked to a project inside them, or registered by one
    of them (``service.customer_in_scope``). Any other answers 404 to reads, changes and erasure."""
    if caller.sees_everything or not customers:
        return customers
    async with uow_factory() as uow:
        return await service.customers_in_scope(caller, customers, uow=uow)


# Who may do what in the registry. The registry itself (org units, projects, units) holds no
# personal data, so everyone may read it; customers' contact details are masked for every role but
# those in SEES_CONTACT_DETAILS (shared/auth/principal.py), and each read in clear is audited.
# Every change is also bounded by the caller's org units (the use cases' ``caller``): a record, or
# the unit a change would put it in, outside them answers 403 ``out_of_scope``; a customer outside
# them does not exist for the caller (404).
ADMINISTRATORS = (Role.ADMINISTRATOR,)
UNIT_MAINTAINERS = (Role.ADMINISTRATOR, Role.CUSTOMER_SERVICE, Role.CUSTOMER_MANAGER)
CUSTOMER_WRITERS = (Role.CUSTOMER_SERVICE, Role.CUSTOMER_MANAGER, Role.ADMINISTRATOR)
ADMINISTER = require(*ADMINISTRATORS)
READ_REGISTRY = require(*EVERYONE)
MAINTAIN_UNITS = require(*UNIT_MAINTAINERS)
WRITE_CUSTOMERS = require(*CUSTOMER_WRITERS)
READ_CUSTOMERS = require(Role.CUSTOMER_SERVICE, Role.CUSTOMER_MANAGER, Role.SITE_TEAM, Role.HANDLER, Role.QUALITY,
                         Role.ADMINISTRATOR)
IMPORT = require(*UNIT_MAINTAINERS)
#: Each import kind is allowed to the roles of the single-record route its rows stand for.
IMPORT_ROLES: dict[str, frozenset[Role]] = {
    "projects": frozenset(ADMINISTRATORS),  # POST/PUT /projects
    "units": frozenset(UNIT_MAINTAINERS),  # POST /projects/{id}/units
    "households": frozenset(UNIT_MAINTAINERS) & frozenset(CUSTOMER_WRITERS),  # units + POST /customers
}


def build_router(*, uow_factory: UnitOfWorkFactory, clock: Clock) -> APIRouter:
    router = APIRouter(prefix="/api/v1")

    async def visible_customers(caller: Principal, customers: list[Customer]) -> list[Customer]:
        return await customers_visible_to(caller, customers, uow_factory=uow_factory)

    async def customers_out(caller: Principal, customers: list[Customer]) -> list[CustomerOut]:
        clear = caller.sees_contact_details
        if clear and customers:
            await record_personal_data_read(uow_factory, caller, what="customer contact details",
                                            resources=[str(c.id) for c in customers],
                                            fields=["name", "phones", "emails"])
        return [CustomerOut.of(c, clear=clear) for c in customers]

    # --- org units ---

    @router.post("/org-units", status_code=status.HTTP_201_CREATED, response_model=OrgUnitOut, tags=["registry"])
    async def post_org_unit(body: service.OrgUnitInput, request: Request,
                            caller: Annotated[Principal, Depends(ADMINISTER)]) -> OrgUnitOut:
        """Register a group (集团公司), subsidiary (分/子公司), project department (项目经理部) or
        property office (管理处); its parent must be registered first."""
        with _registry_errors():
            async with uow_factory() as uow:
                unit = await service.register_org_unit(
                    body, uow=uow, clock=clock, correlation_id=correlation_id_of(request), caller=caller
                )
                await uow.commit()
        return OrgUnitOut.of(unit)

    @router.get("/org-units", response_model=list[OrgUnitOut], tags=["registry"], dependencies=[Depends(READ_REGISTRY)])
    async def get_org_units(page: Annotated[Page, Depends()],
                            under: Annotated[str | None, Query(max_length=200)] = None) -> list[OrgUnitOut]:
        async with uow_factory() as uow:
            return [OrgUnitOut.of(u) for u in page.of(await service.list_org_units(uow=uow, under=under))]

    @router.get("/org-units/{path:path}", response_model=OrgUnitOut, tags=["registry"],
                dependencies=[Depends(READ_REGISTRY)])
    async def get_org_unit(path: str) -> OrgUnitOut:
        async with uow_factory() as uow:
            unit = await service.get_org_unit(path, uow=uow)
        if unit is None:
            raise _not_found("org unit", path)
        return OrgUnitOut.of(unit)

    @router.put("/org-units/{path:path}", response_model=OrgUnitOut, tags=["registry"])
    async def put_org_unit(path: str, body: service.OrgUnitChange, request: Request,
                           caller: Annotated[Principal, Depends(ADMINISTER)]) -> OrgUnitOut:
        with _registry_errors():
            async with uow_factory() as uow:
                unit = await service.update_org_unit(
                    path, body, uow=uow, clock=clock, correlation_id=correlation_id_of(request), caller=caller
                )
                await uow.commit()
        return OrgUnitOut.of(unit)

    # --- projects ---

    @router.post("/projects", status_code=status.HTTP_201_CREATED, response_model=ProjectOut, tags=["registry"])
    async def post_project(body: service.ProjectInput, request: Request,
                           caller: Annotated[Principal, Depends(ADMINISTER)]) -> ProjectOut:
        """Register a project inside the caller's org units (else 403 ``out_of_scope``)."""
        with _registry_errors():
            async with uow_factory() as uow:
                project = await service.register_project(
                    body, uow=uow, clock=clock, correlation_id=correlation_id_of(request), caller=caller
                )
                await uow.commit()
        return ProjectOut.of(project)

    @router.get("/projects", response_model=list[ProjectOut], tags=["registry"], dependencies=[Depends(READ_REGISTRY)])
    async def get_projects(page: Annotated[Page, Depends()],
                           org: Annotated[str | None, Query(max_length=200)] = None) -> list[ProjectOut]:
        with _registry_errors():
            async with uow_factory() as uow:
                return [ProjectOut.of(p) for p in page.of(await service.list_projects(uow=uow, org=org))]

    @router.get("/projects/{project_id}", response_model=ProjectOut, tags=["registry"],
                dependencies=[Depends(READ_REGISTRY)])
    async def get_project(project_id: str) -> ProjectOut:
        async with uow_factory() as uow:
            project = await service.get_project(project_id, uow=uow)
        if project is None:
            raise _not_found("project", project_id)
        return ProjectOut.of(project)

    @router.put("/projects/{project_id}", response_model=ProjectOut, tags=["registry"])
    async def put_project(project_id: str, body: service.ProjectChange, request: Request,
                          caller: Annotated[Principal, Depends(ADMINISTER)]) -> ProjectOut:
        """Change a project inside the caller's org units; moving it out of them, or one of another
        unit's into them, is 403 ``out_of_scope``."""
        with _registry_errors():
            async with uow_factory() as uow:
                project = await service.update_project(
                    project_id, body, uow=uow, clock=clock, correlation_id=correlation_id_of(request), caller=caller
                )
                await uow.commit()
        return ProjectOut.of(project)

    # --- units ---

    @router.get("/projects/{project_id}/units", response_model=list[UnitOut], tags=["registry"],
                dependencies=[Depends(READ_REGISTRY)])
    async def get_units(project_id: str, page: Annotated[Page, Depends()]) -> list[UnitOut]:
        with _registry_errors():
            async with uow_factory() as uow:
                return [UnitOut.of(u) for u in page.of(await service.list_units(project_id, uow=uow))]

    async def upsert_units(project_id: str, body: UnitsIn, request: Request,
                           caller: Annotated[Principal, Depends(MAINTAIN_UNITS)]) -> UnitsOut:
        """Create or change units by (building, label). Leave out `occupied` or `household_id` to
        keep what is stored; `"household_id": null` clears the household. Only in projects inside
        the caller's org units (else 403 ``out_of_scope``)."""
        with _registry_errors():
            async with uow_factory() as uow:
                outcome = await service.upsert_units(
                    project_id, body.units, uow=uow, clock=clock, correlation_id=correlation_id_of(request),
                    caller=caller,
                )
                await uow.commit()
        return UnitsOut(
            project_id=project_id, created=outcome.created, updated=outcome.updated, unchanged=outcome.unchanged,
            units=[UnitOut(**u.model_dump()) for u in outcome.units],
        )

    for method in ("POST", "PUT"):
        router.add_api_route(
            "/projects/{project_id}/units", upsert_units, methods=[method], response_model=UnitsOut,
            tags=["registry"], name=f"{method.lower()}_units",
        )

    # --- customers ---

    @router.post("/customers", status_code=status.HTTP_201_CREATED, response_model=CustomerOut,
                 tags=["customers"])
    async def post_customer(body: service.CustomerInput, request: Request,
                            caller: Annotated[Principal, Depends(WRITE_CUSTOMERS)]) -> CustomerOut:
        """Register a customer (顾客). Phones and e-mails are normalised; one that another active
        customer already holds is refused with 409 naming that customer."""
        with _registry_errors():
            async with uow_factory() as uow:
                customer = await service.register_customer(
                    body, uow=uow, clock=clock, correlation_id=correlation_id_of(request), caller=caller
                )
                await uow.commit()
        return (await customers_out(caller, [customer]))[0]

    @router.post("/customers/lookup", response_model=list[CustomerOut], tags=["customers"])
    async def lookup_customers(body: CustomerLookup,
                               caller: Annotated[Principal, Depends(READ_CUSTOMERS)]) -> list[CustomerOut]:
        """Active customers with this phone (any common spelling) or e-mail. A POST, so that the
        number never appears in a URL, and so in no access log or proxy log."""
        with _registry_errors():
            async with uow_factory() as uow:
                found = list(await service.find_customers(uow=uow, phone=body.phone, email=body.email))
        return await customers_out(caller, await visible_customers(caller, found))

    @router.get("/customers/{customer_id}", response_model=CustomerOut, tags=["customers"])
    async def get_customer(customer_id: uuid.UUID,
                           caller: Annotated[Principal, Depends(READ_CUSTOMERS)]) -> CustomerOut:
        async with uow_factory() as uow:
            customer = await service.get_customer(customer_id, uow=uow)
        if customer is None or not await visible_customers(caller, [customer]):
            raise _not_found("customer", customer_id)
        return (await customers_out(caller, [customer]))[0]

    @router.put("/customers/{customer_id}", response_model=CustomerOut, tags=["customers"])
    async def put_customer(customer_id: uuid.UUID, body: service.CustomerChange, request: Request,
                           caller: Annotated[Principal, Depends(WRITE_CUSTOMERS)]) -> CustomerOut:
        async with uow_factory() as uow:
            current = await service.get_customer(customer_id, uow=uow)
        if current is not None and not await visible_customers(caller, [current]):
            raise _not_found("customer", customer_id)
        with _registry_errors():
            async with uow_factory() as uow:
                customer = await service.update_customer(
                    customer_id, body, uow=uow, clock=clock, correlation_id=correlation_id_of(request), caller=caller
                )
                await uow.commit()
        return (await customers_out(caller, [customer]))[0]

    # --- imports ---

    @router.post("/imports/{kind}", response_model=ImportReportOut, tags=["imports"], openapi_extra=_IMPORT_BODY)
    async def post_import(kind: imports.ImportKind, request: Request,
                          caller: Annotated[Principal, Depends(IMPORT)], dry_run: bool = False) -> ImportReportOut:
        """Import projects, units or households from a CSV or XLSX file: multipart form field
        `file`, or the file as the raw body (`text/csv`, or the XLSX media type). Each row is
        taken or refused on its own; the report says which and why. `dry_run=true` checks
        everything and keeps nothing.

        Each kind takes the roles of the single-record route its rows stand for (projects:
        administrators only), else the whole request is 403, dry run or not; a row outside the
        caller's org units is refused on its own, with the reason on the field (see ``imports``)."""
        if not caller.has_any(IMPORT_ROLES[kind]):
            raise HTTPException(403, {"error": "forbidden", "reason": pick("你的角色不能导入此类记录",
                                                                          "your roles do not allow this import"),
                                      "allowed_roles": sorted(IMPORT_ROLES[kind])})
        content, filename, content_type = await _uploaded_file(request)
        with _registry_errors():
            sheet = imports.read_sheet(kind, content, filename=filename, content_type=content_type)
            async with uow_factory() as uow:
                report = await imports.run_import(
                    sheet, uow=uow, clock=clock, correlation_id=correlation_id_of(request), dry_run=dry_run,
                    caller=caller,
                )
                if not dry_run:
                    await uow.commit()
        return ImportReportOut.of(report)

    return router


async def _uploaded_file(request: Request) -> tuple[bytes, str | None, str | None]:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > imports.MAX_IMPORT_BYTES + 64 * 1024:
        raise HTTPException(413, {"error": "too_large", "reason": pick(f"文件最大 {imports.MAX_IMPORT_BYTES} 字节",
                                                                   f"at most {imports.MAX_IMPORT_BYTES} bytes")})
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                reason = pick("请把表格作为表单字段 'file' 上传", "attach the sheet as form field 'file'")
                raise HTTPException(422, {"error": "validation_failed", "fields": [{"field": "file", "reason": reason}]})
            content = await upload.read(imports.MAX_IMPORT_BYTES + 1)
            return content, upload.filename, upload.content_type
    content = await request.body()
    return content, None, content_type or None


__all__ = ["build_router"]
