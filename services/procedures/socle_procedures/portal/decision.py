"""The citizen opens the decision of an approved request: the PDF is read from storage with
the citizen's own token (storage shows it: it is theirs, and logs the read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from socle.problems import DomainError
from socle_procedures import decisions, use_cases
from socle_procedures.api.deps import ContextDep
from socle_procedures.errors import RequestNotFound
from socle_procedures.portal.auth import current_page, to_login
from socle_procedures.portal.context import Page

router = APIRouter(include_in_schema=False)
PageDep = Annotated[Page, Depends(current_page)]
ROUTES: frozenset[str] = frozenset({"/requests/{request_id}/decision"})


@router.get("/requests/{request_id}/decision")
async def decision(request_id: str, page: PageDep, ctx: ContextDep) -> Response:
    if page.principal is None:
        return to_login(page.request)
    try:
        loaded, history = await use_cases.request_with_history(
            ctx.sessions, page.principal, request_id
        )
        document = decisions.current(loaded.request.state, history)
        if document is None:
            raise RequestNotFound("This request has no decision document.")
        upstream = await ctx.storage.content(page.access_token, document)
    except DomainError as exc:
        return page.problem(exc)
    return Response(
        upstream.content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": 'inline; filename="decision.pdf"',
            "Cache-Control": "no-store",
        },
    )
