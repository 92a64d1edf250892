"""Citizen-facing text in French, German, Italian and English."""

from __future__ import annotations

from starlette.requests import Request

from socle_identity.export_texts import EXPORT_MESSAGES

LOCALES = ("fr", "de", "it", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "check_email_title": {
        "fr": "Compte créé : confirmez votre adresse",
        "de": "Konto erstellt: Adresse bestätigen",
        "it": "Conto creato: confermi il suo indirizzo",
        "en": "Account created: confirm your address",
    },
    "email_verified_title": {
        "fr": "Adresse e-mail confirmée",
        "de": "E-Mail-Adresse bestätigt",
        "it": "Indirizzo e-mail confermato",
        "en": "Email address confirmed",
    },
    "reset_sent_title": {
        "fr": "E-mail de réinitialisation envoyé",
        "de": "E-Mail zum Zurücksetzen gesendet",
        "it": "E-mail di reimpostazione inviata",
        "en": "Reset email sent",
    },
    "password_changed_title": {
        "fr": "Mot de passe changé",
        "de": "Passwort geändert",
        "it": "Password cambiata",
        "en": "Password changed",
    },
    "logged_out_title": {
        "fr": "Déconnexion",
        "de": "Abmeldung",
        "it": "Disconnessione",
        "en": "Logged out",
    },
    "back_to_portal": {
        "fr": "Retour au guichet en ligne",
        "de": "Zurück zum Online-Schalter",
        "it": "Torna allo sportello online",
        "en": "Back to the online counter",
    },
    "login_title": {
        "fr": "Connexion",
        "de": "Anmeldung",
        "it": "Accesso",
        "en": "Log in",
    },
    "login_intro": {
        "fr": "Connectez-vous pour continuer vers {client}.",
        "de": "Melden Sie sich an, um zu {client} weiterzugehen.",
        "it": "Accedete per continuare verso {client}.",
        "en": "Log in to continue to {client}.",
    },
    "email": {
        "fr": "Adresse e-mail",
        "de": "E-Mail-Adresse",
        "it": "Indirizzo e-mail",
        "en": "E-mail address",
    },
    "password": {"fr": "Mot de passe", "de": "Passwort", "it": "Password", "en": "Password"},
    "submit_login": {"fr": "Se connecter", "de": "Anmelden", "it": "Accedi", "en": "Log in"},
    "invalid_credentials": {
        "fr": "Adresse e-mail ou mot de passe incorrect.",
        "de": "E-Mail-Adresse oder Passwort ist falsch.",
        "it": "Indirizzo e-mail o password errati.",
        "en": "Wrong e-mail address or password.",
    },
    "locked": {
        "fr": "Trop d'essais infructueux : ce compte est bloqué. Réessayez dans {minutes} minutes "
        "ou réinitialisez votre mot de passe.",
        "de": "Zu viele Fehlversuche: dieses Konto ist gesperrt. Versuchen Sie es in {minutes} "
        "Minuten erneut oder setzen Sie Ihr Passwort zurück.",
        "it": "Troppi tentativi falliti: questo account è bloccato. Riprovate tra {minutes} "
        "minuti o reimpostate la password.",
        "en": "Too many failed attempts: this account is locked. Try again in {minutes} minutes "
        "or reset your password.",
    },
    "csrf": {
        "fr": "Le formulaire a expiré. Rechargez la page et réessayez.",
        "de": "Das Formular ist abgelaufen. Laden Sie die Seite neu und versuchen Sie es erneut.",
        "it": "Il modulo è scaduto. Ricaricate la pagina e riprovate.",
        "en": "The form has expired. Reload the page and try again.",
    },
    "totp_title": {
        "fr": "Deuxième facteur",
        "de": "Zweiter Faktor",
        "it": "Secondo fattore",
        "en": "Second factor",
    },
    "totp_code": {
        "fr": "Code de votre application d'authentification (ou code de récupération)",
        "de": "Code Ihrer Authentifizierungs-App (oder Wiederherstellungscode)",
        "it": "Codice della vostra app di autenticazione (o codice di recupero)",
        "en": "Code from your authenticator app (or a recovery code)",
    },
    "submit_verify": {"fr": "Vérifier", "de": "Prüfen", "it": "Verifica", "en": "Verify"},
    "invalid_code": {
        "fr": "Code incorrect.",
        "de": "Falscher Code.",
        "it": "Codice errato.",
        "en": "Wrong code.",
    },
    "error_title": {"fr": "Erreur", "de": "Fehler", "it": "Errore", "en": "Error"},
    "logged_out": {
        "fr": "Vous êtes déconnecté.",
        "de": "Sie sind abgemeldet.",
        "it": "Siete disconnessi.",
        "en": "You are logged out.",
    },
    "register_title": {
        "fr": "Créer un compte",
        "de": "Konto erstellen",
        "it": "Creare un account",
        "en": "Create an account",
    },
    "given_name": {"fr": "Prénom", "de": "Vorname", "it": "Nome", "en": "Given name"},
    "family_name": {"fr": "Nom", "de": "Nachname", "it": "Cognome", "en": "Family name"},
    "submit_register": {
        "fr": "Créer le compte",
        "de": "Konto erstellen",
        "it": "Crea l'account",
        "en": "Create the account",
    },
    "check_email": {
        "fr": "Nous vous avons envoyé un e-mail : cliquez sur le lien qu'il contient pour "
        "confirmer votre adresse.",
        "de": "Wir haben Ihnen eine E-Mail geschickt: Klicken Sie auf den Link darin, um Ihre "
        "Adresse zu bestätigen.",
        "it": "Vi abbiamo inviato un'e-mail: cliccate sul link che contiene per confermare il "
        "vostro indirizzo.",
        "en": "We sent you an e-mail: follow its link to confirm your address.",
    },
    "email_verified": {
        "fr": "Votre adresse e-mail est confirmée.",
        "de": "Ihre E-Mail-Adresse ist bestätigt.",
        "it": "Il vostro indirizzo e-mail è confermato.",
        "en": "Your e-mail address is confirmed.",
    },
    "link_invalid": {
        "fr": "Ce lien n'est plus valable. Demandez-en un nouveau.",
        "de": "Dieser Link ist nicht mehr gültig. Fordern Sie einen neuen an.",
        "it": "Questo link non è più valido. Richiedetene uno nuovo.",
        "en": "This link is no longer valid. Ask for a new one.",
    },
    "reset_title": {
        "fr": "Mot de passe oublié",
        "de": "Passwort vergessen",
        "it": "Password dimenticata",
        "en": "Forgotten password",
    },
    "submit_reset": {
        "fr": "Envoyer le lien",
        "de": "Link senden",
        "it": "Invia il link",
        "en": "Send the link",
    },
    "reset_sent": {
        "fr": "Si un compte existe pour cette adresse, un e-mail avec un lien vient de partir.",
        "de": "Falls ein Konto zu dieser Adresse besteht, wurde eine E-Mail mit einem Link "
        "verschickt.",
        "it": "Se esiste un account per questo indirizzo, è stata inviata un'e-mail con un link.",
        "en": "If an account exists for this address, an e-mail with a link is on its way.",
    },
    "new_password": {
        "fr": "Nouveau mot de passe",
        "de": "Neues Passwort",
        "it": "Nuova password",
        "en": "New password",
    },
    "password_changed": {
        "fr": "Votre mot de passe est changé. Vous pouvez vous connecter.",
        "de": "Ihr Passwort ist geändert. Sie können sich anmelden.",
        "it": "La password è cambiata. Potete accedere.",
        "en": "Your password is changed. You can log in.",
    },
    "weak_password": {
        "fr": "Le mot de passe doit compter au moins 10 caractères.",
        "de": "Das Passwort muss mindestens 10 Zeichen lang sein.",
        "it": "La password deve contenere almeno 10 caratteri.",
        "en": "The password must have at least 10 characters.",
    },
    "invalid_email": {
        "fr": "Indiquez une adresse e-mail valable.",
        "de": "Geben Sie eine gültige E-Mail-Adresse an.",
        "it": "Indicate un indirizzo e-mail valido.",
        "en": "Give a valid e-mail address.",
    },
    "login_with": {
        "fr": "Se connecter avec {provider}",
        "de": "Mit {provider} anmelden",
        "it": "Accedi con {provider}",
        "en": "Log in with {provider}",
    },
    "register_link": {
        "fr": "Créer un compte",
        "de": "Konto erstellen",
        "it": "Creare un account",
        "en": "Create an account",
    },
    "forgot_link": {
        "fr": "Mot de passe oublié ?",
        "de": "Passwort vergessen?",
        "it": "Password dimenticata?",
        "en": "Forgot your password?",
    },
    "bad_request": {
        "fr": "Cette demande de connexion n'est pas valable ; retournez à l'application.",
        "de": "Diese Anmeldeanfrage ist ungültig; kehren Sie zur Anwendung zurück.",
        "it": "Questa richiesta di accesso non è valida; tornate all'applicazione.",
        "en": "This login request is not valid; go back to the application.",
    },
    "consent_title": {
        "fr": "Autorisation",
        "de": "Zustimmung",
        "it": "Autorizzazione",
        "en": "Permission",
    },
    "consent_intro": {
        "fr": "{client} demande à :",
        "de": "{client} möchte:",
        "it": "{client} chiede di:",
        "en": "{client} asks to:",
    },
    "allow": {"fr": "Autoriser", "de": "Erlauben", "it": "Autorizza", "en": "Allow"},
    "deny": {"fr": "Refuser", "de": "Ablehnen", "it": "Rifiuta", "en": "Deny"},
    "select_title": {
        "fr": "Choisir le compte",
        "de": "Konto wählen",
        "it": "Scegliere l'account",
        "en": "Choose the account",
    },
    "select_intro": {
        "fr": "Vous êtes connecté en tant que {who}. Continuer vers {client} avec ce compte ?",
        "de": "Sie sind als {who} angemeldet. Mit diesem Konto zu {client} weitergehen?",
        "it": "Siete connessi come {who}. Continuare verso {client} con questo account?",
        "en": "You are logged in as {who}. Continue to {client} with this account?",
    },
    "continue": {
        "fr": "Continuer avec ce compte",
        "de": "Mit diesem Konto weiter",
        "it": "Continua con questo account",
        "en": "Continue with this account",
    },
    "use_other": {
        "fr": "Utiliser un autre compte",
        "de": "Ein anderes Konto verwenden",
        "it": "Usa un altro account",
        "en": "Use another account",
    },
    "logout_title": {
        "fr": "Déconnexion",
        "de": "Abmeldung",
        "it": "Disconnessione",
        "en": "Log out",
    },
    "logout_confirm": {
        "fr": "Voulez-vous vous déconnecter ?",
        "de": "Möchten Sie sich abmelden?",
        "it": "Volete disconnettervi?",
        "en": "Do you want to log out?",
    },
    "submit_logout": {
        "fr": "Se déconnecter",
        "de": "Abmelden",
        "it": "Disconnetti",
        "en": "Log out",
    },
}

SCOPE_LABELS: dict[str, dict[str, str]] = {
    "openid": {
        "fr": "vous identifier",
        "de": "Sie identifizieren",
        "it": "identificarvi",
        "en": "identify you",
    },
    "profile": {
        "fr": "connaître votre nom et votre langue",
        "de": "Ihren Namen und Ihre Sprache kennen",
        "it": "conoscere il vostro nome e la vostra lingua",
        "en": "know your name and language",
    },
    "email": {
        "fr": "connaître votre adresse e-mail",
        "de": "Ihre E-Mail-Adresse kennen",
        "it": "conoscere il vostro indirizzo e-mail",
        "en": "know your e-mail address",
    },
    "offline_access": {
        "fr": "agir pour vous quand vous n'êtes pas connecté",
        "de": "für Sie handeln, wenn Sie nicht angemeldet sind",
        "it": "agire per voi quando non siete connessi",
        "en": "act for you while you are not logged in",
    },
    "payments:read": {
        "fr": "voir vos paiements",
        "de": "Ihre Zahlungen einsehen",
        "it": "vedere i vostri pagamenti",
        "en": "see your payments",
    },
    "payments:write": {
        "fr": "créer et annuler des paiements",
        "de": "Zahlungen erstellen und stornieren",
        "it": "creare e annullare pagamenti",
        "en": "create and cancel payments",
    },
    "documents:read": {
        "fr": "voir vos documents",
        "de": "Ihre Dokumente einsehen",
        "it": "vedere i vostri documenti",
        "en": "see your documents",
    },
    "documents:write": {
        "fr": "déposer et modifier des documents",
        "de": "Dokumente hochladen und ändern",
        "it": "caricare e modificare documenti",
        "en": "upload and change documents",
    },
    "procedures:read": {
        "fr": "voir vos démarches",
        "de": "Ihre Verfahren einsehen",
        "it": "vedere le vostre pratiche",
        "en": "see your procedures",
    },
    "procedures:write": {
        "fr": "déposer et suivre des démarches",
        "de": "Verfahren einreichen und verfolgen",
        "it": "inoltrare e seguire pratiche",
        "en": "submit and follow procedures",
    },
}


def scope_label(scope: str, request: Request, default: str = "fr") -> str:
    """What a scope lets the application do, in the page's language (the scope's name for
    scopes without a description)."""
    labels = SCOPE_LABELS.get(scope)
    if labels is None:
        return scope
    return labels.get(pick(request, default)) or labels["en"]


def pick(request: Request, default: str = "fr") -> str:
    """``lang`` or ``ui_locales`` in the query, then the ``socle_lang`` cookie, then
    ``Accept-Language``."""
    for candidate in (
        request.query_params.get("lang"),
        *(request.query_params.get("ui_locales") or "").split(),
        request.cookies.get("socle_lang"),
    ):
        if candidate and candidate[:2].lower() in LOCALES:
            return candidate[:2].lower()
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        lang = tag.strip()[:2].lower()
        if lang in LOCALES and quality > 0:
            ranked.append((-quality, index, lang))
    return sorted(ranked)[0][2] if ranked else default


MESSAGES.update(EXPORT_MESSAGES)


class Translator:
    def __init__(self, locale: str) -> None:
        self.locale = locale

    def __call__(self, key: str, **values: object) -> str:
        text = MESSAGES[key].get(self.locale) or MESSAGES[key]["en"]
        return text.format(**values) if values else text
