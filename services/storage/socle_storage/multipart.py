"""A streaming ``multipart/form-data`` reader: the form's text fields are collected (bounded
in number and size), the one file part is handed over chunk by chunk as it arrives, so a large
file never sits in memory. It knows nothing of documents or of the store."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from python_multipart.multipart import MultipartParser, parse_options_header

from socle_storage.errors import InvalidUpload, MultipartRequired

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MAX_FIELDS = 10
MAX_FIELD_BYTES = 1024
FILE_FIELD = "file"
ESCAPED = re.compile(r"%([01][0-9A-F]|22|7F)")


@dataclass(frozen=True)
class FilePart:
    """The file part's description, as the client sent it."""

    filename: str
    content_type: str
    """The declared type, lower-case, without parameters ("" when none)."""


class FileTarget(Protocol):
    """Where the file part's bytes go."""

    async def write(self, data: bytes) -> None: ...

    async def finish(self) -> None: ...


@dataclass
class _Part:
    headers: dict[str, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    content_type: str = ""
    value: bytearray = field(default_factory=bytearray)


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a ``multipart/form-data`` body; 415 for any other body."""
    ctype, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise MultipartRequired("Send the document as multipart/form-data with a `file` part.")
    return bytes(boundary)


class _Events:
    """The parser's callbacks, queued so they can be handled with ``await``."""

    def __init__(self) -> None:
        self.queue: list[tuple[str, Any]] = []
        self._field = bytearray()
        self._value = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": lambda: self.queue.append(("begin", None)),
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": lambda: self.queue.append(("headers_done", None)),
            "on_part_data": self._on_part_data,
            "on_part_end": lambda: self.queue.append(("end", None)),
            "on_end": lambda: self.queue.append(("finished", None)),
        }

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field.extend(data[start:end])

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value.extend(data[start:end])

    def _on_header_end(self) -> None:
        self.queue.append(("header", (bytes(self._field).lower(), bytes(self._value))))
        self._field.clear()
        self._value.clear()

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.queue.append(("data", bytes(data[start:end])))

    def take(self) -> list[tuple[str, Any]]:
        taken, self.queue = self.queue, []
        return taken


async def read_form(
    body: AsyncIterator[bytes],
    content_type: str | None,
    open_file: Callable[[FilePart], FileTarget],
) -> dict[str, str]:
    """Read a form with one ``file`` part as it arrives: ``open_file`` is called once, when the
    file part's headers are read, and its target gets the bytes then ``finish()``. Returns the
    other fields. A malformed form is :class:`InvalidUpload` (422); the caller undoes what the
    target did when this raises."""
    events = _Events()
    parser = MultipartParser(boundary_of(content_type), callbacks=events.callbacks())
    fields: dict[str, str] = {}
    part: _Part | None = None
    target: FileTarget | None = None
    done = False  # the file part was read to its end
    finished = False
    async for chunk in body:
        try:
            parser.write(chunk)
        except Exception as exc:
            raise InvalidUpload(
                "The multipart body is malformed; let your HTTP client build it."
            ) from exc
        for kind, value in events.take():
            if kind == "begin":
                part = _Part()
            elif kind == "header" and part is not None:
                part.headers[value[0].decode("latin-1")] = value[1]
            elif kind == "headers_done" and part is not None:
                _describe(part)
                if part.name == FILE_FIELD:
                    if part.filename is None:
                        raise InvalidUpload("The `file` part needs a filename.")
                    if target is not None:
                        raise InvalidUpload("Send one `file` part per request.")
                    target = open_file(FilePart(part.filename, part.content_type))
                elif len(fields) >= MAX_FIELDS:
                    raise InvalidUpload(f"At most {MAX_FIELDS} form fields are accepted.")
            elif kind == "data" and part is not None:
                if part.name == FILE_FIELD and target is not None and not done:
                    await target.write(value)
                else:
                    part.value += value
                    if len(part.value) > MAX_FIELD_BYTES:
                        raise InvalidUpload(
                            f"The field {part.name!r} is longer than {MAX_FIELD_BYTES} bytes."
                        )
            elif kind == "end" and part is not None:
                if part.name == FILE_FIELD and target is not None and not done:
                    await target.finish()
                    done = True
                elif part.name != FILE_FIELD:
                    try:
                        fields[part.name] = part.value.decode("utf-8")
                    except UnicodeDecodeError:
                        raise InvalidUpload(f"The field {part.name!r} is not UTF-8 text.") from None
                part = None
            elif kind == "finished":
                finished = True
    if not finished:
        raise InvalidUpload("The multipart body ended before its closing boundary.")
    if not done:
        raise InvalidUpload("The request has no `file` part; attach the document as `file`.")
    return fields


def _describe(part: _Part) -> None:
    disposition = part.headers.get("content-disposition", b"")
    kind, params = parse_options_header(disposition)
    if kind != b"form-data":
        raise InvalidUpload("Each part needs Content-Disposition: form-data.")
    part.name = params.get(b"name", b"").decode("utf-8", "replace")
    raw_filename = params.get(b"filename")
    part.filename = None
    if raw_filename is not None:
        # Clients escape line breaks, quotes (HTML standard) and other controls as %XX:
        # undo that so the checks see the name the user had.
        part.filename = ESCAPED.sub(
            lambda m: chr(int(m.group(1), 16)), raw_filename.decode("utf-8", "replace")
        )
    ctype, _ = parse_options_header(part.headers.get("content-type", b""))
    part.content_type = ctype.decode("latin-1").lower()
