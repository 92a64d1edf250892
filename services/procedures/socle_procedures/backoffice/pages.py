"""Agents' pages: the queue with filters, counts and CSV export; a request's page with its
answers, documents, payment, history, internal notes and the actions allowed now. They log
in like citizens (identity) and need role ``agent`` or ``admin``; they call the same use
cases as the API. Every form works without JavaScript and carries the CSRF token."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from socle import clock
from socle.problems import DomainError
from socle.web.i18n import format_money, localized
from socle_procedures import decisions, queue, requests, review, use_cases
from socle_procedures.api.deps import ContextDep
from socle_procedures.backoffice.common import (
    PageDep,
    checked_form,
    office_texts,
    problem_page,
    refusal,
    render_office,
)
from socle_procedures.backoffice.payments import payment_view
from socle_procedures.context import ProceduresContext
from socle_procedures.definitions.conditions import visible_fields, visible_steps
from socle_procedures.errors import ActionNotAllowed, RequestNotFound
from socle_procedures.portal import forms
from socle_procedures.portal.context import Page

router = APIRouter(prefix="/back-office", include_in_schema=False)

#: Served without an access token: the agent's portal session (CSRF on every form).
ROUTES: frozenset[str] = frozenset(
    {
        "/back-office",
        "/back-office/export.csv",
        "/back-office/requests/{request_id}",
        "/back-office/requests/{request_id}/actions",
        "/back-office/requests/{request_id}/notes",
        "/back-office/requests/{request_id}/documents/{document_id}",
    }
)


def _filters(params: Any) -> queue.Filters:
    def day(name: str) -> date | None:
        try:
            return date.fromisoformat(params.get(name, ""))
        except ValueError:
            return None

    def text(name: str) -> str | None:
        value = str(params.get(name, "")).strip()[:64]
        return value or None

    try:
        number = int(params.get("page", "1"))
    except ValueError:
        number = 1
    return queue.Filters(
        procedure=text("procedure"),
        state=text("state") if params.get("state") in requests.STATES else None,
        since=day("since"),
        until=day("until"),
        reference=text("reference"),
        assigned_to=text("assigned"),
        sort=params.get("sort") if params.get("sort") in queue.SORTS else "submitted",
        descending=params.get("order") != "asc",
        page=number,
    )


@router.get("")
async def queue_page(page: PageDep, ctx: ContextDep) -> Response:
    if (refused := refusal(page)) is not None:
        return refused
    assert page.principal is not None
    params = page.request.query_params
    f = _filters(params)
    found, versions = await use_cases.queue_page(ctx.sessions, page.principal, f)
    titles: dict[str, str] = {}
    for v in versions:
        titles.setdefault(v.slug, localized(v.document["title"], page.lang) or v.slug)
    kept = {k: v for k, v in params.items() if k != "page" and v}

    def at(n: int) -> str:
        return "/back-office?" + urlencode(kept | {"page": str(n)})

    t = office_texts(page)
    return render_office(
        page,
        "queue.html",
        t["requests"],
        f=f,
        found=found,
        titles=titles,
        states=[s for s in requests.STATES if s != "draft"],
        sorts=list(queue.SORTS),
        previous_url=at(found.page - 1) if found.page > 1 else None,
        next_url=at(found.page + 1) if found.page < found.pages else None,
        export_url="/back-office/export.csv" + (f"?{urlencode(kept)}" if kept else ""),
        page_label=t["page_of"].format(page=found.page, pages=found.pages),
    )


@router.get("/export.csv")
async def export(page: PageDep, ctx: ContextDep) -> Response:
    if (refused := refusal(page)) is not None:
        return refused
    assert page.principal is not None
    f = _filters(page.request.query_params)
    text = await use_cases.export_queue(ctx.sessions, page.principal, f)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="requests.csv"'},
    )


def _answers(page: Page, loaded: requests.Loaded) -> list[dict[str, Any]]:
    request, definition, t = loaded.request, loaded.definition, office_texts(page)
    out = []
    for step in visible_steps(definition, request.answers):
        rows = []
        for spec in visible_fields(step, request.answers):
            value = request.answers.get(spec["id"])
            doc = value if spec.get("type") == "document" and isinstance(value, dict) else None
            rows.append(
                {
                    "id": spec["id"],
                    "label": localized(spec["label"], page.lang),
                    "value": forms.readable(spec, value, page.lang, t),
                    "document_url": (
                        f"/back-office/requests/{request.id}/documents/{doc['document_id']}"
                        if doc and doc.get("document_id")
                        else None
                    ),
                }
            )
        out.append({"title": localized(step["title"], page.lang), "rows": rows})
    return out


async def _request_page(
    page: Page,
    ctx: ProceduresContext,
    request_id: str,
    *,
    message: str | None = None,
    kind: str = "info",
    status: int = 200,
) -> Response:
    assert page.principal is not None
    try:
        view = await use_cases.staff_view(ctx.sessions, page.principal, request_id)
    except DomainError as exc:
        return problem_page(page, exc)
    loaded, history, notes, mandated = view.loaded, view.history, view.notes, view.mandates
    request = loaded.request
    answers = _answers(page, loaded)
    payment = await payment_view(page, request)
    return render_office(
        page,
        "request.html",
        request.reference or request.id,
        status=status,
        request=request,
        title=localized(loaded.definition["title"], page.lang),
        answers=answers,
        fields=[r for step in answers for r in step["rows"]],
        history=history,
        notes=notes,
        mandates=mandated,
        allowed=review.allowed_actions(request.state),
        decision_url=(
            f"/back-office/requests/{request.id}/documents/{decision}"
            if (decision := decisions.current(request.state, history))
            else None
        ),
        payment=payment,
        paid=format_money(request.amount_paid, request.fee_currency, page.lang),
        fee=format_money(request.fee_amount, request.fee_currency, page.lang),
        message=message,
        message_kind=kind,
        done=page.request.query_params.get("done") == "1",
    )


@router.get("/requests/{request_id}")
async def request_page(request_id: str, page: PageDep, ctx: ContextDep) -> Response:
    if (refused := refusal(page)) is not None:
        return refused
    return await _request_page(page, ctx, request_id)


@router.post("/requests/{request_id}/actions")
async def act(request_id: str, page: PageDep, ctx: ContextDep) -> Response:
    form, refused = await checked_form(page)
    if refused is not None:
        return refused
    assert page.principal is not None
    action = review.Action(
        name=str(form.get("action", ""))[:32],
        comment=str(form.get("comment", "")).strip()[:2000] or None,
        assignee=str(form.get("assignee", "")).strip()[:255] or None,
        fields=[str(v)[:64] for v in form.getlist("fields")][:50],
        expected_state=str(form.get("expected_state", "")) or None,
    )
    t = office_texts(page)
    try:
        await use_cases.act(
            ctx.sessions,
            page.principal,
            request_id,
            action,
            storage=ctx.storage,
            token=page.access_token,
            site=ctx.site,
            on=clock.now(),
        )
    except ActionNotAllowed as exc:
        names = ", ".join(t.get(f"act_{a}", a) for a in exc.allowed) or "-"
        return await _request_page(
            page,
            ctx,
            request_id,
            message=t["conflict"].format(allowed=names),
            kind="error",
            status=409,
        )
    except DomainError as exc:
        if exc.status == 422:
            return await _request_page(
                page,
                ctx,
                request_id,
                message=t["invalid"].format(detail=exc.detail),
                kind="error",
                status=422,
            )
        return problem_page(page, exc)
    return RedirectResponse(f"/back-office/requests/{request_id}?done=1", status_code=303)


@router.post("/requests/{request_id}/notes")
async def add_note(request_id: str, page: PageDep, ctx: ContextDep) -> Response:
    form, refused = await checked_form(page)
    if refused is not None:
        return refused
    assert page.principal is not None
    try:
        text = str(form.get("text", ""))[:4000]
        await use_cases.add_note(ctx.sessions, page.principal, request_id, text)
    except DomainError as exc:
        if exc.status == 422:
            t = office_texts(page)
            return await _request_page(
                page,
                ctx,
                request_id,
                message=t["invalid"].format(detail=exc.detail),
                kind="error",
                status=422,
            )
        return problem_page(page, exc)
    return RedirectResponse(f"/back-office/requests/{request_id}#notes", status_code=303)


@router.get("/requests/{request_id}/documents/{document_id}")
async def document(request_id: str, document_id: str, page: PageDep, ctx: ContextDep) -> Response:
    """A document of the request, read from storage with the agent's token (storage logs
    the access); only a document the request's answers name."""
    if (refused := refusal(page)) is not None:
        return refused
    assert page.principal is not None
    try:
        loaded, history = await use_cases.staff_request(ctx.sessions, page.principal, request_id)
    except DomainError as exc:
        return problem_page(page, exc)
    named = {
        v.get("document_id")
        for v in loaded.request.answers.values()
        if isinstance(v, dict) and v.get("document_id")
    } | {decisions.current(loaded.request.state, history)}
    if document_id not in named:
        return problem_page(page, RequestNotFound("No such document on this request."))
    try:
        upstream = await ctx.storage.content(page.access_token, document_id)
    except DomainError as exc:
        return problem_page(page, exc)
    return StreamingResponse(
        iter([upstream.content]),
        media_type=upstream.headers.get("content-type", "application/octet-stream"),
        headers={"Content-Disposition": "inline", "Cache-Control": "no-store"},
    )
