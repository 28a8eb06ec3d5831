"""Item 9: one secret per service role, and the superuser's URL only in the migration step.

Each role's password logs in as that role alone; the environment a service process is started
with (by `careloop dev` and by the test harness alike) holds its own database URL and no admin URL,
no shared role password and no other role's secret."""

from __future__ import annotations

import itertools
import signal
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from shared.devstack import free_port, service_process_env
from shared.settings import SERVICES, DatabaseSettings, Settings, role_name, with_credentials
from shared.testing.services import spawn_service

ADMIN = "postgresql://postgres:superpw@127.0.0.1:5432/careloop"
SECRET_NAMES = ("CARELOOP_DB_ADMIN_URL", "CARELOOP_DATABASE_URL", "CARELOOP_DB_ROLE_PASSWORD")


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def test_every_role_has_its_own_password_by_default_and_its_own_setting_wins() -> None:
    derived = DatabaseSettings(admin_url=ADMIN)
    passwords = [derived.password_for(s) for s in SERVICES]
    assert len(set(passwords)) == len(SERVICES)
    assert "careloop-dev-only" not in passwords
    assert derived.uses_dev_password("intake")
    own = DatabaseSettings(admin_url=ADMIN, intake_password="intake-secret", role_password="other")
    assert own.password_for("intake") == "intake-secret" and not own.uses_dev_password("intake")
    assert urlsplit(own.service_url("intake")).password == "intake-secret"
    assert urlsplit(own.service_url("intake")).username == "careloop_intake"


def test_a_service_process_environment_has_its_own_url_and_no_other_secret() -> None:
    db = DatabaseSettings(admin_url=ADMIN, routing_password="routing-secret")
    parent = {"PATH": "/usr/bin", "CARELOOP_DB_ADMIN_URL": ADMIN, "CARELOOP_DATABASE_URL": ADMIN,
              "CARELOOP_DB_ROLE_PASSWORD": "shared", "CARELOOP_DB_ROUTING_PASSWORD": "routing-secret",
              "careloop_db_url_survey": "postgresql://x", "CARELOOP_DB_SSL_MODE": "require",
              "CARELOOP_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092"}
    envs = {s: service_process_env(parent, db, s) for s in SERVICES}
    for service, env in envs.items():
        upper = {k.upper(): v for k, v in env.items()}
        assert not set(SECRET_NAMES) & set(upper), service
        assert "superpw" not in str(env) and "shared" not in env.values()
        url = urlsplit(upper[f"CARELOOP_DB_URL_{service.upper()}"])
        assert url.username == role_name(service) and url.password == db.password_for(service)
        others = {f"CARELOOP_DB_URL_{o.upper()}" for o in SERVICES if o != service}
        others |= {f"CARELOOP_DB_{o.upper()}_PASSWORD" for o in SERVICES}
        assert not others & set(upper), service
        assert upper["CARELOOP_DB_SSL_MODE"] == "require"  # TLS settings still reach the service
        assert upper["PATH"] == "/usr/bin"
    assert urlsplit(envs["routing"]["CARELOOP_DB_URL_ROUTING"]).password == "routing-secret"



@pytest.mark.integration
async def test_one_roles_password_does_not_log_in_as_another(migrated: Settings) -> None:
    for mine, theirs in itertools.permutations(SERVICES, 2):
        url = with_credentials(migrated.db.admin_url or "", role_name(theirs), migrated.db.password_for(mine))
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(_plain(url))
    for service in SERVICES:
        conn = await asyncpg.connect(_plain(migrated.db.service_url(service)))
        try:
            assert await conn.fetchval("SELECT current_user") == role_name(service)
        finally:
            await conn.close()


@pytest.mark.integration
async def test_a_running_service_process_has_no_admin_url_in_its_environment(migrated: Settings) -> None:
    proc = await spawn_service(migrated, "survey", port=free_port())
    try:
        raw = Path(f"/proc/{proc.pid}/environ").read_bytes()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except Exception:
            proc.kill()
    env = dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)
    assert not set(SECRET_NAMES) & {k.upper() for k in env}
    admin = urlsplit(migrated.db.admin_url or "")
    assert admin.password and f"{admin.username}:{admin.password}@" not in raw.decode()  # no superuser login
    assert urlsplit(env["CARELOOP_DB_URL_SURVEY"]).username == "careloop_survey"


def test_the_compose_file_gives_the_admin_url_to_init_only_and_each_service_its_own_password() -> None:
    import yaml

    compose = yaml.safe_load((Path(__file__).parents[2] / "deploy" / "docker-compose.yml").read_text())
    containers = compose["services"]
    assert "CARELOOP_DB_ADMIN_URL" in containers["init"]["environment"]
    placeholders = set()
    for service in SERVICES:
        env = containers[service]["environment"]
        assert not set(SECRET_NAMES) & set(env), service
        url = env[f"CARELOOP_DB_URL_{service.upper()}"]
        assert url.startswith(f"postgresql://{role_name(service)}:${{CARELOOP_DB_{service.upper()}_PASSWORD:-")
        assert "POSTGRES_PASSWORD" not in str(env)
        others = [o for o in SERVICES if o != service]
        assert not [o for o in others if f"CARELOOP_DB_{o.upper()}_PASSWORD" in str(env)], service
        placeholders.add(url.split(":-", 1)[1].split("}", 1)[0])
        # init sets the very password the service logs in with
        assert containers["init"]["environment"][f"CARELOOP_DB_{service.upper()}_PASSWORD"] == (
            f"${{CARELOOP_DB_{service.upper()}_PASSWORD:-{url.split(':-', 1)[1].split('}', 1)[0]}}}")
    assert len(placeholders) == len(SERVICES)


def test_a_production_service_refuses_to_start_with_the_admin_url(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    import uvicorn

    from shared import cli

    def never(*_: object, **__: object) -> None:
        raise AssertionError("the service started with the superuser's URL in its environment")

    monkeypatch.setattr(uvicorn, "run", never)
    monkeypatch.setenv("CARELOOP_ENVIRONMENT", "production")
    monkeypatch.setenv("CARELOOP_DB_ADMIN_URL", ADMIN)
    args = argparse.Namespace(service="intake", workers=1, host=None, port=None)
    assert cli.cmd_serve(args) == 2


def test_a_production_service_refuses_to_start_with_the_development_name_key(monkeypatch: pytest.MonkeyPatch,
                                                                             capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    import uvicorn

    from shared import cli

    started: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda *_a, **_k: started.append("served"))
    monkeypatch.setenv("CARELOOP_ENVIRONMENT", "production")
    monkeypatch.delenv("CARELOOP_DB_ADMIN_URL", raising=False)
    monkeypatch.delenv("CARELOOP_PII_NAME_KEY", raising=False)
    args = argparse.Namespace(service="routing", workers=1, host=None, port=None)
    assert cli.cmd_serve(args) == 2 and started == []
    assert "CARELOOP_PII_NAME_KEY" in capsys.readouterr().err
    # a key of the deployment's own: it serves
    monkeypatch.setenv("CARELOOP_PII_NAME_KEY", "a-secret-of-this-deployment-0123456789")
    assert cli.cmd_serve(args) == 0 and started == ["served"]
