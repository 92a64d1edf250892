"""What every portal page needs: the language, the commune, the logged-in person."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment

from socle.auth import Principal
from socle.problems import DomainError, Unavailable
from socle.service import context_of
from socle.web import Commune, negotiate, render, templates
from socle.web.i18n import LAYOUT_TEXTS
from socle_procedures.context import ProceduresContext
from socle_procedures.models import PortalSession
from socle_procedures.portal.oidc import OidcClient
from socle_procedures.portal.sessions import LANG_COOKIE
from socle_procedures.portal.texts import TEXTS
from socle_procedures.settings import ProceduresSettings

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class Portal:
    """Built once per app: settings, templates, the OIDC client."""

    settings: ProceduresSettings
    env: Environment
    oidc: OidcClient

    @classmethod
    def build(cls, settings: ProceduresSettings, oidc: OidcClient) -> Portal:
        return cls(settings=settings, env=templates(directory=TEMPLATES), oidc=oidc)

    @property
    def commune(self) -> Commune:
        s = self.settings
        return Commune(
            name=s.portal_commune_name,
            colour=s.portal_colour,
            home_url="/",
            contact_url=s.portal_contact_url,
            privacy_url=s.portal_privacy_url,
        )


def portal_of(request: Request) -> Portal:
    portal: Portal = context_of(request, ProceduresContext).portal
    return portal


def language(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"), request.cookies.get(LANG_COOKIE))


def safe_next(target: str | None) -> str:
    """Only a path of this site (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class Page:
    """One rendering: the request, its language, and the person if logged in."""

    request: Request
    portal: Portal
    lang: str
    session: PortalSession | None = None
    principal: Principal | None = None
    csrf: str = ""
    access_token: str = ""
    claims: dict[str, Any] | None = None
    """Copied from the session when the page starts: a rolled-back use case expires rows."""

    @property
    def t(self) -> dict[str, str]:
        return TEXTS[self.lang]

    def render(
        self, name: str, title: str, status: int = 200, form_action: str = "", **values: Any
    ) -> HTMLResponse:
        # Logging out answers with a redirect to identity: form-action must allow it.
        issuer = urlsplit(self.portal.settings.issuer)
        form_action = f"'self' {issuer.scheme}://{issuer.netloc} {form_action}".strip()
        here = self.request.url.path
        nav = [("/", self.t["home"])]
        if self.session is not None:
            nav += [("/my-requests", self.t["my_requests"])]
        context = {
            "lang": self.lang,
            "t": self.t,
            "lt": LAYOUT_TEXTS[self.lang],
            "commune": self.portal.commune,
            "page_title": title,
            "nav": nav,
            "logged_in": self.session is not None,
            "csrf": self.csrf,
            "lang_url": lambda code: f"/lang/{code}?next={quote(here)}",
            **values,
        }
        return render(self.portal.env, name, context, status=status, form_action=form_action)

    def message(
        self, heading: str, text: str = "", status: int = 200, **values: Any
    ) -> HTMLResponse:
        return self.render(
            "message.html", heading, status=status, heading=heading, text=text, **values
        )

    def retry_url(self) -> str:
        """Where trying again starts: the same page, or the page whose form was sent (a
        payment or a submission is retried from "check your answers")."""
        url = self.request.url
        if self.request.method == "GET":
            return safe_next(url.path + (f"?{url.query}" if url.query else ""))
        for action in ("/pay", "/submit"):
            if url.path.startswith("/requests/") and url.path.endswith(action):
                return url.path.removesuffix(action) + "/check"
        return safe_next(url.path)

    def problem(self, error: DomainError) -> Response:
        """A domain error as a page in the person's language."""
        if error.status == 404:
            return self.message(self.t["not_found"], self.t["not_found_text"], 404)
        if isinstance(error, Unavailable) or error.status >= 500:
            response = self.message(
                self.t["down"],
                self.t["down_text"],
                503,
                link=self.retry_url(),
                link_text=self.t["try_again"],
            )
            response.headers["Retry-After"] = "10"
            return response
        if error.status == 401:
            return RedirectResponse(f"/auth/login?next={quote(self.request.url.path)}", 303)
        return self.message(
            self.t["incomplete"] if error.status == 409 else self.t["not_found"], "", error.status
        )
