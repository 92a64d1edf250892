"""Texts of the mandate pages in the four languages."""

from __future__ import annotations

_KEYS = (
    "mandates",
    "offer",
    "confirm",
    "decline",
    "filed_by",
    "status",
    "revoke",
    "none",
    "pending",
    "live",
    "revoked",
    "paper",
    "email",
    "kind",
    "explain",
)

_VALUES = {
    "fr": (
        "Mes mandats",
        "{mediator} propose de faire cette démarche pour vous.",
        "Je confirme le mandat",
        "Je refuse",
        "Déposée par {mediator} pour {citizen}",
        "Statut",
        "Retirer le mandat",
        "Aucun mandat.",
        "À confirmer",
        "Actif",
        "Retiré",
        "Mandat papier signé",
        "Confirmé par lien",
        "Forme",
        "La personne pourra remplir et envoyer cette demande en votre nom. Vous la voyez "
        "dans « Mes demandes » et pouvez retirer le mandat à tout moment.",
    ),
    "de": (
        "Meine Mandate",
        "{mediator} möchte dieses Verfahren für Sie erledigen.",
        "Ich bestätige das Mandat",
        "Ich lehne ab",
        "Eingereicht von {mediator} für {citizen}",
        "Status",
        "Mandat widerrufen",
        "Keine Mandate.",
        "Zu bestätigen",
        "Aktiv",
        "Widerrufen",
        "Unterschriebenes Papiermandat",
        "Per Link bestätigt",
        "Form",
        "Die Person kann dieses Gesuch in Ihrem Namen ausfüllen und einreichen. Sie sehen "
        "es unter «Meine Gesuche» und können das Mandat jederzeit widerrufen.",
    ),
    "it": (
        "I miei mandati",
        "{mediator} propone di fare questa pratica per lei.",
        "Confermo il mandato",
        "Rifiuto",
        "Inoltrata da {mediator} per {citizen}",
        "Stato",
        "Revocare il mandato",
        "Nessun mandato.",
        "Da confermare",
        "Attivo",
        "Revocato",
        "Mandato cartaceo firmato",
        "Confermato tramite link",
        "Forma",
        "La persona potrà compilare e inoltrare questa domanda a suo nome. La vede in "
        "«Le mie domande» e può revocare il mandato in ogni momento.",
    ),
    "en": (
        "My mandates",
        "{mediator} offers to do this procedure for you.",
        "I confirm the mandate",
        "I decline",
        "Filed by {mediator} for {citizen}",
        "Status",
        "Revoke the mandate",
        "No mandate.",
        "To confirm",
        "Live",
        "Revoked",
        "Signed paper mandate",
        "Confirmed by link",
        "Form",
        "They can fill in and send this request in your name. You see it in “My "
        "requests” and can revoke the mandate at any time.",
    ),
}

TEXTS: dict[str, dict[str, str]] = {
    lang: dict(zip(_KEYS, values, strict=True)) for lang, values in _VALUES.items()
}
