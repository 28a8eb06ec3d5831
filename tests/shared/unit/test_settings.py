"""A service's settings made from the shared ones keep what was set and the service's own defaults."""

from __future__ import annotations

import pytest

from pydantic import Field

from services.intake.config import IntakeSettings
from services.reporting.config import ReportingSettings
from shared.settings import Settings, service_settings


class OwnDefaults(Settings):
    """A service whose default for a shared field differs from the shared one."""

    consumer_batch_size: int = Field(default=77, ge=1)


@pytest.fixture(autouse=True)
def _no_batch_size_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARELOOP_CONSUMER_BATCH_SIZE", raising=False)


def test_unset_fields_take_the_services_own_default() -> None:
    shared = Settings(environment="test", topic_prefix="acme.")
    own = service_settings(shared, OwnDefaults)
    assert isinstance(own, OwnDefaults)
    assert (own.environment, own.topic_prefix) == ("test", "acme.")
    assert own.consumer_batch_size == 77 != Settings().consumer_batch_size
    # a service without a default of its own keeps the shared one
    assert service_settings(shared, IntakeSettings).consumer_batch_size == Settings().consumer_batch_size


def test_a_value_set_on_the_shared_settings_wins() -> None:
    assert service_settings(Settings(consumer_batch_size=7), OwnDefaults).consumer_batch_size == 7


def test_the_environment_still_applies_to_what_was_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARELOOP_CONSUMER_BATCH_SIZE", "321")
    assert service_settings(Settings(topic_prefix="x."), OwnDefaults).consumer_batch_size == 321


def test_a_dict_or_the_class_itself() -> None:
    own = ReportingSettings(topic_prefix="y.")
    assert service_settings(own, ReportingSettings) is own
    assert service_settings({"topic_prefix": "z."}, ReportingSettings).topic_prefix == "z."
    assert service_settings(None, ReportingSettings).topic_prefix == ReportingSettings().topic_prefix
