"""What the bytes really are (magic numbers) and safe file names."""

from __future__ import annotations

import re
import unicodedata

from socle_storage.errors import InvalidFilename

SNIFF_BYTES = 4096

OFFICE_ZIP_TYPES = frozenset(
    {
        "application/zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
    }
)
TEXT_TYPES = frozenset({"text/plain", "text/csv"})
GENERIC_TYPES = frozenset({"", "application/octet-stream"})

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
)


def sniff(head: bytes) -> str:
    """The content type the first bytes show; ``application/octet-stream`` when unknown."""
    for magic, content_type in _MAGIC:
        if head.startswith(magic):
            return content_type
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if _looks_like_text(head):
        return "text/plain"
    return "application/octet-stream"


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sniffed window is still text.
        if exc.start < len(head) - 3:
            return False
        text = head[: exc.start].decode("utf-8")
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\r\n\f")
    return controls == 0


def resolve_type(declared: str, sniffed: str) -> str | None:
    """The type to store, or None when ``declared`` contradicts the bytes."""
    declared = declared.split(";")[0].strip().lower()
    if declared in GENERIC_TYPES or declared == sniffed:
        return sniffed
    if sniffed == "application/zip" and declared in OFFICE_ZIP_TYPES:
        return declared
    if sniffed == "text/plain" and declared in TEXT_TYPES:
        return declared
    return None


_UNSAFE = re.compile(r'[<>:"|?*]')
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean_filename(raw: str) -> str:
    """A file name safe to show and to put in ``Content-Disposition``.

    Control characters and ``..`` segments are refused (they are never accidental); directory
    parts sent by some browsers are dropped, reserved characters replaced, length bounded."""
    if _CONTROL.search(raw):
        raise InvalidFilename(
            "The file name contains control characters; send the plain name, e.g. plan.pdf."
        )
    parts = re.split(r"[/\\]", raw)
    if any(part.strip() == ".." for part in parts):
        raise InvalidFilename(
            "The file name contains '..' path segments; send the plain name, e.g. plan.pdf."
        )
    name = unicodedata.normalize("NFC", parts[-1]).strip().lstrip(".")
    name = _UNSAFE.sub("_", name)
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else name[:200]
    return name or "document"
