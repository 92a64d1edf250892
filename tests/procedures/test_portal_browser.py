"""The citizen's journey in headless Chromium against real identity, payment and procedures
served over HTTP: log in, a wrong answer first, pay on the sandbox page (declined, then
accepted), check answers, submit, receipt, "my requests", log out. axe-core finds no
violation on any page of the portal; a 375 px screenshot is kept."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe

from socle.localinfra import free_port
from socle.testing import chromium, served
from socle_identity import directory
from socle_identity.app import create_app as create_identity
from socle_identity.settings import IdentitySettings
from socle_notify.app import create_app as create_notify
from socle_notify.settings import NotifySettings
from socle_payment.app import create_app as create_payment
from socle_payment.settings import PaymentSettings
from socle_procedures.app import create_app
from socle_procedures.settings import ProceduresSettings
from socle_storage.app import create_app as create_storage
from socle_storage.settings import StorageSettings
from tests.procedures.conftest import example

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
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


@asynccontextmanager
async def stack(
    migrated_database,
    nats_server,
    tenant,
    procedures_database,
    payment_db,
    s3_server,
    smtp_sink,
    detached: tuple[str, ...] = (),
) -> AsyncIterator[Stack]:
    """Every service served; those named in ``detached`` are built but left for the test to
    serve (and stop) on their port."""
    ports = {
        name: free_port() for name in ("identity", "payment", "storage", "notify", "procedures")
    }
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    identity = create_identity(
        IdentitySettings(
            database_url=migrated_database("identity"),
            nats_url=nats_server.url,
            issuer=urls["identity"],
            argon2_time_cost=1,
            argon2_memory_kib=8192,
        )
    )
    async with served(identity, ports["identity"]):
        provider = identity.state.runtime.context.provider
        async with identity.state.runtime.sessions() as session, session.begin():
            await directory.create_tenant(session, slug=tenant, name="Commune de Vevey")
            client, secret = await directory.register_client(
                session,
                tenant=tenant,
                spec=directory.ClientSpec(
                    name="Guichet en ligne",
                    redirect_uris=[f"{urls['procedures']}/auth/callback"],
                    post_logout_redirect_uris=[f"{urls['procedures']}/logged-out"],
                    scopes=[
                        "openid",
                        "email",
                        "profile",
                        "procedures:read",
                        "procedures:write",
                        "payments:read",
                        "payments:write",
                        "documents:read",
                        "documents:write",
                    ],
                    grant_types=["authorization_code", "refresh_token"],
                ),
            )
            await directory.create_user(
                session,
                provider.passwords,
                tenant=tenant,
                email="anna@example.ch",
                password=PASSWORD,
                roles=["citizen"],
                given_name="Anna",
                family_name="Muster",
                email_verified=True,
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


async def test_a_citizen_registers_a_dog_from_login_to_receipt(
    migrated_database, nats_server, tenant, procedures_database, payment_db, s3_server, smtp_sink
):
    async with stack(
        migrated_database,
        nats_server,
        tenant,
        procedures_database,
        payment_db,
        s3_server,
        smtp_sink,
    ) as st:
        base, urls, procedures = st.base, st.urls, st.procedures
        from socle_procedures import catalog

        async with procedures.state.runtime.sessions() as session, session.begin():
            await catalog.publish_document(session, tenant, example("dog-registration"))
        async with chromium() as browser:
            context = await browser.new_context(locale="fr-CH", java_script_enabled=False)
            page = await context.new_page()
            axe = await (await browser.new_context(locale="fr-CH")).new_page()
            seen: list[str] = []

            await page.goto(base + "/")
            assert await page.locator("h1").inner_text() == "Démarches en ligne"
            await axe_clean(page, axe, seen)
            await page.click("text=Annonce d'un chien")
            await axe_clean(page, axe, seen)
            await page.click("text=Se connecter")
            await page.fill("#email", "anna@example.ch")
            await page.fill("#password", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/procedures/dog-registration")
            await page.click("button:has-text('Commencer')")

            # Step 1, prefilled from identity (tell us once): only the address is asked.
            assert "Étape 1 sur 2" in await page.locator(".progress").inner_text()
            assert await page.input_value("#f-email") == "anna@example.ch"
            assert await page.input_value("#f-name") == "Anna Muster"
            await axe_clean(page, axe, seen)
            await page.fill("#f-address-street", "Rue du Lac")
            await page.fill("#f-address-number", "3")
            await page.fill("#f-address-postal_code", "1800")
            await page.fill("#f-address-locality", "Vevey")
            await page.click("button:has-text('Continuer')")

            # Step 2 with a wrong microchip number first.
            await page.fill("#f-dog_name", "Rex")
            await page.fill("#f-breed", "Bouvier bernois")
            await page.fill("#f-birth_date", "2024-03-01")
            await page.fill("#f-microchip", "12345")
            await page.check("#f-moved_in-2")  # non
            await page.click("button:has-text('Continuer')")
            summary = page.locator(".error-summary")
            assert "Le numéro de puce a 15 chiffres." in await summary.inner_text()
            assert await page.input_value("#f-dog_name") == "Rex"  # the input is kept
            await axe_clean(page, axe, seen)
            await page.set_viewport_size({"width": 375, "height": 900})
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / "portal-step-375.png"), full_page=True)
            await page.set_viewport_size({"width": 1280, "height": 900})
            await page.fill("#f-microchip", "756098100123456")
            await page.click("button:has-text('Continuer')")

            # Check your answers, then pay: declined, back with a message, then accepted.
            assert await page.locator("h1").inner_text() == "Vérifiez vos réponses"
            assert "Rex" in await page.content()
            await axe_clean(page, axe, seen)
            await page.click("button:has-text('Payer')")
            await page.wait_for_url(f"{urls['payment']}/pay/*")
            await page.fill("input[name=card_number]", "4000 0000 0000 0002")
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/requests/*/payment-return")
            assert "Le paiement n'a pas abouti" in await page.content()
            await axe_clean(page, axe, seen)
            await page.click("button:has-text('Payer')")
            await page.fill("input[name=card_number]", "4242 4242 4242 4242")
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/requests/*/check")
            assert "Payé" in await page.content()
            await page.click("button:has-text('Envoyer la demande')")

            # Receipt with the reference, then "my requests".
            await page.wait_for_url(f"{base}/requests/*?sent=1")
            reference = await page.locator(".panel strong").inner_text()
            assert reference.startswith(tenant.upper()[:8] + "-")
            await axe_clean(page, axe, seen)
            await page.click("text=Mes demandes")
            row = page.locator("tbody tr")
            assert reference in await row.inner_text() and "Envoyée" in await row.inner_text()
            await axe_clean(page, axe, seen)

            # Another language, remembered; then log out.
            await page.click("a[hreflang=de]")
            assert await page.locator("h1").inner_text() == "Meine Gesuche"
            await page.goto(base + "/")
            assert await page.locator("html").get_attribute("lang") == "de"
            await page.click("button:has-text('Abmelden')")
            await page.wait_for_url(f"{base}/logged-out")
            assert await page.locator("h1").inner_text() == "Sie sind abgemeldet."
            await axe_clean(page, axe, seen)
            await page.goto(base + "/my-requests")
            assert page.url.startswith(urls["identity"])  # logged out: to the login page
            assert len(seen) == 9


PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


async def shot(page, name: str) -> None:
    """A 375 px and a desktop screenshot of the page as it is."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (375, 1280):
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 900})


async def wait_for_mail(sink, address: str, needle: str):
    """The mail to ``address`` whose subject holds ``needle`` (20 s at most, a safety net)."""
    for _ in range(400):
        for message in sink.to(address):
            if needle in str(message["Subject"]):
                return message
        await asyncio.sleep(0.05)
    raise AssertionError(f"no mail to {address} about {needle}")


def text_of(message) -> str:
    part = message.get_body(preferencelist=("plain",)) if hasattr(message, "get_body") else None
    if part is None:
        for sub in message.walk():
            if sub.get_content_type() == "text/plain":
                part = sub
                break
    payload = (part or message).get_payload(decode=True)
    return payload.decode((part or message).get_content_charset() or "utf-8")


async def test_a_citizen_applies_for_a_building_permit_with_a_plan_and_gets_the_receipt(
    migrated_database,
    nats_server,
    tenant,
    procedures_database,
    payment_db,
    s3_server,
    smtp_sink,
    monkeypatch,
):
    # identity's and payment's pages take the commune's look from the environment
    monkeypatch.setenv("SOCLE_COMMUNE_NAME", "Commune de Vevey")
    monkeypatch.setenv("SOCLE_COMMUNE_COLOUR", "#005a8c")
    async with stack(
        migrated_database,
        nats_server,
        tenant,
        procedures_database,
        payment_db,
        s3_server,
        smtp_sink,
    ) as st:
        base, urls = st.base, st.urls
        from socle_procedures import catalog

        async with st.procedures.state.runtime.sessions() as session, session.begin():
            await catalog.publish_document(session, tenant, example("building-permit"))
        async with chromium() as browser:
            context = await browser.new_context(locale="fr-CH", java_script_enabled=False)
            page = await context.new_page()
            axe = await (await browser.new_context(locale="fr-CH")).new_page()
            seen: list[str] = []

            await page.goto(base + "/procedures/building-permit")
            await page.click("text=Se connecter")
            # identity's login page: the commune's look, axe-clean
            assert await page.locator(".commune-name").inner_text() == "Commune de Vevey"
            await axe_clean(page, axe, seen)
            await shot(page, "identity-login")
            await page.fill("#email", "anna@example.ch")
            await page.fill("#password", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/procedures/building-permit")
            await page.click("button:has-text('Commencer')")

            assert "Étape 1 sur 3" in await page.locator(".progress").inner_text()
            await page.click("button:has-text('Continuer')")  # prefilled: name and e-mail
            await page.check("#f-work")  # construction nouvelle
            await page.fill("#f-site-street", "Rue du Lac")
            await page.fill("#f-site-number", "3")
            await page.fill("#f-site-postal_code", "1800")
            await page.fill("#f-site-locality", "Vevey")
            await page.fill("#f-description", "Une maison familiale.")
            await page.fill("#f-construction_cost", "250000")
            await page.click("button:has-text('Continuer')")

            # The plan: a file of the wrong type first, refused next to the field.
            assert "Étape 3 sur 3" in await page.locator(".progress").inner_text()
            await axe_clean(page, axe, seen)
            await page.set_input_files(
                "#f-plan",
                files=[{"name": "plan.txt", "mimeType": "text/plain", "buffer": b"not a plan"}],
            )
            await page.click("button:has-text('Continuer')")
            error = "ce type de fichier n'est pas accepté"
            assert error in await page.locator(".error-summary").inner_text()
            assert error in await page.locator("#f-plan-error").inner_text()
            await axe_clean(page, axe, seen)
            await shot(page, "portal-document-error")
            await page.set_input_files(
                "#f-plan",
                files=[{"name": "plan.pdf", "mimeType": "application/pdf", "buffer": PDF}],
            )
            await page.click("button:has-text('Continuer')")

            # Check the answers (the plan among them), pay on payment's page, submit.
            assert await page.locator("h1").inner_text() == "Vérifiez vos réponses"
            assert "plan.pdf" in await page.locator("main").inner_text()
            assert "CHF 500.00" in await page.locator("main").inner_text()  # 0.2 % of 250'000
            await shot(page, "portal-check")
            await page.click("button:has-text('Payer')")
            await page.wait_for_url(f"{urls['payment']}/pay/*")
            assert await page.locator(".commune-name").count() == 1
            await axe_clean(page, axe, seen)
            await shot(page, "payment-sandbox")
            await page.fill("input[name=card_number]", "4242 4242 4242 4242")
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/requests/*/check")
            await page.click("button:has-text('Envoyer la demande')")
            await page.wait_for_url(f"{base}/requests/*?sent=1")
            reference = await page.locator(".panel strong").inner_text()
            receipt_url = page.url.split("?")[0]
            await shot(page, "portal-receipt")

            # The receipt e-mail, in French, with the commune's name and a link back.
            mail = await wait_for_mail(smtp_sink, "anna@example.ch", reference)
            assert "Commune de Vevey" in str(mail["Subject"])
            body = text_of(mail)
            assert "Demande de permis de construire" in body
            assert receipt_url in body
            assert "CHF 500.00" in body

            # A second request reuses the plan already stored: shared by a grant, no copy.
            await page.goto(base + "/procedures/building-permit")
            await page.click("button:has-text('Commencer')")
            await page.click("button:has-text('Continuer')")
            await page.check("#f-work")
            await page.fill("#f-site-street", "Rue du Lac")
            await page.fill("#f-site-number", "5")
            await page.fill("#f-site-postal_code", "1800")
            await page.fill("#f-site-locality", "Vevey")
            await page.fill("#f-description", "Un garage.")
            await page.fill("#f-construction_cost", "40000")
            await page.click("button:has-text('Continuer')")
            offered = page.locator("label[for=f-plan-doc-1]")
            assert "plan.pdf" in await offered.inner_text()
            await shot(page, "portal-document-reuse")
            await page.check("#f-plan-doc-1")
            await page.click("button:has-text('Continuer')")
            assert await page.locator("h1").inner_text() == "Vérifiez vos réponses"
            assert "plan.pdf" in await page.locator("main").inner_text()
            second = page.url.split("/requests/")[1].split("/")[0]

            from sqlalchemy import func, select

            from socle_storage.models import Document, Grant

            async with st.storage.state.runtime.sessions() as session:
                documents = await session.scalar(
                    select(func.count()).select_from(Document).where(Document.tenant == tenant)
                )
                grants = (
                    await session.execute(select(Grant.procedure).where(Grant.tenant == tenant))
                ).scalars()
                assert documents == 1 and list(grants) == [second]
            assert len(seen) == 4
