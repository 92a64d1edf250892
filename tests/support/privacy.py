"""The platform and a person's data in every service, for the privacy tests."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, NamedTuple

import httpx

from socle.db import utcnow
from socle_dev.localinfra import free_port
from socle_dev.testing import eventually, running, served
from socle_identity import directory
from socle_identity.app import create_app as create_identity
from socle_identity.passwords import Passwords
from socle_notify.models import Notification
from socle_procedures.models import ProcedureVersion, Request, RequestHistory
from tests.support.identity import back_office, quick_settings, tenant_with_client
from tests.support.services import build

SCOPES = (
    "identity:admin documents:read documents:write payments:read payments:write "
    "payments:admin notifications:admin procedures:admin"
)
PDF = b"%PDF-1.7\n" + b"1 0 obj\n<< /Type /Catalog >>\nendobj\n" * 50 + b"%%EOF\n"
EMAIL = "anna.muster@example.ch"


@contextlib.asynccontextmanager
async def platform(
    migrated_database: Any, nats_server: Any, s3_server: Any, answer_seconds: int = 3600
) -> AsyncIterator[tuple[Any, str, dict[str, Any], dict[str, httpx.AsyncClient]]]:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    identity = create_identity(
        quick_settings(
            migrated_database("identity"),
            nats_server.url,
            issuer,
            outbox_poll_seconds=0.1,
            erasure_answer_seconds=answer_seconds,
        )
    )
    extra: dict[str, dict[str, Any]] = {
        "storage": {
            "s3_endpoint": s3_server.endpoint,
            "s3_access_key": s3_server.access_key,
            "s3_secret_key": s3_server.secret_key,
        },
        "procedures": {"anonymise_sweep_seconds": 0},
    }
    async with served(identity, port), contextlib.AsyncExitStack() as stack:
        apps, clients = {}, {}
        for service in SERVICES:
            app = build(
                service,
                database_url=migrated_database(service),
                nats_url=nats_server.url,
                issuer=issuer,
                outbox_poll_seconds=0.1,
                **extra.get(service, {}),
            )
            clients[service] = await stack.enter_async_context(running(app))
            apps[service] = app
        yield identity, issuer, apps, clients


async def admin_token(identity: Any, issuer: str, tenant: str) -> str:
    client, secret = await tenant_with_client(
        identity.state.runtime.sessions, tenant, back_office(SCOPES.split())
    )
    async with httpx.AsyncClient(base_url=issuer, timeout=30) as http:
        answer = await http.post(
            "/token",
            data={"grant_type": "client_credentials", "scope": SCOPES},
            auth=(client.client_id, str(secret)),
        )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


async def citizen(identity: Any, tenant: str, email: str) -> str:
    async with identity.state.runtime.sessions() as session, session.begin():
        user = await directory.create_user(
            session,
            Passwords(time_cost=1, memory_kib=8192),
            tenant=tenant,
            email=email,
            password="a long enough passphrase 42",
            roles=["citizen"],
            given_name="Anna",
            family_name="Muster",
            locale="de",
            email_verified=True,
        )
        return str(user.id)


async def upload(storage: httpx.AsyncClient, auth: dict[str, str], owner: str, kind: str) -> str:
    answer = await storage.post(
        "/v1/documents",
        headers=auth,
        files={"file": ("scan.pdf", PDF, "application/pdf")},
        data={"kind": kind, "owner": owner},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def pay(payment: httpx.AsyncClient, auth: dict[str, str], payer: str, email: str) -> str:
    answer = await payment.post(
        "/v1/payments",
        headers=auth,
        json={
            "amount": 5000,
            "currency": "CHF",
            "reference": f"dog-{uuid.uuid4().hex[:8]}",
            "description": "Dog licence",
            "return_url": "https://commune.example/back",
            "provider": "sandbox",
            "payer_email": email,
            "payer_subject": payer,
            "metadata": {"dog": "Rex", "holder": "Anna Muster"},
        },
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def notification(app: Any, tenant: str, subject: str, email: str) -> str:
    now = utcnow()
    row = Notification(
        id=uuid.uuid4().hex,
        tenant=tenant,
        channel="email",
        status="delivered",
        recipient=email,
        recipient_subject=subject,
        language="de",
        source="api",
        subject="Ihre Hundemarke",
        body="Guten Tag Anna Muster, Ihre Hundemarke für Rex ist bereit.",
        attempts=1,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
        sent_at=now,
    )
    async with app.state.runtime.sessions() as session, session.begin():
        session.add(row)
    return row.id


async def procedure_request(
    app: Any, tenant: str, owner: str, email: str, retention_days: int | None
) -> str:
    now = utcnow()
    document: dict[str, Any] = {"slug": "dog-registration", "title": {"en": "Dog"}, "steps": []}
    if retention_days is not None:
        document["retention_days"] = retention_days
    version = ProcedureVersion(
        id=uuid.uuid4().hex,
        tenant=tenant,
        slug=f"dog-{uuid.uuid4().hex[:6]}",
        version=1,
        status="published",
        document=document,
        created_at=now,
        published_at=now,
    )
    request = Request(
        id=uuid.uuid4().hex,
        tenant=tenant,
        owner=owner,
        version_id=version.id,
        procedure=version.slug,
        version=1,
        state="submitted",
        answers={"name": "Anna Muster", "dog": "Rex"},
        completed_steps=["holder"],
        reference=f"R-{uuid.uuid4().hex[:8]}",
        locale="de",
        email=email,
        created_at=now - timedelta(days=2),
        updated_at=now,
        submitted_at=now - timedelta(days=1),
    )
    history = RequestHistory(
        request_id=request.id,
        tenant=tenant,
        from_state="draft",
        to_state="submitted",
        actor=owner,
        note="Anna called about Rex",
        at=now,
    )
    async with app.state.runtime.sessions() as session, session.begin():
        session.add(version)
        await session.flush()
        session.add(request)
        await session.flush()
        session.add(history)
    return request.id


SERVICES = ("storage", "payment", "notify", "procedures")


async def row(app: Any, model: Any, key: str) -> Any:
    async with app.state.runtime.sessions() as session:
        return await session.get(model, key)


async def until_status(
    http: httpx.AsyncClient, url: str, status: str, what: str, within: float = 60
) -> None:
    """Wait until the resource at ``url`` (an export, an erasure report) says ``status``."""

    async def reached() -> bool:
        return bool((await http.get(url)).json()["status"] == status)

    await eventually(reached, what, within=within)


class Records(NamedTuple):
    """A citizen and one record of theirs in each service (ids)."""

    person: str
    document: str
    payment: str
    notification: str
    request: str


async def citizen_with_records(
    identity: Any,
    tenant: str,
    apps: dict[str, Any],
    clients: dict[str, httpx.AsyncClient],
    auth: dict[str, str],
    email: str,
) -> Records:
    """A citizen with an ID card in storage, a payment, a notification and a request."""
    person = await citizen(identity, tenant, email)
    return Records(
        person,
        await upload(clients["storage"], auth, person, "id-card"),
        await pay(clients["payment"], auth, person, email),
        await notification(apps["notify"], tenant, person, email),
        await procedure_request(apps["procedures"], tenant, person, email, None),
    )
