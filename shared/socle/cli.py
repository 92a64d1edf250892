"""The command line every service shares: ``migrate`` and ``serve`` (plus its own commands)."""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from socle.config import ServiceSettings, load_settings
from socle.migrations import upgrade

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


def server_config(app: FastAPI, host: str, port: int, settings: ServiceSettings) -> uvicorn.Config:
    """How every service is served: idle connections kept longer than clients' and load
    balancers' idle timeouts (httpx: 5 s, AWS ALB: 60 s), so the server never closes a
    connection a client is about to reuse; requests in flight finish at shutdown."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
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
    argv: list[str] | None = None,
) -> int:
    parser = argparse.ArgumentParser(prog=f"socle-{name}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations")
    serve = sub.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=default_port)
    for cmd, (help_, configure, _) in (commands or {}).items():
        configure(sub.add_parser(cmd, help=help_))
    args = parser.parse_args(argv)
    settings = load_settings(settings_cls)
    if args.command == "migrate":
        upgrade(migrations, settings.database_url)
        return 0
    if args.command == "serve":
        problem = preflight(settings, args.host, args.port)
        if problem:
            return fail(f"socle-{name}: {problem}")
        uvicorn.Server(server_config(create_app(settings), args.host, args.port, settings)).run()
        return 0
    _, _, run = (commands or {})[args.command]
    return run(settings, args)
