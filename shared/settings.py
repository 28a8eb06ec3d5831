"""All settings of CareLoop in one place.

Every value comes from the environment (prefix ``CARELOOP_``) or a ``.env`` file. Services add
their own fields by subclassing :class:`Settings` in their ``config.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import ssl
from datetime import date
from typing import Any, Literal, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES: tuple[str, ...] = ("intake", "routing", "survey", "reporting")

DEFAULT_PORTS: dict[str, int] = {"intake": 8101, "routing": 8102, "survey": 8103, "reporting": 8104}

#: The built-in `CARELOOP_DB_ROLE_PASSWORD`: local development only.
DEV_ROLE_PASSWORD = "careloop-dev-only"


class KafkaSettings(BaseSettings):
    """How to reach the broker; the security options pass straight through to aiokafka."""

    model_config = SettingsConfigDict(
        env_prefix="CARELOOP_KAFKA_", env_file=".env", extra="ignore", validate_by_name=True, validate_by_alias=True
    )

    # KAFKA_BOOTSTRAP_SERVERS (unprefixed) is honoured too, so the benchmark and fault suite run
    # unchanged against a real cluster named the usual way.
    bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CARELOOP_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    partitions: int = Field(default=6, ge=1, description="partitions for topics CareLoop creates")
    replication_factor: int = Field(default=1, ge=1)
    request_timeout_ms: int = 30_000
    idempotent_producer: bool = Field(
        default=True,
        description="the producers' idempotence (no duplicate on a retried send); on for Apache Kafka, off for "
                    "the embedded broker, which does not implement it (correctness never depends on it: the "
                    "outbox and idempotent consumers give it)",
    )
    topic_retention_ms: int = Field(
        default=-1, ge=-1,
        description="retention.ms of the topics CareLoop creates: -1 (no time limit) because the event history "
                    "is the system of record that `careloop rebuild-reporting` reads",
    )
    metadata_max_age_ms: int = Field(
        default=30_000, ge=1_000,
        description="how often every producer and consumer refreshes the cluster's metadata even when nothing "
                    "failed (the client default is 5 minutes): a topic deleted and created again, or given more "
                    "partitions, is consumed again within this time",
    )
    history_check_interval_s: float = Field(
        default=5.0, ge=0,
        description="how often each service checks that the broker still holds the last records it published "
                    "and consumed (shared.messaging.history); 0 turns the check off",
    )

    def client_options(self) -> dict[str, object]:
        """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
        options: dict[str, object] = {"security_protocol": self.security_protocol}
        if self.security_protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            options["ssl_context"] = create_ssl_context(
                cafile=self.ssl_cafile, certfile=self.ssl_certfile, keyfile=self.ssl_keyfile
            )
        if self.security_protocol.startswith("SASL"):
            options["sasl_mechanism"] = self.sasl_mechanism or "SCRAM-SHA-512"
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        return options

    def faststream_security(self) -> object | None:
        """The same options in FastStream's terms, for its KafkaBroker."""
        from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

        use_ssl = self.security_protocol in ("SSL", "SASL_SSL")
        ssl_context = self.client_options().get("ssl_context") if use_ssl else None
        if not self.security_protocol.startswith("SASL"):
            return BaseSecurity(ssl_context=ssl_context, use_ssl=True) if use_ssl else None
        password = self.sasl_password.get_secret_value() if self.sasl_password else ""
        kinds = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
        return kinds[self.sasl_mechanism or "SCRAM-SHA-512"](
            username=self.sasl_username or "", password=password, ssl_context=ssl_context, use_ssl=use_ssl
        )


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CARELOOP_DB_", env_file=".env", extra="ignore", validate_by_name=True, validate_by_alias=True
    )

    # The administrative URL: used by `careloop migrate` to create each service's role and schema.
    # Unset means "start the embedded PostgreSQL" in `careloop dev`.
    admin_url: str | None = Field(
        default=None, validation_alias=AliasChoices("CARELOOP_DB_ADMIN_URL", "CARELOOP_DATABASE_URL")
    )
    # A service's own URL (CARELOOP_DB_URL_INTAKE, ...) wins; otherwise it is derived from the admin
    # URL with the service's role and that role's password (`password_for`).
    url_intake: str | None = None
    url_routing: str | None = None
    url_survey: str | None = None
    url_reporting: str | None = None
    # One secret per service role: CARELOOP_DB_INTAKE_PASSWORD, ... Where one is unset it is derived
    # from `role_password` and the role's name (HMAC-SHA256), so no two roles share a password even
    # then; in production `careloop migrate` refuses the built-in `role_password` for a role left unset.
    intake_password: SecretStr | None = None
    routing_password: SecretStr | None = None
    survey_password: SecretStr | None = None
    reporting_password: SecretStr | None = None
    role_password: SecretStr = SecretStr(DEV_ROLE_PASSWORD)
    # TLS to PostgreSQL, for the services and the migrations alike (CARELOOP_DB_SSL_MODE, ...):
    # disable, require (encrypted; with a root certificate also verified, as libpq does), verify-ca
    # (the server's certificate is signed by `ssl_root_cert`, or a system CA when unset) or
    # verify-full (and names the host connected to). Unset: asyncpg's default, or an `ssl=` in the URL.
    ssl_mode: Literal["disable", "require", "verify-ca", "verify-full"] | None = None
    ssl_root_cert: str | None = Field(default=None, description="CA certificate(s), PEM")
    ssl_cert: str | None = Field(default=None, description="client certificate, PEM (certificate login)")
    ssl_key: str | None = Field(default=None, description="the client certificate's private key, PEM")
    ssl_key_password: SecretStr | None = None
    pool_size: int = 10
    max_overflow: int = 10
    # Test each pooled connection before use (a round trip per checkout): a connection cut while it
    # sat in the pool is replaced instead of failing the next transaction. Turn off where
    # connections are never cut and the round trip matters; a cut one then fails one transaction
    # (a consumer's batch is simply redelivered).
    pool_pre_ping: bool = True
    echo: bool = False

    def service_url(self, service: str) -> str:
        explicit = getattr(self, f"url_{service}", None)
        if explicit:
            return to_asyncpg_url(explicit)
        if not self.admin_url:
            raise RuntimeError(
                f"no database URL for {service}: set CARELOOP_DB_URL_{service.upper()} "
                "or CARELOOP_DB_ADMIN_URL"
            )
        return with_credentials(to_asyncpg_url(self.admin_url), role_name(service), self.password_for(service))

    def password_for(self, service: str) -> str:
        """The password of ``careloop_<service>``: its own setting, else one derived for it alone."""
        own: SecretStr | None = getattr(self, f"{service}_password", None)
        if own is not None and own.get_secret_value():
            return own.get_secret_value()
        key = self.role_password.get_secret_value().encode()
        return hmac.new(key, role_name(service).encode(), hashlib.sha256).hexdigest()[:32]

    def uses_dev_password(self, service: str) -> bool:
        """True when the role's password comes from nothing but the built-in development default."""
        own: SecretStr | None = getattr(self, f"{service}_password", None)
        return not (own and own.get_secret_value()) and self.role_password.get_secret_value() == DEV_ROLE_PASSWORD

    def ssl_context(self) -> ssl.SSLContext | bool | None:
        """What asyncpg's ``ssl=`` gets: False (no TLS), a context, or None (leave it to asyncpg)."""
        if self.ssl_mode is None:
            return None
        if self.ssl_mode == "disable":
            return False
        if self.ssl_key and not self.ssl_cert:
            raise ValueError("CARELOOP_DB_SSL_KEY needs CARELOOP_DB_SSL_CERT")
        verify = self.ssl_mode in ("verify-ca", "verify-full") or bool(self.ssl_root_cert)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if verify:
            if self.ssl_root_cert:
                context.load_verify_locations(cafile=self.ssl_root_cert)
            else:
                context.load_default_certs(ssl.Purpose.SERVER_AUTH)
            context.verify_mode = ssl.CERT_REQUIRED
            context.check_hostname = self.ssl_mode == "verify-full"
        else:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.ssl_cert:
            password = self.ssl_key_password.get_secret_value() if self.ssl_key_password else None
            context.load_cert_chain(self.ssl_cert, keyfile=self.ssl_key, password=password)
        return context

    def connect_args(self) -> dict[str, object]:
        """asyncpg connection arguments from these settings (TLS), for ``create_async_engine``."""
        context = self.ssl_context()
        return {} if context is None else {"ssl": context}


class AuthSettings(BaseSettings):
    """Who may call the HTTP APIs: bearer tokens (JWT) from an OIDC-compatible issuer.

    The verifier fetches the issuer's keys from ``jwks_url`` or, if that is unset, from the
    ``jwks_uri`` of ``<issuer>/.well-known/openid-configuration``; ``jwks`` (a JWKS JSON document)
    pins the keys instead, for air-gapped installations and tests. Roles and org scopes come from
    the claims named here (dotted paths reach nested claims, e.g. ``realm_access.roles``);
    ``role_map`` translates an identity provider's role names into CareLoop's.
    """

    model_config = SettingsConfigDict(env_prefix="CARELOOP_AUTH_", env_file=".env", extra="ignore")

    issuer: str | None = Field(default=None, description="expected 'iss'; also where discovery starts")
    audience: str = "careloop"
    jwks_url: str | None = None
    jwks: str | None = Field(default=None, description="a JWKS JSON document that pins the keys")
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    roles_claim: str = "roles"
    org_scopes_claim: str = "careloop_orgs"
    role_map: dict[str, str] = Field(default_factory=dict, description="IdP role name -> CareLoop role")
    leeway_s: int = Field(default=30, ge=0, description="clock skew allowed on exp / nbf")
    jwks_cache_s: int = Field(default=300, ge=0)
    # The built-in development issuer of `careloop dev` (never used outside the local stack).
    dev_issuer_port: int = 8100


class WorkingHoursSetting(BaseModel):
    """One org unit's working hours, as written in settings: periods and weekdays."""

    periods: str = Field(default="08:30-12:00, 13:30-17:30", examples=["08:30-12:00, 13:30-18:00"])
    weekdays: str = Field(default="Mon-Fri", examples=["Mon-Sat"])
    timezone: str = "Asia/Shanghai"
    days_off: list[date] = Field(
        default_factory=list, description="the unit's own days off (local rest days), on top of the national calendar",
        examples=[["2027-03-08"]],
    )


class Settings(BaseSettings):
    """Settings shared by every service and by the CLI."""

    model_config = SettingsConfigDict(env_prefix="CARELOOP_", env_file=".env", extra="ignore")

    environment: Literal["dev", "test", "production"] = "dev"
    topic_prefix: str = Field(default="", description="prepended to every topic name, e.g. 'acme.'")
    consumer_group_prefix: str = "careloop"
    host: str = "127.0.0.1"
    port_intake: int = DEFAULT_PORTS["intake"]
    port_routing: int = DEFAULT_PORTS["routing"]
    port_survey: int = DEFAULT_PORTS["survey"]
    port_reporting: int = DEFAULT_PORTS["reporting"]
    log_level: str = "INFO"
    # Outbox relay and consumers.
    relay_batch_size: int = Field(default=500, ge=1)
    relay_poll_interval_s: float = Field(default=0.2, gt=0)
    consumer_batch_size: int = Field(default=200, ge=1)
    # How long the broker may hold a consumer's fetch while it has fewer bytes than asked for
    # (Kafka's fetch.max.wait.ms). Apache Kafka answers as soon as records arrive, so this only
    # paces idle consumers; the embedded Tansu broker holds fetches for much of it even with records
    # waiting, so the embedded stack runs with a short one (shared.devstack.FETCH_MAX_WAIT_MS).
    consumer_fetch_max_wait_ms: int = Field(default=500, ge=1, le=60_000)
    consumer_max_attempts: int = Field(default=4, ge=1, description="handler attempts before the DLQ")
    consumer_backoff_initial_s: float = Field(default=0.1, ge=0)
    consumer_backoff_max_s: float = Field(default=2.0, ge=0)
    # Size limits at the edge (issue 20 item 5).
    http_max_body_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024,
        description="largest HTTP request body any service reads (413 beyond, before it is read whole)",
    )
    inbound_max_record_bytes: int = Field(
        default=1024 * 1024, ge=1024,
        description="largest record a consumer handles; a larger one is dead-lettered (kind too-large)",
    )
    dlq_copy_max_bytes: int = Field(
        default=256 * 1024, ge=0,
        description="a dead letter carries its record whole up to this size, else only an excerpt",
    )
    dlq_excerpt_bytes: int = Field(default=4096, ge=0, description="the excerpt a larger dead letter carries")
    pii_name_key: str = Field(
        default="careloop-dev-only-name-mark-key", min_length=16,  # shared.pii_detect.DEV_NAME_KEY
        description="secret of the name marks (shared.pii_detect.name_marks): intake marks the customer's "
                    "names on FeedbackReceived with it and routing finds them in staff notes; the same value "
                    "in every service; set one per deployment",
    )
    data_dir: str = ".careloop"
    dev_broker: Literal["embedded", "kafka"] = Field(
        default="embedded",
        description="the broker `careloop dev` starts when no CARELOOP_KAFKA_BOOTSTRAP_SERVERS is set: the embedded "
                    "Tansu (history in memory only) or a local Apache Kafka from CARELOOP_KAFKA_HOME, on disk "
                    "under <data dir>/kafka",
    )
    # The cyclic garbage collector's thresholds (gc.set_threshold) in a running service. Python's
    # 700 objects before a young collection makes a busy service collect hundreds of times a second;
    # with 10,000 it collects a few times a second and a request rarely waits for it.
    gc_thresholds: tuple[int, int, int] = (10_000, 20, 10)
    # Working hours by org path ("default", "hx", "hx/east", "hx/east/lakeside"); the nearest
    # ancestor's hours apply. Chinese public holidays and adjusted working days always apply.
    # e.g. CARELOOP_WORKING_HOURS='{"hx/east": {"periods": "08:30-12:00, 13:30-18:00"}}'
    working_hours: dict[str, WorkingHoursSetting] = Field(default_factory=dict)
    # How often each replica of a service that counts on the calendar (intake, routing) re-reads
    # the holiday schedules its service has stored, so replicas that did not consume a
    # HolidayScheduleLoaded themselves still count on it within this time.
    calendar_refresh_interval_s: float = Field(default=30.0, gt=0)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)

    def port(self, service: str) -> int:
        return int(getattr(self, f"port_{service}"))

    def group_id(self, consumer: str) -> str:
        """Consumer names start with their service ('routing.cases'); each is its own group."""
        return f"{self.topic_prefix}{self.consumer_group_prefix}.{consumer}"


S = TypeVar("S", bound=Settings)


def service_settings(settings: Settings | dict[str, Any] | None, cls: type[S]) -> S:
    """A service's own settings class from shared settings (or a dict of values).

    What was set on ``settings`` carries over; everything else takes the service's defaults (and
    its environment variables), so that a service's own default (reporting's batch size, say) is
    not replaced by the shared class's default for the same field.
    """
    if isinstance(settings, cls):
        return settings
    if isinstance(settings, Settings):
        return cls(**{name: getattr(settings, name) for name in settings.model_fields_set})
    return cls(**dict(settings or {}))


def role_name(service: str) -> str:
    return f"careloop_{service}"


def to_asyncpg_url(url: str) -> str:
    for plain in ("postgresql://", "postgres://", "postgresql+psycopg://", "postgresql+psycopg2://"):
        if url.startswith(plain):
            return "postgresql+asyncpg://" + url[len(plain):]
    return url


def with_credentials(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))
