"""Running the ``socle`` command in tests: the Click app in this process, against the
servers the fixtures start."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from click.testing import CliRunner, Result

from socle.opcli import cli

SERVICES = ("identity", "payment", "storage", "notify", "procedures")


async def socle(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    """``socle ARGS`` with ``env`` (in a thread: the commands run their own event loops)."""
    runner = CliRunner()
    return await asyncio.to_thread(
        runner.invoke, cli, list(args), env=env, input=stdin, catch_exceptions=False
    )


def platform_env(
    databases: dict[str, str], nats_server: Any, issuer: Any, s3: Any, smtp: Any
) -> dict[str, str]:
    env = {
        "SOCLE_NATS_URL": nats_server.url,
        "SOCLE_ISSUER": issuer.issuer,
        "SOCLE_JWKS_URL": issuer.jwks_url,
        "SOCLE_S3_ENDPOINT": s3.endpoint,
        "SOCLE_S3_ACCESS_KEY": s3.access_key,
        "SOCLE_S3_SECRET_KEY": s3.secret_key,
        "SOCLE_SMTP_HOST": "127.0.0.1",
        "SOCLE_SMTP_PORT": str(smtp.port),
        "SOCLE_ARGON2_TIME_COST": "1",
        "SOCLE_ARGON2_MEMORY_KIB": "8192",
    }
    for service, url in databases.items():
        env[f"SOCLE_{service.upper()}__DATABASE_URL"] = url
    return env


def new_slug() -> str:
    return f"t{uuid.uuid4().hex[:10]}"
