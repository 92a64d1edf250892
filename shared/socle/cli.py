"""The command line every service shares: ``migrate [--check]``, ``serve``, ``doctor``,
``outbox-status`` and ``offboard-tenant`` (plus its own commands)."""

from __future__ import annotations

import argparse
import importlib
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from socle.config import ServiceSettings, load_settings
from socle.doctor import doctor, outbox_status
from socle.migrations import check, upgrade
from socle.offboarding import Hook, offboard_command

Command = Callable[[ServiceSettings, argparse.Namespace], int]


def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def preflight(settings: ServiceSettings, host: str, port: int) -> str | None:
    """The first reason the service cannot start, as one line for an operator, or None."""
    if not _port_free(host, port):
        return f"port {port} on {host} is taken: stop what uses it or choose another with --port"
    return None


def _database_error(exc: Exception) -> str:
    """One line for an operator, without the URL (it holds the password)."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return (
        f"database unreachable or refused ({exc.__class__.__name__}: {reason[0] if reason else ''})"
    )


def migrate(name: str, migrations: Path, settings: ServiceSettings, *, check_only: bool) -> int:
    """``migrate``: apply the migrations; ``migrate --check``: exit 1 unless at the head."""
    try:
        before = check(migrations, settings.database_url)
        if check_only:
            print(f"socle-{name}: {before.describe()}")
            return 1 if before.behind else 0
        if not before.behind:
            print(f"socle-{name}: nothing to do, {before.describe()}")
            return 0
        upgrade(migrations, settings.database_url)
        after = check(migrations, settings.database_url)
    except (OSError, SQLAlchemyError) as exc:
        return fail(f"socle-{name}: {_database_error(exc)}")
    was = ", ".join(before.current) or "an empty database"
    print(f"socle-{name}: migrated from {was} to {', '.join(after.current)}")
    return 0


def server_config(app: FastAPI, host: str, port: int, settings: ServiceSettings) -> uvicorn.Config:
    """How every service is served: idle connections kept longer than clients' and load
    balancers' idle timeouts (httpx: 5 s, AWS ALB: 60 s), so the server never closes a
    connection a client is about to reuse; requests in flight finish at shutdown."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        log_config=None,  # uvicorn's records go through the service's JSON logging
        access_log=False,
        timeout_keep_alive=settings.keepalive_seconds,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


def main(
    *,
    name: str,
    settings_cls: type[ServiceSettings],
    create_app: Callable[[Any], FastAPI],
    migrations: Path,
    default_port: int,
    commands: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Command]]
    | None = None,
    offboard_hook: Hook | None = None,
    argv: list[str] | None = None,
) -> int:
    parser = argparse.ArgumentParser(prog=f"socle-{name}")
    sub = parser.add_subparsers(dest="command", required=True)
    migrate_cmd = sub.add_parser("migrate", help="apply database migrations")
    migrate_cmd.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 when the database is behind the code's migrations",
    )
    serve = sub.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=default_port)
    doctor_cmd = sub.add_parser(
        "doctor", help="check settings, database and schema, NATS, JWKS (and S3, SMTP)"
    )
    doctor_cmd.add_argument("--json", action="store_true", help="one JSON object")
    outbox_cmd = sub.add_parser(
        "outbox-status", help="events waiting in the outbox: how many, the oldest's age"
    )
    outbox_cmd.add_argument("--json", action="store_true", help="one JSON object")
    offboard_cmd = sub.add_parser(
        "offboard-tenant", help="a tenant's data: list it, or export and delete it (--confirm)"
    )
    offboard_cmd.add_argument("tenant")
    offboard_cmd.add_argument(
        "--confirm", action="store_true", help="delete (default: only count what would go)"
    )
    offboard_cmd.add_argument(
        "--export-dir", type=Path, help="write the rows as JSON lines here before deleting"
    )
    for cmd, (help_, configure, _) in (commands or {}).items():
        configure(sub.add_parser(cmd, help=help_))
    args = parser.parse_args(argv)
    settings = load_settings(settings_cls)
    if args.command == "migrate":
        return migrate(name, migrations, settings, check_only=args.check)
    if args.command == "doctor":
        return doctor(name, settings, migrations, as_json=args.json)
    if args.command == "outbox-status":
        return outbox_status(name, settings, as_json=args.json)
    if args.command == "offboard-tenant":
        metadata = importlib.import_module(f"socle_{name}.models").Base.metadata
        return offboard_command(
            name,
            settings,
            metadata,
            args.tenant,
            apply=args.confirm,
            export_dir=args.export_dir,
            hook=offboard_hook,
        )
    if args.command == "serve":
        problem = preflight(settings, args.host, args.port)
        if problem:
            return fail(f"socle-{name}: {problem}")
        # NATS may be down: the service starts anyway (its events wait in the outbox) and
        # logs that it is retrying.
        app = create_app(settings)  # configures the JSON logging uvicorn's records go through
        uvicorn.Server(server_config(app, args.host, args.port, settings)).run()
        return 0
    _, _, run = (commands or {})[args.command]
    return run(settings, args)
