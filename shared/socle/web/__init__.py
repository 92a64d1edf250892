"""One look for every page a citizen sees: a Jinja2 base layout, styles, components
(header in the commune's colours, footer, error summary, buttons, language switch) and the
language helpers. ``socle.web.templates(...)`` builds a Jinja2 environment that finds them."""

from socle.web.i18n import LANGUAGES, format_money, localized, negotiate
from socle.web.layout import (
    ASSETS_PATH,
    Commune,
    assets_router,
    render,
    security_headers,
    templates,
)
from socle.web.look import CommuneLook, inline_stylesheet

__all__ = [
    "ASSETS_PATH",
    "LANGUAGES",
    "Commune",
    "CommuneLook",
    "assets_router",
    "format_money",
    "inline_stylesheet",
    "localized",
    "negotiate",
    "render",
    "security_headers",
    "templates",
]
