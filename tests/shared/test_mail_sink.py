"""The development mail sink of ``make run`` writes mails to its folder and keeps none in
memory, however many it receives."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from socle_dev.localinfra import SmtpSink, free_port


def test_mails_land_in_the_folder_not_in_memory(tmp_path):
    sink = SmtpSink(free_port(), tmp_path / "mail")
    sink.start()
    try:
        with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
            for n in range(3):
                message = EmailMessage()
                message["From"] = "noreply@commune.ch"
                message["To"] = f"anna{n}@vevey.ch"
                message["Subject"] = f"Mail {n}"
                message.set_content("Bonjour")
                smtp.send_message(message)
    finally:
        sink.stop()
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 3
    assert sink._kept == []  # nothing held in memory
    assert sink.received == 3
    assert sorted(m["Subject"] for _, _, m in sink.messages) == ["Mail 0", "Mail 1", "Mail 2"]
    assert [m["Subject"] for m in sink.to("anna1@vevey.ch")] == ["Mail 1"]
