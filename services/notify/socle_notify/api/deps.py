"""Dependencies shared by the notify routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from socle.auth import Principal, require_commune_wide, require_scope
from socle.problems import Forbidden
from socle.service import context_dependency
from socle_notify.context import NotifyContext

READ_SCOPES = ("notifications:read", "notifications:send")


async def reader(request: Request) -> Principal:
    """``notifications:read`` or ``notifications:send``; a person reads only its own
    notifications (``Principal.owner``), the commune reads them all."""
    principal = await require_scope()(request)
    if not principal.scopes.intersection(READ_SCOPES):
        raise Forbidden(
            "The access token lacks the scope notifications:read; ask for it when requesting "
            "the token.",
            code="insufficient-scope",
            headers={
                "WWW-Authenticate": 'Bearer error="insufficient_scope", scope="notifications:read"'
            },
        )
    return principal


ContextDep = Annotated[NotifyContext, Depends(context_dependency(NotifyContext))]
Reader = Annotated[Principal, Depends(reader)]
PERSON_REACH = "that person's own notifications"
Sender = Annotated[Principal, Depends(require_commune_wide("notifications:send", PERSON_REACH))]
Admin = Annotated[Principal, Depends(require_commune_wide("notifications:admin", PERSON_REACH))]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]
Cursor = Annotated[str | None, Query(max_length=64, description="`next_cursor` of the last page.")]
