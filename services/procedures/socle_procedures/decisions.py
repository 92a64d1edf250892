"""The decision document: when an agent approves a request, a PDF is made from the
definition's ``decision`` text in the citizen's language (or a generic text), stored in
storage as a document of kind ``decision`` owned by the citizen and attached to the request,
and named in the approval's history entry. Storage refusing or down: the approval does not
happen (nothing half done); the agent tries again with the same Idempotency-Key."""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Awaitable, Callable
from datetime import datetime
from html import escape
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from socle.pdf import svg_to_pdf
from socle.web.i18n import localized
from socle_procedures.models import RequestHistory
from socle_procedures.requests import Loaded
from socle_procedures.storage_client import StorageClient

KIND = "decision"

#: Decides: (the request, the agent's comment) -> the stored document's id.
Decide = Callable[[Loaded, str | None], Awaitable[str]]

HEADING = {"fr": "Décision", "de": "Entscheid", "it": "Decisione", "en": "Decision"}
GENERIC = {
    "fr": "{commune}, le {date}\n\nDemande {reference} : {procedure}\nRequérant·e : {name}\n\n"
    "Votre demande est acceptée.\n\n{comment}",
    "de": "{commune}, {date}\n\nGesuch {reference}: {procedure}\nGesuchsteller/in: {name}\n\n"
    "Ihr Gesuch ist bewilligt.\n\n{comment}",
    "it": "{commune}, {date}\n\nDomanda {reference}: {procedure}\nRichiedente: {name}\n\n"
    "La sua domanda è accolta.\n\n{comment}",
    "en": "{commune}, {date}\n\nRequest {reference}: {procedure}\nApplicant: {name}\n\n"
    "Your request is approved.\n\n{comment}",
}
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_WIDTH, _HEIGHT, _MARGIN, _LINE, _COLUMNS = 595, 842, 64, 16, 84  # A4 in points


def applicant(loaded: Loaded) -> str:
    """The applicant's name as the answers give it (a ``name`` field), else the e-mail."""
    answers = loaded.request.answers
    for key in ("name", "full_name"):
        if isinstance(answers.get(key), str) and answers[key].strip():
            return str(answers[key]).strip()
    names = [answers.get(k) for k in ("first_name", "last_name")]
    joined = " ".join(n.strip() for n in names if isinstance(n, str) and n.strip())
    return joined or loaded.request.email or ""


def text(loaded: Loaded, *, comment: str | None, commune: str, on: datetime) -> str:
    """The decision's text: the definition's template with its placeholders filled in (an
    unknown placeholder stays as written; values are never read as templates)."""
    lang = loaded.request.locale
    template = localized(loaded.definition.get("decision"), lang) or GENERIC.get(
        lang, GENERIC["fr"]
    )
    values = {
        "reference": loaded.request.reference or loaded.request.id,
        "name": applicant(loaded),
        "date": on.strftime("%d.%m.%Y"),
        "comment": comment or "",
        "procedure": localized(loaded.definition.get("title"), lang),
        "commune": commune,
    }
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template).strip()


def svg(heading: str, body: str) -> str:
    """An A4 page of the heading and the text; a text longer than a page makes the page taller
    (nothing is ever cut off)."""
    lines: list[str] = []
    for paragraph in body.splitlines():
        lines += textwrap.wrap(paragraph, _COLUMNS) or [""]
    top = _MARGIN + 48
    height = max(_HEIGHT, top + len(lines) * _LINE + _MARGIN)
    rows = "".join(
        f'<text x="{_MARGIN}" y="{top + n * _LINE}">{escape(line)}</text>'
        for n, line in enumerate(lines)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}pt" height="{height}pt" '
        f'viewBox="0 0 {_WIDTH} {height}" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="11"><rect width="100%" height="100%" fill="white"/>'
        f'<text x="{_MARGIN}" y="{_MARGIN + 10}" font-size="20" font-weight="bold">'
        f"{escape(heading)}</text>{rows}</svg>"
    )


def render(loaded: Loaded, *, comment: str | None, commune: str, on: datetime) -> bytes:
    """The decision as a PDF."""
    heading = HEADING.get(loaded.request.locale, HEADING["fr"])
    return svg_to_pdf(svg(heading, text(loaded, comment=comment, commune=commune, on=on)))


async def _approvals(session: AsyncSession, request_id: str) -> int:
    query = select(func.count(RequestHistory.id)).where(
        RequestHistory.request_id == request_id, RequestHistory.action == "approve"
    )
    return int((await session.execute(query)).scalar_one())


def issuer(
    session: AsyncSession, storage: StorageClient, token: str, commune: str, on: datetime
) -> Decide:
    """A ``Decide`` storing the PDF with the caller's (agent's or service's) token."""

    async def decide(loaded: Loaded, comment: str | None) -> str:
        request = loaded.request
        pdf = render(loaded, comment=comment, commune=commune, on=on)
        number = await _approvals(session, request.id) + 1
        stored = await storage.upload(
            token,
            file=io.BytesIO(pdf),
            filename=f"decision-{request.reference or request.id}.pdf",
            content_type="application/pdf",
            kind=KIND,
            procedure=request.id,
            owner=request.owner,
            idempotency_key=f"decision-{request.id}-{number}",
        )
        return str(stored["id"])

    return decide


def current(state: str, history: list[Any]) -> str | None:
    """The id of the decision document of an approved request: the latest approval's."""
    if state != "approved":
        return None
    for entry in reversed(history):
        if entry.action == "approve":
            document = (entry.changes or {}).get("decision_document") or {}
            after = document.get("after")
            return str(after) if after else None
    return None
