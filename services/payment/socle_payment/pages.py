"""The citizen's pages (sandbox card form, QR-bill, closed payment) in de, fr, it and en."""

from __future__ import annotations

from jinja2 import DictLoader, Environment, select_autoescape

from socle_payment.models import Payment
from socle_payment.payments import minor_to_decimal

TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Paiement",
        "card": "Numéro de carte",
        "pay": "Payer",
        "sandbox": "Page de test : aucun argent réel. Acceptée : 4242 4242 4242 4242 ; "
        "refusée : 4000 0000 0000 0002.",
        "qr": "Payez cette facture avec votre application bancaire (scannez le code QR) "
        "ou à la poste.",
        "pdf": "Télécharger la facture (PDF)",
        "closed": "Ce paiement n'est plus ouvert.",
        "back": "Retour",
        "unknown_card": "Utilisez une carte de test.",
        "csrf": "Le formulaire a expiré ; rechargez la page.",
        "not_found": "Cette page de paiement n'existe pas.",
        "down": "Le prestataire de paiement est injoignable ; réessayez dans un instant.",
    },
    "de": {
        "title": "Zahlung",
        "card": "Kartennummer",
        "pay": "Bezahlen",
        "sandbox": "Testseite: kein echtes Geld. Angenommen: 4242 4242 4242 4242; "
        "abgelehnt: 4000 0000 0000 0002.",
        "qr": "Bezahlen Sie diese Rechnung mit Ihrer Banking-App (QR-Code scannen) "
        "oder am Postschalter.",
        "pdf": "Rechnung herunterladen (PDF)",
        "closed": "Diese Zahlung ist nicht mehr offen.",
        "back": "Zurück",
        "unknown_card": "Verwenden Sie eine Testkarte.",
        "csrf": "Das Formular ist abgelaufen; laden Sie die Seite neu.",
        "not_found": "Diese Zahlungsseite gibt es nicht.",
        "down": "Der Zahlungsanbieter ist nicht erreichbar; versuchen Sie es gleich nochmals.",
    },
    "it": {
        "title": "Pagamento",
        "card": "Numero di carta",
        "pay": "Paga",
        "sandbox": "Pagina di prova: nessun denaro reale. Accettata: 4242 4242 4242 4242; "
        "rifiutata: 4000 0000 0000 0002.",
        "qr": "Paghi questa fattura con la sua app bancaria (scansioni il codice QR) o alla posta.",
        "pdf": "Scaricare la fattura (PDF)",
        "closed": "Questo pagamento non è più aperto.",
        "back": "Indietro",
        "unknown_card": "Usi una carta di prova.",
        "csrf": "Il modulo è scaduto; ricarichi la pagina.",
        "not_found": "Questa pagina di pagamento non esiste.",
        "down": "Il fornitore di pagamento non è raggiungibile; riprovi tra un momento.",
    },
    "en": {
        "title": "Payment",
        "card": "Card number",
        "pay": "Pay",
        "sandbox": "Test page: no real money. Accepted: 4242 4242 4242 4242; "
        "declined: 4000 0000 0000 0002.",
        "qr": "Pay this bill with your banking app (scan the QR code) or at the post office.",
        "pdf": "Download the bill (PDF)",
        "closed": "This payment is no longer open.",
        "back": "Back",
        "unknown_card": "Use a test card.",
        "csrf": "The form expired; reload the page.",
        "not_found": "This payment page does not exist.",
        "down": "The payment provider cannot be reached; try again in a moment.",
    },
}

PAGE = """<!doctype html>
<html lang="{{ lang }}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ t.title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}
.amount{font-size:1.6rem;font-weight:bold}.error{color:#b00020}.note{color:#555}
img{max-width:100%;border:1px solid #ccc}</style></head>
<body>
<h1>{{ t.title }}</h1>
{% if payment %}<p>{{ payment.description }}</p>
<p class="amount">{{ payment.currency }} {{ amount }}</p>{% endif %}
{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
{% if kind == "sandbox" %}
<form method="post" action="">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<label>{{ t.card }} <input name="card_number" inputmode="numeric" autocomplete="off"
 required maxlength="23"></label>
<button type="submit">{{ t.pay }}</button>
</form>
<p class="note">{{ t.sandbox }}</p>
{% elif kind == "qrbill" %}
<p>{{ t.qr }}</p>
<p><img src="{{ page_url }}/qr-bill.svg?lang={{ lang }}" alt="QR-bill"></p>
<p><a href="{{ page_url }}/qr-bill.pdf?lang={{ lang }}">{{ t.pdf }}</a></p>
{% elif kind == "closed" %}
<p>{{ t.closed }}</p>
{% endif %}
{% if payment %}<p><a href="{{ payment.return_url }}">{{ t.back }}</a></p>{% endif %}
</body></html>
"""

_env = Environment(loader=DictLoader({"page.html": PAGE}), autoescape=select_autoescape(["html"]))


def language(accept_language: str | None) -> str:
    """The first of de, fr, it, en the browser asks for; French otherwise."""
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in TEXTS:
            return code
    return "fr"


def render(
    lang: str,
    kind: str,
    *,
    payment: Payment | None = None,
    page_url: str = "",
    csrf: str = "",
    error_key: str | None = None,
) -> str:
    texts = TEXTS.get(lang, TEXTS["fr"])
    return _env.get_template("page.html").render(
        lang=lang,
        t=texts,
        kind=kind,
        payment=payment,
        amount=minor_to_decimal(payment.amount) if payment else "",
        page_url=page_url,
        csrf=csrf,
        error=texts[error_key] if error_key else None,
    )
