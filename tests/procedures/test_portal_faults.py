"""identity, storage, payment or notify down, for real (a server stopped, or a port with nothing
listening): the citizen sees a "try again in a moment" page in their language, the draft is
kept, nothing is half-done, and the journey goes on once the service is back."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest

from socle_dev.localinfra import free_port
from socle_dev.testing import chromium, running, served
from socle_notify.app import create_app as create_notify
from socle_payment.app import create_app as create_payment
from socle_procedures.app import create_app
from socle_procedures.settings import ProceduresSettings
from socle_storage.app import create_app as create_storage
from tests.support.portal import (
    PDF,
    axe_clean_live,
    describe_project,
    log_in,
    pay_by_card,
    publish,
    wait_for_mail,
)

pytestmark = pytest.mark.browser

DOWN = "Service momentanément indisponible"


async def test_storage_payment_and_notify_down_keep_the_draft_and_the_journey_resumes(
    portal_stack, tenant, smtp_sink
):
    async with portal_stack(detached=("payment", "storage", "notify")) as st:
        base, urls = st.base, st.urls
        assert st.apps is not None and st.ports is not None and st.settings is not None
        apps, ports = st.apps, st.ports
        await publish(st, tenant, "building-permit")
        async with AsyncExitStack() as later, chromium() as browser:
            page = await (await browser.new_context(locale="fr-CH")).new_page()
            seen: list[str] = []
            await page.goto(base + "/procedures/building-permit")
            await page.click("text=Se connecter")
            await log_in(page, "anna@example.ch", f"{base}/procedures/building-permit")
            await page.click("button:has-text('Commencer')")
            await page.click("button:has-text('Continuer')")
            await describe_project(page, "3", "Une maison familiale.", "250000")
            # Storage down (served for the plan's page, then stopped): the plan cannot be kept.
            async with served(apps["storage"], ports["storage"]):
                await page.click("button:has-text('Continuer')")
                assert "Étape 3 sur 3" in await page.locator(".progress").inner_text()
            step3 = page.url
            await page.set_input_files(
                "#f-plan",
                files=[{"name": "plan.pdf", "mimeType": "application/pdf", "buffer": PDF}],
            )
            await page.click("button:has-text('Continuer')")
            await page.wait_for_url(step3)
            assert await page.locator("h1").inner_text() == DOWN
            assert "Votre brouillon est conservé" in await page.locator("main").inner_text()
            await axe_clean_live(page, seen)
            # The draft is kept: the earlier answers are there.
            await page.goto(step3.rsplit("/", 1)[0] + "/project")
            assert await page.input_value("#f-description") == "Une maison familiale."
            await page.goto(step3)  # the plan's page still shows, without stored documents
            assert await page.locator("h1").inner_text() == "Plans"
            # Storage back (a new process on the same port): try again, and it goes through.
            storage = create_storage(st.settings["storage"])
            await later.enter_async_context(served(storage, ports["storage"]))
            await page.set_input_files(
                "#f-plan",
                files=[{"name": "plan.pdf", "mimeType": "application/pdf", "buffer": PDF}],
            )
            await page.click("button:has-text('Continuer')")
            await page.wait_for_url(f"{base}/requests/*/check")
            check_url = page.url

            # Payment down (nothing listening on its port): nothing charged, the draft waits.
            await page.click("button:has-text('Payer')")
            await page.wait_for_url(f"{base}/requests/*/pay")
            assert await page.locator("h1").inner_text() == DOWN
            await axe_clean_live(page, seen)
            await page.click("text=Réessayer")
            await page.wait_for_url(check_url)
            assert "Payé" not in await page.locator("main").inner_text()
            assert await page.locator("button:has-text('Envoyer la demande')").count() == 0
            payment = create_payment(st.settings["payment"])
            await later.enter_async_context(served(payment, ports["payment"]))
            await page.click("button:has-text('Payer')")
            await pay_by_card(
                page, urls["payment"], "4242 4242 4242 4242", f"{base}/requests/*/check"
            )
            assert "Payé" in await page.locator("main").inner_text()

            # Notify down: the request is still sent; the receipt mail follows once it is back.
            await page.click("button:has-text('Envoyer la demande')")
            await page.wait_for_url(f"{base}/requests/*?sent=1")
            reference = await page.locator(".panel strong").inner_text()
            notify = create_notify(st.settings["notify"])
            await later.enter_async_context(served(notify, ports["notify"]))
            await wait_for_mail(smtp_sink, "anna@example.ch", reference)
            assert len(seen) == 2


async def test_identity_down_shows_try_again_in_the_citizens_language(procedures_database):
    nothing = f"http://127.0.0.1:{free_port()}"  # a port with nothing listening
    app = create_app(
        ProceduresSettings(
            database_url=procedures_database,
            issuer=nothing,
            public_url="http://127.0.0.1:8000",
            portal_tenant="demo",
            portal_client_id="portal",
            portal_client_secret="secret",
        )
    )
    async with running(app) as client:
        page = await client.get(
            "/auth/login?next=/procedures/dog-registration", headers={"Accept-Language": "de"}
        )
    assert page.status_code == 503
    assert page.headers["retry-after"] == "10"
    assert "Dienst vorübergehend nicht verfügbar" in page.text
    assert "Erneut versuchen" in page.text
    assert 'href="/auth/login?next=/procedures/dog-registration"' in page.text
