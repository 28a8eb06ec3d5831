"""Reporting's read views, in schema ``reporting``. No personal data is ever stored here."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.tables import messaging_tables

metadata = sa.MetaData(schema="reporting")
outbox, inbox = messaging_tables(metadata)


class Base(DeclarativeBase):
    metadata = metadata


class ComplaintCount(Base):
    """Classified complaints per month, org unit (at every level) and complaint class."""

    __tablename__ = "complaint_counts"

    period: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    org_level: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    org_path: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    complaint_class: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    complaints: Mapped[int] = mapped_column(sa.Integer, server_default="0")


class SurveyCount(Base):
    """Returned survey forms per month, org unit and scheme."""

    __tablename__ = "survey_counts"

    period: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    org_level: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    org_path: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    scheme: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    responses: Mapped[int] = mapped_column(sa.Integer, server_default="0")
