"""``careloop``: run the whole system locally, serve one service, migrate, manage topics and schemas."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from shared.pii_detect import DEV_NAME_KEY
from shared.settings import SERVICES, Settings

APP_FACTORIES = {service: f"services.{service}.app:create_app" for service in SERVICES}


def _settings() -> Settings:
    return Settings()


# --- serve / migrate / topics / schemas -------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from shared.logging import configure_logging

    settings = _settings()
    configure_logging(args.service, settings.log_level)
    if settings.environment == "production" and settings.db.admin_url:
        # the superuser's URL belongs to the migration step alone (`careloop migrate`)
        print(f"refusing to serve {args.service}: CARELOOP_DB_ADMIN_URL is set; give the service "
              f"CARELOOP_DB_URL_{args.service.upper()} (its own role) and the admin URL to `careloop migrate` only",
              file=sys.stderr)
        return 2
    if settings.environment == "production" and settings.pii_name_key == DEV_NAME_KEY:
        # anyone who has the source has the built-in key: the name marks on the topics would be
        # open to a dictionary of names
        print(f"refusing to serve {args.service}: CARELOOP_PII_NAME_KEY is the built-in development key; "
              f"set a secret of the deployment's own (the same in every service)", file=sys.stderr)
        return 2
    workers = max(1, args.workers)
    if workers > 1:
        # Each worker is a fresh interpreter (spawned): it configures its own logging in serve_app.
        os.environ[_SERVE_SERVICE] = args.service
    # loop and http "auto": uvloop and httptools (both locked dependencies), else asyncio and h11.
    uvicorn.run(
        "shared.cli:serve_app" if workers > 1 else APP_FACTORIES[args.service],
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port(args.service),
        workers=workers if workers > 1 else None,
        loop="auto",
        http="auto",
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    return 0


_SERVE_SERVICE = "CARELOOP_SERVE_SERVICE"


def serve_app() -> object:
    """The app factory of a ``careloop serve --workers N`` worker process: each worker is a whole
    replica (HTTP, consumers in the service's group, its own outbox relay), as if run on its own."""
    import importlib

    from shared.logging import configure_logging

    service = os.environ[_SERVE_SERVICE]
    configure_logging(service, _settings().log_level)
    module, _, factory = APP_FACTORIES[service].partition(":")
    return getattr(importlib.import_module(module), factory)()


async def _migrate(settings: Settings, services: list[str]) -> None:
    from shared.db.migrate import migrate_service

    for service in services:
        await migrate_service(settings, service)
        print(f"migrated {service}")


def cmd_migrate(args: argparse.Namespace) -> int:
    unknown = sorted(set(args.services) - set(SERVICES))
    if unknown:
        print(f"unknown service(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    asyncio.run(_migrate(_settings(), args.services or list(SERVICES)))
    return 0


async def _create_topics(settings: Settings) -> list[str]:
    from shared.messaging.kafka import ensure_topics
    from shared.topics import all_topics

    names = all_topics(settings.topic_prefix)
    await ensure_topics(settings, names)
    return names


def cmd_topics(args: argparse.Namespace) -> int:
    if getattr(args, "topics_command", None) == "check":
        return asyncio.run(_check_topics(_settings(), fix=args.fix))
    for name in asyncio.run(_create_topics(_settings())):
        print(name)
    return 0


async def _check_topics(settings: Settings, *, fix: bool) -> int:
    """Exit 0 when every topic keeps its whole history, 1 (listing why) when one would lose some."""
    from shared.messaging.kafka import keep_topic_history, topic_history_problems
    from shared.topics import all_topics

    names = all_topics(settings.topic_prefix)
    try:
        problems = await topic_history_problems(settings, names)
        if fix and (limited := [n for n, why in problems.items() if why != "missing"]):
            await keep_topic_history(settings, limited)
            print(f"retention set to keep the whole history on {len(limited)} topic(s)")
            problems = await topic_history_problems(settings, names)
    except RuntimeError as exc:
        print(f"cannot check the topics: {exc}", file=sys.stderr)
        return 2
    for name, why in sorted(problems.items()):
        print(f"{name}: {why}")
    if problems:
        print(f"{len(problems)} of {len(names)} topics would lose event history "
              "(`careloop topics` creates missing ones; `careloop topics check --fix` lifts retention limits)",
              file=sys.stderr)
        return 1
    print(f"all {len(names)} topics keep their whole history")
    return 0


def cmd_schemas(args: argparse.Namespace) -> int:
    from shared.events import schema_path, stale_schemas, write_schemas

    if args.check:
        if stale := stale_schemas():
            print("stale JSON Schemas (run `careloop schemas`): " + ", ".join(schema_path(cls).name for cls in stale),
                  file=sys.stderr)
            return 1
        print("JSON Schemas are current")
        return 0
    for path in write_schemas():
        print(path)
    return 0


# --- dev: the whole system on the embedded defaults -------------------------------------------


def _wait_ready(url: str, *, timeout_s: float, proc: subprocess.Popen[bytes], path: str = "/health/ready") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited with code {proc.returncode}")
        try:
            if httpx.get(f"{url}{path}", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} was not ready within {timeout_s}s")


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def cmd_dev(args: argparse.Namespace) -> int:
    """The whole system on this machine, for a user whose data it keeps.

    - Broker: ``CARELOOP_KAFKA_BOOTSTRAP_SERVERS`` when set; else ``--broker`` (``CARELOOP_DEV_BROKER``):
      the embedded Tansu (history in memory only) or a local Apache Kafka from ``CARELOOP_KAFKA_HOME``,
      durable on disk under ``<data dir>/kafka``, with the idempotent producer on.
    - Database: ``CARELOOP_DB_ADMIN_URL`` when set; else the embedded PostgreSQL in ``<data dir>/pgdata``
      with fsync and synchronous commit on (its data is the user's data).
    - Each service runs as its own process, its output in ``<data dir>/logs/<service>.log``; one that
      exits is restarted after a back-off (at most five times in a row) or reported, and the others
      keep running.
    - Demo data is loaded once per database (``--no-demo``: not at all; ``--reset-data``: wipe the
      embedded PostgreSQL's and local Kafka's data, and the demo comes again).
    - Ctrl-C (or SIGTERM) drains the pipeline first (bounded by ``--drain-timeout``): until every
      outbox is published and every consumer group has caught up; then the services stop, then the
      broker and the database.
    """
    from shared.demo import database_identity, load_demo_data, loaded_before, mark_loaded
    from shared.devstack import (
        FETCH_MAX_WAIT_MS,
        EmbeddedKafka,
        EmbeddedPostgres,
        Supervised,
        drain,
        service_process_env,
        without_database_secrets,
    )
    from shared.local_kafka import KAFKA_HOME_VARIABLE, LocalKafka, LocalKafkaError, java_available, kafka_home

    settings = _settings()
    data_dir = Path(settings.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    logs = data_dir / "logs"
    logs.mkdir(exist_ok=True)
    broker_kind = args.broker or settings.dev_broker
    env = dict(os.environ)
    started: list[object] = []
    processes: list[Supervised] = []
    stack_settings: Settings | None = None
    running = False

    def shutdown(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, shutdown)
    # Ctrl-C even when started in the background of a shell, which starts it with SIGINT ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if args.reset_data:
            import shutil

            for wiped in ("pgdata", "kafka"):
                shutil.rmtree(data_dir / wiped, ignore_errors=True)
            (data_dir / "demo-loaded.json").unlink(missing_ok=True)
        if settings.kafka.bootstrap_servers:
            print(f"broker      {settings.kafka.bootstrap_servers}")
        elif broker_kind == "kafka":
            home = kafka_home()
            if home is None:
                named = os.environ.get(KAFKA_HOME_VARIABLE)
                print(f"--broker kafka needs {KAFKA_HOME_VARIABLE}: the Apache Kafka installation (the folder "
                      "holding bin/kafka-server-start.sh)" + (f"; {named} is not one" if named else ""), file=sys.stderr)
                return 2
            if not java_available():
                print("--broker kafka needs a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless) "
                      "or JAVA_HOME", file=sys.stderr)
                return 2
            local = LocalKafka(home, data_dir / "kafka", port=args.kafka_port)
            ours = not local.running()
            try:
                local.start()
            except (LocalKafkaError, subprocess.CalledProcessError) as exc:
                print(f"Apache Kafka did not start: {exc}", file=sys.stderr)
                return 1
            if ours:
                started.append(local)
            env["CARELOOP_KAFKA_BOOTSTRAP_SERVERS"] = local.bootstrap_servers
            print(f"broker      Apache Kafka (local, on disk) on {local.bootstrap_servers}  data: {local.data_dir}"
                  + ("" if ours else "  (already running: left running at the end)"))
        else:
            kafka = EmbeddedKafka(port=args.kafka_port, log_path=logs / "broker.log").start()
            started.append(kafka)
            env["CARELOOP_KAFKA_BOOTSTRAP_SERVERS"] = kafka.bootstrap_servers
            env["CARELOOP_KAFKA_IDEMPOTENT_PRODUCER"] = "false"  # the embedded broker does not implement it
            env.setdefault("CARELOOP_CONSUMER_FETCH_MAX_WAIT_MS", str(FETCH_MAX_WAIT_MS))
            print(f"broker      Tansu (embedded, history in memory only) on {kafka.bootstrap_servers}")
        if not settings.db.admin_url:
            pg = EmbeddedPostgres(data_dir / "pgdata", port=args.pg_port, durable=True).start()
            started.append(pg)
            env["CARELOOP_DB_ADMIN_URL"] = pg.admin_url
            print(f"database    PostgreSQL 18 (embedded, fsync on) {pg.admin_url}  data: {pg.data_dir}")
        else:
            print("database    from CARELOOP_DB_ADMIN_URL")
        issuer_key = None
        if not settings.auth.issuer:
            from shared.auth.issuer import SigningKey, dev_issuer_url, dev_key_path

            issuer_key = SigningKey.load_or_create(dev_key_path(data_dir))
            issuer_port = args.issuer_port or settings.auth.dev_issuer_port
            env["CARELOOP_AUTH_ISSUER"] = dev_issuer_url(issuer_port)
            issuer = Supervised(
                "dev-issuer", [sys.executable, "-m", "shared.cli", "dev-issuer", "--port", str(issuer_port)],
                env={**without_database_secrets(env), "CARELOOP_DATA_DIR": str(data_dir)},
                log_path=logs / "dev-issuer.log", url=env["CARELOOP_AUTH_ISSUER"],
            ).start()
            processes.append(issuer)
            assert issuer.process is not None
            _wait_ready(env["CARELOOP_AUTH_ISSUER"], timeout_s=30, proc=issuer.process, path="/health/live")
            print(f"tokens      development issuer {env['CARELOOP_AUTH_ISSUER']} (demo users only; "
                  "`careloop token --user NAME`)")
        else:
            print(f"tokens      {settings.auth.issuer}")
        os.environ.update(env)
        stack_settings = Settings()
        asyncio.run(_create_topics(stack_settings))
        asyncio.run(_migrate(stack_settings, list(SERVICES)))
        urls = {s: f"http://{stack_settings.host}:{stack_settings.port(s)}" for s in SERVICES}
        for service in SERVICES:
            # the admin URL stays here, with the migration step: each service gets its own role's URL
            processes.append(Supervised(
                service, [sys.executable, "-m", "shared.cli", "serve", service],
                env=service_process_env(env, stack_settings.db, service), log_path=logs / f"{service}.log",
                url=urls[service],
            ).start())
        for supervised in processes:
            if supervised.name in urls:
                assert supervised.process is not None
                try:
                    _wait_ready(urls[supervised.name], timeout_s=60, proc=supervised.process)
                except (RuntimeError, TimeoutError) as exc:
                    print(f"{supervised.name} did not start: {exc}; the end of {supervised.log_path}:\n"
                          f"{_log_tail(supervised.log_path)}", file=sys.stderr)
                    return 1
        running = True  # from here on, a stop drains the pipeline first
        demo_token = os.environ.get("CARELOOP_DEMO_TOKEN")
        if issuer_key is not None:
            demo_token = issuer_key.mint_for("demo-loader", issuer=stack_settings.auth.issuer or "")
        if args.no_demo:
            print("demo data   not loaded (--no-demo)")
        elif demo_token:
            identity = database_identity(stack_settings.db.admin_url or "")
            earlier = loaded_before(data_dir, identity)
            if earlier is not None:
                print(f"demo data   loaded into this database at {earlier.get('loaded_at')}; not loaded again "
                      "(--reset-data starts afresh)")
            else:
                demo_settings = stack_settings

                def settle() -> None:  # routing learns each project's warranty before its repair requests
                    asyncio.run(drain(demo_settings, timeout_s=30))

                summary = load_demo_data(urls, token=demo_token, settle=settle)
                mark_loaded(data_dir, identity, summary)
                print(f"demo data   {json.dumps(summary, ensure_ascii=False)}")
        else:
            print("demo data   skipped: set CARELOOP_DEMO_TOKEN to a token of your issuer to load it")
        print()
        for supervised in processes:
            where = f"{urls[supervised.name]}/docs" if supervised.name in urls else supervised.url
            print(f"{supervised.name:<11} {supervised.state:<8} pid {supervised.pid:<8} {where}  "
                  f"log: {supervised.log_path}")
        if issuer_key is not None:
            executive = issuer_key.mint_for("executive", issuer=stack_settings.auth.issuer or "", ttl_s=12 * 3600)
            print(f"dashboard   {urls['reporting']}/dashboard/#access_token={executive}")
        print("\nCareLoop is running. Press Ctrl-C to stop.", flush=True)
        while True:
            for supervised in processes:
                if said := supervised.poll():
                    print(said, flush=True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        if running and stack_settings is not None:
            _drain_before_stop(stack_settings, timeout_s=args.drain_timeout)
        for supervised in reversed(processes):
            supervised.stop()
        for infra in reversed(started):
            infra.stop()  # type: ignore[attr-defined]


def _drain_before_stop(settings: Settings, *, timeout_s: float) -> None:
    """Wait (at most ``timeout_s``) until the outboxes are published and the consumers have caught
    up, so that stopping the broker loses nothing in flight; a second Ctrl-C stops at once."""
    from shared.devstack import drain

    print(f"draining    waiting up to {timeout_s:.0f} s for the outboxes and consumers (Ctrl-C again: stop now)",
          flush=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        left = asyncio.run(drain(settings, timeout_s=timeout_s))
    except KeyboardInterrupt:
        print("draining    interrupted: stopping now", flush=True)
        return
    if left:
        print(f"draining    not drained within {timeout_s:.0f} s, still under way: "
              f"{', '.join(f'{k} {v}' for k, v in sorted(left.items()))}", flush=True)
    else:
        print("draining    done: every outbox published, every consumer caught up", flush=True)


def cmd_rebuild_reporting(args: argparse.Namespace) -> int:
    """Exit 0: staged (or swapped) from complete history; 2: refused (service running, nothing to
    confirm, ...); 3: the topics hold less history than the live views consumed (live views untouched)."""
    from services.reporting import rebuild as rb

    settings = _settings()
    try:
        if args.list:
            print(json.dumps(asyncio.run(rb.list_schemas(settings)), ensure_ascii=False, indent=2))
            return 0
        if args.drop:
            asyncio.run(rb.drop_schema(settings, args.drop))
            print(f"已删除 {args.drop} / dropped {args.drop}")
            return 0
        if args.rollback:
            kept = asyncio.run(rb.rollback(settings, None if args.rollback == "latest" else args.rollback))
            print(f"已换回原视图；被替换的视图保留为 {kept} / swapped the previous views back in; "
                  f"the views they replaced are kept as {kept}")
            return 0
        if args.confirm and args.confirm != "now":
            report = asyncio.run(rb.confirm(settings, args.confirm,
                                            accept_missing_history=args.accept_missing_history))
        else:
            report = asyncio.run(rb.rebuild(settings, confirm=args.confirm == "now",
                                            accept_missing_history=args.accept_missing_history))
    except rb.RebuildRefused as exc:
        print(f"拒绝 / refused: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    print(report.summary(), file=sys.stderr if report.shortfalls and not report.swapped else sys.stdout)
    for shortfall in report.shortfalls:
        print(f"  - {shortfall}", file=sys.stderr if not report.swapped else sys.stdout)
    return 3 if report.shortfalls and not report.swapped else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from shared.demo import load_demo_data

    settings = _settings()
    urls = {s: f"http://{settings.host}:{settings.port(s)}" for s in SERVICES}
    token = args.token or os.environ.get("CARELOOP_DEMO_TOKEN") or _dev_token(settings, "demo-loader", 3600)

    def settle() -> None:
        """Routing learns the projects' warranty periods before the repair requests come: wait for
        the pipeline to drain when the database can be asked (the admin URL), else a few seconds."""
        if settings.db.admin_url and settings.kafka.bootstrap_servers:
            from shared.devstack import drain

            asyncio.run(drain(settings, timeout_s=30))
        else:
            time.sleep(5)

    print(json.dumps(load_demo_data(urls, token=token, settle=settle), ensure_ascii=False, indent=2))
    return 0


# --- calendar: a year's official holiday schedule -----------------------------------------------


def cmd_calendar(args: argparse.Namespace) -> int:
    from shared.national_calendar import HolidaySchedule, ScheduleInvalid

    if args.calendar_command == "status":
        print(json.dumps(asyncio.run(_calendar_status()), ensure_ascii=False, indent=2, default=str))
        return 0
    try:
        schedule = HolidaySchedule.from_text(Path(args.file).read_bytes())
    except OSError as exc:
        print(f"无法读取 {args.file}：{exc.strerror}", file=sys.stderr)
        return 2
    except ScheduleInvalid as exc:
        for error in exc.errors:
            print(f"{error['field']}: {error['reason']}", file=sys.stderr)
        return 2
    if args.calendar_command == "check":
        print(json.dumps({"year": schedule.year, "digest": schedule.digest, "valid": True,
                          **schedule.as_document()}, ensure_ascii=False, indent=2))
        return 0
    loaded_by = args.by or f"cli:{os.environ.get('USER', 'operator')}"
    result = asyncio.run(_calendar_load(schedule, loaded_by=loaded_by, dry_run=args.dry_run))
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


async def _routing_calendar() -> tuple[object, object, object]:
    """Routing's database and a planner on its stored schedules, as a routing replica has them."""
    from services.routing.adapters import CalendarPlanner
    from services.routing.config import SERVICE, RoutingSettings
    from services.routing.models import holiday_schedules
    from services.routing.service import Collaborators
    from shared.calendar import calendar_from_settings
    from shared.calendar_store import LiveCalendar, stored_schedules
    from shared.clock import utc_now
    from shared.db.uow import UnitOfWorkFactory, make_engine

    settings = RoutingSettings()
    engine = make_engine(settings.db.service_url(SERVICE), settings, application_name="careloop-cli")
    factory = UnitOfWorkFactory(engine, schema=SERVICE)
    live = LiveCalendar(calendar_from_settings(settings.working_hours))
    async with factory() as uow:
        live.use(await stored_schedules(uow.session, holiday_schedules))
    deps = Collaborators(clock=utc_now, classifier=None,  # type: ignore[arg-type]  (not classifying)
                         planner=CalendarPlanner(live, settings.deadline_policy()))
    return engine, factory, deps


async def _calendar_load(schedule: object, *, loaded_by: str, dry_run: bool) -> dict[str, object]:
    from services.routing import calendar_service
    from services.routing.calendar_api import _load_out

    engine, factory, deps = await _routing_calendar()
    try:
        async with factory() as uow:  # type: ignore[operator]
            result = await calendar_service.load_holiday_schedule(
                schedule, loaded_by=loaded_by, uow=uow, deps=deps)  # type: ignore[arg-type]
            if not dry_run:
                await uow.commit()
    finally:
        await engine.dispose()  # type: ignore[attr-defined]
    return _load_out(result, dry_run=dry_run).model_dump()


async def _calendar_status() -> dict[str, object]:
    from services.routing import calendar_service
    from shared.clock import utc_now

    engine, _factory, deps = await _routing_calendar()
    await engine.dispose()  # type: ignore[attr-defined]
    live = calendar_service.live_calendar(deps)  # type: ignore[arg-type]
    return {"loaded": [{"year": s.year, "digest": s.digest, "notice": s.notice} for s in live.national.loaded],
            **live.readiness_note(utc_now().date())}


# --- tokens: the development issuer of the local stack ----------------------------------------


def _dev_token(settings: Settings, user: str, ttl_s: int) -> str:
    """A token from the dev stack's issuer key (in the data directory), for a demo user."""
    from shared.auth.issuer import SigningKey, dev_issuer_url, dev_key_path

    path = dev_key_path(settings.data_dir)
    if not path.exists():
        raise SystemExit(f"no development issuer key at {path}: start `careloop dev` first")
    issuer = settings.auth.issuer or dev_issuer_url(settings.auth.dev_issuer_port)
    return SigningKey.load_or_create(path).mint_for(user, issuer=issuer, audience=settings.auth.audience, ttl_s=ttl_s)


def cmd_token(args: argparse.Namespace) -> int:
    from shared.auth.issuer import DEMO_USERS

    if args.user not in DEMO_USERS:
        print(f"unknown demo user {args.user!r}; one of: {', '.join(DEMO_USERS)}", file=sys.stderr)
        return 2
    print(_dev_token(_settings(), args.user, args.ttl))
    return 0


def cmd_dev_issuer(args: argparse.Namespace) -> int:
    import uvicorn

    from shared.auth.issuer import SigningKey, dev_issuer_url, dev_key_path, issuer_app

    settings = _settings()
    port = args.port or settings.auth.dev_issuer_port
    issuer = settings.auth.issuer or dev_issuer_url(port)
    key = SigningKey.load_or_create(dev_key_path(settings.data_dir))
    # Loopback only: its token endpoint hands out tokens to anyone who names a demo user.
    uvicorn.run(issuer_app(key, issuer=issuer, audience=settings.auth.audience), host="127.0.0.1", port=port,
                log_config=None, access_log=False)
    return 0


# --- dlq: dead letters, listed, shown and replayed ---------------------------------------------


def cmd_dlq(args: argparse.Namespace) -> int:
    from shared.messaging import dlq

    settings = _settings()
    if args.dlq_command in ("parked", "unpark"):
        return _parked(settings, args)
    letters = asyncio.run(dlq.dead_letters(settings, topic=args.topic))
    if getattr(args, "kind", None):
        letters = [letter for letter in letters if letter.kind == args.kind]
    if getattr(args, "consumer", None):
        letters = [letter for letter in letters if letter.consumer == args.consumer]
    if args.dlq_command == "list":
        if args.pending:
            letters = [letter for letter in letters if not letter.replayed]
        if args.json:
            print(json.dumps([letter.summary() for letter in letters], ensure_ascii=False, indent=2))
            return 0
        print(f"{'id':<36}  {'kind':<15} {'consumer':<18} {'original':<40} {'replayed':<8} reason")
        for letter in letters:
            print(f"{letter.letter_id:<36}  {letter.kind:<15} {letter.consumer:<18} {letter.original_position:<40} "
                  f"{'yes' if letter.replayed else 'no':<8} {letter.reason[:100]}")
        print(f"{len(letters)} dead letter(s)")
        return 0
    try:
        if args.dlq_command == "show":
            letter = dlq.find(letters, args.id)
            payload: object
            try:
                payload = json.loads(letter.payload)
            except ValueError:
                payload = repr(letter.payload[:2000])
            print(json.dumps({**letter.summary(), "key": letter.key.decode("utf-8", "replace") if letter.key else None,
                              "headers": letter.headers, "payload": payload, "replays": letter.replays},
                             ensure_ascii=False, indent=2))
            return 0
        chosen = ([dlq.find(letters, i) for i in args.ids] if args.ids
                  else [letter for letter in letters if args.again or not letter.replayed])
        if not args.ids and not args.all:
            print("name the letters to replay, or --all (with --topic/--kind/--consumer to narrow)", file=sys.stderr)
            return 2
        if args.dry_run:
            for letter in chosen:
                print(f"would replay {letter.letter_id} to {letter.original_topic} ({letter.kind}: {letter.reason[:80]})")
            return 0
        for entry in asyncio.run(dlq.replay(settings, chosen, again=args.again)):
            print(f"replayed {entry['letter_id']} -> {entry['to']}")
        print(f"{len(chosen)} replayed")
        return 0
    except dlq.ReplayRefused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2


def _parked(settings: Settings, args: argparse.Namespace) -> int:
    from shared.messaging import parked

    if args.dlq_command == "unpark":
        if args.service not in SERVICES:
            print(f"unknown service: {args.service}", file=sys.stderr)
            return 2
        if not asyncio.run(parked.unpark(settings, args.service, args.id)):
            print(f"no parked row {args.id} in {args.service}'s outbox", file=sys.stderr)
            return 1
        print(f"{args.service} outbox row {args.id} handed back to the relay")
        return 0
    rows = asyncio.run(parked.parked_rows(settings, [args.service] if args.service else None))
    if args.json:
        print(json.dumps([row.summary() for row in rows], ensure_ascii=False, indent=2))
        return 0
    print(f"{'service':<10} {'id':>10}  {'event type':<28} {'topic':<30} {'bytes':>9}  reason")
    for row in rows:
        print(f"{row.service:<10} {row.id:>10}  {row.event_type:<28} {row.topic:<30} {row.size:>9}  {row.reason[:100]}")
    print(f"{len(rows)} parked outbox row(s)")
    return 0


# --- kafka: a local Apache Kafka from a Kafka home -----------------------------------------------


def cmd_kafka(args: argparse.Namespace) -> int:
    """Start, stop or report a single-node Apache Kafka of our own (``shared.local_kafka``).

    The Kafka home is ``--home`` or ``CARELOOP_KAFKA_HOME``; every file the broker writes goes to
    ``--data-dir`` (default ``<CARELOOP_DATA_DIR>/kafka``), so it is durable across restarts unless
    ``--reset``. Exit 2 when there is no Kafka home or no Java runtime."""
    from shared.local_kafka import KAFKA_HOME_VARIABLE, LocalKafka, LocalKafkaError, java_available, kafka_home
    from shared.local_kafka import recorded_port

    data_dir = Path(args.data_dir or Path(_settings().data_dir) / "kafka").resolve()
    if args.kafka_command == "start":
        named = args.home or os.environ.get(KAFKA_HOME_VARIABLE)
        if not named:
            print(f"no Kafka home: give --home or set {KAFKA_HOME_VARIABLE} to an Apache Kafka installation "
                  "(the folder holding bin/kafka-server-start.sh)", file=sys.stderr)
            return 2
        home = kafka_home(named)
        if home is None:
            print(f"{named} is not a Kafka installation (no bin/kafka-server-start.sh)", file=sys.stderr)
            return 2
        if not java_available():
            print("no Java runtime: install Java 17+ (Debian: apt-get install openjdk-17-jre-headless) "
                  "or set JAVA_HOME", file=sys.stderr)
            return 2
        kafka = LocalKafka(home, data_dir, port=args.port)
        if kafka.running() and not args.reset:
            port = recorded_port(data_dir) or args.port
            print(f"already running (pid {kafka.running_pid()}); bootstrap servers 127.0.0.1:{port}", file=sys.stderr)
            print(f"127.0.0.1:{port}")
            return 0
        kafka.stop()  # --reset of a running broker: stop it before wiping its data
        try:
            kafka.start(reset=args.reset)
        except (LocalKafkaError, subprocess.CalledProcessError) as exc:
            print(f"Apache Kafka did not start: {exc}", file=sys.stderr)
            return 1
        print(f"Apache Kafka (pid {kafka.running_pid()}) from {home}, data in {data_dir}; "
              f"use CARELOOP_KAFKA_BOOTSTRAP_SERVERS={kafka.bootstrap_servers}", file=sys.stderr)
        print(kafka.bootstrap_servers)
        return 0
    kafka = LocalKafka(Path("."), data_dir)
    pid = kafka.running_pid()
    port = recorded_port(data_dir)
    if args.kafka_command == "stop":
        if pid is None:
            print(f"no broker running from {data_dir}", file=sys.stderr)
            return 0
        kafka.stop()
        print(f"stopped Apache Kafka (pid {pid}) of {data_dir}", file=sys.stderr)
        return 0
    if pid is None:  # status
        print(f"not running (data dir {data_dir})")
        return 1
    print(f"running: pid {pid}, bootstrap servers 127.0.0.1:{port}, data dir {data_dir}")
    return 0


_CLASSIFIER_MODULES = {"evaluate": "figures", "train": "train", "corrections": "corrections"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if len(argv) >= 2 and argv[0] == "classifier" and argv[1] in _CLASSIFIER_MODULES:
        # the classifier's commands parse their own options (services/routing/classification)
        return run_classifier(argv[1], argv[2:])
    parser = argparse.ArgumentParser(prog="careloop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="start broker, database and every service locally, with demo data",
                         description="Start the broker, PostgreSQL and every service locally, keeping the data in "
                                     "CARELOOP_DATA_DIR (.careloop): service logs in <data dir>/logs, demo data "
                                     "loaded once per database. Ctrl-C drains the pipeline, then stops everything.")
    dev.add_argument("--no-demo", action="store_true", help="do not load the demo data (it is loaded once per "
                                                            "database otherwise, never twice)")
    dev.add_argument("--reset-data", action="store_true",
                     help="wipe the embedded PostgreSQL's and the local Apache Kafka's data first (and load the demo "
                          "data again unless --no-demo)")
    dev.add_argument("--broker", choices=("embedded", "kafka"),
                     help="when CARELOOP_KAFKA_BOOTSTRAP_SERVERS is unset: the embedded Tansu broker (history in memory "
                          "only) or a local Apache Kafka from CARELOOP_KAFKA_HOME, durable in <data dir>/kafka "
                          "(default: CARELOOP_DEV_BROKER, else embedded)")
    dev.add_argument("--kafka-port", type=int, default=19092, help="the broker's port (Apache Kafka's controller: "
                                                                   "the next one)")
    dev.add_argument("--pg-port", type=int, default=55432)
    dev.add_argument("--issuer-port", type=int, help="the development token issuer's port (default 8100)")
    dev.add_argument("--drain-timeout", type=float, default=60.0,
                     help="on Ctrl-C, how long to wait for the outboxes and consumers to drain before stopping (s)")
    dev.set_defaults(func=cmd_dev)

    serve = sub.add_parser("serve", help="run one service (HTTP + consumers + outbox relay)")
    serve.add_argument("service", choices=SERVICES)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes sharing the port, each a full replica (default 1; at most one per core)")
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="create roles/schemas and run migrations")
    migrate.add_argument("services", nargs="*", help=f"some of {', '.join(SERVICES)}; all by default")
    migrate.set_defaults(func=cmd_migrate)

    topics = sub.add_parser("topics", help="create every topic (and its dead-letter topic); `check`: report "
                                           "topics whose settings would lose event history")
    topics.set_defaults(func=cmd_topics)
    topics_sub = topics.add_subparsers(dest="topics_command")
    topics_check = topics_sub.add_parser("check", help="report topics whose retention would lose event history")
    topics_check.add_argument("--fix", action="store_true", help="lift the retention limits it finds")
    topics_check.set_defaults(func=cmd_topics)

    schemas = sub.add_parser("schemas", help="write the JSON Schemas of the events and the inbound messages "
                                             "(or --check them)")
    schemas.add_argument("--check", action="store_true")
    schemas.set_defaults(func=cmd_schemas)

    rebuild = sub.add_parser(
        "rebuild-reporting",
        help="replay every topic into a new reporting schema and compare it with the live views (service stopped); "
             "--confirm ID swaps it in, keeping the previous schema",
    )
    rebuild.add_argument("--confirm", nargs="?", const="now", metavar="ID",
                         help="swap in the staged rebuild ID (printed by a rebuild); without ID: rebuild now and "
                              "swap at once if the history is complete")
    rebuild.add_argument("--accept-missing-history", action="store_true",
                         help="allow --confirm to swap in a rebuild built from less history than the live views")
    rebuild.add_argument("--rollback", nargs="?", const="latest", metavar="SCHEMA",
                         help="swap the latest (or the named) previous schema back in")
    rebuild.add_argument("--list", action="store_true", help="list the staged and previous schemas")
    rebuild.add_argument("--drop", metavar="SCHEMA", help="drop a staged or previous schema")
    rebuild.set_defaults(func=cmd_rebuild_reporting)

    demo = sub.add_parser("demo", help="load demo data into a running stack")
    demo.add_argument("--token", help="bearer token to load it with (default: the dev issuer's demo-loader)")
    demo.set_defaults(func=cmd_demo)

    token = sub.add_parser("token", help="print a development token for a demo user (the dev stack's issuer key)")
    token.add_argument("--user", required=True, help="admin, cs-east, handler-east, quality, executive, …")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    token.set_defaults(func=cmd_token)

    dev_issuer = sub.add_parser("dev-issuer", help="serve the development token issuer (started by `careloop dev`)")
    dev_issuer.add_argument("--port", type=int)
    dev_issuer.set_defaults(func=cmd_dev_issuer)

    dead = sub.add_parser("dlq", help="list, show and replay dead-lettered records")
    dead_sub = dead.add_subparsers(dest="dlq_command", required=True)
    for name, text in (("list", "every dead letter: why, where from, whether replayed"),
                       ("show", "one dead letter: headers, payload, replays"),
                       ("replay", "publish dead letters again to their original topic, keyed as before")):
        command = dead_sub.add_parser(name, help=text)
        command.add_argument("--topic", help="only letters of this original topic (e.g. inbound.feedback)")
        command.add_argument("--kind", help="schema-invalid, handler-failed or rejected-source")
        command.add_argument("--consumer", help="only letters of this consumer (e.g. routing.cases)")
        command.set_defaults(func=cmd_dlq)
        if name == "list":
            command.add_argument("--pending", action="store_true", help="only letters not replayed yet")
            command.add_argument("--json", action="store_true")
        elif name == "show":
            command.add_argument("id", help="the letter id (x-dlq-id), or an unambiguous prefix")
        else:
            command.add_argument("ids", nargs="*", help="letter ids (or prefixes)")
            command.add_argument("--all", action="store_true", help="every letter not replayed yet (after filters)")
            command.add_argument("--again", action="store_true", help="also letters replayed before")
            command.add_argument("--dry-run", action="store_true", help="say what would be replayed")

    parked_cmd = dead_sub.add_parser("parked", help="outbox rows the broker refused for good (too large, invalid topic)")
    parked_cmd.add_argument("--service", choices=list(SERVICES))
    parked_cmd.add_argument("--json", action="store_true")
    parked_cmd.set_defaults(func=cmd_dlq)
    unpark_cmd = dead_sub.add_parser("unpark", help="hand a parked outbox row back to the relay once the cause is fixed")
    unpark_cmd.add_argument("service", help="intake, routing, survey or reporting")
    unpark_cmd.add_argument("id", type=int, help="the outbox row's id (from `careloop dlq parked`)")
    unpark_cmd.set_defaults(func=cmd_dlq)

    calendar = sub.add_parser("calendar", help="load a year's official holiday schedule (国务院节假日安排), or check one")
    calendar_sub = calendar.add_subparsers(dest="calendar_command", required=True)
    for name, text in (("load", "store a year's schedule in routing and count its open deadlines again"),
                       ("check", "check a schedule file without loading it"),
                       ("status", "which years are official, which are counted by the statutory rules")):
        command = calendar_sub.add_parser(name, help=text)
        command.set_defaults(func=cmd_calendar)
        if name != "status":
            command.add_argument("file", help="the schedule: JSON or TOML (deploy/calendar/schedule.example.toml)")
        if name == "load":
            command.add_argument("--dry-run", action="store_true", help="count what would change, keep nothing")
            command.add_argument("--by", help="who loads it (default cli:$USER)")

    kafka = sub.add_parser("kafka", help="start, stop or report a local Apache Kafka from a Kafka home "
                                         "(--home or CARELOOP_KAFKA_HOME)")
    kafka_sub = kafka.add_subparsers(dest="kafka_command", required=True)
    for name, text in (("start", "start it (KRaft, one node) and print its bootstrap servers"),
                       ("stop", "stop it (SIGTERM: a clean shutdown)"),
                       ("status", "say whether it runs (exit 1 when not)")):
        command = kafka_sub.add_parser(name, help=text)
        command.add_argument("--data-dir", help="where its files live (default <CARELOOP_DATA_DIR>/kafka)")
        command.set_defaults(func=cmd_kafka)
        if name == "start":
            command.add_argument("--home", help="the Kafka installation (default $CARELOOP_KAFKA_HOME)")
            command.add_argument("--port", type=int, default=29092, help="client port (the controller's is port+1)")
            command.add_argument("--reset", action="store_true", help="wipe its data first (a new, empty cluster)")

    classifier = sub.add_parser("classifier", help="the complaint classifier: evaluate it on the held-out complaints, "
                                                   "train its model, export staff corrections")
    classifier_sub = classifier.add_subparsers(dest="classifier_command", required=True)
    for name, text in (("evaluate", "the held-out figures, the confusion matrix and every miss (exit 1: a target missed)"),
                       ("train", "rebuild model.json from the labelled complaints (--check: compare, --cross-validate)"),
                       ("corrections", "staff reclassifications as labelled complaints for the next training round")):
        command = classifier_sub.add_parser(name, help=text, add_help=False)
        command.add_argument("rest", nargs=argparse.REMAINDER)
        command.set_defaults(func=cmd_classifier)

    args = parser.parse_args(argv)
    return int(args.func(args))


def cmd_classifier(args: argparse.Namespace) -> int:
    return run_classifier(args.classifier_command, args.rest)


def run_classifier(command: str, rest: list[str]) -> int:
    """Hands the arguments to the classifier's own commands (services/routing/classification)."""
    import importlib

    return int(importlib.import_module(f"services.routing.classification.{_CLASSIFIER_MODULES[command]}").main(rest))


if __name__ == "__main__":
    sys.exit(main())
