"""The citizen's pages: procedures, steps with progress, check your answers, payment,
receipt, my requests. They call the same use cases as the API."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response

from socle import clock
from socle.problems import DomainError
from socle.web.i18n import format_money, localized
from socle_procedures import decisions, requests, use_cases
from socle_procedures.api.deps import ContextDep
from socle_procedures.context import ProceduresContext
from socle_procedures.definitions.conditions import visible_fields, visible_steps
from socle_procedures.messages import message
from socle_procedures.portal import documents, forms, sessions
from socle_procedures.portal import use_cases as portal_use_cases
from socle_procedures.portal.auth import current_page, to_login
from socle_procedures.portal.context import Page

router = APIRouter(include_in_schema=False)
PageDep = Annotated[Page, Depends(current_page)]


def _fee_text(page: Page, amount: int, currency: str = "CHF") -> str:
    return format_money(amount, currency, page.lang) if amount else page.t["no_fee"]


@router.get("/")
async def home(page: PageDep, ctx: ContextDep) -> Response:
    rows = await use_cases.procedures(
        ctx.sessions, page.portal.settings.portal_tenant, include_all=False
    )
    return page.render("home.html", page.t["home"], procedures=rows)


@router.get("/procedures/{slug}")
async def procedure(slug: str, page: PageDep, ctx: ContextDep) -> Response:
    try:
        version = await use_cases.procedure(ctx.sessions, page.portal.settings.portal_tenant, slug)
    except DomainError as exc:
        return page.problem(exc)
    fee = version.document.get("fee") or {"rule": "none"}
    fee_text = (
        page.t["no_fee"]
        if fee["rule"] == "none"
        else (
            format_money(fee["amount"], fee.get("currency", "CHF"), page.lang)
            if fee["rule"] == "fixed"
            else localized(fee.get("description"), page.lang) or page.t["fee"]
        )
    )
    return page.render(
        "procedure.html",
        localized(version.document["title"], page.lang),
        document=version.document,
        slug=slug,
        fee_text=fee_text,
    )


async def _form(page: Page) -> Any:
    return await page.request.form()


def _csrf_failed(page: Page, form: Any) -> Response | None:
    if page.session is None:
        return to_login(page.request)
    if not sessions.csrf_ok(page.csrf, str(form.get("csrf_token", ""))):
        return page.message(page.t["csrf"], status=403, link=page.request.url.path)
    return None


@router.post("/procedures/{slug}/start")
async def start(slug: str, page: PageDep, ctx: ContextDep) -> Response:
    form = await _form(page)
    if page.session is None:
        return RedirectResponse(f"/auth/login?next=/procedures/{slug}", status_code=303)
    if (refused := _csrf_failed(page, form)) is not None:
        return refused
    assert page.principal is not None
    try:
        loaded = await portal_use_cases.start(
            ctx.sessions, page.principal, slug, locale=page.lang, claims=page.claims, site=ctx.site
        )
    except DomainError as exc:
        return page.problem(exc)
    first = visible_steps(loaded.definition, loaded.request.answers)[0]["id"]
    return RedirectResponse(f"/requests/{loaded.request.id}/steps/{first}", status_code=303)


def _step_page(page: Page, form: portal_use_cases.StepForm, status: int = 200) -> Response:
    definition, request, step, shown = (
        form.loaded.definition,
        form.loaded.request,
        form.step,
        form.shown,
    )
    labels = {f["id"]: localized(f["label"], page.lang) for f in step["fields"]}
    errors = {e.field: message(e, labels[e.field], page.lang) for e in form.errors}
    steps = visible_steps(definition, request.answers | shown)
    ids = [s["id"] for s in steps]
    n = ids.index(step["id"]) + 1 if step["id"] in ids else 1
    fields = [
        {
            "spec": f,
            "value": forms.shown_value(f, shown.get(f["id"])),
            "doc": documents.field_view(f, form.offered.get(f["id"], []), page.t)
            if f["type"] == "document"
            else None,
        }
        for f in visible_fields(step, request.answers | shown)
    ]
    back = (
        f"/requests/{request.id}/steps/{ids[n - 2]}"
        if n > 1
        else f"/procedures/{request.procedure}"
    )
    title = localized(step["title"], page.lang)
    return page.render(
        "step.html",
        title,
        status=status,
        document=definition,
        step=step,
        fields=fields,
        errors=errors,
        progress=page.t["step_of"].format(n=n, total=len(steps)),
        back_url=back,
        multipart=bool(documents.document_fields(step)),
    )


@router.get("/requests/{request_id}/steps/{step_id}")
async def show_step(request_id: str, step_id: str, page: PageDep, ctx: ContextDep) -> Response:
    if page.principal is None:
        return to_login(page.request)
    try:
        form = await portal_use_cases.step_form(
            ctx, page.principal, page.access_token, request_id, step_id
        )
    except DomainError as exc:
        return page.problem(exc)
    if form.loaded.request.state not in requests.EDITABLE:
        return RedirectResponse(f"/requests/{request_id}", status_code=303)
    return _step_page(page, form)


@router.post("/requests/{request_id}/steps/{step_id}")
async def save_step(request_id: str, step_id: str, page: PageDep, ctx: ContextDep) -> Response:
    sent = await _form(page)
    if (refused := _csrf_failed(page, sent)) is not None:
        return refused
    assert page.principal is not None
    try:
        form = await portal_use_cases.answer_step(
            ctx, page.principal, page.access_token, request_id, step_id, sent
        )
    except DomainError as exc:
        return page.problem(exc)
    if form.refused:
        return _step_page(page, form, 422)
    target = (
        f"/requests/{request_id}/steps/{form.missing[0]['id']}"
        if form.missing
        else f"/requests/{request_id}/check"
    )
    return RedirectResponse(target, status_code=303)


def _payment_origin(next_url: str | None) -> str:
    if not next_url:
        return ""
    parts = urlsplit(next_url)
    return f"{parts.scheme}://{parts.netloc}"


async def _check_page(
    page: Page,
    ctx: ProceduresContext,
    request_id: str,
    note: str | None = None,
    kind: str = "info",
    status: int = 200,
) -> Response:
    assert page.principal is not None
    try:
        loaded, asked = await portal_use_cases.to_check(
            ctx.sessions, page.principal, request_id, page.lang
        )
    except DomainError as exc:
        return page.problem(exc)
    if note is None and asked:
        note = asked  # the commune's message: what to correct before sending it again
    request, definition = loaded.request, loaded.definition
    if request.state not in requests.EDITABLE:
        return RedirectResponse(f"/requests/{request_id}", status_code=303)
    missing = requests.missing_steps(loaded, clock.now().date())
    if missing:
        return RedirectResponse(f"/requests/{request_id}/steps/{missing[0]['id']}", status_code=303)
    summary = []
    for step in visible_steps(definition, request.answers):
        rows = [
            {
                "id": f["id"],
                "label": localized(f["label"], page.lang),
                "value": forms.readable(f, request.answers.get(f["id"]), page.lang, page.t),
            }
            for f in visible_fields(step, request.answers)
        ]
        summary.append(
            {
                "title": localized(step["title"], page.lang),
                "rows": rows,
                "url": f"/requests/{request_id}/steps/{step['id']}",
            }
        )
    settled = requests.fee_settled(request, definition)
    amount = format_money(request.fee_amount, request.fee_currency, page.lang)
    fee_text = amount + (
        f" - {page.t['paid']}"
        if request.payment_status == "succeeded"
        else f" - {page.t['billed']}"
        if settled and request.fee_amount
        else ""
    )
    qr = (definition.get("fee") or {}).get("provider") == "qrbill"
    payment_site = page.portal.settings.payment_url
    return page.render(
        "check.html",
        page.t["check"],
        status=status,
        form_action=_payment_origin(request.payment_next_url or payment_site),
        document=definition,
        summary=summary,
        request_id=request_id,
        fee_amount=request.fee_amount,
        fee_label=localized((definition.get("fee") or {}).get("description"), page.lang)
        or page.t["fee"],
        fee_text=fee_text,
        must_pay=not settled,
        pay_intro=page.t["qr_intro" if qr else "pay_intro"].format(amount=amount),
        pay_button=page.t["get_bill"] if qr else page.t["pay"].format(amount=amount),
        message=note,
        message_kind=kind,
    )


@router.get("/requests/{request_id}/check")
async def check(request_id: str, page: PageDep, ctx: ContextDep) -> Response:
    if page.principal is None:
        return to_login(page.request)
    return await _check_page(page, ctx, request_id)


@router.post("/requests/{request_id}/pay")
async def pay(request_id: str, page: PageDep, ctx: ContextDep) -> Response:
    form = await _form(page)
    if (refused := _csrf_failed(page, form)) is not None:
        return refused
    assert page.principal is not None and page.session is not None
    try:
        request = await ctx.charging.start(page.principal, page.access_token, request_id)
    except DomainError as exc:
        return page.problem(exc)
    if request.payment_next_url:
        return RedirectResponse(request.payment_next_url, status_code=303)
    return RedirectResponse(f"/requests/{request_id}/check", status_code=303)


@router.get("/requests/{request_id}/payment-return")
async def payment_return(request_id: str, page: PageDep, ctx: ContextDep) -> Response:
    if page.principal is None or page.session is None:
        return to_login(page.request)
    try:
        request = await ctx.charging.refresh(page.principal, page.access_token, request_id)
    except DomainError as exc:
        return page.problem(exc)
    if request.payment_status in ("failed", "expired", "cancelled"):
        return await _check_page(page, ctx, request_id, page.t["payment_failed"], "error")
    if request.payment_status == "pending" and request.payment_provider != "qrbill":
        return await _check_page(page, ctx, request_id, page.t["payment_waiting"], "info")
    return RedirectResponse(f"/requests/{request_id}/check", status_code=303)


@router.post("/requests/{request_id}/submit")
async def submit(request_id: str, page: PageDep, ctx: ContextDep) -> Response:
    form = await _form(page)
    if (refused := _csrf_failed(page, form)) is not None:
        return refused
    assert page.principal is not None
    try:
        await use_cases.submit(
            ctx.sessions, page.principal, request_id, site=ctx.site, locale=page.lang
        )
    except DomainError as exc:
        if exc.status == 409:
            return await _check_page(page, ctx, request_id, exc.detail, "error", 409)
        return page.problem(exc)
    return RedirectResponse(f"/requests/{request_id}?sent=1", status_code=303)


@router.get("/requests/{request_id}")
async def receipt(request_id: str, page: PageDep, ctx: ContextDep) -> Response:
    if page.principal is None:
        return to_login(page.request)
    try:
        loaded, history = await use_cases.request_with_history(
            ctx.sessions, page.principal, request_id
        )
    except DomainError as exc:
        return page.problem(exc)
    request, definition = loaded.request, loaded.definition
    if request.state in requests.EDITABLE:
        return RedirectResponse(f"/requests/{request_id}/check", status_code=303)
    sent = page.request.query_params.get("sent") == "1"
    return page.render(
        "receipt.html",
        page.t["receipt"] if sent else (request.reference or page.t["my_requests"]),
        request=request,
        document=definition,
        just_submitted=sent,
        confirmation=localized(definition.get("confirmation"), page.lang),
        fee_text=_fee_text(page, request.fee_amount, request.fee_currency)
        + (
            f" - {page.t['paid']}"
            if request.payment_status == "succeeded"
            else f" - {page.t['billed']}"
            if request.payment_provider == "qrbill" and request.payment_status == "pending"
            else ""
        ),
        history=[h for h in history if h.from_state != h.to_state or h.from_state is None],
        decision_url=f"/requests/{request.id}/decision"
        if decisions.current(request.state, history)
        else None,
    )


@router.get("/my-requests")
async def my_requests(page: PageDep, ctx: ContextDep) -> Response:
    if page.principal is None:
        return to_login(page.request)
    rows, versions = await portal_use_cases.my_requests(ctx.sessions, page.principal)
    items = [
        {
            "request": r,
            "title": localized(
                versions[r.version_id].document["title"] if r.version_id in versions else None,
                page.lang,
            )
            or r.procedure,
            "url": f"/requests/{r.id}" if r.state != "draft" else f"/requests/{r.id}/check",
        }
        for r in rows
    ]
    return page.render(
        "my_requests.html",
        page.t["my_requests"],
        rows=items,
        # identity's own page: the export needs the person's login there, not the portal's
        my_data_url=f"{page.portal.settings.issuer.rstrip('/')}/account/export",
    )
