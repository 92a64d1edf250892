"""``/v1/requests``: requests for commune developers and citizens' apps. A citizen's token
reaches only the citizen's own requests (404 otherwise); staff and clients see the commune's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from socle.auth import bearer_token
from socle.idempotency import IdempotencyKey, idempotent_post
from socle.openapi import problem_responses
from socle_procedures import requests, use_cases
from socle_procedures.api.deps import (
    PAYMENT_DOWN,
    PAYMENT_REFUSED,
    ChargingDep,
    ContextDep,
    Reader,
    Writer,
)
from socle_procedures.api.responses import request_out
from socle_procedures.schemas import (
    PaymentStart,
    RequestCreate,
    RequestOut,
    RequestPage,
    State,
    StepAnswers,
    TransitionIn,
)

router = APIRouter(prefix="/v1/requests", tags=["requests"])

RequestId = Annotated[str, Path(max_length=64, description="The request's id.")]
StepId = Annotated[str, Path(max_length=64, description="The step's id in the definition.")]


@router.post(
    "",
    status_code=201,
    response_model=RequestOut,
    summary="Start a request (a draft on the procedure's published version)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_request(
    principal: Writer,
    ctx: ContextDep,
    body: RequestCreate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def create(tx: AsyncSession) -> RequestOut:
        loaded = await requests.create(
            tx, principal, body.procedure, locale=body.locale, site=ctx.site
        )
        return request_out(loaded.request)

    return await idempotent_post(
        ctx.sessions,
        principal,
        service="procedures",
        action="requests:create",
        key=idempotency_key,
        body=body,
        create=create,
    )


@router.get(
    "",
    response_model=RequestPage,
    summary="Requests, newest first (a citizen: their own)",
    responses=problem_responses(401, 403, 422),
)
async def list_requests(
    principal: Reader,
    ctx: ContextDep,
    state: Annotated[State | None, Query()] = None,
    procedure: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> RequestPage:
    rows, next_cursor = await use_cases.requests_page(
        ctx.sessions, principal, state=state, procedure=procedure, limit=limit, cursor=cursor
    )
    return RequestPage(items=[request_out(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{request_id}",
    response_model=RequestOut,
    summary="A request with its answers and history",
    responses=problem_responses(401, 403, 404),
)
async def get_request(principal: Reader, ctx: ContextDep, request_id: RequestId) -> RequestOut:
    loaded, history = await use_cases.request_with_history(ctx.sessions, principal, request_id)
    return request_out(loaded.request, history)


@router.put(
    "/{request_id}/steps/{step_id}",
    response_model=RequestOut,
    summary="Answer one step (checked on the server; saved as the draft)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def save_step(
    principal: Writer,
    ctx: ContextDep,
    request_id: RequestId,
    step_id: StepId,
    body: StepAnswers,
) -> RequestOut:
    loaded = await use_cases.save_step(ctx.sessions, principal, request_id, step_id, body.answers)
    return request_out(loaded.request)


@router.post(
    "/{request_id}/submit",
    response_model=RequestOut,
    summary="Submit: the request is frozen and gets its reference",
    responses=problem_responses(401, 403, 404, 409),
)
async def submit(principal: Writer, ctx: ContextDep, request_id: RequestId) -> RequestOut:
    loaded = await use_cases.submit(ctx.sessions, principal, request_id, site=ctx.site)
    return request_out(loaded.request)


@router.post(
    "/{request_id}/transitions",
    response_model=RequestOut,
    summary="Change the state (withdraw, review, ask for information, approve, reject)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def transition(
    principal: Writer,
    ctx: ContextDep,
    request_id: RequestId,
    body: TransitionIn,
) -> RequestOut:
    loaded = await use_cases.move(
        ctx.sessions, principal, request_id, body.to, body.note, site=ctx.site
    )
    return request_out(loaded.request)


@router.post(
    "/{request_id}/payment",
    response_model=RequestOut,
    summary="Ask payment for the fee with the caller's token; send the citizen to fee.next_url",
    responses=problem_responses(401, 403, 404, 409, 422, PAYMENT_REFUSED, PAYMENT_DOWN),
)
async def start_payment(
    principal: Writer,
    charging: ChargingDep,
    http: Request,
    request_id: RequestId,
    body: PaymentStart | None = None,
) -> RequestOut:
    request = await charging.start(
        principal, bearer_token(http), request_id, return_url=body.return_url if body else None
    )
    return request_out(request)


@router.post(
    "/{request_id}/payment/refresh",
    response_model=RequestOut,
    summary="Ask payment for the outcome now (on the citizen's return)",
    responses=problem_responses(401, 403, 404, PAYMENT_REFUSED, PAYMENT_DOWN),
)
async def refresh_payment(
    principal: Writer, charging: ChargingDep, http: Request, request_id: RequestId
) -> RequestOut:
    return request_out(await charging.refresh(principal, bearer_token(http), request_id))
