"""Large downloads redirected to the store, when the installation asks for it
(``SOCLE_DOWNLOAD_REDIRECT_MIN_BYTES``): the client follows a presigned link, the read is in
the access log, ranges and small files still come through the service, and nothing changes
when the setting is off."""

from __future__ import annotations

import httpx

from socle_dev.testing import assert_problem
from tests.support.storage import PDF, upload

LARGE = PDF + b"%" * 100_000


async def _log(client: httpx.AsyncClient, doc: str, headers: dict[str, str]) -> list[str]:
    page = await client.get(f"/v1/documents/{doc}/access-log", headers=headers)
    assert page.status_code == 200, page.text
    return [entry["action"] for entry in page.json()["items"]]


async def test_a_large_download_is_a_redirect_to_the_store(started, auth):
    async with started(download_redirect_min_bytes=len(LARGE)) as (client, _):
        doc = (await upload(client, auth(), LARGE, filename="Plan été.pdf")).json()
        answer = await client.get(f"/v1/documents/{doc['id']}/content", headers=auth())
        assert answer.status_code == 307, answer.text
        assert answer.headers["cache-control"] == "no-store"
        async with httpx.AsyncClient() as plain:  # no token: the link is the authorisation
            fetched = await plain.get(answer.headers["location"])
        assert fetched.status_code == 200
        assert fetched.content == LARGE
        assert "attachment" in fetched.headers["content-disposition"]
        assert await _log(client, doc["id"], auth()) == ["content"]

        # a range, a small file: through the service, as before
        part = await client.get(
            f"/v1/documents/{doc['id']}/content", headers={**auth(), "Range": "bytes=0-7"}
        )
        assert part.status_code == 206 and part.content == LARGE[:8]
        small = (await upload(client, auth())).json()
        whole = await client.get(f"/v1/documents/{small['id']}/content", headers=auth())
        assert whole.status_code == 200 and whole.content == PDF
        # not modified, not visible: answered before any link is made
        same = await client.get(
            f"/v1/documents/{doc['id']}/content",
            headers={**auth(), "If-None-Match": answer.headers["etag"]},
        )
        assert same.status_code == 304
        other = await client.get(
            f"/v1/documents/{doc['id']}/content", headers=auth(subject="citizen-2")
        )
        assert_problem(other, 404, "document-not-found")
        assert await _log(client, doc["id"], auth()) == ["content", "content"]


async def test_off_by_default(client, auth):
    doc = (await upload(client, auth(), LARGE)).json()
    answer = await client.get(f"/v1/documents/{doc['id']}/content", headers=auth())
    assert answer.status_code == 200 and answer.content == LARGE
