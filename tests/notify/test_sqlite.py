"""``make run`` uses SQLite: migrations apply and the worker delivers there too."""

from __future__ import annotations

from email.header import decode_header, make_header
from pathlib import Path

from socle.migrations import upgrade
from socle_dev.testing import eventually
from tests.support.infra import in_thread
from tests.support.notify import create_template, email_template

MIGRATIONS = Path(__file__).resolve().parents[2] / "services/notify/socle_notify/migrations"


async def test_email_is_delivered_on_sqlite(notify, admin, sender, smtp_sink, tenant, tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'notify.db'}"
    in_thread(upgrade, MIGRATIONS, url)
    to = f"lite.{tenant}@vevey.ch"
    async with notify(database_url=url) as client:
        template = await create_template(
            client, admin, email_template(fr={"subject": "Salut ((name))", "body": "Hello"})
        )
        response = await client.post(
            "/v1/notifications/email",
            json={"template_id": template["id"], "to": to, "personalisation": {"name": "Léa"}},
            headers=sender,
        )
        assert response.status_code == 201, response.text

        async def delivered() -> bool:
            body = (
                await client.get(f"/v1/notifications/{response.json()['id']}", headers=sender)
            ).json()
            return body["status"] == "delivered"

        await eventually(delivered, "delivery on SQLite")
        [mail] = smtp_sink.to(to)
        assert str(make_header(decode_header(mail["Subject"]))) == "Salut Léa"
