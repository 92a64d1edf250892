"""A client that disconnects in the middle of an upload: one log line, nothing kept."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from sqlalchemy import func, select
from structlog.testing import capture_logs

from socle_dev.localinfra import free_port
from socle_dev.testing import eventually, served
from socle_storage.app import create_app
from socle_storage.models import Document
from tests.support.storage import PDF, bucket_keys


async def test_a_client_gone_mid_upload_is_one_line_and_leaves_nothing(
    settings_for, auth, s3, tenant
):
    settings = settings_for()
    app = create_app(settings)
    boundary = "socle-boundary"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="kind"\r\n\r\nbuilding-plan\r\n'
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="plan.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    sent = head + PDF * 200  # a good start, then the client goes away
    with capture_logs() as logs:
        async with served(app, free_port(), settings) as base:
            url = urlsplit(base)
            _, writer = await asyncio.open_connection(url.hostname, url.port)
            request = (
                "POST /v1/documents HTTP/1.1\r\n"
                f"Host: {url.netloc}\r\n"
                f"Authorization: {auth()['Authorization']}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {len(sent) + 50_000_000}\r\n\r\n"
            ).encode()
            writer.write(request + sent)
            await writer.drain()
            storage = app.state.runtime.context

            async def documents() -> int:
                async with storage.sessions() as session:
                    count = await session.scalar(
                        select(func.count()).select_from(Document).where(Document.tenant == tenant)
                    )
                return int(count or 0)

            async def under_way() -> bool:
                return await documents() > 0

            async def aborted() -> bool:
                return any(e.get("event") == "upload_aborted" for e in logs)

            async def nothing_kept() -> bool:
                return await documents() == 0 and bucket_keys(s3, tenant) == []

            await eventually(under_way, "the upload under way (its pending row)")
            writer.close()
            await writer.wait_closed()
            await eventually(aborted, "upload_aborted logged")
            await eventually(nothing_kept, "no row and no object left")
    assert [e["event"] for e in logs if e.get("event") == "upload_aborted"] == ["upload_aborted"]
    assert not [e for e in logs if e.get("log_level") == "error"], logs
