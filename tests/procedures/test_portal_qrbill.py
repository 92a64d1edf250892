"""The parking card, paid by QR-bill, in headless Chromium with JavaScript enabled: the
citizen gets the bill on payment's page (creditor, reference, amount, the QR code, a PDF, what
happens next), submits, and the request learns the payment succeeded once the finance office
uploads the bank's camt.054 file to payment. axe-core: 0 violations on every page."""

from __future__ import annotations

import httpx
import pytest

from socle_dev.testing import chromium
from socle_identity import directory
from tests.support.identity import add_client
from tests.support.payment import camt054
from tests.support.portal import axe_clean_live, commune_look, log_in, publish

pytestmark = pytest.mark.browser


async def finance_token(identity, tenant: str, issuer: str) -> str:
    """A token of the commune's finance office: a client acting for itself."""
    client, secret = await add_client(
        identity.state.runtime.sessions,
        tenant,
        directory.ClientSpec(
            name="Finances",
            scopes=["payments:read", "payments:write"],
            grant_types=["client_credentials"],
        ),
    )
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{issuer}/token",
            data={"grant_type": "client_credentials", "scope": "payments:write"},
            auth=(client.client_id, secret or ""),
        )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def test_a_parking_card_paid_by_qr_bill_is_reconciled_from_the_bank_file(
    portal_stack,
    tenant,
    smtp_sink,
    monkeypatch,
):
    commune_look(monkeypatch)
    async with portal_stack() as st:
        base, urls = st.base, st.urls
        assert st.apps is not None
        creditor = st.apps["payment"].state.runtime.settings
        await publish(st, tenant, "parking-card")
        async with chromium() as browser:
            page = await (await browser.new_context(locale="fr-CH")).new_page()
            seen: list[str] = []

            await page.goto(base + "/procedures/parking-card")
            await page.click("text=Se connecter")
            await log_in(page, "anna@example.ch", f"{base}/procedures/parking-card")
            await page.click("button:has-text('Commencer')")
            await page.fill("#f-address-street", "Rue du Lac")
            await page.fill("#f-address-number", "3")
            await page.fill("#f-address-postal_code", "1800")
            await page.fill("#f-address-locality", "Vevey")
            await page.click("button:has-text('Continuer')")
            await page.fill("#f-plate", "VD 123456")
            await page.select_option("#f-zone", "B")
            await page.check("input[name=months][value='3']")
            await page.click("button:has-text('Continuer')")

            assert await page.locator("h1").inner_text() == "Vérifiez vos réponses"
            assert "CHF 90.00" in await page.locator("main").inner_text()
            await axe_clean_live(page, seen)
            await page.click("button:has-text('Obtenir la QR-facture')")

            # Payment's QR-bill page: the bill as it will be paid, and what happens next.
            await page.wait_for_url(f"{urls['payment']}/pay/*")
            bill_url = page.url
            main = await page.locator("main").inner_text()
            assert await page.locator("h1").inner_text() == "Votre facture QR"
            assert creditor.payment_creditor_name in main
            assert "CH44 3199 9123 0008 8901 2" in main  # the creditor's QR-IBAN, grouped
            assert "CHF 90.00" in main
            assert "votre demande suit son cours" in main
            reference = (await page.locator(".qr-reference").inner_text()).replace(" ", "")
            assert len(reference) == 27 and reference.isdigit()
            qr = page.locator("img.qr-bill")
            assert await qr.evaluate("img => img.complete && img.naturalWidth > 0")
            assert "CHF 90.00" in (await qr.get_attribute("alt") or "")
            pdf_href = await page.locator("a[href*='qr-bill.pdf']").get_attribute("href")
            pdf = await page.request.get(pdf_href or "")
            assert pdf.headers["content-type"].startswith("application/pdf")
            assert (await pdf.body()).startswith(b"%PDF")
            await axe_clean_live(page, seen)

            # Back at the portal: billed, so the request can be sent; it waits for the money.
            await page.click("text=Continuer")
            await page.wait_for_url(f"{base}/requests/*/check")
            assert "QR-facture émise" in await page.locator("main").inner_text()
            await page.click("button:has-text('Envoyer la demande')")
            await page.wait_for_url(f"{base}/requests/*?sent=1")
            receipt_url = page.url.split("?")[0]
            assert "paiement attendu" in await page.locator("main").inner_text()
            await axe_clean_live(page, seen)

            # The bank's file reaches payment; the request learns from payment.succeeded.
            token = await finance_token(st.apps["identity"], tenant, urls["identity"])
            async with httpx.AsyncClient() as http:
                answer = await http.post(
                    f"{urls['payment']}/v1/reconciliations/camt054",
                    content=camt054([(reference, "90.00", "CHF", "CRDT")]),
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/xml",
                    },
                )
            assert answer.status_code == 200, answer.text
            assert [line["outcome"] for line in answer.json()["lines"]] == ["matched"]
            for _ in range(200):  # the event's way through the bus (10 s at most)
                await page.goto(receipt_url)
                if "Payé" in await page.locator("main").inner_text():
                    break
                await page.wait_for_timeout(50)
            assert "CHF 90.00 - Payé" in await page.locator("main").inner_text()
            await axe_clean_live(page, seen)

            # The bill's page now says the payment is finished and leads back.
            await page.goto(bill_url)
            assert await page.locator("h1").inner_text() == "Paiement terminé"
            await axe_clean_live(page, seen)
            await page.click("text=Continuer")
            await page.wait_for_url(f"{base}/requests/*")
            assert len(seen) == 5, seen
