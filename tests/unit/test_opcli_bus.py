"""What the operators' dead-letter listing shows of a letter's payload."""

from __future__ import annotations

from socle.opcli_bus import event_id


def test_a_dead_letter_that_holds_no_event_is_listed_without_an_id() -> None:
    assert event_id(b'{"id": "ev-1", "type": "payment.created"}') == "ev-1"
    assert event_id(b"{not json") is None
    assert event_id(b'["a list"]') is None
    assert event_id(b"") is None
    assert event_id(None) is None
