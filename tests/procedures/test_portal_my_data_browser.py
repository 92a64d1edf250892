"""'Download my data' in headless Chromium without JavaScript: a citizen logged in to the
portal follows the link of "my requests" to identity's page (the same login, single sign-on),
confirms, and sees the export under way; once every service has answered the page offers the
archive. axe-core finds no violation, in the four languages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from socle.db import utcnow
from socle_dev.testing import chromium
from socle_identity.models import Export, ExportAnswer
from tests.support.portal import axe_clean, log_in, no_script_pages

pytestmark = pytest.mark.browser

HEADINGS = {
    "fr": "Télécharger mes données",
    "de": "Meine Daten herunterladen",
    "it": "Scaricare i miei dati",
    "en": "Download my data",
}


async def test_a_citizen_asks_for_their_data_from_the_portal_without_javascript(
    portal_stack, tenant, smtp_sink
):
    async with portal_stack() as st:
        base, identity_url = st.base, st.urls["identity"]
        async with chromium() as browser:
            page, axe = await no_script_pages(browser, "fr-CH")
            seen: list[str] = []

            await page.goto(base + "/my-requests")  # to the login page, then back
            await log_in(page, "anna@example.ch", f"{base}/my-requests")
            link = page.locator("#my-data")
            assert await link.get_attribute("href") == f"{identity_url}/account/export"
            await axe_clean(page, axe, seen)

            await link.click()
            await page.wait_for_url(f"{identity_url}/account/export")
            assert await page.locator("h1").inner_text() == HEADINGS["fr"]
            await axe_clean(page, axe, seen)
            for lang, heading in HEADINGS.items():
                await page.goto(f"{identity_url}/account/export?lang={lang}")
                assert await page.locator("h1").inner_text() == heading
                assert await page.locator("html").get_attribute("lang") == lang
                await axe_clean(page, axe, seen)
            await page.goto(f"{identity_url}/account/export?lang=fr")

            await page.click("button:has-text('Demander mes données')")
            await page.wait_for_url(f"{identity_url}/account/exports/*")
            export_id = page.url.rsplit("/", 1)[1]
            state = page.locator("#export-state")
            assert "en cours" in await state.inner_text()
            assert await page.locator("#download").count() == 0
            await axe_clean(page, axe, seen)

            # every service answers (storage writes its part here; the others' answers are
            # written straight into identity's database)
            sessions = st.identity.state.runtime.sessions
            async with sessions() as session, session.begin():
                export = await session.get(Export, export_id)
                assert export is not None
                answered = set(
                    (
                        await session.execute(
                            select(ExportAnswer.service).where(ExportAnswer.export_id == export_id)
                        )
                    ).scalars()
                )
                for service in set(export.services) - answered:
                    session.add(
                        ExportAnswer(
                            export_id=export_id,
                            service=service,
                            answered_at=utcnow(),
                            object=f"exports/{export_id}/{service}.json",
                            counts={},
                        )
                    )
            await page.click("#refresh")
            assert "prête" in await state.inner_text()
            download = page.locator("#download")
            assert await download.get_attribute("href") == (f"/account/exports/{export_id}/archive")
            await axe_clean(page, axe, seen)

            # another browser, not logged in: the page says to log in first, nothing shown
            stranger = await (await browser.new_context(java_script_enabled=False)).new_page()
            answer = await stranger.goto(f"{identity_url}/account/exports/{export_id}")
            assert answer is not None and answer.status == 401
            assert await stranger.locator("#download").count() == 0
            await axe_clean(stranger, axe, seen)
        assert len(seen) == 9
