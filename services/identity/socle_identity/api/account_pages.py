"""Identity's account pages for the person's data ("download my data"), server-rendered,
working without JavaScript, through identity's login session (the citizen portal links
here): ask for an export, see its state, download it while its link is valid."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from socle.problems import DomainError
from socle_identity import account_exports
from socle_identity.api.deps import ProviderDep, form_fields
from socle_identity.api.web import HTML, PAGE, SESSION_COOKIE, csrf_ok, message, render
from socle_identity.exports import ExportReport
from socle_identity.i18n import Translator, pick
from socle_identity.provider import Provider

router = APIRouter(tags=["pages"])

EXPORT_PAGE: dict[int | str, dict[str, Any]] = {
    **PAGE,
    401: {"description": "Not logged in: a page saying how to log in", **HTML},
    404: {"description": "No such export of this person: a page saying so", **HTML},
    409: {"description": "The export is not ready yet: a page saying so", **HTML},
    410: {"description": "The link's time is over, the export deleted: a page saying so", **HTML},
    503: {"description": "The document store cannot be reached: a page saying so", **HTML},
}
#: The message shown for a refusal of the domain, by status.
REFUSALS = {
    401: "export_login_first",
    404: "export_not_found",
    409: "export_not_ready",
    410: "export_expired",
    503: "export_unavailable",
}


def _refusal(request: Request, p: Provider, exc: DomainError) -> HTMLResponse:
    return message(request, p, REFUSALS.get(exc.status, "bad_request"), status=exc.status)


def _export_page(
    request: Request, p: Provider, report: ExportReport | None, *, status: int = 200
) -> HTMLResponse:
    t = Translator(pick(request, p.settings.default_locale))
    until = report.expires_at.strftime("%d.%m.%Y %H:%M UTC") if report and report.expires_at else ""
    return render(
        request,
        p,
        "export.html",
        "export_title",
        status=status,
        action="/account/export",
        report=report,
        until=t("export_until", until=until) if until else "",
    )


@router.get("/account/export", summary="Download my data: ask for it", responses=EXPORT_PAGE)
async def export_page(request: Request, p: ProviderDep) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    try:
        report = await account_exports.latest(p, cookie)
    except DomainError as exc:
        return _refusal(request, p, exc)
    return _export_page(request, p, report)


@router.post("/account/export", summary="Download my data: confirm", responses=EXPORT_PAGE)
async def export_ask(request: Request, p: ProviderDep) -> Response:
    form = await form_fields(request)
    if not csrf_ok(request, form):
        return message(request, p, "csrf", status=403)
    try:
        export_id = await account_exports.ask(p, request.cookies.get(SESSION_COOKIE))
    except DomainError as exc:
        return _refusal(request, p, exc)
    return RedirectResponse(
        f"/account/exports/{export_id}", status_code=303, headers={"Cache-Control": "no-store"}
    )


@router.get(
    "/account/exports/{export_id}", summary="My data: one export's state", responses=EXPORT_PAGE
)
async def export_state(export_id: str, request: Request, p: ProviderDep) -> Response:
    try:
        report = await account_exports.state(p, request.cookies.get(SESSION_COOKIE), export_id)
    except DomainError as exc:
        return _refusal(request, p, exc)
    return _export_page(request, p, report)


@router.get(
    "/account/exports/{export_id}/archive",
    summary="My data: the archive (ZIP)",
    response_class=Response,
    responses={**EXPORT_PAGE, 200: {"content": {"application/zip": {}}, "description": "ZIP"}},
)
async def export_download(export_id: str, request: Request, p: ProviderDep) -> Response:
    try:
        body = await account_exports.archive(p, request.cookies.get(SESSION_COOKIE), export_id)
    except DomainError as exc:
        return _refusal(request, p, exc)
    return Response(
        body,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="my-data-{export_id}.zip"',
            "Cache-Control": "no-store",
        },
    )
