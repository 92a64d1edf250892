"""Events of the procedures service: requests entering a state, mandates, and procedure
versions published or retired."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from socle.events import EventData


class _Procedures(EventData):
    SERVICE = "procedures"


class FieldLabel(BaseModel):
    id: str
    label: str


class RequestChanged(_Procedures):
    """A request entered ``state`` (the event type names the state). No address: notify asks
    procedures for it when it mails (``socle.account_mails``)."""

    request_id: str
    reference: str | None = Field(
        description="Human reference (e.g. VEV-2026-000123), set on submission."
    )
    procedure: str = Field(description="The procedure's slug.")
    version: int
    state: str
    previous_state: str | None
    owner: str = Field(description="Subject of the person the request belongs to.")
    locale: Literal["fr", "de", "it", "en"]
    fee_amount: int = Field(description="Minor units.")
    currency: str
    payment_id: str | None
    payment_status: str | None
    actor: str = Field(description="Subject of who made the change.")
    note: str | None
    templates: list[str] = Field(
        description="Notify templates the definition names for this state."
    )
    user_id: str = Field(
        description="The owner again, under the name notify reads to let the person see "
        "their own notifications."
    )
    title: str = Field(description="The procedure's title in the request's language.")
    fee_display: str = Field(
        description="The fee as the citizen reads it (e.g. CHF 1\u2019000.00)."
    )
    commune: str | None = Field(
        default=None,
        description="The commune's name (absent when the service has no portal settings).",
    )
    url: str | None = Field(default=None, description="The request's page in the citizen portal.")
    action: str | None = Field(
        default=None,
        description="The back-office action that made the change (take, assign, in_review, "
        "request_information, approve, reject, reopen); absent for the person's own moves.",
    )
    message: str | None = Field(
        default=None, description="request_information only: the agent's message to the person."
    )
    fields: list[FieldLabel] | None = Field(
        default=None,
        description="request_information only: the fields the person may correct, with their "
        "label in the person's language.",
    )
    fields_display: str | None = Field(
        default=None,
        description="request_information only: the labels of those fields, comma-separated.",
    )
    decision_document_id: str | None = Field(
        default=None,
        description="approve only: the storage document (kind decision, a PDF owned by the "
        "person) of the decision.",
    )


class RequestDraft(RequestChanged):
    TYPE = "procedure.request.draft"


class RequestSubmitted(RequestChanged):
    TYPE = "procedure.request.submitted"


class RequestInReview(RequestChanged):
    TYPE = "procedure.request.in_review"


class RequestInformationRequested(RequestChanged):
    TYPE = "procedure.request.information_requested"


class RequestApproved(RequestChanged):
    TYPE = "procedure.request.approved"


class RequestRejected(RequestChanged):
    TYPE = "procedure.request.rejected"


class RequestWithdrawn(RequestChanged):
    TYPE = "procedure.request.withdrawn"


#: The event of a request entering a state.
EVENT_OF_STATE: dict[str, type[RequestChanged]] = {
    "draft": RequestDraft,
    "submitted": RequestSubmitted,
    "in_review": RequestInReview,
    "information_requested": RequestInformationRequested,
    "approved": RequestApproved,
    "rejected": RequestRejected,
    "withdrawn": RequestWithdrawn,
}


class VersionChanged(_Procedures):
    procedure: str
    version: int
    status: str


class ProcedurePublished(VersionChanged):
    TYPE = "procedure.published"


class ProcedureRetired(VersionChanged):
    TYPE = "procedure.retired"


class MandateChanged(_Procedures):
    """No names: a consumer that shows them asks procedures (notify does for the
    confirmation mail, ``socle.account_mails``)."""

    mandate_id: str
    request_id: str
    mediator: str = Field(description="Subject of the mediator.")
    kind: Literal["email", "paper"]
    status: Literal["pending", "live", "revoked"]


class MandateRequested(MandateChanged):
    """The citizen is to confirm: notify asks procedures for the address, the one-time link
    and both names when it mails (``socle.account_mails``); none is in the event."""

    TYPE = "procedure.mandate.requested"
    locale: str | None = None
    title: str | None = Field(default=None, description="The procedure's title.")
    commune: str | None = None


class MandateConfirmed(MandateChanged):
    TYPE = "procedure.mandate.confirmed"


class MandateRevoked(MandateChanged):
    TYPE = "procedure.mandate.revoked"


EVENTS: tuple[type[EventData], ...] = (
    *EVENT_OF_STATE.values(),
    ProcedurePublished,
    ProcedureRetired,
    MandateRequested,
    MandateConfirmed,
    MandateRevoked,
)
