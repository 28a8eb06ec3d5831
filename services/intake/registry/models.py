"""The registry's tables, in schema ``intake`` beside the customers table they refer to."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.intake.models import Base, Customer

__all__ = ["Customer", "OrgUnit", "Project", "Unit"]


class OrgUnit(Base):
    """A group company, subsidiary, project department or property office, keyed by its path."""

    __tablename__ = "org_units"
    __table_args__ = (
        sa.CheckConstraint("level IN ('group', 'subsidiary', 'project')", name="ck_org_units_level"),
        sa.Index("ix_org_units_parent_path", "parent_path"),
    )

    path: Mapped[str] = mapped_column(sa.Text, primary_key=True)  # 'hx', 'hx/east', 'hx/east/lakeside'
    level: Mapped[str] = mapped_column(sa.Text)  # group | subsidiary | project
    name: Mapped[str] = mapped_column(sa.Text)
    unit_type: Mapped[str] = mapped_column(sa.Text)  # group | subsidiary | project_department | property_office
    parent_path: Mapped[str | None] = mapped_column(sa.Text, sa.ForeignKey("intake.org_units.path"))
    revision: Mapped[int] = mapped_column(sa.Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class Project(Base):
    """A construction or property-management project (项目), run by a project-level org unit."""

    __tablename__ = "projects"
    __table_args__ = (
        sa.Index("ix_projects_org", "org_group", "org_subsidiary", "org_project"),
        sa.CheckConstraint(
            "warranty_end IS NULL OR completion_date IS NULL OR warranty_end >= completion_date",
            name="ck_projects_warranty_after_completion",
        ),
        sa.CheckConstraint(
            "occupied_units IS NULL OR households IS NULL OR occupied_units <= households",
            name="ck_projects_occupied_within_households",
        ),
    )

    project_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    org_group: Mapped[str] = mapped_column(sa.Text)
    org_subsidiary: Mapped[str] = mapped_column(sa.Text)
    org_project: Mapped[str] = mapped_column(sa.Text)
    name: Mapped[str] = mapped_column(sa.Text)
    contract_number: Mapped[str | None] = mapped_column(sa.Text)
    stage: Mapped[str] = mapped_column(sa.Text)  # shared.events.vocabulary.ProjectStage
    completion_date: Mapped[date | None] = mapped_column(sa.Date)
    warranty_end: Mapped[date | None] = mapped_column(sa.Date)
    households: Mapped[int | None] = mapped_column(sa.Integer)
    occupied_units: Mapped[int | None] = mapped_column(sa.Integer)
    occupancy_start: Mapped[date | None] = mapped_column(sa.Date)
    buildings: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    revision: Mapped[int] = mapped_column(sa.Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    @property
    def org_path(self) -> str:
        return f"{self.org_group}/{self.org_subsidiary}/{self.org_project}"


class Unit(Base):
    """One dwelling or premises of a project (building + unit-room label) and its household."""

    __tablename__ = "units"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "building", "label", name="uq_units_project_building_label"),
        sa.Index("ix_units_household_id", "household_id"),
    )

    unit_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    project_id: Mapped[str] = mapped_column(sa.Text, sa.ForeignKey("intake.projects.project_id"))
    building: Mapped[str] = mapped_column(sa.Text)
    label: Mapped[str] = mapped_column(sa.Text)
    occupied: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    household_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("intake.customers.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
