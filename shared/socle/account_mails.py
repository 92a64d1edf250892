"""The address (and the one-time link) of a mail made from an event, asked for by notify
when it sends the mail: identity's account mails (``user.registered``,
``user.password_reset_requested``) and the link to a person's export
(``person.export.available``, the address only), procedures' mandate confirmation
(``procedure.mandate.requested``, with the mediator's and the citizen's names), the mails
about a request (``procedure.request.*``) and a payment's receipt (``payment.*``, the payer's
address) — the last two without a link.

Those events name the person by id only: an address or a live link in the outbox and the
stream would stay there long after the mail left. Notify asks the producer over a NATS
request (core NATS, never stored in a stream) on ``rpc.<service>.<mail>.<tenant>``; the
producer answers only for an event it recorded itself, of that tenant, while its link is
valid, with a link minted at that moment."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.bus import Bus, BusUnavailable
from socle.db import outbox_table
from socle.events import CloudEvent, MalformedEvent

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
    "person.export.available": MailLookup(SUBJECT_PREFIX, ""),
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
    values: dict[str, str] = {}
    """Other personal values the mail shows (the names in a mandate mail), given with the
    address rather than carried by the event."""


GONE = AccountMailAnswer(status="gone")


class AccountMailGone(LookupError):
    """The producer has nothing to mail for this event (see :class:`AccountMailAnswer`)."""


AnswerFn = Callable[[AccountMailRequest], Awaitable[AccountMailAnswer]]


async def ask(bus: Bus, event: CloudEvent, wait: float = 5.0) -> dict[str, str]:
    """The mail's address and link for ``event``: ``{"email": ..., "<link name>": ...}``
    and the other values the producer gives (what the producer has: an empty address or
    link is left out).

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
    found = {**answer.values, lookup.address: answer.email, lookup.link: answer.url}
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


Lookup = Callable[[AsyncSession, CloudEvent], Awaitable[AccountMailAnswer]]
"""A producer's own part: the answer for one event of its outbox, already known to be of the
asker's tenant (run in the answer's transaction; a malformed event answers ``gone``)."""
T = TypeVar("T")


async def recorded_event(session: AsyncSession, request: AccountMailRequest) -> CloudEvent | None:
    """The event the request names, if this service's outbox recorded it for the asker's
    tenant (the proof that the mail was asked for)."""
    payload = await session.scalar(
        select(outbox_table.c.payload).where(outbox_table.c.event_id == request.event_id)
    )
    if payload is None:
        return None
    event = CloudEvent.from_bytes(payload)
    return event if event.tenant == request.tenant else None


async def tenant_row(session: AsyncSession, model: type[T], key: str, tenant: str) -> T | None:
    """The row ``key`` of ``model`` if it belongs to ``tenant``."""
    row = await session.get(model, key)
    return row if row is not None and getattr(row, "tenant", None) == tenant else None


def address_lookup(
    key_of: Callable[[CloudEvent], str | None],
    model: type[T],
    address: Callable[[T], str | None],
) -> Lookup:
    """The lookup of a mail that needs only an address, no link: the row of ``model`` that
    ``key_of(event)`` names (``None``: not an event this service mails about), in the event's
    tenant, and its ``address`` (empty when it has none, or was pseudonymised)."""

    async def lookup(session: AsyncSession, event: CloudEvent) -> AccountMailAnswer:
        key = key_of(event)
        row = None if key is None else await tenant_row(session, model, key, event.tenant)
        if row is None:
            return GONE
        return AccountMailAnswer(status="ok", email=address(row) or "")

    return lookup


def answering(sessions: async_sessionmaker[AsyncSession], lookup: Lookup) -> AnswerFn:
    """The answer to mail requests made of a producer's ``lookup``: in one transaction, the
    named event of its own outbox in the asker's tenant, then what ``lookup`` gives for it."""

    async def answer(request: AccountMailRequest) -> AccountMailAnswer:
        async with sessions() as session, session.begin():
            event = await recorded_event(session, request)
            if event is None:
                return GONE
            try:
                return await lookup(session, event)
            except MalformedEvent:
                return GONE

    return answer


def serve_lookup(
    bus: Bus,
    sessions: async_sessionmaker[AsyncSession],
    lookup: Lookup,
    *,
    prefix: str,
    queue: str,
) -> None:
    """Answer mail requests on ``<prefix>.<tenant>`` with ``lookup`` (see :func:`answering`)."""
    serve(bus, answering(sessions, lookup), prefix=prefix, queue=queue)


__all__ = [
    "ACCOUNT_MAIL_EVENTS",
    "GONE",
    "AccountMailAnswer",
    "AccountMailGone",
    "AccountMailRequest",
    "BusUnavailable",
    "Lookup",
    "MailLookup",
    "address_lookup",
    "answering",
    "ask",
    "recorded_event",
    "serve",
    "serve_lookup",
    "tenant_row",
]
