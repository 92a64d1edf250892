"""The whole platform served over HTTP for the browser tests, accessibility checks, mails."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from axe_playwright_python.async_playwright import Axe

from socle_dev.localinfra import free_port
from socle_dev.testing import eventually, served
from socle_identity import directory
from socle_identity.app import create_app as create_identity
from socle_notify.app import create_app as create_notify
from socle_notify.settings import NotifySettings
from socle_payment.app import create_app as create_payment
from socle_payment.settings import PaymentSettings
from socle_procedures import catalog
from socle_procedures.app import create_app
from socle_procedures.portal.oidc import SCOPES as PORTAL_SCOPES
from socle_procedures.settings import ProceduresSettings
from socle_storage.app import create_app as create_storage
from socle_storage.settings import StorageSettings
from tests.support.identity import PASSWORD, quick_settings, tenant_with_client, verified_citizen
from tests.support.procedures import example

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


async def axe_clean(page, checker, seen: list[str]) -> None:
    """axe-core on the page as the citizen sees it. The journey runs without JavaScript, so
    the same HTML is loaded, from the same origin, in a page where axe can run."""
    html = await page.content()
    origin = "/".join(page.url.split("/")[:3])
    await checker.goto(origin + "/healthz")
    await checker.set_content(html, wait_until="load")
    results = await Axe().run(checker)
    violations = results.response["violations"]
    assert violations == [], (page.url, [(v["id"], v["nodes"][0]["html"]) for v in violations])
    seen.append(page.url)


@dataclass
class Stack:
    """identity, payment, storage, notify and procedures served over HTTP for a browser."""

    base: str
    urls: dict[str, str]
    procedures: Any
    storage: Any
    apps: dict[str, Any] | None = None
    ports: dict[str, int] | None = None
    settings: dict[str, Any] | None = None
    identity: Any = None


def portal_stack(
    migrated_database,
    nats_server,
    tenant,
    procedures_database,
    payment_db,
    s3_server,
    smtp_sink,
) -> Callable[..., AbstractAsyncContextManager[Stack]]:
    """The fixture (registered by the conftest of the tests that use it):
    ``async with portal_stack() as st`` serves every service over HTTP for a browser;
    ``portal_stack(detached=(...))`` builds those named but leaves them for the test to
    serve (and stop) on their port."""

    @asynccontextmanager
    async def start(detached: tuple[str, ...] = ()) -> AsyncIterator[Stack]:
        ports = {
            name: free_port() for name in ("identity", "payment", "storage", "notify", "procedures")
        }
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        identity = create_identity(
            quick_settings(migrated_database("identity"), nats_server.url, urls["identity"])
        )
        async with served(identity, ports["identity"]):
            client, secret = await tenant_with_client(
                identity.state.runtime.sessions,
                tenant,
                directory.ClientSpec(
                    name="Guichet en ligne",
                    redirect_uris=[f"{urls['procedures']}/auth/callback"],
                    post_logout_redirect_uris=[f"{urls['procedures']}/logged-out"],
                    scopes=list(PORTAL_SCOPES),
                    grant_types=["authorization_code", "refresh_token"],
                ),
                name="Commune de Vevey",
                passwords=identity.state.runtime.context.provider.passwords,
                users=[verified_citizen("anna@example.ch", PASSWORD)],
            )
            payment_settings = PaymentSettings(
                database_url=payment_db,
                nats_url=nats_server.url,
                issuer=urls["identity"],
                payment_public_url=urls["payment"],
                payment_expiry_sweep_seconds=0,
                outbox_poll_seconds=0.2,
            )
            payment = create_payment(payment_settings)
            storage_settings = StorageSettings(
                database_url=migrated_database("storage"),
                nats_url=nats_server.url,
                issuer=urls["identity"],
                s3_endpoint=s3_server.endpoint,
                s3_access_key=s3_server.access_key,
                s3_secret_key=s3_server.secret_key,
                purge_interval_seconds=0,
                outbox_poll_seconds=0.2,
            )
            storage = create_storage(storage_settings)
            notify_settings = NotifySettings(
                database_url=migrated_database("notify"),
                nats_url=nats_server.url,
                issuer=urls["identity"],
                smtp_host="127.0.0.1",
                smtp_port=smtp_sink.port,
                mail_from="Commune de Vevey <noreply@vevey.test>",
                worker_poll_seconds=0.05,
                outbox_poll_seconds=0.05,
                consumer_name=f"notify-{uuid.uuid4().hex[:8]}",
            )
            notify = create_notify(notify_settings)
            procedures = create_app(
                ProceduresSettings(
                    database_url=procedures_database,
                    nats_url=nats_server.url,
                    issuer=urls["identity"],
                    public_url=urls["procedures"],
                    payment_url=urls["payment"],
                    storage_url=urls["storage"],
                    portal_tenant=tenant,
                    portal_client_id=client.client_id,
                    portal_client_secret=secret or "",
                    portal_commune_name="Commune de Vevey",
                    portal_colour="#005a8c",
                    outbox_poll_seconds=0.2,
                )
            )
            apps = {"identity": identity, "payment": payment, "storage": storage, "notify": notify}
            async with AsyncExitStack() as services:
                for name in ("payment", "storage", "notify"):
                    if name not in detached:
                        await services.enter_async_context(served(apps[name], ports[name]))
                base = await services.enter_async_context(served(procedures, ports["procedures"]))
                yield Stack(
                    base=base,
                    urls=urls,
                    procedures=procedures,
                    storage=storage,
                    identity=identity,
                    apps=apps,
                    ports=ports,
                    settings={
                        "payment": payment_settings,
                        "storage": storage_settings,
                        "notify": notify_settings,
                    },
                )

    return start


PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


async def shot(page, name: str) -> None:
    """A 375 px and a desktop screenshot of the page as it is."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (375, 1280):
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 900})


async def wait_for_mail(sink, address: str, needle: str):
    """The mail to ``address`` whose subject holds ``needle`` (60 s at most, a safety net)."""

    async def arrived():
        return next((m for m in sink.to(address) if needle in str(m["Subject"])), None)

    return await eventually(arrived, f"a mail to {address} about {needle}", within=60)


def text_of(message) -> str:
    part = message.get_body(preferencelist=("plain",)) if hasattr(message, "get_body") else None
    if part is None:
        for sub in message.walk():
            if sub.get_content_type() == "text/plain":
                part = sub
                break
    payload = (part or message).get_payload(decode=True)
    return payload.decode((part or message).get_content_charset() or "utf-8")


async def axe_clean_live(page: Any, seen: list[str]) -> None:
    """axe-core in the page as the citizen sees it (JavaScript is on)."""
    results = await Axe().run(page)
    violations = results.response["violations"]
    assert violations == [], (page.url, [(v["id"], v["nodes"][0]["html"]) for v in violations])
    seen.append(page.url.split("?")[0])


# -- what the browser tests of the portal and the back office do again and again ---------


def commune_look(monkeypatch: Any) -> None:
    """identity's and payment's pages take the commune's look from the environment."""
    monkeypatch.setenv("SOCLE_COMMUNE_NAME", "Commune de Vevey")
    monkeypatch.setenv("SOCLE_COMMUNE_COLOUR", "#005a8c")


async def publish(st: Stack, tenant: str, example_name: str) -> None:
    """Publish one of the example procedures in the commune's portal."""
    async with st.procedures.state.runtime.sessions() as session, session.begin():
        await catalog.publish_document(session, tenant, example(example_name))


async def add_person(
    st: Stack,
    tenant: str,
    email: str,
    *,
    roles: list[str],
    given_name: str,
    family_name: str,
    locale: str,
) -> None:
    """An account at identity (address confirmed) that logs in with :data:`PASSWORD`."""
    identity = st.identity
    provider = identity.state.runtime.context.provider
    async with identity.state.runtime.sessions() as session, session.begin():
        await directory.create_user(
            session,
            provider.passwords,
            tenant=tenant,
            email=email,
            password=PASSWORD,
            roles=roles,
            given_name=given_name,
            family_name=family_name,
            locale=locale,
            email_verified=True,
        )


async def no_script_pages(browser: Any, locale: str) -> tuple[Any, Any]:
    """A page without JavaScript (as the portal is tested), and a page where axe-core runs."""
    page = await (await browser.new_context(locale=locale, java_script_enabled=False)).new_page()
    axe = await (await browser.new_context(locale=locale)).new_page()
    return page, axe


async def log_in(page: Any, email: str, then: str) -> None:
    """Log in on identity's page, then wait until the browser is back on ``then``."""
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(then)


async def pay_by_card(page: Any, payment_url: str, card: str, then: str) -> None:
    """On payment's sandbox page: pay with ``card``, then wait for ``then``."""
    await page.wait_for_url(f"{payment_url}/pay/*")
    await page.fill("input[name=card_number]", card)
    await page.click("button[type=submit]")
    await page.wait_for_url(then)


async def describe_project(page: Any, number: str, description: str, cost: str) -> None:
    """The building permit's project step: work on Rue du Lac ``number`` in Vevey."""
    await page.check("#f-work")
    await page.fill("#f-site-street", "Rue du Lac")
    await page.fill("#f-site-number", number)
    await page.fill("#f-site-postal_code", "1800")
    await page.fill("#f-site-locality", "Vevey")
    await page.fill("#f-description", description)
    await page.fill("#f-construction_cost", cost)
