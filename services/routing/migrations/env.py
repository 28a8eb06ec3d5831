import services.routing.repairs.models  # noqa: F401  (the repairs tables join routing's metadata)
from services.routing.models import metadata
from shared.db.alembic_env import run_migrations

run_migrations(metadata)
