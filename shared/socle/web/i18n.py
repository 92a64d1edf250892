"""Languages of citizen-facing pages: French, German, Italian, English."""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("fr", "de", "it", "en")
"""Supported languages; a text missing in one falls back in this order."""


def negotiate(accept_language: str | None, chosen: str | None = None, default: str = "fr") -> str:
    """The language of a page: the one the person chose (cookie, ``?lang=``), else the first
    supported one in ``Accept-Language`` (by its q-values), else ``default``."""
    if chosen in LANGUAGES:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        pieces = part.strip().split(";")
        code = pieces[0].strip().lower()[:2]
        quality = 1.0
        for param in pieces[1:]:
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if code in LANGUAGES and quality > 0:
            ranked.append((-quality, index, code))
    return sorted(ranked)[0][2] if ranked else default


def localized(text: Mapping[str, str] | str | None, lang: str) -> str:
    """``text`` in ``lang``, else in the first language of :data:`LANGUAGES` it has."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    if lang in text:
        return text[lang]
    for other in LANGUAGES:
        if other in text:
            return text[other]
    return next(iter(text.values()), "")


def format_money(minor: int, currency: str = "CHF", lang: str = "fr") -> str:
    """``123450`` -> ``CHF 1'234.50`` (Swiss style, integer arithmetic only)."""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    grouped = f"{whole:,}".replace(",", "\u2019" if lang in ("fr", "de", "it") else ",")
    return f"{currency} {sign}{grouped}.{cents:02d}"


LANGUAGE_NAMES = {"fr": "Français", "de": "Deutsch", "it": "Italiano", "en": "English"}

LAYOUT_TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "skip": "Aller au contenu",
        "contact": "Contact",
        "privacy": "Protection des données",
        "language": "Langue",
        "errors": "Il y a un problème",
        "optional": "facultatif",
    },
    "de": {
        "skip": "Zum Inhalt springen",
        "contact": "Kontakt",
        "privacy": "Datenschutz",
        "language": "Sprache",
        "errors": "Es gibt ein Problem",
        "optional": "freiwillig",
    },
    "it": {
        "skip": "Vai al contenuto",
        "contact": "Contatto",
        "privacy": "Protezione dei dati",
        "language": "Lingua",
        "errors": "C'è un problema",
        "optional": "facoltativo",
    },
    "en": {
        "skip": "Skip to content",
        "contact": "Contact",
        "privacy": "Privacy",
        "language": "Language",
        "errors": "There is a problem",
        "optional": "optional",
    },
}
