"""An agent's day in headless Chromium without JavaScript, against real identity, payment,
storage, notify and procedures over HTTP: log in at identity, filter the queue, open a
citizen's request, take it, review it, ask for a corrected plate; the citizen gets the mail in
French and resubmits; the agent approves and the citizen is told. axe-core finds no violation
on the back-office pages. A citizen confirms a mediator's mandate from the e-mailed link,
then revokes it: the mediator is out at once."""

from __future__ import annotations

import uuid

import pytest

from socle.auth import Principal
from socle_dev.testing import chromium
from socle_procedures import catalog, mandates, requests
from socle_procedures.errors import RequestNotFound
from tests.support.portal import (
    add_person,
    axe_clean,
    log_in,
    no_script_pages,
    text_of,
    wait_for_mail,
)
from tests.support.procedures import HOLDER, VEHICLE, example

pytestmark = pytest.mark.browser


async def test_an_agent_asks_for_a_correction_then_approves(portal_stack, tenant, smtp_sink):
    async with portal_stack() as st:
        base, procedures = st.base, st.procedures
        email = f"anna-{uuid.uuid4().hex[:8]}@example.ch"  # the mail sink serves every test
        await add_person(
            st,
            tenant,
            "agent@vevey.test",
            roles=["agent"],
            given_name="Marc",
            family_name="Agent",
            locale="en",
        )
        citizen = Principal(
            subject="citizen-anna",
            tenant=tenant,
            client_id="portal",
            scopes=frozenset({"procedures:write"}),
            roles=frozenset({"citizen"}),
            claims={"email": email},
        )
        sessions = procedures.state.runtime.sessions
        async with sessions() as session, session.begin():
            await catalog.publish_document(session, tenant, example("parking-card"))
            loaded = await requests.create(session, citizen, "parking-card", locale="fr")
            rid = loaded.request.id
            for step, answers in (("holder", HOLDER), ("vehicle", VEHICLE)):
                await requests.save_step(session, citizen, rid, step, answers)
            # The QR-bill is issued (payment is exercised by the citizen's journey).
            loaded.request.payment_provider, loaded.request.payment_status = "qrbill", "pending"
            submitted = await requests.submit(session, citizen, rid)
            reference = submitted.request.reference
        assert reference

        async with chromium() as browser:
            page, axe = await no_script_pages(browser, "en-GB")
            seen: list[str] = []

            await page.goto(base + "/back-office")
            await log_in(page, "agent@vevey.test", f"{base}/back-office")
            assert await page.locator("h1").inner_text() == "Requests"
            await axe_clean(page, axe, seen)

            await page.select_option("#f-state", "submitted")
            await page.fill("#f-reference", reference[-6:])
            await page.click("button:has-text('Apply')")
            await page.wait_for_url(f"{base}/back-office?*state=submitted*")
            assert await page.locator("[data-state=submitted]").inner_text() == "1"
            await axe_clean(page, axe, seen)
            await page.click(f"text={reference}")
            await page.wait_for_url(f"{base}/back-office/requests/{rid}")
            assert "VD 12345" in await page.content()
            await axe_clean(page, axe, seen)

            await page.click("button:has-text('Take it')")
            await page.wait_for_url(f"{base}/back-office/requests/{rid}?done=1")
            await page.click("button:has-text('Start the review')")
            await page.wait_for_url(f"{base}/back-office/requests/{rid}?done=1")
            assert await page.locator("#state").inner_text() == "In review"
            await page.check("#fix-plate")
            await page.fill("#comment-request_information", "The plate number is not readable.")
            await page.click("button:has-text('Ask for information')")
            await page.wait_for_url(f"{base}/back-office/requests/{rid}?done=1")
            await page.fill("#note-text", "Phoned her: she sends it tonight.")
            await page.click("button:has-text('Add the note')")
            await page.wait_for_url(f"{base}/back-office/requests/{rid}#notes")
            assert "Phoned her" in await page.locator("#notes + p + ul").inner_text()
            await axe_clean(page, axe, seen)

            mail = await wait_for_mail(smtp_sink, email, "compl")  # subject: "... est à compléter"
            body = text_of(mail)
            assert "The plate number is not readable." in body
            assert f"/requests/{rid}" in body
            assert "Phoned her" not in body

            async with sessions() as session, session.begin():
                await requests.save_step(
                    session, citizen, rid, "vehicle", VEHICLE | {"plate": "VD 54321"}
                )
                back = await requests.submit(session, citizen, rid)
                assert back.request.state == "in_review"

            await page.reload()
            assert await page.locator("#state").inner_text() == "In review"
            assert "VD 54321" in await page.content()
            await page.fill("#comment-approve", "All good.")
            await page.click("button:has-text('Approve')")
            await page.wait_for_url(f"{base}/back-office/requests/{rid}?done=1")
            assert await page.locator("#state").inner_text() == "Approved"
            history = await page.locator("table").last.inner_text()
            for what in ("Take it", "Start the review", "Ask for information", "Approve"):
                assert what in history
            await axe_clean(page, axe, seen)
            decided = await wait_for_mail(smtp_sink, email, "accept")  # subject: "... est acceptée"
            assert reference in text_of(decided)
            assert len(seen) == 5


async def test_a_citizen_confirms_a_mediators_mandate_then_revokes_it(
    portal_stack, tenant, smtp_sink
):
    async with portal_stack() as st:
        base, procedures = st.base, st.procedures
        email = f"anna-{uuid.uuid4().hex[:8]}@example.ch"  # the mail sink serves every test
        mediator = Principal(
            subject="mediator-lea",
            tenant=tenant,
            client_id="portal",
            scopes=frozenset({"procedures:read", "procedures:write"}),
            roles=frozenset({"mediator"}),
            claims={"name": "Léa Médiatrice"},
        )
        sessions = procedures.state.runtime.sessions
        site = procedures.state.runtime.context.site
        async with sessions() as session, session.begin():
            await catalog.publish_document(session, tenant, example("parking-card"))
            mandate, loaded = await mandates.start(
                session,
                mediator,
                "parking-card",
                citizen_name="Anna Muster",
                citizen_email=email,
                locale="fr",
                site=site,
            )
            rid = loaded.request.id

        mail = await wait_for_mail(smtp_sink, email, "propose")  # ... de faire une démarche
        link = next(line for line in text_of(mail).splitlines() if "/mandates/" in line)
        assert link.startswith(base + f"/mandates/{mandate.id}?token=")

        async with chromium() as browser:
            page, axe = await no_script_pages(browser, "fr-CH")
            seen: list[str] = []
            await page.goto(link)
            await log_in(page, "anna@example.ch", f"{base}/mandates/{mandate.id}?token=*")
            assert "Déposée par Léa Médiatrice pour Anna Muster" in await page.content()
            await axe_clean(page, axe, seen)
            await page.click("button:has-text('Je confirme le mandat')")
            await page.wait_for_url(f"{base}/requests/{rid}/**")

            async with sessions() as session, session.begin():
                reached = await requests.load(session, mediator, rid)
                assert reached.for_citizen

            await page.goto(base + "/mandates")
            assert "Actif" in await page.locator("tbody").inner_text()
            await axe_clean(page, axe, seen)
            await page.click("button:has-text('Retirer le mandat')")
            await page.wait_for_url(f"{base}/mandates")
            assert "Retiré" in await page.locator("tbody").inner_text()
            await axe_clean(page, axe, seen)

            async with sessions() as session, session.begin():
                with pytest.raises(RequestNotFound):
                    await requests.load(session, mediator, rid)

            # The mediator's own page to file for someone, reached through identity's login.
            await add_person(
                st,
                tenant,
                "lea@mediation.test",
                roles=["mediator"],
                given_name="Léa",
                family_name="Médiatrice",
                locale="fr",
            )
            lea = await (
                await browser.new_context(locale="fr-CH", java_script_enabled=False)
            ).new_page()
            await lea.goto(base + "/mandates/new")
            await log_in(lea, "lea@mediation.test", f"{base}/mandates/new")
            assert 'value="parking-card"' in await lea.content()
            await axe_clean(lea, axe, seen)
            assert len(seen) == 4
