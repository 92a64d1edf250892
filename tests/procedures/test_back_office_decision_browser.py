"""The building permit decided in headless Chromium without JavaScript, against real
identity, payment, storage, notify and procedures over HTTP: the citizen applies with a plan;
the agent asks for a corrected plan; the citizen gets the e-mail, uploads the new PDF in the
portal and resubmits; the agent approves; the citizen sees the decision on the receipt and
opens its PDF; the agent refunds part of the fee through payment. axe-core finds no
violation on the pages touched."""

from __future__ import annotations

import uuid

import pytest

from socle_dev.testing import chromium
from tests.support.portal import (
    PDF,
    add_person,
    axe_clean,
    describe_project,
    log_in,
    pay_by_card,
    publish,
    text_of,
    wait_for_mail,
)

pytestmark = pytest.mark.browser

CORRECTED = PDF.replace(b"%%EOF", b"% corrected plan\n%%EOF")


async def test_a_corrected_plan_then_the_decision_the_citizen_opens(
    portal_stack, tenant, smtp_sink
):
    async with portal_stack() as st:
        base, urls = st.base, st.urls
        email = f"lea-{uuid.uuid4().hex[:8]}@example.ch"  # the mail sink serves every test
        for address, roles, given, family, locale in (
            ("agent@vevey.test", ["agent"], "Marc", "Agent", "en"),
            (email, ["citizen"], "Léa", "Favre", "fr"),
        ):
            await add_person(
                st,
                tenant,
                address,
                roles=roles,
                given_name=given,
                family_name=family,
                locale=locale,
            )
        await publish(st, tenant, "building-permit")

        async with chromium() as browser:
            citizen = await (
                await browser.new_context(locale="fr-CH", java_script_enabled=False)
            ).new_page()
            agent_context = await browser.new_context(locale="en-GB", java_script_enabled=False)
            agent = await agent_context.new_page()
            axe = await (await browser.new_context(locale="en-GB")).new_page()
            seen: list[str] = []

            # The citizen applies, the plan uploaded, the fee paid on payment's page.
            await citizen.goto(base + "/procedures/building-permit")
            await citizen.click("text=Se connecter")
            await log_in(citizen, email, f"{base}/procedures/building-permit")
            await citizen.click("button:has-text('Commencer')")
            await citizen.click("button:has-text('Continuer')")  # prefilled: name and e-mail
            await describe_project(citizen, "7", "Un atelier.", "100000")
            await citizen.click("button:has-text('Continuer')")
            await citizen.set_input_files(
                "#f-plan",
                files=[{"name": "plan.pdf", "mimeType": "application/pdf", "buffer": PDF}],
            )
            await citizen.click("button:has-text('Continuer')")
            await citizen.click("button:has-text('Payer')")
            await pay_by_card(
                citizen, urls["payment"], "4242 4242 4242 4242", f"{base}/requests/*/check"
            )
            await citizen.click("button:has-text('Envoyer la demande')")
            await citizen.wait_for_url(f"{base}/requests/*?sent=1")
            reference = await citizen.locator(".panel strong").inner_text()
            rid = citizen.url.split("/requests/")[1].split("?")[0]

            # The agent finds it and asks for a corrected plan.
            await agent.goto(base + "/back-office")
            await log_in(agent, "agent@vevey.test", f"{base}/back-office")
            await agent.select_option("#f-state", "submitted")
            await agent.fill("#f-reference", reference[-6:])
            await agent.click("button:has-text('Apply')")
            await agent.wait_for_url(f"{base}/back-office?*state=submitted*")
            await agent.click(f"text={reference}")
            await agent.wait_for_url(f"{base}/back-office/requests/{rid}")
            assert await agent.locator("#payment-status").inner_text() == "succeeded (sandbox)"
            await agent.click("button:has-text('Take it')")
            await agent.wait_for_url(f"{base}/back-office/requests/{rid}?done=1")
            await agent.click("button:has-text('Start the review')")
            await agent.wait_for_url(f"{base}/back-office/requests/{rid}?done=1")
            await agent.check("#fix-plan")
            await agent.fill(
                "#comment-request_information", "The plan lacks the distances to the border."
            )
            await agent.click("button:has-text('Ask for information')")
            await agent.wait_for_url(f"{base}/back-office/requests/{rid}?done=1")
            assert await agent.locator("#state").inner_text() == "Information requested"
            await axe_clean(agent, axe, seen)

            # The citizen follows the e-mail's link and uploads the corrected plan.
            mail = await wait_for_mail(smtp_sink, email, "compl")
            body = text_of(mail)
            assert "The plan lacks the distances to the border." in body
            link = next(line.strip() for line in body.splitlines() if f"/requests/{rid}" in line)
            await citizen.goto(link[link.index("http") :])
            await citizen.wait_for_url(f"{base}/requests/{rid}/check")
            await axe_clean(citizen, axe, seen)
            await citizen.click("a[href$='#f-plan']")
            await citizen.set_input_files(
                "#f-plan",
                files=[{"name": "plan-v2.pdf", "mimeType": "application/pdf", "buffer": CORRECTED}],
            )
            await axe_clean(citizen, axe, seen)
            await citizen.click("button:has-text('Continuer')")
            await citizen.wait_for_url(f"{base}/requests/{rid}/check*")  # #f-plan kept
            assert "plan-v2.pdf" in await citizen.locator("main").inner_text()
            await citizen.click("button:has-text('Envoyer la demande')")
            await citizen.wait_for_url(f"{base}/requests/{rid}*")

            # The agent sees the new plan, reads it, approves: the decision is made.
            await agent.goto(f"{base}/back-office/requests/{rid}")
            assert await agent.locator("#state").inner_text() == "In review"
            assert "plan-v2.pdf" in await agent.locator("main").inner_text()
            plan = await agent_context.request.get(
                base + await agent.locator("a:has-text('plan-v2.pdf')").get_attribute("href")
            )
            assert await plan.body() == CORRECTED
            await agent.fill("#comment-approve", "Permis accordé ; début des travaux libre.")
            await agent.click("button:has-text('Approve')")
            await agent.wait_for_url(f"{base}/back-office/requests/{rid}?done=1")
            assert await agent.locator("#state").inner_text() == "Approved"
            assert await agent.locator("#decision").count() == 1
            await axe_clean(agent, axe, seen)

            # Part of the fee goes back through payment: confirmed on its own page.
            await agent.click("#refund")
            await agent.wait_for_url(f"{base}/back-office/requests/{rid}/refund")
            await axe_clean(agent, axe, seen)
            await agent.fill("#refund-amount", "50.00")
            await agent.fill("#refund-reason", "Reduced fee for a workshop.")
            await agent.click("button:has-text('Confirm the refund')")
            await agent.wait_for_url(f"{base}/back-office/requests/{rid}/refund")
            notice = (await agent.locator("main").inner_text()).replace("\u00a0", " ")
            assert "Refunded CHF 50.00" in notice and "partially_refunded" in notice
            await axe_clean(agent, axe, seen)

            # The citizen is told, sees the decision on the request's page and opens it.
            decided = await wait_for_mail(smtp_sink, email, "accept")
            assert reference in text_of(decided)
            await citizen.goto(f"{base}/my-requests")
            await axe_clean(citizen, axe, seen)
            row = citizen.locator("tr", has_text=reference)
            assert "Acceptée" in await row.inner_text()
            await row.locator(f"a[href='/requests/{rid}']").click()
            await citizen.wait_for_url(f"{base}/requests/{rid}")
            link = citizen.locator("#decision")
            assert await link.inner_text() == "Lire la décision (PDF)"
            await axe_clean(citizen, axe, seen)
            pdf = await citizen.context.request.get(base + await link.get_attribute("href"))
            assert pdf.status == 200
            assert pdf.headers["content-type"] == "application/pdf"
            assert (await pdf.body()).startswith(b"%PDF")
            assert len(seen) == 8
