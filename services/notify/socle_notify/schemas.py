"""Request and response bodies of the notify API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Language = Literal["fr", "de", "it", "en"]
Channel = Literal["email", "sms"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContentIn(Strict):
    subject: str | None = Field(None, max_length=998, description="Email subject (email only).")
    body: str = Field(..., min_length=1, max_length=100_000, description="Plain text body.")
    html: str | None = Field(
        None, max_length=200_000, description="HTML body (email only); values are escaped."
    )


SECRET_DESCRIPTION = (
    "Its messages carry a secret (a one-time link or code): their text is sent, never "
    "readable through the API (`body` redacted)."
)


class TemplateCreate(Strict):
    name: str = Field(..., min_length=1, max_length=200)
    channel: Channel
    default_language: Language = "fr"
    secret: bool = Field(False, description=SECRET_DESCRIPTION)
    contents: dict[Language, ContentIn] = Field(
        ..., min_length=1, description="One content per language (fr, de, it, en)."
    )


class TemplateUpdate(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    default_language: Language | None = None
    secret: bool | None = Field(
        None, description="Change the flag for messages sent from now on (omitted: unchanged)."
    )
    contents: dict[Language, ContentIn] = Field(..., min_length=1)


class ContentOut(BaseModel):
    subject: str | None
    body: str
    html: str | None
    placeholders: list[str]


class TemplateOut(BaseModel):
    id: str
    name: str
    channel: Channel
    version: int
    default_language: Language
    secret: bool = Field(description=SECRET_DESCRIPTION)
    contents: dict[str, ContentOut]
    created_at: datetime
    updated_at: datetime


class TemplateList(BaseModel):
    items: list[TemplateOut]
    next_cursor: str | None


class PreviewIn(Strict):
    language: Language | None = None
    personalisation: dict[str, Any] = Field(default_factory=dict)
    version: int | None = None


class PreviewOut(BaseModel):
    template_id: str
    version: int
    language: Language
    subject: str | None
    body: str
    html: str | None
    missing_placeholders: list[str]
    sms_fragments: int | None = None


class SendIn(Strict):
    template_id: str = Field(..., max_length=32)
    to: str = Field(..., min_length=1, max_length=320, description="Email address or phone.")
    personalisation: dict[str, Any] = Field(default_factory=dict)
    language: Language | None = Field(None, description="Defaults to the template's language.")
    reference: str | None = Field(None, max_length=255, description="Your own identifier.")
    recipient_subject: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="The recipient's subject (``sub`` at identity), when the recipient is a "
        "person with an account: that person's token then reads this notification.",
    )


NotificationStatus = Literal[
    "created", "sending", "delivered", "temporary_failure", "permanent_failure", "cancelled"
]


class NotificationOut(BaseModel):
    id: str
    channel: Channel
    status: NotificationStatus
    to: str
    recipient_subject: str | None = Field(description="Whose notification it is, when known.")
    template_id: str | None
    template_version: int | None
    language: str
    reference: str | None
    source: str
    subject: str | None
    body: str = Field(description="The text sent; a placeholder when `redacted`.")
    redacted: bool = Field(
        description="The message carried a secret (password reset, e-mail verification, "
        "invitation, a template flagged secret): its text is never shown."
    )
    batch_id: str | None
    attempts: int
    next_attempt_at: datetime | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None


class NotificationList(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None


class RuleCreate(Strict):
    event_type: str = Field(..., min_length=3, max_length=128, examples=["payment.succeeded"])
    template_id: str = Field(..., max_length=32)
    recipient_field: str = Field(
        "data.email", max_length=128, description="Where the recipient is in the event."
    )
    language_field: str = Field(
        "data.locale", max_length=128, description="Where the language is in the event."
    )


class RuleOut(BaseModel):
    id: str
    event_type: str
    template_id: str
    recipient_field: str
    language_field: str
    created_at: datetime


class RuleList(BaseModel):
    items: list[RuleOut]


class SubscriptionCreate(Strict):
    callback_url: str = Field(..., max_length=2000)
    event_types: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        ...,
        min_length=1,
        max_length=50,
        description="Event types described in the events reference (docs/events.asyncapi.yaml); "
        "`payment.*` or `*` match many. An unknown type answers 422 `unknown-event-type`.",
    )
    secret: str | None = Field(
        None, description="`whsec_` + base64 of 24 to 64 bytes; generated when absent."
    )
    description: str | None = Field(None, max_length=500)


class SubscriptionOut(BaseModel):
    id: str
    callback_url: str
    event_types: list[str]
    description: str | None
    created_at: datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(..., description="Shown once: verify signatures with it.")


class SubscriptionList(BaseModel):
    items: list[SubscriptionOut]


class AttemptOut(BaseModel):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    id: str
    subscription_id: str
    event_id: str
    event_type: str
    status: Literal["pending", "sending", "delivered", "dead"]
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    attempt_log: list[AttemptOut] = Field(default_factory=list)


class DeliveryList(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


class Recipient(Strict):
    to: str = Field(..., min_length=1, max_length=320)
    personalisation: dict[str, Any] = Field(default_factory=dict)
    language: Language | None = None
    recipient_subject: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="The recipient's subject (``sub`` at identity), when the recipient is a "
        "person with an account: that person's token then reads this notification.",
    )


class BatchCreate(Strict):
    template_id: str = Field(..., max_length=32)
    recipients: list[Recipient] = Field(..., min_length=1)
    language: Language | None = None
    reference: str | None = Field(None, max_length=255)
    scheduled_for: datetime | None = Field(None, description="Up to 72 hours ahead.")


class BatchOut(BaseModel):
    id: str
    template_id: str
    channel: Channel
    reference: str | None
    status: Literal["scheduled", "in_progress", "completed", "cancelled"]
    total: int
    counts: dict[str, int]
    scheduled_for: datetime
    created_at: datetime
    completed_at: datetime | None
