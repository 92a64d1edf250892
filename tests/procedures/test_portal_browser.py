"""The citizen's journey in headless Chromium against real identity, payment and procedures
served over HTTP: log in, a wrong answer first, pay on the sandbox page (declined, then
accepted), check answers, submit, receipt, "my requests", log out. axe-core finds no
violation on any page of the portal; a 375 px screenshot is kept."""

from __future__ import annotations

import pytest

from socle_dev.testing import chromium
from tests.support.portal import (
    PDF,
    SCREENSHOTS,
    axe_clean,
    commune_look,
    describe_project,
    log_in,
    no_script_pages,
    pay_by_card,
    publish,
    shot,
    text_of,
    wait_for_mail,
)

pytestmark = pytest.mark.browser


async def test_a_citizen_registers_a_dog_from_login_to_receipt(portal_stack, tenant, smtp_sink):
    async with portal_stack() as st:
        base, urls = st.base, st.urls

        await publish(st, tenant, "dog-registration")
        async with chromium() as browser:
            page, axe = await no_script_pages(browser, "fr-CH")
            seen: list[str] = []

            await page.goto(base + "/")
            assert await page.locator("h1").inner_text() == "Démarches en ligne"
            await axe_clean(page, axe, seen)
            await page.click("text=Annonce d'un chien")
            await axe_clean(page, axe, seen)
            await page.click("text=Se connecter")
            await log_in(page, "anna@example.ch", f"{base}/procedures/dog-registration")
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
            await pay_by_card(
                page, urls["payment"], "4000 0000 0000 0002", f"{base}/requests/*/payment-return"
            )
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


async def test_a_citizen_applies_for_a_building_permit_with_a_plan_and_gets_the_receipt(
    portal_stack,
    tenant,
    smtp_sink,
    monkeypatch,
):
    commune_look(monkeypatch)
    async with portal_stack() as st:
        base, urls = st.base, st.urls

        await publish(st, tenant, "building-permit")
        async with chromium() as browser:
            page, axe = await no_script_pages(browser, "fr-CH")
            seen: list[str] = []

            await page.goto(base + "/procedures/building-permit")
            await page.click("text=Se connecter")
            # identity's login page: the commune's look, axe-clean
            assert await page.locator(".commune-name").inner_text() == "Commune de Vevey"
            await axe_clean(page, axe, seen)
            await shot(page, "identity-login")
            await log_in(page, "anna@example.ch", f"{base}/procedures/building-permit")
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
            await describe_project(page, "5", "Un garage.", "40000")
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
