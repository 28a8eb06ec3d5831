"""Item 13: TLS to PostgreSQL is a setting (CARELOOP_DB_SSL_MODE, _ROOT_CERT, _CERT, _KEY) that the
services' engines and the migrations use.

A real PostgreSQL serving TLS with a certificate for ``localhost`` signed by a CA made here:
verify-full to localhost with that CA works; another CA, or a name the certificate does not carry,
is refused; require against a server without TLS is refused rather than sent in clear."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa

from shared.db.migrate import migrate_service
from shared.db.uow import make_engine
from shared.devstack import EmbeddedPostgres, PG_SUPERPASSWORD, PG_SUPERUSER
from shared.settings import DatabaseSettings, Settings
from tests.security._tls import Pki, make_pki, postgres_with_openssl

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[EmbeddedPostgres]:
    bin_dir = postgres_with_openssl()
    if bin_dir is None:
        pytest.fail("the TLS tests need a PostgreSQL built with OpenSSL: apt-get install -y postgresql")
    server = EmbeddedPostgres(tmp_path_factory.mktemp("tls") / "pgdata", bin_dir=bin_dir,
                              tls=(pki.server_cert, pki.server_key)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("plain") / "pgdata").start()  # the wheel's: no TLS at all
    try:
        yield server
    finally:
        server.stop()


def url(server: EmbeddedPostgres, host: str) -> str:
    return f"postgresql://{PG_SUPERUSER}:{PG_SUPERPASSWORD}@{host}:{server.port}/{server.database}"


async def connect(dsn: str, db: DatabaseSettings) -> asyncpg.Connection:
    return await asyncpg.connect(dsn, timeout=10, **db.connect_args())


async def uses_tls(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))


async def test_verify_full_to_the_certificates_host_with_its_ca_works(tls_server: EmbeddedPostgres, pki: Pki) -> None:
    db = DatabaseSettings(ssl_mode="verify-full", ssl_root_cert=str(pki.ca))
    conn = await connect(url(tls_server, "localhost"), db)
    try:
        assert await uses_tls(conn)
    finally:
        await conn.close()


async def test_verify_full_with_another_ca_is_refused(tls_server: EmbeddedPostgres, pki: Pki) -> None:
    db = DatabaseSettings(ssl_mode="verify-full", ssl_root_cert=str(pki.other_ca))
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        await connect(url(tls_server, "localhost"), db)


async def test_verify_full_to_a_name_the_certificate_lacks_is_refused_and_verify_ca_accepts_it(
    tls_server: EmbeddedPostgres, pki: Pki,
) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch|doesn't match|mismatch"):
        await connect(url(tls_server, "127.0.0.1"), DatabaseSettings(ssl_mode="verify-full", ssl_root_cert=str(pki.ca)))
    conn = await connect(url(tls_server, "127.0.0.1"), DatabaseSettings(ssl_mode="verify-ca", ssl_root_cert=str(pki.ca)))
    try:
        assert await uses_tls(conn)
    finally:
        await conn.close()
    with pytest.raises(ssl.SSLCertVerificationError):  # verify-ca still checks the signer
        await connect(url(tls_server, "127.0.0.1"),
                      DatabaseSettings(ssl_mode="verify-ca", ssl_root_cert=str(pki.other_ca)))


async def test_require_against_a_server_without_tls_is_refused(plain_server: EmbeddedPostgres) -> None:
    with pytest.raises(ConnectionError, match="rejected SSL"):
        await connect(url(plain_server, "127.0.0.1"), DatabaseSettings(ssl_mode="require"))
    # and without the setting the same server is reached in clear, as before
    conn = await connect(url(plain_server, "127.0.0.1"), DatabaseSettings(ssl_mode="disable"))
    await conn.close()


async def test_require_encrypts_without_checking_and_disable_sends_in_clear(tls_server: EmbeddedPostgres) -> None:
    conn = await connect(url(tls_server, "127.0.0.1"), DatabaseSettings(ssl_mode="require"))
    try:
        assert await uses_tls(conn)
    finally:
        await conn.close()
    conn = await connect(url(tls_server, "127.0.0.1"), DatabaseSettings(ssl_mode="disable"))
    try:
        assert not await uses_tls(conn)
    finally:
        await conn.close()


def test_a_client_key_without_its_certificate_is_a_settings_error() -> None:
    with pytest.raises(ValueError, match="CARELOOP_DB_SSL_CERT"):
        DatabaseSettings(ssl_mode="require", ssl_key="/nowhere/client.key").connect_args()


def test_the_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, pki: Pki) -> None:
    monkeypatch.setenv("CARELOOP_DB_SSL_MODE", "verify-full")
    monkeypatch.setenv("CARELOOP_DB_SSL_ROOT_CERT", str(pki.ca))
    context = DatabaseSettings().connect_args()["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


async def test_migrations_and_a_services_engine_connect_over_verified_tls(tls_server: EmbeddedPostgres, pki: Pki) -> None:
    db = DatabaseSettings(admin_url=url(tls_server, "localhost"), ssl_mode="verify-full", ssl_root_cert=str(pki.ca),
                          ssl_cert=str(pki.client_cert), ssl_key=str(pki.client_key), pool_size=1, max_overflow=0)
    settings = Settings(environment="test", db=db)
    await migrate_service(settings, "survey")
    engine = make_engine(db.service_url("survey"), settings, application_name="careloop-survey")
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(sa.text(
                "SELECT current_user, ssl FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) "
                "WHERE pid = pg_backend_pid()"))).one()
        assert tuple(row) == ("careloop_survey", True)
    finally:
        await engine.dispose()
    # the migration step's own connection verified the server too: with another CA it never starts
    wrong = Settings(environment="test", db=db.model_copy(update={"ssl_root_cert": str(pki.other_ca)}))
    with pytest.raises(ssl.SSLCertVerificationError):
        await migrate_service(wrong, "survey")
