"""The citizen's journey in headless Chromium with JavaScript enabled, from a new account to
the receipt: register at identity, confirm the address from the mail, log in, allow the
portal on identity's consent page, a building permit with a wrong answer first, a PDF plan,
a declined card then an accepted one on payment's page, check, submit, the receipt mail,
"my requests", log out. axe-core runs in the page itself on every page the citizen sees,
identity's and payment's included: 0 violations."""

from __future__ import annotations

import re

import pytest

from socle_dev.testing import chromium
from socle_identity import directory
from socle_identity.models import Consent
from tests.support.portal import (
    PASSWORD,
    PDF,
    axe_clean_live,
    commune_look,
    log_in,
    pay_by_card,
    publish,
    text_of,
    wait_for_mail,
)

pytestmark = pytest.mark.browser


async def test_a_new_citizen_applies_for_a_building_permit_with_javascript(
    portal_stack,
    tenant,
    smtp_sink,
    monkeypatch,
):
    commune_look(monkeypatch)
    async with portal_stack() as st:
        base, urls = st.base, st.urls
        assert st.apps is not None
        identity = st.apps["identity"]
        await publish(st, tenant, "building-permit")
        email = "lea@example.ch"
        async with chromium() as browser:
            context = await browser.new_context(locale="fr-CH")  # JavaScript on
            page = await context.new_page()
            seen: list[str] = []

            await page.goto(base + "/")
            await axe_clean_live(page, seen)
            await page.click("text=Demande de permis de construire")
            await axe_clean_live(page, seen)
            await page.click("text=Se connecter")
            await page.wait_for_url(f"{urls['identity']}/**")
            await axe_clean_live(page, seen)

            # A new citizen: registration at identity, the address confirmed from the mail.
            await page.click("a[href*='/register']")
            assert await page.locator("h1").inner_text() == "Créer un compte"
            await axe_clean_live(page, seen)
            await page.fill("#given_name", "Léa")
            await page.fill("#family_name", "Rochat")
            await page.fill("#email", email)
            await page.fill("#password", PASSWORD)
            await page.click("button[type=submit]")
            assert "confirmez votre adresse" in await page.locator("h1").inner_text()
            await axe_clean_live(page, seen)
            mail = await wait_for_mail(smtp_sink, email, "")
            link = re.search(r"https?://\S+/verify-email\?token=\S+", text_of(mail))
            assert link is not None
            await page.goto(link.group(0))
            assert await page.locator("h1").inner_text() == "Adresse e-mail confirmée"
            await axe_clean_live(page, seen)

            # The citizen once allowed the portal less than it asks for today: identity
            # asks again on its consent page.
            client_id = st.procedures.state.runtime.settings.portal_client_id
            async with identity.state.runtime.sessions() as session, session.begin():
                user = await directory.find_user(session, tenant=tenant, email=email)
                assert user is not None
                session.add(Consent(user_id=user.id, client_id=client_id, scopes=["openid"]))

            await page.goto(base + "/procedures/building-permit")
            await page.click("text=Se connecter")
            await log_in(page, email, f"{urls['identity']}/consent**")
            assert await page.locator("#scopes li").count() > 0
            await axe_clean_live(page, seen)
            await page.click("button[value=allow]")
            await page.wait_for_url(f"{base}/procedures/building-permit")
            await page.click("button:has-text('Commencer')")

            # Prefilled from identity (tell us once), then the site with a wrong cost first.
            assert "Étape 1 sur 3" in await page.locator(".progress").inner_text()
            assert await page.input_value("#f-email") == email
            await axe_clean_live(page, seen)
            await page.click("button:has-text('Continuer')")
            await page.check("#f-work")
            await page.fill("#f-site-street", "Rue du Lac")
            await page.fill("#f-site-number", "3")
            await page.fill("#f-site-postal_code", "1800")
            await page.fill("#f-site-locality", "Vevey")
            await page.fill("#f-description", "Une maison familiale.")
            await page.fill("#f-construction_cost", "0")  # below the minimum (CHF 1)
            await page.click("button:has-text('Continuer')")
            await page.locator(".error-summary").wait_for()
            assert await page.input_value("#f-description") == "Une maison familiale."
            await axe_clean_live(page, seen)
            await page.fill("#f-construction_cost", "250000")
            await page.click("button:has-text('Continuer')")

            assert "Étape 3 sur 3" in await page.locator(".progress").inner_text()
            await axe_clean_live(page, seen)
            await page.set_input_files(
                "#f-plan",
                files=[{"name": "plan.pdf", "mimeType": "application/pdf", "buffer": PDF}],
            )
            await page.click("button:has-text('Continuer')")

            assert await page.locator("h1").inner_text() == "Vérifiez vos réponses"
            assert "CHF 500.00" in await page.locator("main").inner_text()
            await axe_clean_live(page, seen)

            # Payment's page: declined, back with a message, then accepted.
            await page.click("button:has-text('Payer')")
            await page.wait_for_url(f"{urls['payment']}/pay/*")
            await axe_clean_live(page, seen)
            await page.fill("input[name=card_number]", "4000 0000 0000 0002")
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/requests/*/payment-return")
            assert "Le paiement n'a pas abouti" in await page.content()
            await axe_clean_live(page, seen)
            await page.click("button:has-text('Payer')")
            await pay_by_card(
                page, urls["payment"], "4242 4242 4242 4242", f"{base}/requests/*/check"
            )
            assert "Payé" in await page.locator("main").inner_text()
            await page.click("button:has-text('Envoyer la demande')")

            await page.wait_for_url(f"{base}/requests/*?sent=1")
            reference = await page.locator(".panel strong").inner_text()
            await axe_clean_live(page, seen)
            receipt = await wait_for_mail(smtp_sink, email, reference)
            assert "Commune de Vevey" in str(receipt["Subject"])
            assert page.url.split("?")[0] in text_of(receipt)

            await page.click("text=Mes demandes")
            row = page.locator("tbody tr")
            assert reference in await row.inner_text() and "Envoyée" in await row.inner_text()
            await axe_clean_live(page, seen)

            # Log out: back at the portal, told so; identity's own logout page too.
            await page.click("button:has-text('Se déconnecter')")
            await page.wait_for_url(f"{base}/logged-out")
            await axe_clean_live(page, seen)
            await page.goto(urls["identity"] + "/logout")
            await axe_clean_live(page, seen)
            await page.goto(base + "/my-requests")
            assert page.url.startswith(urls["identity"])  # logged out: to the login page

            assert len(seen) == 17, seen
