"""``socle tenants offboard``: a commune leaves. A dry run lists what will go; a legal hold
anywhere stops everything; ``--confirm`` disables its clients (every token refused), exports
and deletes its data in every service (rows, and documents in S3); a second run finds
nothing; another commune keeps everything."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text

from socle.db import create_engine, utcnow
from socle.opcli_services import Services
from socle_storage.settings import StorageSettings
from socle_storage.store import Store, object_key
from tests.support.opcli import new_slug, socle


async def count(url: str, sql: str, **params: Any) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(text(sql), params) or 0)
    finally:
        await engine.dispose()


async def execute(url: str, sql: str, **params: Any) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(sql), params)
    finally:
        await engine.dispose()


def store_of(env: dict[str, str]) -> Store:
    return Store(
        StorageSettings(
            database_url=env["SOCLE_STORAGE__DATABASE_URL"],
            s3_endpoint=env["SOCLE_S3_ENDPOINT"],
            s3_access_key=env["SOCLE_S3_ACCESS_KEY"],
            s3_secret_key=env["SOCLE_S3_SECRET_KEY"],
        )
    )


async def a_commune(env: dict[str, str], slug: str) -> dict[str, str]:
    """A commune with data in every service: a client and a person, a creditor, a document
    (row and bytes), a sender, contacts and a webhook subscription, a request."""
    created = await socle(env, "tenants", "create", slug, "--name", f"Commune {slug}")
    assert created.exit_code == 0, created.output
    identity = Services(None, environ=env)
    client = await asyncio.to_thread(
        identity.json, "identity", "create-client", "--tenant", slug, "--name", "ERP",
        "--grant", "client_credentials", "--scope", "payments:read",
    )  # fmt: skip
    await asyncio.to_thread(
        identity.json, "identity", "create-user", "--tenant", slug,
        "--email", f"agent@{slug}.example", "--role", "agent",
    )  # fmt: skip
    configured = await socle(
        env, "tenants", "configure", slug,
        "--creditor-iban", "CH44 3199 9123 0008 8901 2", "--creditor-name", f"Commune {slug}",
        "--creditor-postal-code", "1800", "--creditor-city", "Vevey",
        "--from-name", f"Commune {slug}", "--from-address", f"guichet@{slug}.example",
        "--operations-email", f"it@{slug}.example",
    )  # fmt: skip
    assert configured.exit_code == 0, configured.output
    now = utcnow()
    document, version = uuid.uuid4().hex, uuid.uuid4().hex
    store = store_of(env)
    try:
        bucket = await store.ensure_bucket(slug)
        key = object_key(slug, document, version)
        await store.put_bytes(bucket, key, b"%PDF-1.7 permis", "application/pdf")
    finally:
        store.close()
    storage = env["SOCLE_STORAGE__DATABASE_URL"]
    await execute(
        storage,
        "INSERT INTO documents (id, tenant, status, kind, filename, content_type, size, sha256, "
        "version, legal_hold, uploaded_by, created_at, updated_at) VALUES (:id, :t, 'active', "
        "'permit', 'permis.pdf', 'application/pdf', 15, '', 1, false, 'agent', :now, :now)",
        id=document, t=slug, now=now,
    )  # fmt: skip
    await execute(
        storage,
        "INSERT INTO document_versions (id, document_id, tenant, number, status, bucket, "
        "object_key, filename, content_type, size, sha256, created_by, created_at) VALUES "
        "(:id, :doc, :t, 1, 'active', :bucket, :key, 'permis.pdf', 'application/pdf', 15, '', "
        "'agent', :now)",
        id=version, doc=document, t=slug, bucket=bucket, key=key, now=now,
    )  # fmt: skip
    await execute(
        env["SOCLE_NOTIFY__DATABASE_URL"],
        "INSERT INTO subscriptions (id, tenant, event_types, callback_url, secret, created_at) "
        "VALUES (:id, :t, '[\"payment.*\"]', 'https://erp.example/hooks', :s, :now)",
        id=uuid.uuid4().hex, t=slug, s="s" * 32, now=now,
    )  # fmt: skip
    return {"client_id": client["client_id"], "document": document, "bucket": bucket, "key": key}


async def test_a_commune_that_leaves_is_closed_exported_and_deleted_everywhere(
    platform, tmp_path: Path
):
    env = platform
    leaving, staying = new_slug(), new_slug()
    gone = await a_commune(env, leaving)
    kept = await a_commune(env, staying)

    # Dry run (the default): what would go, service by service; nothing deleted.
    dry = await socle(env, "tenants", "offboard", leaving, "--json")
    assert dry.exit_code == 0, dry.output
    plan = {r["service"]: r for r in json.loads(dry.stdout)["services"]}
    assert not json.loads(dry.stdout)["applied"]
    assert plan["identity"]["tables"]["tenants"] == 1
    assert plan["identity"]["tables"]["clients"] == 1 and plan["identity"]["tables"]["users"] == 1
    assert plan["identity"]["outside"] == {"clients_disabled_and_tokens_revoked": 1}
    assert plan["payment"]["tables"]["tenant_settings"] == 1
    assert plan["storage"]["tables"]["documents"] == 1
    assert plan["storage"]["tables"]["document_versions"] == 1
    assert plan["storage"]["outside"] == {"s3_objects": 1}
    assert plan["notify"]["tables"]["tenant_senders"] == 1
    assert plan["notify"]["tables"]["tenant_operations_contacts"] == 1
    assert plan["notify"]["tables"]["subscriptions"] == 1
    text_plan = await socle(env, "tenants", "offboard", leaving)
    assert "dry run; --confirm deletes" in text_plan.stdout
    assert "storage: 1 documents, 1 document_versions, 1 s3_objects" in text_plan.stdout
    identity_db = env["SOCLE_IDENTITY__DATABASE_URL"]
    assert await count(identity_db, "SELECT count(*) FROM clients WHERE tenant = :t", t=leaving)

    # A legal hold in any service: nothing is deleted anywhere, and the hold is named.
    payment_db = env["SOCLE_PAYMENT__DATABASE_URL"]
    await execute(
        payment_db,
        "INSERT INTO legal_holds (tenant, category, record_id, reason, held_at) "
        "VALUES (:t, 'payment', 'p1', 'court case 2026-17', :now)",
        t=leaving, now=utcnow(),
    )  # fmt: skip
    storage_db = env["SOCLE_STORAGE__DATABASE_URL"]
    await execute(
        storage_db, "UPDATE documents SET legal_hold = true WHERE id = :d", d=gone["document"]
    )
    held = await socle(env, "tenants", "offboard", leaving, "--confirm")
    assert held.exit_code == 1
    assert "nothing deleted" in held.output
    assert "payment: 1" in held.output and "storage: 1" in held.output
    assert await count(identity_db, "SELECT count(*) FROM clients WHERE tenant = :t", t=leaving)
    assert await count(storage_db, "SELECT count(*) FROM documents WHERE tenant = :t", t=leaving)
    # A service's own command refuses too, alone.
    alone = await asyncio.to_thread(
        Services(None, environ=env).run, "storage", "offboard-tenant", leaving, "--confirm"
    )
    assert alone.returncode == 1 and "on legal hold" in alone.error_line()
    await execute(payment_db, "DELETE FROM legal_holds WHERE tenant = :t", t=leaving)
    await execute(
        storage_db, "UPDATE documents SET legal_hold = false WHERE id = :d", d=gone["document"]
    )

    # Confirmed: exported, then deleted in every service.
    done = await socle(
        env, "tenants", "offboard", leaving, "--confirm", "--export-dir", str(tmp_path), "--json"
    )
    assert done.exit_code == 0, done.output
    report = {r["service"]: r for r in json.loads(done.stdout)["services"]}
    assert report["storage"]["tables"]["documents"] == 1 and report["storage"]["applied"]
    exported = tmp_path / leaving
    users = (exported / "identity" / "users.jsonl").read_text().splitlines()
    assert [json.loads(line)["email"] for line in users] == [f"agent@{leaving}.example"]
    assert json.loads((exported / "payment" / "tenant_settings.jsonl").read_text())["creditor"]
    assert (exported / "storage" / "documents.jsonl").exists()
    assert oct((exported / "identity" / "users.jsonl").stat().st_mode & 0o777) == "0o600"

    # Its work stops: every token its client was issued is refused by every service.
    assert await count(
        identity_db,
        "SELECT count(*) FROM outbox WHERE subject LIKE :s",
        s=f"socle.{leaving}.%revoked%",
    )
    assert await count(
        identity_db, "SELECT count(*) FROM token_revocations WHERE value = :c", c=gone["client_id"]
    )
    for service, table in (
        ("identity", "tenants"), ("identity", "users"), ("payment", "tenant_settings"),
        ("storage", "documents"), ("notify", "tenant_senders"), ("notify", "subscriptions"),
        ("notify", "tenant_operations_contacts"),
    ):  # fmt: skip
        url = env[f"SOCLE_{service.upper()}__DATABASE_URL"]
        column = "slug" if table == "tenants" else "tenant"
        sql = f"SELECT count(*) FROM {table} WHERE {column} = :t"
        assert await count(url, sql, t=leaving) == 0, (service, table)
        assert await count(url, sql, t=staying) == 1, (service, table)
    store = store_of(env)
    try:
        assert not await store.exists(gone["bucket"], gone["key"])
        assert await store.exists(kept["bucket"], kept["key"])
    finally:
        store.close()

    # Idempotent: a second run finds nothing left.
    again = await socle(env, "tenants", "offboard", leaving, "--confirm", "--json")
    assert again.exit_code == 0, again.output
    assert [r["total"] for r in json.loads(again.stdout)["services"]] == [0] * 5
    assert "identity: nothing" in (await socle(env, "tenants", "offboard", leaving)).stdout
