"""Safe upgrades: ``migrate`` says what it did, ``migrate --check`` tells whether the schema is
at the code's head, a service stays unready while its schema is behind (so a rollout never
sends traffic to code whose tables are missing), and keeps serving on a newer schema (so the
previous release keeps running during a rollout or after a rollback)."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from socle.db import create_engine
from socle.migrations import upgrade
from socle_dev.testing import running
from socle_payment.app import create_app
from socle_payment.settings import PaymentSettings
from tests.support.infra import in_thread
from tests.support.payment import MIGRATIONS, payment_cli

ROOT = Path(__file__).resolve().parents[2]


def test_migrate_says_what_it_did_and_check_tells_whether_the_schema_is_at_head(
    new_database, monkeypatch, capsys
):
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    monkeypatch.setenv("SOCLE_DATABASE_URL", new_database("payment"))
    assert in_thread(payment_cli, "migrate", "--check") == 1
    assert capsys.readouterr().out == (
        f"socle-payment: schema behind: database at no schema, code expects {head}\n"
    )
    assert in_thread(payment_cli, "migrate") == 0
    assert capsys.readouterr().out == f"socle-payment: migrated from an empty database to {head}\n"
    assert in_thread(payment_cli, "migrate", "--check") == 0
    assert capsys.readouterr().out == f"socle-payment: schema at {head} (code head {head})\n"
    assert in_thread(payment_cli, "migrate") == 0
    assert "nothing to do" in capsys.readouterr().out


def test_migrate_against_an_unreachable_database_prints_one_line_without_the_password(
    monkeypatch, capsys
):
    monkeypatch.setenv(
        "SOCLE_DATABASE_URL", "postgresql+asyncpg://socle:s3cret-pw@127.0.0.1:1/payment"
    )
    assert in_thread(payment_cli, "migrate") == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("socle-payment: database unreachable or refused")
    assert "s3cret-pw" not in captured.err + captured.out
    assert "Traceback" not in captured.err


def app_on(database_url: str, nats_url: str, issuer) -> object:
    return create_app(
        PaymentSettings(
            database_url=database_url,
            nats_url=nats_url,
            issuer=issuer.issuer,
            jwks_url=issuer.jwks_url,
            payment_expiry_sweep_seconds=0,
        )
    )


async def test_a_service_is_unready_while_its_schema_is_behind_and_ready_once_migrated(
    new_database, nats_server, issuer
):
    url = new_database("payment")
    in_thread(upgrade, MIGRATIONS, url, "0002")  # the previous release's schema
    app = app_on(url, nats_server.url, issuer)
    async with running(app) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["schema"] == "down: SchemaNotAtHead"
        assert ready.json()["checks"]["database"] == "ok"
        assert "schema" in ready.json()["detail"]
        # the migration hook runs (in another thread: the app keeps serving meanwhile, as it
        # does while a real hook Job migrates)
        await asyncio.to_thread(upgrade, MIGRATIONS, url)
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["schema"] == "ok"


async def test_the_previous_release_stays_ready_on_a_newer_schema(
    migrated_database, nats_server, issuer
):
    """During a rollout (or after a rollback) old pods run on the newer release's schema."""
    url = migrated_database("payment")
    engine = create_engine(url)
    async with engine.begin() as conn:  # a revision only the next release knows
        await conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    await engine.dispose()
    async with running(app_on(url, nats_server.url, issuer)) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text


# Contract steps written before the first release, when no older code ran anywhere.
BEFORE_FIRST_RELEASE = {("identity", "0005"), ("identity", "0006")}
CONTRACT_CALLS = {"drop_table", "drop_column", "rename_table", "drop_constraint"}


def _contract_steps(upgrade_fn: ast.FunctionDef) -> list[str]:
    found = []
    for node in ast.walk(upgrade_fn):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name = node.func.attr
        kwargs = {k.arg: k.value for k in node.keywords}
        if name in CONTRACT_CALLS:
            found.append(f"{name} (line {node.lineno})")
        elif name == "alter_column" and ("new_column_name" in kwargs or "nullable" in kwargs):
            found.append(f"alter_column renaming or tightening (line {node.lineno})")
        elif name == "add_column":
            column = node.args[-1] if node.args else None
            if isinstance(column, ast.Call):
                ckw = {k.arg: k.value for k in column.keywords}
                not_null = isinstance(ckw.get("nullable"), ast.Constant) and (
                    ckw["nullable"].value is False
                )
                if not_null and "server_default" not in ckw:
                    found.append(f"NOT NULL column without server_default (line {node.lineno})")
    return found


@pytest.mark.parametrize(
    "migration",
    sorted(ROOT.glob("services/*/socle_*/migrations/versions/*.py")),
    ids=lambda p: f"{p.parts[-5]}/{p.name}",
)
def test_migrations_only_expand_so_old_and_new_pods_share_a_schema(migration: Path):
    """docs/developing.md: a migration adds; dropping or renaming what the previous release
    still reads waits for a later release."""
    tree = ast.parse(migration.read_text())
    upgrade_fn = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"
    )
    service = migration.parts[-5]
    revision = next(
        n.value.value
        for n in tree.body
        if isinstance(n, ast.Assign)
        and getattr(n.targets[0], "id", "") == "revision"
        and isinstance(n.value, ast.Constant)
    )
    contract = _contract_steps(upgrade_fn)
    declared = any(
        isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "contract"
        for n in tree.body
    )
    if (service, revision) in BEFORE_FIRST_RELEASE or declared:
        return
    assert not contract, (
        f"{service} {revision} contracts the schema ({', '.join(contract)}): ship the code "
        "that stops using it first, then this step in a later release with `contract = True`"
    )
