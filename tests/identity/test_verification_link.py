"""The e-mail verification link names the account, not the address: proxies' and browsers'
histories keep the link, so neither the address nor anything it can be read back from is in
it. The link still works only for the address it was mailed to, and only for a day."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

from socle import clock
from socle_dev.events import EventRecorder
from socle_identity import directory, registration
from socle_identity.models import User
from tests.support.identity import PASSWORD, code_flow_client, query, register


async def _unverified(identity, commune, email: str) -> User:
    async with identity.sessions() as session, session.begin():
        return await directory.create_user(
            session,
            identity.provider.passwords,
            tenant=commune.tenant,
            email=email,
            password=PASSWORD,
            roles=["citizen"],
            given_name="Ines",
            family_name="Muster",
        )


async def _verified(identity, user_id: str) -> bool:
    async with identity.sessions() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return bool(user.email_verified)


async def _follow(identity, url: str) -> int:
    async with identity.http() as browser:
        page = await browser.get(url.removeprefix("http://testserver"))
        return page.status_code


def _payload(identity, url: str) -> str:
    """What the link's token carries, decoded (signed, not encrypted: anyone can read it)."""
    _, data = identity.provider.signer.loads_unsafe(query(url)["token"], salt="verify")
    return json.dumps(data)


def _assert_no_address(identity, url: str, email: str) -> None:
    for form in (email, quote(email), quote_plus(email), quote(email, safe="")):
        assert form not in url
    assert email not in _payload(identity, url) and "@" not in _payload(identity, url)


async def test_the_mailed_link_holds_no_address_and_verifies(identity, commune, nats_server):
    email = f"ines+{commune.tenant}@example.ch"
    client_id, _ = await code_flow_client(commune)
    async with (
        identity.http() as browser,
        EventRecorder(nats_server.url, subject=f"socle.{commune.tenant}.user.>") as events,
    ):
        done = await register(browser, client_id, email, "a good long password", "Ines", "Muster")
        assert done.status_code == 200
        registered = await events.first("user.registered")
        mail = await events.account_mail(registered)
    assert mail["email"] == email
    url = mail["verification_url"]
    _assert_no_address(identity, url, email)
    user_id = registered["data"]["user_id"]
    assert not await _verified(identity, user_id)
    assert await _follow(identity, url) == 200
    assert await _verified(identity, user_id)


async def test_a_link_for_an_address_since_changed_is_refused(identity, commune):
    user = await _unverified(identity, commune, f"old.{commune.tenant}@example.ch")
    url = registration.verification_url(identity.provider, user)
    async with identity.sessions() as session, session.begin():
        row = await session.get(User, user.id)
        assert row is not None
        row.email = f"new.{commune.tenant}@example.ch"
    assert await _follow(identity, url) == 400
    assert not await _verified(identity, user.id)
    # a link mailed for the new address works
    async with identity.sessions() as session:
        row = await session.get(User, user.id)
        assert row is not None
        fresh = registration.verification_url(identity.provider, row)
    assert await _follow(identity, fresh) == 200


async def test_an_expired_link_is_refused(identity, commune):
    user = await _unverified(identity, commune, f"late.{commune.tenant}@example.ch")
    url = registration.verification_url(identity.provider, user)
    with clock.advanced(seconds=registration.LINK_MAX_AGE + 60):
        assert await _follow(identity, url) == 400
    assert not await _verified(identity, user.id)


async def test_a_tampered_link_is_refused(identity, commune):
    user = await _unverified(identity, commune, f"tamper.{commune.tenant}@example.ch")
    other = await _unverified(identity, commune, f"other.{commune.tenant}@example.ch")
    token = query(registration.verification_url(identity.provider, user))["token"]
    assert await _follow(identity, f"/verify-email?token={token}x") == 400
    # the binding is the address's: one account's binding does not verify another account
    _, data = identity.provider.signer.loads_unsafe(token, salt="verify")
    swapped = identity.provider.signer.dumps({**data, "uid": other.id}, salt="verify")
    assert await _follow(identity, f"/verify-email?token={swapped}") == 400
    assert not await _verified(identity, user.id) and not await _verified(identity, other.id)


async def test_a_link_mailed_in_the_earlier_form_works_until_it_expires(identity, commune):
    """Links mailed before the change carried the address; they keep working for their day."""
    email = f"earlier.{commune.tenant}@example.ch"
    user = await _unverified(identity, commune, email)
    earlier = identity.provider.signer.dumps({"uid": user.id, "email": email}, salt="verify")
    with clock.advanced(seconds=registration.LINK_MAX_AGE + 60):
        assert await _follow(identity, f"/verify-email?token={earlier}") == 400
    wrong = identity.provider.signer.dumps(
        {"uid": user.id, "email": f"x.{commune.tenant}@example.ch"}, salt="verify"
    )
    assert await _follow(identity, f"/verify-email?token={wrong}") == 400
    assert not await _verified(identity, user.id)
    assert await _follow(identity, f"/verify-email?token={earlier}") == 200
    assert await _verified(identity, user.id)
