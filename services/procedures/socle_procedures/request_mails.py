"""The answer to notify's request for the address of a mail about a request
(``socle.account_mails``): ``procedure.request.*`` events name the request and its owner
only; the address is given when notify mails, for an event of this service's own outbox in
the asker's tenant (empty when the request has none, or was anonymised)."""

from __future__ import annotations

from socle.account_mails import address_lookup
from socle.events import CloudEvent
from socle.eventtypes.procedures import EVENT_OF_STATE
from socle_procedures.models import Request

MODELS = {model.TYPE: model for model in EVENT_OF_STATE.values()}


def _request_id(event: CloudEvent) -> str | None:
    model = MODELS.get(event.type)
    return model.of(event).request_id if model else None


lookup = address_lookup(_request_id, Request, lambda request: request.email)
