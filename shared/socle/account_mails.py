"""The address and the one-time link of identity's account mails (``user.registered``,
``user.password_reset_requested``), asked for by notify when it sends the mail.

The events name the account only: an address or a live link in the outbox and the stream
would stay there long after the mail left. Notify asks identity over a NATS request
(core NATS, never stored in a stream) on ``rpc.identity.account-mail.<tenant>``; identity
answers only for an event it recorded itself, of that tenant, while its link is valid, with
a link minted at that moment."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

import structlog
from pydantic import BaseModel

from socle.bus import Bus, BusUnavailable
from socle.events import CloudEvent

log = structlog.get_logger("socle.account_mails")

SUBJECT_PREFIX = "rpc.identity.account-mail"
#: Events whose mail needs an answer from identity.
ACCOUNT_MAIL_EVENTS: dict[str, str] = {
    "user.registered": "verification_url",
    "user.password_reset_requested": "reset_url",
}
"""Event type → the name of the link in the mail's personalisation."""


def subject_of(tenant: str) -> str:
    return f"{SUBJECT_PREFIX}.{tenant}"


class AccountMailRequest(BaseModel):
    event_id: str
    tenant: str


class AccountMailAnswer(BaseModel):
    status: Literal["ok", "gone"]
    """``gone``: no such event of identity's in this tenant, the link expired, or the account
    no longer exists; nothing is to be mailed."""
    email: str = ""
    url: str = ""


class AccountMailGone(LookupError):
    """Identity has nothing to mail for this event (see :class:`AccountMailAnswer`)."""


AnswerFn = Callable[[AccountMailRequest], Awaitable[AccountMailAnswer]]


async def ask(bus: Bus, event: CloudEvent, wait: float = 5.0) -> dict[str, str]:
    """The mail's address and link for ``event``: ``{"email": ..., "<link name>": ...}``.

    Raises :class:`AccountMailGone` when identity answers there is nothing to mail, and
    :class:`BusUnavailable` when identity does not answer (the event is retried later)."""
    link = ACCOUNT_MAIL_EVENTS[event.type]
    request = AccountMailRequest(event_id=event.id, tenant=event.tenant)
    raw = await bus.request(subject_of(event.tenant), request.model_dump_json().encode(), wait)
    answer = AccountMailAnswer.model_validate_json(raw)
    if answer.status != "ok":
        raise AccountMailGone(f"identity has no account mail for event {event.id}")
    return {"email": answer.email, link: answer.url}


def serve(bus: Bus, answer: AnswerFn) -> None:
    """Answer account-mail requests of every tenant (identity's side; one replica answers
    each request)."""

    async def handle(data: bytes) -> bytes:
        try:
            request = AccountMailRequest.model_validate_json(data)
        except ValueError:
            return AccountMailAnswer(status="gone").model_dump_json().encode()
        return (await answer(request)).model_dump_json().encode()

    bus.serve(f"{SUBJECT_PREFIX}.*", handle, queue="identity-account-mail")


__all__ = [
    "ACCOUNT_MAIL_EVENTS",
    "AccountMailAnswer",
    "AccountMailGone",
    "AccountMailRequest",
    "BusUnavailable",
    "ask",
    "serve",
]
