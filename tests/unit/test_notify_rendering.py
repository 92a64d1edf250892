"""Notify without any server: templates with ((placeholders)), SMS fragments, the guard that
keeps webhooks off internal addresses, and webhook secrets."""

from __future__ import annotations

import pytest

from socle_notify.callbacks import check_callback_url, check_secret, new_secret
from socle_notify.errors import InvalidCallback, InvalidSecret
from socle_notify.render import placeholders, render, sms_fragments
from socle_notify.settings import NotifySettings

# ---- templates -----------------------------------------------------------------------------


def test_placeholders_are_listed_once_in_order() -> None:
    assert placeholders("((b)) ((a)) (( b ))", None, "((c.d-e))") == ["b", "a", "c.d-e"]
    assert placeholders("(not one) ((has space)) ((-dash))") == []


def test_values_fill_the_placeholders_of_subject_and_body() -> None:
    out = render(
        subject="Request (( ref ))",
        body="Dear ((name)), your request ((ref)) is approved.",
        html_body=None,
        values={"name": "Anna", "ref": "2026-0042"},
        channel="email",
    )
    assert out.subject == "Request 2026-0042"
    assert out.body == "Dear Anna, your request 2026-0042 is approved."
    assert out.missing == []


def test_a_missing_value_stays_visible_and_is_reported() -> None:
    out = render(subject=None, body="Hello ((name))", html_body=None, values={}, channel="sms")
    assert out.body == "Hello ((name))"
    assert out.missing == ["name"]
    assert out.html is None


def test_yes_no_and_empty_values_read_naturally() -> None:
    out = render(
        subject=None,
        body="paid: ((paid)), note: ((note)).",
        html_body=None,
        values={"paid": True, "note": None},
        channel="sms",
    )
    assert out.body == "paid: yes, note: ."


def test_nothing_in_a_value_is_evaluated_as_a_template() -> None:
    out = render(
        subject=None,
        body="((a))",
        html_body=None,
        values={"a": "((b)) {{ 7*7 }}", "b": "x"},
        channel="sms",
    )
    assert out.body == "((b)) {{ 7*7 }}"


def test_a_value_cannot_inject_a_mail_header_through_the_subject() -> None:
    out = render(
        subject="Re: ((x))",
        body="",
        html_body=None,
        values={"x": "hi\r\nBcc: victim@example.com"},
        channel="email",
    )
    assert out.subject == "Re: hi Bcc: victim@example.com"
    assert "\n" not in (out.subject or "")


def test_values_are_escaped_in_the_html_body_but_not_in_the_text() -> None:
    out = render(
        subject="s",
        body="((x))",
        html_body="<p>((x))</p>",
        values={"x": '<script>alert("x")</script>'},
        channel="email",
    )
    assert out.body == '<script>alert("x")</script>'
    assert out.html == "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</p>"


def test_an_html_body_is_made_from_the_text_with_paragraphs_and_links() -> None:
    out = render(
        subject="s",
        body="Hello <Anna>,\nsee https://commune.example/r?a=1&b=2\n\nBye",
        html_body=None,
        values={},
        channel="email",
    )
    assert out.html == (
        "<p>Hello &lt;Anna&gt;,<br>\nsee "
        '<a href="https://commune.example/r?a=1&amp;b=2">https://commune.example/r?a=1&amp;b=2</a>'
        "</p>\n<p>Bye</p>\n"
    )


# ---- SMS fragments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "fragments"),
    [
        ("", "gsm7", 1),
        ("a" * 160, "gsm7", 1),
        ("a" * 161, "gsm7", 2),
        ("a" * 306, "gsm7", 2),
        ("a" * 307, "gsm7", 3),
        ("€" * 80, "gsm7", 1),  # extended characters count twice
        ("€" * 81, "gsm7", 2),
        ("Zürich, déjà à l'Hôtel de Ville", "ucs2", 1),  # ô is not GSM 7-bit
        ("Bâle" + "a" * 66, "ucs2", 1),
        ("Bâle" + "a" * 67, "ucs2", 2),
        ("ç" * 134, "ucs2", 2),
        ("ç" * 135, "ucs2", 3),
        ("🙂" * 35, "ucs2", 1),  # outside the BMP: two UTF-16 units each
        ("🙂" * 36, "ucs2", 2),
        ("Grüezi, ihr Ausweis ist bereit.", "gsm7", 1),
    ],
)
def test_an_sms_is_counted_in_fragments(text: str, encoding: str, fragments: int) -> None:
    assert sms_fragments(text) == (encoding, fragments)


# ---- the SSRF guard ------------------------------------------------------------------------

STRICT = NotifySettings(webhook_allow_private=False, webhook_allow_http=False)


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://93.184.215.14/hook", "must use https"),
        ("ftp://93.184.215.14/hook", "must use https"),
        ("https:///hook", "has no host"),
        ("https://user:pw@93.184.215.14/hook", "credentials"),
        ("https://localhost/hook", "internal"),
        ("https://db.internal/hook", "internal"),
        ("https://printer.local/hook", "internal"),
        ("https://app.localhost/hook", "internal"),
        ("https://127.0.0.1/hook", "private, loopback or reserved"),
        ("https://10.1.2.3/hook", "private, loopback or reserved"),
        ("https://172.16.0.1/hook", "private, loopback or reserved"),
        ("https://192.168.1.1/hook", "private, loopback or reserved"),
        ("https://169.254.169.254/latest/meta-data", "private, loopback or reserved"),
        ("https://100.64.0.1/hook", "private, loopback or reserved"),  # carrier-grade NAT
        ("https://0.0.0.0/hook", "private, loopback or reserved"),
        ("https://224.0.0.1/hook", "private, loopback or reserved"),
        ("https://[::1]/hook", "private, loopback or reserved"),
        ("https://[fd00::1]/hook", "private, loopback or reserved"),
        ("https://[fe80::1]/hook", "private, loopback or reserved"),
        ("https://[::ffff:127.0.0.1]/hook", "private, loopback or reserved"),
        ("https://[::ffff:10.0.0.1]/hook", "private, loopback or reserved"),
    ],
)
async def test_a_callback_to_an_internal_address_is_refused(url: str, said: str) -> None:
    with pytest.raises(InvalidCallback, match=said) as refused:
        await check_callback_url(url, STRICT)
    assert refused.value.status == 422
    assert refused.value.code == "invalid-callback-url"


@pytest.mark.parametrize(
    "url", ["https://93.184.215.14/hook", "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/"]
)
async def test_a_callback_to_a_public_address_is_accepted(url: str) -> None:
    await check_callback_url(url, STRICT)


async def test_plain_http_and_private_addresses_only_when_allowed() -> None:
    relaxed = NotifySettings(webhook_allow_private=True, webhook_allow_http=True)
    await check_callback_url("http://127.0.0.1:9000/hook", relaxed)
    with pytest.raises(InvalidCallback, match="credentials"):
        await check_callback_url("http://a:b@127.0.0.1/hook", relaxed)
    with pytest.raises(InvalidCallback, match="http or https"):
        await check_callback_url("file:///etc/passwd", relaxed)


# ---- webhook secrets -----------------------------------------------------------------------


def test_a_new_secret_is_accepted() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert check_secret(secret) == secret
    assert new_secret() != secret


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "whsec_",
        "whsec_not base64!",
        "whsec_" + "QUJD" * 4,  # 12 bytes: too short
        "whsec_" + "QUJD" * 30,  # 90 bytes: too long
        "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY",  # 24 bytes without the prefix
    ],
)
def test_a_weak_or_malformed_secret_is_refused(secret: str) -> None:
    with pytest.raises(InvalidSecret):
        check_secret(secret)
