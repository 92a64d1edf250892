"""The address (and the one-time link) of a mail made from an event, asked for by notify
when it sends the mail: identity's account mails (``user.registered``,
``user.password_reset_requested``), procedures' mandate confirmation
(``procedure.mandate.requested``), the mails about a request (``procedure.request.*``) and a
payment's receipt (``payment.*``, the payer's address) — the last two without a link.

Those events name the person by id only: an address or a live link in the outbox and the
stream would stay there long after the mail left. Notify asks the producer over a NATS
request (core NATS, never stored in a stream) on ``rpc.<service>.<mail>.<tenant>``; the
producer answers only for an event it recorded itself, of that tenant, while its link is
valid, with a link minted at that moment."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from socle.bus import Bus, BusUnavailable
from socle.events import CloudEvent

SUBJECT_PREFIX = "rpc.identity.account-mail"
MANDATE_SUBJECT_PREFIX = "rpc.procedures.mandate-mail"
REQUEST_SUBJECT_PREFIX = "rpc.procedures.request-mail"
PAYMENT_SUBJECT_PREFIX = "rpc.payment.payer-mail"
PAYMENT_TYPES = ("created", "pending", "succeeded", "failed", "cancelled", "expired", "refunded")
REQUEST_STATES = (
    "draft",
    "submitted",
    "in_review",
    "information_requested",
    "approved",
    "rejected",
    "withdrawn",
)


@dataclass(frozen=True)
class MailLookup:
    """Who answers for an event's mail, and the name of its link in the personalisation."""

    subject_prefix: str
    link: str
    """Empty: the mail has no secret link, only the address is asked for."""
    address: str = "email"
    """The name of the address in the personalisation (``payer_email`` for payments)."""


#: Events whose mail needs an answer from their producer.
ACCOUNT_MAIL_EVENTS: dict[str, MailLookup] = {
    "user.registered": MailLookup(SUBJECT_PREFIX, "verification_url"),
    "user.password_reset_requested": MailLookup(SUBJECT_PREFIX, "reset_url"),
    "procedure.mandate.requested": MailLookup(MANDATE_SUBJECT_PREFIX, "url"),
    **{
        f"procedure.request.{state}": MailLookup(REQUEST_SUBJECT_PREFIX, "")
        for state in REQUEST_STATES
    },
    **{
        f"payment.{what}": MailLookup(PAYMENT_SUBJECT_PREFIX, "", address="payer_email")
        for what in PAYMENT_TYPES
    },
}


def subject_of(tenant: str, prefix: str = SUBJECT_PREFIX) -> str:
    return f"{prefix}.{tenant}"


class AccountMailRequest(BaseModel):
    event_id: str
    tenant: str


class AccountMailAnswer(BaseModel):
    status: Literal["ok", "gone"]
    """``gone``: no such event of the producer's in this tenant, the link expired, or the
    person or mandate is gone; nothing is to be mailed."""
    email: str = ""
    url: str = ""


class AccountMailGone(LookupError):
    """The producer has nothing to mail for this event (see :class:`AccountMailAnswer`)."""


AnswerFn = Callable[[AccountMailRequest], Awaitable[AccountMailAnswer]]


async def ask(bus: Bus, event: CloudEvent, wait: float = 5.0) -> dict[str, str]:
    """The mail's address and link for ``event``: ``{"email": ..., "<link name>": ...}``
    (what the producer has: an empty address or link is left out).

    Raises :class:`AccountMailGone` when the producer answers there is nothing to mail, and
    :class:`BusUnavailable` when it does not answer: at once when no producer is running
    (NATS "no responders") or its answer failed, after ``wait`` seconds otherwise. The
    event is then retried later; the consumer handles others meanwhile."""
    lookup = ACCOUNT_MAIL_EVENTS[event.type]
    request = AccountMailRequest(event_id=event.id, tenant=event.tenant)
    subject = subject_of(event.tenant, lookup.subject_prefix)
    raw = await bus.request(subject, request.model_dump_json().encode(), wait)
    answer = AccountMailAnswer.model_validate_json(raw)
    if answer.status != "ok":
        raise AccountMailGone(f"nothing to mail for event {event.id}")
    found = {lookup.address: answer.email, lookup.link: answer.url}
    return {name: value for name, value in found.items() if name and value}


def serve(
    bus: Bus, answer: AnswerFn, prefix: str = SUBJECT_PREFIX, queue: str = "identity-account-mail"
) -> None:
    """Answer mail requests of every tenant on ``<prefix>.<tenant>`` (the producer's side;
    one replica of ``queue`` answers each request)."""

    async def handle(data: bytes) -> bytes:
        try:
            request = AccountMailRequest.model_validate_json(data)
        except ValueError:
            return AccountMailAnswer(status="gone").model_dump_json().encode()
        return (await answer(request)).model_dump_json().encode()

    bus.serve(f"{prefix}.*", handle, queue=queue)


__all__ = [
    "ACCOUNT_MAIL_EVENTS",
    "AccountMailAnswer",
    "AccountMailGone",
    "AccountMailRequest",
    "BusUnavailable",
    "MailLookup",
    "ask",
    "serve",
]
