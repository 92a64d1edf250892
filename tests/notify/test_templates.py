"""Templates: per tenant, one content per language, versioned, previewed safely."""

from __future__ import annotations

import json
from email.header import decode_header, make_header
from typing import Any

from sqlalchemy import insert

from socle.db import idempotency_table, utcnow
from socle.idempotency import fingerprint
from socle_dev.testing import assert_problem, eventually
from socle_notify.schemas import TemplateCreate
from tests.support.notify import client_token, create_template, email_template

RECEIPT = email_template(
    fr={
        "subject": "Demande ((reference)) reçue",
        "body": "Bonjour ((name)),\n\nNous avons reçu votre demande ((reference)).",
        "html": "<p>Bonjour <b>((name))</b>, demande ((reference)) reçue.</p>",
    },
    de={
        "subject": "Gesuch ((reference)) erhalten",
        "body": "Guten Tag ((name))\n\nWir haben Ihr Gesuch ((reference)) erhalten.",
    },
)


async def test_template_is_created_versioned_and_read_per_language(notify, admin):
    async with notify() as client:
        created = await create_template(client, admin, RECEIPT)
        assert created["version"] == 1
        assert set(created["contents"]) == {"fr", "de"}
        assert created["contents"]["fr"]["placeholders"] == ["reference", "name"]

        update = await client.put(
            f"/v1/templates/{created['id']}",
            json={
                "contents": {
                    **RECEIPT["contents"],
                    "it": {"subject": "Domanda ((reference))", "body": "Buongiorno ((name))"},
                }
            },
            headers=admin,
        )
        assert update.status_code == 200, update.text
        assert update.json()["version"] == 2
        assert set(update.json()["contents"]) == {"fr", "de", "it"}

        latest = (await client.get(f"/v1/templates/{created['id']}", headers=admin)).json()
        assert latest["version"] == 2 and "it" in latest["contents"]
        first = await client.get(f"/v1/templates/{created['id']}?version=1", headers=admin)
        assert first.json()["version"] == 1 and "it" not in first.json()["contents"]

        listed = (await client.get("/v1/templates", headers=admin)).json()
        assert [t["id"] for t in listed["items"]] == [created["id"]]


async def test_preview_renders_escapes_and_lists_missing_placeholders(notify, admin):
    async with notify() as client:
        created = await create_template(client, admin, RECEIPT)
        preview = await client.post(
            f"/v1/templates/{created['id']}/preview",
            json={
                "language": "fr",
                "personalisation": {"name": "<script>alert(1)</script> {{7*7}} ${7*7}"},
            },
            headers=admin,
        )
        assert preview.status_code == 200, preview.text
        body = preview.json()
        assert body["missing_placeholders"] == ["reference"]
        assert body["subject"] == "Demande ((reference)) reçue"
        assert "Bonjour <script>alert(1)</script> {{7*7}} ${7*7}," in body["body"]
        assert "&lt;script&gt;alert(1)&lt;/script&gt; {{7*7}} ${7*7}" in body["html"]
        assert "<script>" not in body["html"] and "49" not in body["html"]

        german = await client.post(
            f"/v1/templates/{created['id']}/preview",
            json={"language": "de", "personalisation": {"name": "Anna", "reference": "R-1"}},
            headers=admin,
        )
        assert german.json()["subject"] == "Gesuch R-1 erhalten"
        assert german.json()["missing_placeholders"] == []
        assert german.json()["html"].startswith("<p>Guten Tag Anna")


async def test_templates_belong_to_their_tenant(notify, admin, issuer):
    async with notify() as client:
        created = await create_template(client, admin, RECEIPT)
        other = {
            "Authorization": "Bearer " + client_token(issuer, "elsewhere", ["notifications:admin"])
        }
        response = await client.get(f"/v1/templates/{created['id']}", headers=other)
        assert_problem(response, 404, "template-not-found")
        listed = (await client.get("/v1/templates", headers=other)).json()["items"]
        assert created["id"] not in [t["id"] for t in listed]
        preview = await client.post(
            f"/v1/templates/{created['id']}/preview", json={}, headers=other
        )
        assert_problem(preview, 404, "template-not-found")


async def test_bad_templates_and_missing_scope_are_refused_clearly(notify, admin, sender):
    async with notify() as client:
        no_subject = email_template(fr={"body": "Bonjour"})
        body = assert_problem(
            await client.post("/v1/templates", json=no_subject, headers=admin),
            422,
            "invalid-template",
        )
        assert body["errors"][0]["field"] == "contents.fr.subject"

        long_sms = {"name": "trop long", "channel": "sms", "contents": {"fr": {"body": "x" * 2000}}}
        assert_problem(
            await client.post("/v1/templates", json=long_sms, headers=admin),
            422,
            "invalid-template",
        )

        wrong_default = email_template(de={"subject": "S", "body": "B"})
        assert_problem(
            await client.post("/v1/templates", json=wrong_default, headers=admin),
            422,
            "invalid-template",
        )

        klingon = {**RECEIPT, "contents": {"tlh": {"subject": "a", "body": "b"}}}
        assert_problem(
            await client.post("/v1/templates", json=klingon, headers=admin), 422, "validation-error"
        )

        assert_problem(
            await client.post("/v1/templates", json=RECEIPT, headers=sender),
            403,
            "insufficient-scope",
        )
        assert_problem(await client.post("/v1/templates", json=RECEIPT), 401, "missing-token")


async def test_a_key_stored_by_the_release_before_the_upgrade_still_replays(notify, admin, tenant):
    """Before every create went through ``idempotent_post``, notify scoped a template's key as
    ``templates:<tenant>``; a retry with such a key, after the upgrade, gets the first answer
    and creates nothing."""
    key = f"created-before-the-upgrade-{tenant}"
    async with notify() as client:
        first = await create_template(client, admin, RECEIPT)
        body = TemplateCreate.model_validate(RECEIPT).model_dump(mode="json")
        async with client.app.state.runtime.sessions() as session, session.begin():
            await session.execute(
                insert(idempotency_table).values(
                    scope=f"templates:{tenant}",  # as the release before stored it
                    key=key,
                    fingerprint=fingerprint(body),
                    status_code=201,
                    response=json.dumps(first),
                    created_at=utcnow(),
                )
            )

        retried = await client.post(
            "/v1/templates", json=RECEIPT, headers={**admin, "Idempotency-Key": key}
        )
        assert retried.status_code == 201, retried.text
        assert retried.json() == first
        listed = (await client.get("/v1/templates", headers=admin)).json()
        assert [t["id"] for t in listed["items"]] == [first["id"]]

        other = await client.post(
            "/v1/templates",
            json={**RECEIPT, "name": "Autre"},
            headers={**admin, "Idempotency-Key": key},
        )
        assert_problem(other, 422, "idempotency-key-reused")


async def test_each_mail_uses_the_version_current_when_it_was_sent(
    notify, admin, sender, smtp_sink, tenant
):
    to = f"versions.{tenant}@vevey.ch"

    async def send(personalisation: dict[str, str]) -> Any:
        return await client.post(
            "/v1/notifications/email",
            json={"template_id": created["id"], "to": to, "personalisation": personalisation},
            headers=sender,
        )

    async with notify() as client:
        created = await create_template(client, admin, RECEIPT)
        first = await send({"name": "Anna", "reference": "R-1"})
        assert first.status_code == 201 and first.json()["template_version"] == 1
        update = await client.put(
            f"/v1/templates/{created['id']}",
            json={"contents": {"fr": {"subject": "Nouveau ((reference))", "body": "((name))"}}},
            headers=admin,
        )
        assert update.status_code == 200, update.text
        # the new version first read by a send that is refused (its transaction undone)
        refused = await send({"name": "Anna"})
        assert_problem(refused, 422, "missing-personalisation")
        second = await send({"name": "Bruno", "reference": "R-2"})
        assert second.status_code == 201 and second.json()["template_version"] == 2
        assert second.json()["subject"] == "Nouveau R-2"
        again = await send({"name": "Carla", "reference": "R-3"})
        assert again.json()["subject"] == "Nouveau R-3"

        mails = await eventually(lambda: _three(smtp_sink, to), "the three mails")
        assert sorted(str(make_header(decode_header(m["Subject"]))) for m in mails) == [
            "Demande R-1 reçue",
            "Nouveau R-2",
            "Nouveau R-3",
        ]


async def _three(sink: Any, to: str) -> list[Any] | None:
    mails = sink.to(to)
    return mails if len(mails) == 3 else None
