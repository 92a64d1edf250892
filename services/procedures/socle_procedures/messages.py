"""What a wrong answer is told, in the citizen's language (the API answers in English)."""

from __future__ import annotations

from socle.web.i18n import format_money, localized
from socle_procedures.definitions.answers import AnswerError

MESSAGES: dict[str, dict[str, str]] = {
    "required": {
        "fr": "Répondez à « {label} ».",
        "de": "Beantworten Sie «{label}».",
        "it": "Risponda a «{label}».",
        "en": "Answer “{label}”.",
    },
    "invalid": {
        "fr": "« {label} » n'est pas valable.",
        "de": "«{label}» ist ungültig.",
        "it": "«{label}» non è valido.",
        "en": "“{label}” is not valid.",
    },
    "too_short": {
        "fr": "« {label} » doit compter au moins {min} caractères.",
        "de": "«{label}» muss mindestens {min} Zeichen lang sein.",
        "it": "«{label}» deve contare almeno {min} caratteri.",
        "en": "“{label}” must be at least {min} characters.",
    },
    "too_long": {
        "fr": "« {label} » doit compter au plus {max} caractères.",
        "de": "«{label}» darf höchstens {max} Zeichen lang sein.",
        "it": "«{label}» può contare al massimo {max} caratteri.",
        "en": "“{label}” must be {max} characters or fewer.",
    },
    "pattern": {
        "fr": "« {label} » n'a pas la bonne forme.",
        "de": "«{label}» hat nicht das richtige Format.",
        "it": "«{label}» non ha il formato corretto.",
        "en": "“{label}” is not in the right format.",
    },
    "not_a_number": {
        "fr": "« {label} » doit être un nombre entier.",
        "de": "«{label}» muss eine ganze Zahl sein.",
        "it": "«{label}» deve essere un numero intero.",
        "en": "“{label}” must be a whole number.",
    },
    "too_small": {
        "fr": "« {label} » doit être d'au moins {min}.",
        "de": "«{label}» muss mindestens {min} sein.",
        "it": "«{label}» deve essere almeno {min}.",
        "en": "“{label}” must be {min} or more.",
    },
    "too_large": {
        "fr": "« {label} » doit être d'au plus {max}.",
        "de": "«{label}» darf höchstens {max} sein.",
        "it": "«{label}» può essere al massimo {max}.",
        "en": "“{label}” must be {max} or less.",
    },
    "not_money": {
        "fr": "« {label} » doit être un montant en francs, par exemple 250000 ou 1250.50.",
        "de": "«{label}» muss ein Betrag in Franken sein, zum Beispiel 250000 oder 1250.50.",
        "it": "«{label}» deve essere un importo in franchi, per esempio 250000 o 1250.50.",
        "en": "“{label}” must be an amount in francs, for example 250000 or 1250.50.",
    },
    "too_small_money": {
        "fr": "« {label} » doit être d'au moins {min}.",
        "de": "«{label}» muss mindestens {min} betragen.",
        "it": "«{label}» deve essere almeno {min}.",
        "en": "“{label}” must be at least {min}.",
    },
    "too_large_money": {
        "fr": "« {label} » doit être d'au plus {max}.",
        "de": "«{label}» darf höchstens {max} betragen.",
        "it": "«{label}» può essere al massimo {max}.",
        "en": "“{label}” must be at most {max}.",
    },
    "not_a_date": {
        "fr": "« {label} » doit être une date réelle, par exemple 31.12.2020.",
        "de": "«{label}» muss ein gültiges Datum sein, zum Beispiel 31.12.2020.",
        "it": "«{label}» deve essere una data reale, per esempio 31.12.2020.",
        "en": "“{label}” must be a real date, for example 31.12.2020.",
    },
    "date_in_future": {
        "fr": "« {label} » ne peut pas être dans le futur.",
        "de": "«{label}» darf nicht in der Zukunft liegen.",
        "it": "«{label}» non può essere nel futuro.",
        "en": "“{label}” cannot be in the future.",
    },
    "date_in_past": {
        "fr": "« {label} » ne peut pas être dans le passé.",
        "de": "«{label}» darf nicht in der Vergangenheit liegen.",
        "it": "«{label}» non può essere nel passato.",
        "en": "“{label}” cannot be in the past.",
    },
    "date_too_early": {
        "fr": "« {label} » doit être le {min} ou après.",
        "de": "«{label}» muss am {min} oder später sein.",
        "it": "«{label}» deve essere il {min} o dopo.",
        "en": "“{label}” must be on or after {min}.",
    },
    "date_too_late": {
        "fr": "« {label} » doit être le {max} ou avant.",
        "de": "«{label}» muss am {max} oder früher sein.",
        "it": "«{label}» deve essere il {max} o prima.",
        "en": "“{label}” must be on or before {max}.",
    },
    "not_an_email": {
        "fr": "« {label} » doit être une adresse e-mail, comme nom@exemple.ch.",
        "de": "«{label}» muss eine E-Mail-Adresse sein, wie name@beispiel.ch.",
        "it": "«{label}» deve essere un indirizzo e-mail, come nome@esempio.ch.",
        "en": "“{label}” must be an email address, like name@example.ch.",
    },
    "not_a_phone": {
        "fr": "« {label} » doit être un numéro de téléphone, comme 021 123 45 67.",
        "de": "«{label}» muss eine Telefonnummer sein, wie 031 123 45 67.",
        "it": "«{label}» deve essere un numero di telefono, come 091 123 45 67.",
        "en": "“{label}” must be a phone number, like +41 21 123 45 67.",
    },
    "not_an_option": {
        "fr": "Choisissez une réponse pour « {label} ».",
        "de": "Wählen Sie eine Antwort für «{label}».",
        "it": "Scelga una risposta per «{label}».",
        "en": "Choose an answer for “{label}”.",
    },
    "not_yes_no": {
        "fr": "Répondez oui ou non à « {label} ».",
        "de": "Antworten Sie mit Ja oder Nein auf «{label}».",
        "it": "Risponda sì o no a «{label}».",
        "en": "Answer yes or no to “{label}”.",
    },
    "address_incomplete": {
        "fr": "« {label} » : indiquez la rue, le numéro postal et la localité.",
        "de": "«{label}»: Geben Sie Strasse, Postleitzahl und Ort an.",
        "it": "«{label}»: indichi via, numero postale e località.",
        "en": "“{label}”: give the street, postcode and locality.",
    },
    "postal_code": {
        "fr": "« {label} » : le numéro postal a 4 chiffres.",
        "de": "«{label}»: Die Postleitzahl hat 4 Ziffern.",
        "it": "«{label}»: il numero postale ha 4 cifre.",
        "en": "“{label}”: the postcode has 4 digits.",
    },
    "not_a_point": {
        "fr": "« {label} » : indiquez les coordonnées est et nord, en mètres.",
        "de": "«{label}»: Geben Sie die Koordinaten Ost und Nord in Metern an.",
        "it": "«{label}»: indichi le coordinate est e nord, in metri.",
        "en": "“{label}”: give the east and north coordinates, in metres.",
    },
    "point_outside": {
        "fr": "« {label} » : ce point n'est pas en Suisse (MN95).",
        "de": "«{label}»: Dieser Punkt liegt nicht in der Schweiz (LV95).",
        "it": "«{label}»: questo punto non è in Svizzera (MN95).",
        "en": "“{label}”: this point is not in Switzerland (LV95).",
    },
    "not_a_document": {
        "fr": "« {label} » : joignez un fichier.",
        "de": "«{label}»: Fügen Sie eine Datei bei.",
        "it": "«{label}»: alleghi un file.",
        "en": "“{label}”: attach a file.",
    },
    "document_type": {
        "fr": "« {label} » : ce type de fichier n'est pas accepté.",
        "de": "«{label}»: Dieser Dateityp wird nicht angenommen.",
        "it": "«{label}»: questo tipo di file non è accettato.",
        "en": "“{label}”: this type of file is not accepted.",
    },
    "document_size": {
        "fr": "« {label} » : le fichier est trop volumineux.",
        "de": "«{label}»: Die Datei ist zu gross.",
        "it": "«{label}»: il file è troppo grande.",
        "en": "“{label}”: the file is too large.",
    },
    "document_empty": {
        "fr": "« {label} » : le fichier est vide.",
        "de": "«{label}»: Die Datei ist leer.",
        "it": "«{label}»: il file è vuoto.",
        "en": "“{label}”: the file is empty.",
    },
    "document_infected": {
        "fr": "« {label} » : ce fichier contient un virus ; il n'a pas été gardé.",
        "de": "«{label}»: Diese Datei enthält ein Virus; sie wurde nicht behalten.",
        "it": "«{label}»: questo file contiene un virus; non è stato conservato.",
        "en": "“{label}”: this file contains a virus; it was not kept.",
    },
    "document_unreadable": {
        "fr": "« {label} » : ce fichier n'a pas pu être lu ; essayez un autre fichier.",
        "de": "«{label}»: Diese Datei konnte nicht gelesen werden; versuchen Sie eine andere.",
        "it": "«{label}»: questo file non ha potuto essere letto; provi un altro file.",
        "en": "“{label}”: this file could not be read; try another file.",
    },
}


def message(error: AnswerError, label: str, lang: str) -> str:
    """The sentence shown next to the field (and in the error summary)."""
    custom = error.params.get("message")
    if error.code == "pattern" and custom:
        return localized(custom, lang)
    params = {
        k: (format_money(v, "CHF", lang) if error.code.endswith("_money") else v)
        for k, v in error.params.items()
        if k != "message"
    }
    template = MESSAGES.get(error.code, MESSAGES["invalid"])
    return localized(template, lang).format(label=label, **params)
