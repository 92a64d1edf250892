"""The template language: ``((placeholder))`` replaced by personalisation values, nothing else.

No expression is ever evaluated: a template is text with holes. Values are HTML-escaped in
HTML bodies; a template without an HTML body gets one made from its plain text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PLACEHOLDER = re.compile(r"\(\(\s*([A-Za-z0-9_][A-Za-z0-9_.\-]{0,99})\s*\)\)")

GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


def placeholders(*texts: str | None) -> list[str]:
    """Names of the placeholders in ``texts``, in order of first appearance."""
    seen: dict[str, None] = {}
    for text in texts:
        for match in PLACEHOLDER.finditer(text or ""):
            seen.setdefault(match.group(1), None)
    return list(seen)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def substitute(text: str, values: Mapping[str, Any], *, escape: bool) -> str:
    """Replace each known placeholder; unknown ones stay visible as ``((name))``."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        value = _text(values[name])
        return html.escape(value, quote=True) if escape else value

    return PLACEHOLDER.sub(replace, text)


def html_from_text(text: str) -> str:
    """A simple HTML body from plain text: escaped, paragraphs and line breaks kept."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(
        "<p>" + "<br>\n".join(_linked(html.escape(line)) for line in p.splitlines()) + "</p>\n"
        for p in paragraphs
    )


LINK = re.compile(r"\bhttps?://[^\s<>\"']+")


def _linked(escaped: str) -> str:
    """Web addresses of an escaped line as links (clickable in every mail reader)."""
    return LINK.sub(lambda m: f'<a href="{m[0]}">{m[0]}</a>', escaped)


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    body: str
    html: str | None
    missing: list[str]


def render(
    *,
    subject: str | None,
    body: str,
    html_body: str | None,
    values: Mapping[str, Any],
    channel: str,
) -> Rendered:
    """Render one template content with ``values``; ``missing`` lists absent placeholders."""
    missing = [p for p in placeholders(subject, body, html_body) if p not in values]
    out_subject = substitute(subject, values, escape=False) if subject is not None else None
    if out_subject is not None:
        out_subject = " ".join(out_subject.split())  # no header injection through values
    out_body = substitute(body, values, escape=False)
    out_html: str | None = None
    if channel == "email":
        if html_body:
            out_html = substitute(html_body, values, escape=True)
        else:
            out_html = html_from_text(out_body)
    return Rendered(subject=out_subject, body=out_body, html=out_html, missing=missing)


def sms_fragments(text: str) -> tuple[str, int]:
    """The encoding an SMS needs (``gsm7`` or ``ucs2``) and how many fragments it takes."""
    if all(ch in GSM7 or ch in GSM7_EXTENDED for ch in text):
        length = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        single, multi, encoding = 160, 153, "gsm7"
    else:
        length = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
        single, multi, encoding = 70, 67, "ucs2"
    if length <= single:
        return encoding, 1
    return encoding, -(-length // multi)


# Messages notify ships itself, in the four languages.
BUILTIN: dict[str, dict[str, dict[str, str]]] = {
    "user.registered": {
        "fr": {
            "subject": "((commune)) : confirmez votre adresse e-mail",
            "body": "Bonjour,\n\nPour activer votre compte, ouvrez ce lien :\n((verification_url))"
            "\n\nSi vous n'avez rien demandé, ignorez ce message.\n\n((commune))",
        },
        "de": {
            "subject": "((commune)): Bestätigen Sie Ihre E-Mail-Adresse",
            "body": "Guten Tag\n\nUm Ihr Konto zu aktivieren, öffnen Sie diesen Link:\n"
            "((verification_url))\n\nFalls Sie nichts angefordert haben, ignorieren Sie "
            "diese Nachricht.\n\n((commune))",
        },
        "it": {
            "subject": "((commune)): confermi il suo indirizzo e-mail",
            "body": "Buongiorno,\n\nPer attivare il suo conto, apra questo link:\n"
            "((verification_url))\n\nSe non ha chiesto nulla, ignori questo messaggio."
            "\n\n((commune))",
        },
        "en": {
            "subject": "((commune)): confirm your email address",
            "body": "Hello,\n\nTo activate your account, open this link:\n((verification_url))"
            "\n\nIf you did not ask for this, ignore this message.\n\n((commune))",
        },
    },
    "user.password_reset_requested": {
        "fr": {
            "subject": "((commune)) : réinitialisation de votre mot de passe",
            "body": "Bonjour,\n\nPour choisir un nouveau mot de passe, ouvrez ce lien :\n"
            "((reset_url))\n\nSi vous n'avez rien demandé, ignorez ce message.\n\n((commune))",
        },
        "de": {
            "subject": "((commune)): Passwort zurücksetzen",
            "body": "Guten Tag\n\nUm ein neues Passwort zu wählen, öffnen Sie diesen Link:\n"
            "((reset_url))\n\nFalls Sie nichts angefordert haben, ignorieren Sie diese "
            "Nachricht.\n\n((commune))",
        },
        "it": {
            "subject": "((commune)): reimpostazione della password",
            "body": "Buongiorno,\n\nPer scegliere una nuova password, apra questo link:\n"
            "((reset_url))\n\nSe non ha chiesto nulla, ignori questo messaggio.\n\n((commune))",
        },
        "en": {
            "subject": "((commune)): reset your password",
            "body": "Hello,\n\nTo choose a new password, open this link:\n((reset_url))\n\n"
            "If you did not ask for this, ignore this message.\n\n((commune))",
        },
    },
    "person.export.available": {
        "fr": {
            "subject": "((commune)) : vos données sont prêtes",
            "body": "Bonjour,\n\nL'archive de vos données que vous avez demandée est prête. "
            "Connectez-vous et téléchargez-la ici :\n((download_url))\n\nLe lien est valable "
            "jusqu'au ((expires_at)) (UTC) ; ensuite l'archive est supprimée.\n\n((commune))",
        },
        "de": {
            "subject": "((commune)): Ihre Daten sind bereit",
            "body": "Guten Tag\n\nDas Archiv Ihrer Daten, das Sie angefordert haben, ist bereit. "
            "Melden Sie sich an und laden Sie es hier herunter:\n((download_url))\n\nDer Link "
            "ist bis ((expires_at)) (UTC) gültig; danach wird das Archiv gelöscht.\n\n"
            "((commune))",
        },
        "it": {
            "subject": "((commune)): i suoi dati sono pronti",
            "body": "Buongiorno,\n\nL'archivio dei suoi dati che ha richiesto è pronto. "
            "Acceda e lo scarichi qui:\n((download_url))\n\nIl link è valido fino al "
            "((expires_at)) (UTC); poi l'archivio viene cancellato.\n\n((commune))",
        },
        "en": {
            "subject": "((commune)): your data is ready",
            "body": "Hello,\n\nThe archive of your data you asked for is ready. Log in and "
            "download it here:\n((download_url))\n\nThe link works until ((expires_at)) "
            "(UTC); after that the archive is deleted.\n\n((commune))",
        },
    },
    "procedure.request.submitted": {
        "fr": {
            "subject": "((commune)) : votre demande ((reference)) est envoyée",
            "body": "Bonjour,\n\n((commune)) a bien reçu votre demande « ((title)) ».\n\n"
            "Référence : ((reference))\nÉmolument : ((fee_display))\n\n"
            "Suivez-la dans « Mes demandes » :\n((url))\n\n"
            "Gardez ce message comme accusé de réception.\n\n((commune))",
        },
        "de": {
            "subject": "((commune)): Ihr Gesuch ((reference)) ist eingereicht",
            "body": "Guten Tag\n\n((commune)) hat Ihr Gesuch «((title))» erhalten.\n\n"
            "Referenz: ((reference))\nGebühr: ((fee_display))\n\n"
            "Verfolgen Sie es unter «Meine Gesuche»:\n((url))\n\n"
            "Bewahren Sie diese Nachricht als Empfangsbestätigung auf.\n\n((commune))",
        },
        "it": {
            "subject": "((commune)): la sua domanda ((reference)) è inviata",
            "body": "Buongiorno,\n\n((commune)) ha ricevuto la sua domanda «((title))».\n\n"
            "Riferimento: ((reference))\nTassa: ((fee_display))\n\n"
            "La segua in «Le mie domande»:\n((url))\n\n"
            "Conservi questo messaggio come ricevuta.\n\n((commune))",
        },
        "en": {
            "subject": "((commune)): your request ((reference)) is submitted",
            "body": "Hello,\n\n((commune)) has received your request “((title))”.\n\n"
            "Reference: ((reference))\nFee: ((fee_display))\n\n"
            "Follow it in “My requests”:\n((url))\n\n"
            "Keep this message as your receipt.\n\n((commune))",
        },
    },
    "procedure.request.information_requested": {
        "fr": {
            "subject": "((commune)) : votre demande ((reference)) est à compléter",
            "body": "Bonjour,\n\n((commune)) a besoin de précisions sur votre demande "
            "« ((title)) » ((reference)) :\n\n((message))\n\n"
            "À corriger : ((fields_display))\n\nCorrigez-la et renvoyez-la ici :\n((url))"
            "\n\n((commune))",
        },
        "de": {
            "subject": "((commune)): Ihr Gesuch ((reference)) ist zu ergänzen",
            "body": "Guten Tag\n\n((commune)) braucht Angaben zu Ihrem Gesuch «((title))» "
            "((reference)):\n\n((message))\n\nZu korrigieren: ((fields_display))\n\n"
            "Korrigieren und senden Sie es hier erneut:\n((url))\n\n((commune))",
        },
        "it": {
            "subject": "((commune)): la sua domanda ((reference)) è da completare",
            "body": "Buongiorno,\n\n((commune)) ha bisogno di precisazioni sulla sua domanda "
            "«((title))» ((reference)):\n\n((message))\n\nDa correggere: "
            "((fields_display))\n\nLa corregga e la rinvii qui:\n((url))\n\n((commune))",
        },
        "en": {
            "subject": "((commune)): your request ((reference)) needs more information",
            "body": "Hello,\n\n((commune)) needs more about your request “((title))” "
            "((reference)):\n\n((message))\n\nTo correct: ((fields_display))\n\n"
            "Correct it and send it again here:\n((url))\n\n((commune))",
        },
    },
    "procedure.request.approved": {
        "fr": {
            "subject": "((commune)) : votre demande ((reference)) est acceptée",
            "body": "Bonjour,\n\n((commune)) a accepté votre demande « ((title)) » "
            "((reference)).\n\nDétails :\n((url))\n\n((commune))",
        },
        "de": {
            "subject": "((commune)): Ihr Gesuch ((reference)) ist bewilligt",
            "body": "Guten Tag\n\n((commune)) hat Ihr Gesuch «((title))» ((reference)) "
            "bewilligt.\n\nEinzelheiten:\n((url))\n\n((commune))",
        },
        "it": {
            "subject": "((commune)): la sua domanda ((reference)) è accettata",
            "body": "Buongiorno,\n\n((commune)) ha accettato la sua domanda «((title))» "
            "((reference)).\n\nDettagli:\n((url))\n\n((commune))",
        },
        "en": {
            "subject": "((commune)): your request ((reference)) is approved",
            "body": "Hello,\n\n((commune)) has approved your request “((title))” "
            "((reference)).\n\nDetails:\n((url))\n\n((commune))",
        },
    },
    "procedure.request.rejected": {
        "fr": {
            "subject": "((commune)) : votre demande ((reference)) est refusée",
            "body": "Bonjour,\n\n((commune)) a refusé votre demande « ((title)) » "
            "((reference)).\n\nMotif : ((note))\n\nDétails :\n((url))\n\n((commune))",
        },
        "de": {
            "subject": "((commune)): Ihr Gesuch ((reference)) ist abgelehnt",
            "body": "Guten Tag\n\n((commune)) hat Ihr Gesuch «((title))» ((reference)) "
            "abgelehnt.\n\nBegründung: ((note))\n\nEinzelheiten:\n((url))\n\n((commune))",
        },
        "it": {
            "subject": "((commune)): la sua domanda ((reference)) è respinta",
            "body": "Buongiorno,\n\n((commune)) ha respinto la sua domanda «((title))» "
            "((reference)).\n\nMotivo: ((note))\n\nDettagli:\n((url))\n\n((commune))",
        },
        "en": {
            "subject": "((commune)): your request ((reference)) is rejected",
            "body": "Hello,\n\n((commune)) has rejected your request “((title))” "
            "((reference)).\n\nReason: ((note))\n\nDetails:\n((url))\n\n((commune))",
        },
    },
    "procedure.mandate.requested": {
        "fr": {
            "subject": "((commune)) : ((mediator_name)) propose de faire une démarche pour vous",
            "body": "Bonjour ((citizen_name)),\n\n((mediator_name)) propose de faire pour vous "
            "la démarche « ((title)) » auprès de ((commune)).\n\nSi vous êtes d'accord, "
            "confirmez ici (vous pourrez retirer ce mandat à tout moment) :\n((url))\n\n"
            "Sinon, ignorez ce message.\n\n((commune))",
        },
        "de": {
            "subject": "((commune)): ((mediator_name)) möchte ein Gesuch für Sie einreichen",
            "body": "Guten Tag ((citizen_name))\n\n((mediator_name)) möchte das Verfahren "
            "«((title))» bei ((commune)) für Sie erledigen.\n\nWenn Sie einverstanden sind, "
            "bestätigen Sie hier (Sie können das Mandat jederzeit widerrufen):\n((url))\n\n"
            "Sonst ignorieren Sie diese Nachricht.\n\n((commune))",
        },
        "it": {
            "subject": "((commune)): ((mediator_name)) propone di fare una pratica per lei",
            "body": "Buongiorno ((citizen_name)),\n\n((mediator_name)) propone di fare per lei "
            "la pratica «((title))» presso ((commune)).\n\nSe è d'accordo, confermi qui "
            "(potrà revocare il mandato in ogni momento):\n((url))\n\n"
            "Altrimenti ignori questo messaggio.\n\n((commune))",
        },
        "en": {
            "subject": "((commune)): ((mediator_name)) offers to file a request for you",
            "body": "Hello ((citizen_name)),\n\n((mediator_name)) offers to file “((title))” "
            "with ((commune)) for you.\n\nIf you agree, confirm here (you can revoke this "
            "mandate at any time):\n((url))\n\nOtherwise, ignore this message.\n\n"
            "((commune))",
        },
    },
    "alert.final_failure": {
        "en": {
            "subject": "[Socle notify] A delivery failed for good",
            "body": "A ((kind)) of tenant ((tenant)) could not be delivered after ((attempts)) "
            "attempts.\n\nId: ((id))\nReference: ((reference))\nLast error: ((error))\n\n"
            "Look it up with GET ((path)).",
        },
    },
}
