"""The citizen's pages (sandbox card form, QR-bill, closed payment) in de, fr, it and en."""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import DictLoader

from socle.web import CommuneLook, inline_stylesheet, templates
from socle_payment.models import Payment
from socle_payment.payments import minor_to_decimal
from socle_payment.tenant_settings import CreditorInfo

TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "creditor": "Compte / Payable à",
        "qr_reference": "Référence",
        "qr_code": "Code QR de la facture de {amount}",
        "title": "Paiement",
        "title_sandbox": "Paiement par carte",
        "title_qrbill": "Votre facture QR",
        "title_closed": "Paiement terminé",
        "title_error": "Paiement impossible",
        "amount": "Montant",
        "next": "Une fois le paiement reçu, votre demande suit son cours ; vous n'avez "
        "rien d'autre à faire.",
        "back_closed": "Continuer",
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
        "creditor": "Konto / Zahlbar an",
        "qr_reference": "Referenz",
        "qr_code": "QR-Code der Rechnung über {amount}",
        "title": "Zahlung",
        "title_sandbox": "Zahlung mit Karte",
        "title_qrbill": "Ihre QR-Rechnung",
        "title_closed": "Zahlung abgeschlossen",
        "title_error": "Zahlung nicht möglich",
        "amount": "Betrag",
        "next": "Sobald die Zahlung eingegangen ist, wird Ihr Gesuch weiterbearbeitet; "
        "Sie müssen nichts weiter tun.",
        "back_closed": "Weiter",
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
        "creditor": "Conto / Pagabile a",
        "qr_reference": "Riferimento",
        "qr_code": "Codice QR della fattura di {amount}",
        "title": "Pagamento",
        "title_sandbox": "Pagamento con carta",
        "title_qrbill": "La sua fattura QR",
        "title_closed": "Pagamento concluso",
        "title_error": "Pagamento impossibile",
        "amount": "Importo",
        "next": "Ricevuto il pagamento, la sua domanda prosegue; non deve fare altro.",
        "back_closed": "Continua",
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
        "creditor": "Account / Payable to",
        "qr_reference": "Reference",
        "qr_code": "QR code of the bill for {amount}",
        "title": "Payment",
        "title_sandbox": "Pay by card",
        "title_qrbill": "Your QR-bill",
        "title_closed": "Payment finished",
        "title_error": "Payment not possible",
        "amount": "Amount",
        "next": "Once the payment is received, your request goes on; you have nothing else to do.",
        "back_closed": "Continue",
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

PAGE = """{% extends "socle/base.html" %}
{% block content %}
<h1>{{ page_title }}</h1>
{% if error %}<div class="notice notice-error" role="alert"><p>{{ error }}</p></div>{% endif %}
{% if payment %}<p class="lead">{{ payment.description }}</p>
<p class="amount"><span class="visually-hidden">{{ t.amount }}: </span>
{{ payment.currency }} {{ amount }}</p>{% endif %}
{% if kind == "sandbox" %}
<form method="post" action="">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<div class="field">
<label for="card_number">{{ t.card }}</label>
<p class="hint" id="card_number-hint">{{ t.sandbox }}</p>
<input id="card_number" name="card_number" type="text" inputmode="numeric" autocomplete="off"
 required maxlength="23" class="w-20" aria-describedby="card_number-hint">
</div>
<button class="button" type="submit">{{ t.pay }}</button>
</form>
{% elif kind == "qrbill" %}
<p>{{ t.qr }}</p>
{% if creditor %}<dl class="summary">
<div><dt>{{ t.creditor }}</dt><dd class="creditor">{{ creditor.account }}<br>
{% for line in creditor.lines %}{{ line }}{% if not loop.last %}<br>{% endif %}{% endfor %}
</dd></div>
<div><dt>{{ t.qr_reference }}</dt><dd class="qr-reference">{{ creditor.reference }}</dd></div>
<div><dt>{{ t.amount }}</dt><dd>{{ payment.currency }} {{ amount }}</dd></div>
</dl>{% endif %}
<p><img class="qr-bill" src="{{ page_url }}/qr-bill.svg?lang={{ lang }}"
 alt="{{ t.qr_code.format(amount=payment.currency ~ ' ' ~ amount) }}"></p>
<p><a class="button secondary" href="{{ page_url }}/qr-bill.pdf?lang={{ lang }}">{{ t.pdf }}</a></p>
<p>{{ t.next }}</p>
{% elif kind == "closed" %}
<p>{{ t.closed }}</p>
{% endif %}
{% if payment %}<p><a{% if kind != "sandbox" %} class="button"{% endif %}
 href="{{ payment.return_url }}">
{{ t.back_closed if kind in ("closed", "qrbill") else t.back }}</a></p>{% endif %}
{% endblock %}
"""


@dataclass(frozen=True)
class Creditor:
    """Who a QR-bill is payable to, and its reference, as printed on the bill."""

    account: str
    lines: list[str]
    reference: str

    @classmethod
    def of(cls, creditor: CreditorInfo, payment: Payment) -> Creditor | None:
        if payment.provider != "qrbill" or not payment.qr_reference:
            return None
        iban = creditor.iban.replace(" ", "")
        ref = payment.qr_reference
        return cls(
            account=" ".join(iban[i : i + 4] for i in range(0, len(iban), 4)),
            lines=[
                creditor.name,
                f"{creditor.street} {creditor.house_number}".strip(),
                f"{creditor.postal_code} {creditor.city}",
            ],
            # printed as on the bill: 2 digits, then groups of 5
            reference=" ".join([ref[:2]] + [ref[i : i + 5] for i in range(2, len(ref), 5)]),
        )


_env = templates(DictLoader({"page.html": PAGE}))
_STYLES = inline_stylesheet()


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
    creditor: Creditor | None = None,
) -> str:
    texts = TEXTS.get(lang, TEXTS["fr"])
    look = CommuneLook()
    return _env.get_template("page.html").render(
        lang=lang if lang in TEXTS else "fr",
        page_title=texts.get(f"title_{kind}", texts["title"]),
        commune=look.commune,
        inline_css=_STYLES,
        nonce="",
        t=texts,
        kind=kind,
        payment=payment,
        amount=minor_to_decimal(payment.amount) if payment else "",
        page_url=page_url,
        csrf=csrf,
        error=texts[error_key] if error_key else None,
        creditor=creditor,
    )
