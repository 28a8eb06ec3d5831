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
    for name in asyncio.run(_create_topics(_settings())):
        print(name)
    return 0


def cmd_schemas(args: argparse.Namespace) -> int:
    from shared.events import ALL_EVENT_CLASSES, render_schema, schema_path, write_schemas

    if args.check:
        stale = [
            cls.EVENT_TYPE
            for cls in ALL_EVENT_CLASSES
            if not schema_path(cls).exists() or schema_path(cls).read_text(encoding="utf-8") != render_schema(cls)
        ]
        if stale:
            print("stale JSON Schemas (run `careloop schemas`): " + ", ".join(stale), file=sys.stderr)
            return 1
        print("JSON Schemas are current")
        return 0
    for path in write_schemas():
        print(path)
    return 0


# --- dev: the whole system on the embedded defaults -------------------------------------------


def _wait_ready(url: str, *, timeout_s: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited with code {proc.returncode}")
        try:
            if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} was not ready within {timeout_s}s")


def cmd_dev(args: argparse.Namespace) -> int:
    from shared.devstack import EmbeddedKafka, EmbeddedPostgres

    settings = _settings()
    data_dir = Path(settings.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    started: list[object] = []
    processes: list[tuple[str, subprocess.Popen[bytes]]] = []

    def shutdown(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, shutdown)
    try:
        if not settings.kafka.bootstrap_servers:
            kafka = EmbeddedKafka(port=args.kafka_port, log_path=data_dir / "tansu.log").start()
            started.append(kafka)
            env["CARELOOP_KAFKA_BOOTSTRAP_SERVERS"] = kafka.bootstrap_servers
            print(f"broker      Tansu (embedded, in memory) on {kafka.bootstrap_servers}")
        else:
            print(f"broker      {settings.kafka.bootstrap_servers}")
        if not settings.db.admin_url:
            if args.reset_data:
                import shutil

                shutil.rmtree(data_dir / "pgdata", ignore_errors=True)
            pg = EmbeddedPostgres(data_dir / "pgdata", port=args.pg_port).start()
            started.append(pg)
            env["CARELOOP_DB_ADMIN_URL"] = pg.admin_url
            print(f"database    PostgreSQL 18 (embedded) {pg.admin_url}  data: {pg.data_dir}")
        else:
            print("database    from CARELOOP_DB_ADMIN_URL")
        os.environ.update(env)
        stack_settings = Settings()
        asyncio.run(_create_topics(stack_settings))
        asyncio.run(_migrate(stack_settings, list(SERVICES)))
        for service in SERVICES:
            proc = subprocess.Popen(
                [sys.executable, "-m", "shared.cli", "serve", service], env=env, start_new_session=True
            )
            processes.append((service, proc))
        urls = {s: f"http://{stack_settings.host}:{stack_settings.port(s)}" for s in SERVICES}
        for service, proc in processes:
            _wait_ready(urls[service], timeout_s=60, proc=proc)
        if not args.no_demo:
            from shared.demo import load_demo_data

            summary = load_demo_data(urls)
            print(f"demo data   {json.dumps(summary, ensure_ascii=False)}")
        print()
        for service in SERVICES:
            print(f"{service:<11} {urls[service]}/docs")
        print("\nCareLoop is running. Press Ctrl-C to stop.", flush=True)
        while True:
            for service, proc in processes:
                if proc.poll() is not None:
                    print(f"{service} exited with code {proc.returncode}; stopping", file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping…")
        return 0
    finally:
        for _service, proc in processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for _service, proc in processes:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for infra in reversed(started):
            infra.stop()  # type: ignore[attr-defined]


def cmd_rebuild_reporting(args: argparse.Namespace) -> int:
    from services.reporting.rebuild import RebuildRefused, rebuild

    try:
        report = asyncio.run(rebuild(_settings()))
    except RebuildRefused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"records": report.records, "projected": report.projected, "skipped": report.skipped,
                      "offsets": report.offsets}, indent=2))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from shared.demo import load_demo_data

    settings = _settings()
    urls = {s: f"http://{settings.host}:{settings.port(s)}" for s in SERVICES}
    print(json.dumps(load_demo_data(urls), ensure_ascii=False, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="careloop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="start broker, database and every service locally, with demo data")
    dev.add_argument("--no-demo", action="store_true", help="do not load demo data")
    dev.add_argument("--reset-data", action="store_true", help="wipe the embedded PostgreSQL data first")
    dev.add_argument("--kafka-port", type=int, default=19092)
    dev.add_argument("--pg-port", type=int, default=55432)
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

    topics = sub.add_parser("topics", help="create every topic (and its dead-letter topic)")
    topics.set_defaults(func=cmd_topics)

    schemas = sub.add_parser("schemas", help="write the events' JSON Schemas (or --check them)")
    schemas.add_argument("--check", action="store_true")
    schemas.set_defaults(func=cmd_schemas)

    rebuild = sub.add_parser(
        "rebuild-reporting", help="replay every topic into a fresh reporting schema and swap it in (service stopped)"
    )
    rebuild.set_defaults(func=cmd_rebuild_reporting)

    demo = sub.add_parser("demo", help="load demo data into a running stack")
    demo.set_defaults(func=cmd_demo)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
