import services.intake.registry.models  # noqa: F401  (registers the registry tables)
from services.intake.models import metadata
from shared.db.alembic_env import run_migrations

run_migrations(metadata)
