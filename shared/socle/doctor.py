"""``doctor`` and ``outbox-status``: what an operator asks a service's dependencies without
serving it. Every service's command line has both (``python -m socle_<svc> doctor``); the
``socle`` command runs them for every service."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import httpx
import nats
from sqlalchemy import func, select, text

from socle.config import ServiceSettings
from socle.db import create_engine, outbox_table, utcnow
from socle.migrations import check

TIMEOUT = 5.0


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def _reason(exc: BaseException) -> str:
    text_ = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text_[0] if text_ else ''}"[:300]


async def _database(settings: ServiceSettings, migrations: Path) -> list[Check]:
    engine = create_engine(settings.database_url)
    try:
        async with asyncio.timeout(TIMEOUT), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        return [Check("database", False, f"unreachable ({_reason(exc)})")]
    finally:
        await engine.dispose()
    try:
        state = await asyncio.to_thread(check, migrations, settings.database_url)
    except Exception as exc:
        return [Check("database", True, "reachable"), Check("schema", False, _reason(exc))]
    return [
        Check("database", True, "reachable"),
        Check("schema", not state.behind, state.describe()),
    ]


async def _quiet(exc: Exception) -> None:
    """nats-py prints a traceback for every failed attempt; the check reports one line."""


async def _bus(settings: ServiceSettings) -> list[Check]:
    try:
        async with asyncio.timeout(TIMEOUT * 2):  # nats-py may retry a first connection forever
            nc = await nats.connect(
                settings.nats_url,
                connect_timeout=TIMEOUT,
                max_reconnect_attempts=0,
                allow_reconnect=False,
            )
    except Exception as exc:
        return [Check("nats", False, f"unreachable at {settings.nats_url} ({_reason(exc)})")]
    try:
        js = nc.jetstream()
        checks = [Check("nats", True, f"reachable at {settings.nats_url}")]
        for stream in (settings.stream_name, f"{settings.stream_name}_DEADLETTER"):
            try:
                info = await js.stream_info(stream)
                checks.append(Check(f"stream {stream}", True, f"{info.state.messages} messages"))
            except Exception as exc:
                checks.append(
                    Check(
                        f"stream {stream}",
                        False,
                        f"missing ({_reason(exc)}); a service creates it when it starts",
                    )
                )
        return checks
    finally:
        await nc.close()


async def _jwks(settings: ServiceSettings) -> Check:
    url = settings.resolved_jwks_url
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            answer = await client.get(url)
        keys = answer.json().get("keys", []) if answer.status_code == 200 else []
    except Exception as exc:
        return Check("jwks", False, f"{url} unreachable ({_reason(exc)})")
    if not keys:
        return Check("jwks", False, f"{url} answered {answer.status_code} without keys")
    return Check("jwks", True, f"{url}: {len(keys)} key(s)")


async def _s3(settings: ServiceSettings) -> Check | None:
    endpoint = getattr(settings, "s3_endpoint", None)
    if not endpoint:
        return None
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            answer = await client.get(str(endpoint))
    except Exception as exc:
        return Check("s3", False, f"{endpoint} unreachable ({_reason(exc)})")
    return Check("s3", answer.status_code < 500, f"{endpoint} answered {answer.status_code}")


async def _smtp(settings: ServiceSettings) -> Check | None:
    host, port = getattr(settings, "smtp_host", None), getattr(settings, "smtp_port", None)
    if not host or not port:
        return None
    try:
        async with asyncio.timeout(TIMEOUT):
            reader, writer = await asyncio.open_connection(str(host), int(port))
            greeting = (await reader.readline()).decode(errors="replace").strip()
            writer.close()
    except Exception as exc:
        return Check("smtp", False, f"{host}:{port} unreachable ({_reason(exc)})")
    return Check("smtp", greeting.startswith("220"), f"{host}:{port} greets {greeting[:60]!r}")


async def diagnose(settings: ServiceSettings, migrations: Path) -> list[Check]:
    checks = [Check("settings", True, "valid")]
    checks += await _database(settings, migrations)
    checks += await _bus(settings)
    checks.append(await _jwks(settings))
    for extra in (await _s3(settings), await _smtp(settings)):
        if extra is not None:
            checks.append(extra)
    return checks


def doctor(name: str, settings: ServiceSettings, migrations: Path, *, as_json: bool) -> int:
    """Print one line a check (or JSON); exit 1 when any failed."""
    checks = asyncio.run(diagnose(settings, migrations))
    healthy = all(c.ok for c in checks)
    if as_json:
        print(json.dumps({"service": name, "ok": healthy, "checks": [asdict(c) for c in checks]}))
    else:
        for c in checks:
            print(f"socle-{name}: {'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}")
    return 0 if healthy else 1


async def outbox_state(settings: ServiceSettings) -> dict[str, Any]:
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    select(func.count(), func.min(outbox_table.c.created_at)).where(
                        outbox_table.c.published_at.is_(None)
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    pending, oldest = int(row[0]), row[1]
    if oldest is not None and oldest.tzinfo is None:  # SQLite keeps naive UTC
        oldest = oldest.replace(tzinfo=UTC)
    age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    return {"pending": pending, "oldest_age_seconds": round(max(age, 0.0), 1)}


def outbox_status(name: str, settings: ServiceSettings, *, as_json: bool) -> int:
    try:
        state = asyncio.run(outbox_state(settings))
    except Exception as exc:
        print(f"socle-{name}: database unreachable or refused ({_reason(exc)})")
        return 1
    if as_json:
        print(json.dumps({"service": name, **state}))
    else:
        print(
            f"socle-{name}: {state['pending']} event(s) waiting in the outbox, oldest "
            f"{state['oldest_age_seconds']} s"
        )
    return 0
