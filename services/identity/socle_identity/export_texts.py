"""Text of the "download my data" pages, in French, German, Italian and English."""

from __future__ import annotations

EXPORT_MESSAGES: dict[str, dict[str, str]] = {
    "export_title": {
        "fr": "Télécharger mes données",
        "de": "Meine Daten herunterladen",
        "it": "Scaricare i miei dati",
        "en": "Download my data",
    },
    "export_intro": {
        "fr": "Nous rassemblons tout ce que la commune détient sur vous (compte, documents, "
        "paiements, messages, demandes) dans une archive ZIP. Vous recevrez un e-mail avec "
        "un lien dès qu'elle est prête ; le lien est valable un temps limité.",
        "de": "Wir stellen alles, was die Gemeinde über Sie gespeichert hat (Konto, Dokumente, "
        "Zahlungen, Nachrichten, Gesuche), in einem ZIP-Archiv zusammen. Sobald es bereit "
        "ist, erhalten Sie eine E-Mail mit einem Link; der Link ist befristet gültig.",
        "it": "Raccogliamo tutto ciò che il comune conserva su di lei (conto, documenti, "
        "pagamenti, messaggi, domande) in un archivio ZIP. Appena è pronto riceverà un'e-mail "
        "con un link; il link è valido per un tempo limitato.",
        "en": "We gather everything the commune holds about you (account, documents, "
        "payments, messages, requests) into a ZIP archive. You will get an email with a link "
        "as soon as it is ready; the link works for a limited time.",
    },
    "export_submit": {
        "fr": "Demander mes données",
        "de": "Meine Daten anfordern",
        "it": "Richiedere i miei dati",
        "en": "Ask for my data",
    },
    "export_in_progress": {
        "fr": "Votre demande est en cours : les services rassemblent vos données. Vous recevrez "
        "un e-mail dès que l'archive est prête.",
        "de": "Ihre Anfrage läuft: die Dienste stellen Ihre Daten zusammen. Sie erhalten eine "
        "E-Mail, sobald das Archiv bereit ist.",
        "it": "La sua richiesta è in corso: i servizi raccolgono i suoi dati. Riceverà un'e-mail "
        "appena l'archivio è pronto.",
        "en": "Your request is under way: the services are gathering your data. You will get "
        "an email as soon as the archive is ready.",
    },
    "export_reload": {
        "fr": "Actualiser l'état",
        "de": "Status aktualisieren",
        "it": "Aggiornare lo stato",
        "en": "Refresh the status",
    },
    "export_ready": {
        "fr": "Votre archive est prête.",
        "de": "Ihr Archiv ist bereit.",
        "it": "Il suo archivio è pronto.",
        "en": "Your archive is ready.",
    },
    "export_until": {
        "fr": "Le lien est valable jusqu'au {until} ; ensuite l'archive est supprimée.",
        "de": "Der Link ist bis {until} gültig; danach wird das Archiv gelöscht.",
        "it": "Il link è valido fino al {until}; poi l'archivio viene cancellato.",
        "en": "The link works until {until}; after that the archive is deleted.",
    },
    "export_download": {
        "fr": "Télécharger l'archive (ZIP)",
        "de": "Archiv herunterladen (ZIP)",
        "it": "Scaricare l'archivio (ZIP)",
        "en": "Download the archive (ZIP)",
    },
    "export_again": {
        "fr": "Demander une nouvelle archive",
        "de": "Ein neues Archiv anfordern",
        "it": "Richiedere un nuovo archivio",
        "en": "Ask for a new archive",
    },
    "export_login_first": {
        "fr": "Connectez-vous d'abord au guichet en ligne, puis rouvrez ce lien.",
        "de": "Melden Sie sich zuerst am Online-Schalter an und öffnen Sie dann diesen Link "
        "erneut.",
        "it": "Acceda prima allo sportello online, poi riapra questo link.",
        "en": "Log in to the online counter first, then open this link again.",
    },
    "export_not_found": {
        "fr": "Aucune archive de vos données ne correspond à ce lien.",
        "de": "Zu diesem Link gibt es kein Archiv Ihrer Daten.",
        "it": "Nessun archivio dei suoi dati corrisponde a questo link.",
        "en": "No archive of your data matches this link.",
    },
    "export_not_ready": {
        "fr": "L'archive n'est pas encore prête ; réessayez plus tard.",
        "de": "Das Archiv ist noch nicht bereit; versuchen Sie es später erneut.",
        "it": "L'archivio non è ancora pronto; riprovi più tardi.",
        "en": "The archive is not ready yet; try again later.",
    },
    "export_expired": {
        "fr": "Ce lien a expiré et l'archive a été supprimée. Vous pouvez en demander une "
        "nouvelle.",
        "de": "Dieser Link ist abgelaufen und das Archiv wurde gelöscht. Sie können ein neues "
        "anfordern.",
        "it": "Questo link è scaduto e l'archivio è stato cancellato. Può richiederne uno nuovo.",
        "en": "This link has expired and the archive was deleted. You can ask for a new one.",
    },
    "export_unavailable": {
        "fr": "L'archive ne peut pas être lue pour le moment ; réessayez dans un instant.",
        "de": "Das Archiv kann gerade nicht gelesen werden; versuchen Sie es gleich erneut.",
        "it": "L'archivio non può essere letto al momento; riprovi tra poco.",
        "en": "The archive cannot be read right now; try again in a moment.",
    },
}
