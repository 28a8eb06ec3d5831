"""Fixtures on real infrastructure (see ``shared.testing.infra`` for how it is chosen)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from shared.settings import SERVICES, Settings
from shared.testing.infra import (
    Infrastructure,
    create_database,
    delete_test_topics,
    drop_database,
    provide_infrastructure,
    test_settings,
)
from shared.testing.services import migrate, running_service


@pytest.fixture(scope="session")
def infra() -> Iterator[Infrastructure]:
    with provide_infrastructure() as provided:
        yield provided


@pytest.fixture
async def settings(infra: Infrastructure) -> AsyncIterator[Settings]:
    """Settings of one test: a database and a topic prefix nobody else uses."""
    url = await create_database(infra.admin_url)
    made = test_settings(infra, database_url=url)
    try:
        yield made
    finally:
        await delete_test_topics(made)  # the test's topics go with it (tolerated where a broker cannot)
        await drop_database(infra.admin_url, url)


@pytest.fixture
async def migrated(settings: Settings) -> Settings:
    await migrate(settings, SERVICES)
    return settings


__all__ = ["asyncio", "running_service"]
