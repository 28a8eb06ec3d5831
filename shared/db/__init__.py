"""Database plumbing: engine, unit of work, outbox/inbox tables, migrations."""

from shared.db.tables import messaging_tables
from shared.db.uow import OutboxMessage, UnitOfWork, UnitOfWorkFactory, make_engine

__all__ = ["OutboxMessage", "UnitOfWork", "UnitOfWorkFactory", "make_engine", "messaging_tables"]
