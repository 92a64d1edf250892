"""Argon2id hashing runs off the event loop: while a burst of logins is being hashed (at the
production cost), the service still answers its health check; a login waiting for its
password check holds no database connection."""

from __future__ import annotations

import asyncio
import threading
import uuid

from socle_dev.testing import eventually, running
from socle_identity import directory
from socle_identity.app import create_app
from socle_identity.settings import IdentitySettings
from tests.support.identity import (
    ISSUER,
    PASSWORD,
    REDIRECT,
    authorize_url,
    hidden,
    pkce_pair,
    quick_settings,
    verified_citizen,
)

BURST = 16


async def test_healthz_answers_while_a_burst_of_logins_is_hashing(
    migrated_database, nats_server, tenant
):
    settings = IdentitySettings(
        database_url=migrated_database("identity"),
        nats_url=nats_server.url,
        issuer=ISSUER,
        login_max_failures=1000,
        argon2_threads=2,
    )  # the default Argon2id cost: tens of milliseconds a hash
    app = create_app(settings)
    async with running(app) as client:
        runtime = app.state.runtime
        passwords = runtime.context.provider.passwords
        async with runtime.sessions() as session, session.begin():
            await directory.create_tenant(session, slug=tenant, name="Commune")
            rp, _ = await directory.register_client(
                session,
                tenant=tenant,
                spec=directory.ClientSpec(name="App", public=True, redirect_uris=[REDIRECT]),
            )
        _, challenge = pkce_pair()
        page = await client.get(authorize_url(rp.client_id, challenge))
        assert page.status_code == 200, page.text
        form = {
            "csrf_token": hidden(page.text, "csrf_token"),
            "request": hidden(page.text, "request"),
            "password": "not the password",
        }

        async def login(n: int) -> int:
            answer = await client.post(
                "/login", data=form | {"email": f"nobody{n}-{uuid.uuid4().hex}@example.ch"}
            )
            return answer.status_code

        async def hashing() -> bool:
            return bool(passwords.in_flight >= 2)

        burst = [asyncio.create_task(login(n)) for n in range(BURST)]
        try:
            await eventually(hashing, "the burst to be hashing")
            health = await client.get("/healthz")
            assert health.status_code == 200
            # it answered while hashes of the burst were still queued or running
            assert passwords.in_flight > 0
        finally:
            statuses = await asyncio.gather(*burst)
        assert set(statuses) == {401}, statuses  # every login refused: no such account


async def test_logins_waiting_for_their_password_check_hold_no_database_connection(
    migrated_database, nats_server, tenant, monkeypatch
):
    """Under a burst, logins queue for argon2's threads. Meanwhile they must not hold a
    database connection (nor, on SQLite, the write lock): with more logins waiting than the
    pool has connections, the rest of identity still reads and writes."""
    settings = quick_settings(
        migrated_database("identity"),
        nats_server.url,
        ISSUER,
        db_pool_size=4,
        db_max_overflow=0,
        max_requests_in_flight=20,
    )
    app = create_app(settings)
    async with running(app) as client:
        runtime = app.state.runtime
        passwords = runtime.context.provider.passwords
        email = "anna@example.ch"
        async with runtime.sessions() as session, session.begin():
            await directory.create_tenant(session, slug=tenant, name="Commune")
            rp, _ = await directory.register_client(
                session,
                tenant=tenant,
                spec=directory.ClientSpec(name="App", public=True, redirect_uris=[REDIRECT]),
            )
            await directory.create_user(
                session, passwords, tenant=tenant, **verified_citizen(email)
            )
        # password checks wait until the test lets them go on (the hashing itself is real)
        gate = threading.Event()
        check = passwords._verify

        def held(stored: str | None, password: str) -> bool:
            gate.wait(60)
            return check(stored, password)

        monkeypatch.setattr(passwords, "_verify", held)
        _, challenge = pkce_pair()
        page = await client.get(authorize_url(rp.client_id, challenge))
        assert page.status_code == 200, page.text
        form = {
            "csrf_token": hidden(page.text, "csrf_token"),
            "request": hidden(page.text, "request"),
            "email": email,
            "password": PASSWORD,
        }
        connections = settings.db_pool_size + settings.db_max_overflow
        logins = [
            asyncio.create_task(client.post("/login", data=form)) for _ in range(connections + 2)
        ]
        try:

            async def all_waiting() -> bool:
                return bool(passwords.in_flight >= connections)

            await eventually(all_waiting, "as many logins as connections to be checked")
            async with runtime.sessions() as session, session.begin():
                await directory.create_tenant(session, slug=f"{tenant}-2", name="Commune 2")
            assert not any(login.done() for login in logins)  # all still waiting
        finally:
            gate.set()
        answers = await asyncio.gather(*logins)
        assert {a.status_code for a in answers} == {303}, [a.text for a in answers]
        assert all(a.headers["location"].startswith(REDIRECT + "?code=") for a in answers)


async def test_registrations_waiting_for_their_password_hash_hold_no_database_connection(
    migrated_database, nats_server, tenant, monkeypatch
):
    """The same for self-registration: while new passwords queue for argon2, identity still
    reads and writes with every connection of its pool."""
    settings = quick_settings(
        migrated_database("identity"),
        nats_server.url,
        ISSUER,
        db_pool_size=4,
        db_max_overflow=0,
        max_requests_in_flight=20,
    )
    app = create_app(settings)
    async with running(app) as client:
        runtime = app.state.runtime
        passwords = runtime.context.provider.passwords
        async with runtime.sessions() as session, session.begin():
            await directory.create_tenant(session, slug=tenant, name="Commune")
            rp, _ = await directory.register_client(
                session,
                tenant=tenant,
                spec=directory.ClientSpec(name="App", public=True, redirect_uris=[REDIRECT]),
            )
        gate = threading.Event()
        hasher = passwords._hasher

        class Held:
            """argon2's hasher, whose hashes wait until the test lets them go on."""

            def hash(self, password: str) -> str:
                gate.wait(60)
                return hasher.hash(password)

            def verify(self, stored: str, password: str) -> bool:
                return hasher.verify(stored, password)

        monkeypatch.setattr(passwords, "_hasher", Held())
        page = await client.get("/register", params={"client_id": rp.client_id})
        form = {
            "csrf_token": hidden(page.text, "csrf_token"),
            "client_id": rp.client_id,
            "password": PASSWORD,
        }
        connections = settings.db_pool_size + settings.db_max_overflow
        registrations = [
            asyncio.create_task(
                client.post("/register", data=form | {"email": f"person{n}@example.ch"})
            )
            for n in range(connections + 2)
        ]
        try:

            async def all_waiting() -> bool:
                return bool(passwords.in_flight >= connections)

            await eventually(all_waiting, "as many registrations as connections to be hashed")
            async with runtime.sessions() as session, session.begin():
                await directory.create_tenant(session, slug=f"{tenant}-2", name="Commune 2")
            assert not any(r.done() for r in registrations)  # all still waiting
        finally:
            gate.set()
        answers = await asyncio.gather(*registrations)
        assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
        async with runtime.sessions() as session:
            for n in range(connections + 2):
                found = await directory.find_user(
                    session, tenant=tenant, email=f"person{n}@example.ch"
                )
                assert found is not None and found.roles == ["citizen"]
