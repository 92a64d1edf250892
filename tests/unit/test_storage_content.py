"""Storage without any server: what the bytes really are, file names, byte ranges, and the
multipart body of an upload (refused before anything is stored)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from socle.auth import Principal
from socle.problems import DomainError
from socle_storage.content import parse_range
from socle_storage.errors import (
    EmptyFile,
    FileTooLarge,
    InvalidFilename,
    InvalidUpload,
    RangeNotSatisfiable,
    TypeMismatch,
    TypeNotAllowed,
)
from socle_storage.ingest import receive
from socle_storage.settings import StorageSettings
from socle_storage.sniff import clean_filename, resolve_type, sniff

PDF = b"%PDF-1.7\n" + b"0" * 100
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# ---- sniffing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "seen"),
    [
        (PDF, "application/pdf"),
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0JFIF", "image/jpeg"),
        (b"GIF89a...", "image/gif"),
        (b"II*\x00rest", "image/tiff"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"PK\x03\x04word/", "application/zip"),
        (b"Name;Amount\r\nAnna;12\r\n", "text/plain"),
        ("Grüezi mitenand\n".encode(), "text/plain"),
        ("é".encode() * 2047 + "é".encode()[:1], "text/plain"),  # a character cut at the end
        (b"MZ\x90\x00\x03\x00", "application/octet-stream"),  # a Windows program
        (b"text with a \x00 byte", "application/octet-stream"),
        (b"ansi \x1b[31m red", "application/octet-stream"),
        (b"\xff\xfe\xfd latin garbage", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_the_bytes_tell_the_type(head: bytes, seen: str) -> None:
    assert sniff(head) == seen


@pytest.mark.parametrize(
    ("declared", "sniffed", "stored"),
    [
        ("application/pdf", "application/pdf", "application/pdf"),
        ("Application/PDF; charset=binary", "application/pdf", "application/pdf"),
        ("", "image/png", "image/png"),
        ("application/octet-stream", "image/png", "image/png"),
        (DOCX, "application/zip", DOCX),
        ("text/csv", "text/plain", "text/csv"),
        ("application/pdf", "application/octet-stream", None),  # an executable named .pdf
        ("image/png", "application/pdf", None),
        ("text/html", "text/plain", None),  # would be rendered by a browser
        (DOCX, "application/pdf", None),
    ],
)
def test_a_declared_type_must_match_the_bytes(
    declared: str, sniffed: str, stored: str | None
) -> None:
    assert resolve_type(declared, sniffed) == stored


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("plan.pdf", "plan.pdf"),
        ("C:\\Users\\anna\\plan.pdf", "plan.pdf"),
        ("photos/2026/garden.jpg", "garden.jpg"),
        ('a<b>c:d"e|f?g*.txt', "a_b_c_d_e_f_g_.txt"),
        ("  .hidden.txt ", "hidden.txt"),
        ("", "document"),
        ("...", "document"),
        ("Cafe\u0301.pdf", "Café.pdf"),  # NFC
        ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
    ],
)
def test_file_names_are_made_safe(raw: str, clean: str) -> None:
    assert clean_filename(raw) == clean


@pytest.mark.parametrize(
    "raw",
    [
        "../../etc/passwd",
        "a/../b.pdf",
        "..\\boot.ini",
        "bill\r\nX-Evil: 1.pdf",
        "a\x00.pdf",
        "invoice\u202efdp.exe",
    ],
)
def test_file_names_with_traversal_or_control_characters_are_refused(raw: str) -> None:
    with pytest.raises(InvalidFilename) as refused:
        clean_filename(raw)
    assert refused.value.status == 422


# ---- byte ranges ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", (0, 99, 100)),
        ("bytes=100-", (100, 999, 900)),
        ("bytes=-100", (900, 999, 100)),
        ("bytes=-5000", (0, 999, 1000)),  # more than the whole content
        ("bytes=900-5000", (900, 999, 100)),  # clipped to the content
        ("bytes=0-0", (0, 0, 1)),
        ("Bytes = 0-9", (0, 9, 10)),
        ("bytes=0-9,20-29", None),  # several ranges: the whole content
        ("items=0-9", None),
        ("bytes=9-0", None),
        ("bytes=abc", None),
        ("bytes=-0", None),
        ("bytes=a-b", None),
    ],
)
def test_a_range_selects_bytes_of_the_content(
    header: str | None, expected: tuple[int, int, int] | None
) -> None:
    found = parse_range(header, 1000)
    if expected is None:
        assert found is None
    else:
        assert found is not None
        assert (found.start, found.end, found.length) == expected


def test_a_range_beyond_the_content_is_416_with_its_size() -> None:
    with pytest.raises(RangeNotSatisfiable) as refused:
        parse_range("bytes=1000-", 1000)
    assert refused.value.status == 416
    assert refused.value.headers["Content-Range"] == "bytes */1000"


# ---- multipart uploads ---------------------------------------------------------------------


class _NoRulesSession:
    """A tenant without rules of its own: the service's defaults apply."""

    def begin(self) -> contextlib.AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()

    async def get(self, *args: Any) -> None:
        return None

    async def __aenter__(self) -> _NoRulesSession:
        return self

    async def __aexit__(self, *args: Any) -> None:
        return None


class _NoStore:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a refused upload must not reach the store ({name})")


def _storage(**settings: Any) -> Any:
    return SimpleNamespace(
        settings=StorageSettings(**settings),
        sessions=_NoRulesSession,
        store=_NoStore(),
        scanner=_NoStore(),
    )


PERSON = Principal(subject="anna", tenant="t1", client_id="portal", scopes=frozenset())
BOUNDARY = "----socleunit"


def part(name: str, value: bytes, filename: str | None = None, ctype: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (
        f'; filename="{filename}"' if filename is not None else ""
    )
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
    if ctype:
        head += f"Content-Type: {ctype}\r\n"
    return head.encode() + b"\r\n" + value + b"\r\n"


def body(*parts: bytes, closed: bool = True) -> bytes:
    return b"".join(parts) + (f"--{BOUNDARY}--\r\n".encode() if closed else b"")


async def chunks(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def upload(data: bytes, content_type: str | None = None, **settings: Any) -> None:
    ctype = content_type or f"multipart/form-data; boundary={BOUNDARY}"
    async with receive(_storage(**settings), PERSON, ctype, chunks(data), None):
        pass


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "multipart/form-data", "multipart/mixed; boundary=x"],
)
async def test_a_body_that_is_not_multipart_form_data_is_415(content_type: str | None) -> None:
    with pytest.raises(DomainError) as refused:
        async with receive(_storage(), PERSON, content_type, chunks(b""), None):
            pass
    assert (refused.value.status, refused.value.code) == (415, "multipart-required")


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (body(part("kind", b"plan")), "no `file` part"),
        (body(part("file", PDF, ctype="application/pdf")), "needs a filename"),
        (body(part("file", PDF, "a.pdf", "application/pdf"), closed=False), "closing boundary"),
        (body(*[part(f"f{i}", b"x") for i in range(11)]), "At most 10 form fields"),
        (body(part("kind", b"x" * 1025)), "longer than 1024 bytes"),
        (body(part("kind", b"\xff\xfe")), "not UTF-8"),
        (
            b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: attachment; name=file\r\n\r\n"
            b"x\r\n" + body(),
            "Content-Disposition: form-data",
        ),
    ],
)
async def test_a_malformed_upload_is_refused_with_its_reason(data: bytes, said: str) -> None:
    with pytest.raises(InvalidUpload, match=said) as refused:
        await upload(data)
    assert refused.value.status == 422


async def test_an_empty_file_is_refused() -> None:
    with pytest.raises(EmptyFile):
        await upload(body(part("file", b"", "a.pdf", "application/pdf")))


async def test_a_file_over_the_limit_is_413_whatever_its_declared_size() -> None:
    with pytest.raises(FileTooLarge) as refused:
        await upload(
            body(part("file", b"x" * 101, "a.txt", "text/plain")), default_max_size_bytes=100
        )
    assert refused.value.status == 413


async def test_a_file_whose_bytes_contradict_its_type_is_refused() -> None:
    with pytest.raises(TypeMismatch, match="sent as application/pdf but its bytes are image/png"):
        await upload(body(part("file", PNG, "a.pdf", "application/pdf")))


async def test_a_type_the_commune_does_not_accept_is_415() -> None:
    with pytest.raises(TypeNotAllowed) as refused:
        await upload(
            body(part("file", PNG, "a.png", "image/png")), default_allowed_types="application/pdf"
        )
    assert refused.value.status == 415


async def test_an_escaped_control_character_in_the_file_name_is_refused() -> None:
    with pytest.raises(InvalidFilename):
        await upload(body(part("file", PDF, "bill%0D%0A.pdf", "application/pdf")))
