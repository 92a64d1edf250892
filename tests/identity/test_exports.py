"""A person asks for their own data (right of access) with the token of identity's account
pages; an admin for anyone's. The export is the person's alone: another person's token
finds nothing, its archive waits until every service has written its part."""

from __future__ import annotations

from datetime import timedelta

from socle.db import utcnow
from socle_dev.events import EventRecorder
from socle_identity.models import Export
from tests.support.identity import account_token, code_flow_client, tokens_after_login


async def test_a_person_asks_for_their_own_data_and_nobody_else_sees_the_export(
    identity, commune, nats_server
):
    client_id, secret = await code_flow_client(commune)
    anna = await commune.add_user("anna.export@example.ch")
    await commune.add_user("bruno.export@example.ch")
    accounts = {}
    for email in ("anna.export@example.ch", "bruno.export@example.ch"):
        async with identity.http() as browser:
            await tokens_after_login(identity, browser, client_id, secret, email)
            accounts[email] = {"Authorization": f"Bearer {await account_token(browser)}"}
    mine, theirs = accounts["anna.export@example.ch"], accounts["bruno.export@example.ch"]

    subject = f"socle.{commune.tenant}.person.export.requested"
    async with EventRecorder(nats_server.url, subject=subject) as events:
        asked = await identity.client.post("/v1/me/export", headers=mine)
        assert asked.status_code == 202, asked.text
        event = await events.first("person.export.requested")
    assert event["data"] == {"user_id": anna}  # ids only, nothing about the person
    location = asked.headers["location"]
    export_id = location.rsplit("/", 1)[1]
    assert event["id"] == export_id

    state = await identity.client.get(location, headers=mine)
    assert state.status_code == 200, state.text
    assert state.json()["user_id"] == anna
    assert state.json()["status"] == "in_progress"  # no service has answered here
    waiting = await identity.client.get(f"{location}/archive", headers=mine)
    assert waiting.status_code == 409
    assert waiting.headers["content-type"] == "application/problem+json"

    for path in (location, f"{location}/archive"):
        other = await identity.client.get(path, headers=theirs)
        assert other.status_code == 404, path

    admin = {"Authorization": f"Bearer {await commune.admin_token()}"}
    seen = await identity.client.get(f"/v1/exports/{export_id}", headers=admin)
    assert seen.status_code == 200 and seen.json()["user_id"] == anna
    # the admin API and the account API are separate doors
    assert (await identity.client.post("/v1/me/export", headers=admin)).status_code == 403
    assert (await identity.client.post(f"/v1/users/{anna}/export", headers=mine)).status_code == 403
    unknown = await identity.client.post("/v1/users/nobody/export", headers=admin)
    assert unknown.status_code == 404


async def test_an_export_names_the_services_that_have_not_written_their_part_in_time(
    identity, commune
):
    anna = await commune.add_user("anna.late@example.ch")
    admin = {"Authorization": f"Bearer {await commune.admin_token()}"}
    asked = await identity.client.post(f"/v1/users/{anna}/export", headers=admin)
    assert asked.status_code == 202, asked.text
    export_id = asked.headers["location"].rsplit("/", 1)[1]
    async with identity.sessions() as session, session.begin():
        export = await session.get(Export, export_id)
        assert export is not None
        export.requested_at = utcnow() - timedelta(hours=2)  # the answer time has passed
    late = (await identity.client.get(asked.headers["location"], headers=admin)).json()
    assert late["status"] == "overdue"
    assert late["silent"] == ["identity", "storage", "payment", "notify", "procedures"]
    assert (
        await identity.client.get(f"/v1/exports/{export_id}/archive", headers=admin)
    ).status_code == 409
