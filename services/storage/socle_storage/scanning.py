"""Virus scanning, pluggable: nothing by default, clamd (``INSTREAM``) when configured.

The bytes are streamed to the scanner while they are streamed to the store, so a scan costs
no second read."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlparse

import structlog

from socle_storage.errors import ScannerUnavailable

log = structlog.get_logger("socle_storage.scanning")


@dataclass(frozen=True)
class Verdict:
    infected: bool
    signature: str | None = None


class ScanSession(Protocol):
    async def feed(self, chunk: bytes) -> None: ...

    async def verdict(self) -> Verdict: ...

    async def close(self) -> None: ...


class Scanner(Protocol):
    async def session(self) -> ScanSession: ...


class _NoScan:
    async def feed(self, chunk: bytes) -> None:
        return None

    async def verdict(self) -> Verdict:
        return Verdict(infected=False)

    async def close(self) -> None:
        return None


class NoScanner:
    """Accepts everything (no scanner configured)."""

    async def session(self) -> ScanSession:
        return _NoScan()


class _ClamdSession:
    MAX_CHUNK = 64 * 1024

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float):
        self.reader = reader
        self.writer = writer
        self.timeout = timeout

    async def feed(self, chunk: bytes) -> None:
        try:
            for start in range(0, len(chunk), self.MAX_CHUNK):
                part = chunk[start : start + self.MAX_CHUNK]
                self.writer.write(struct.pack("!L", len(part)) + part)
                await asyncio.wait_for(self.writer.drain(), self.timeout)
        except (OSError, TimeoutError) as exc:
            raise ScannerUnavailable() from exc

    async def verdict(self) -> Verdict:
        try:
            self.writer.write(struct.pack("!L", 0))
            await self.writer.drain()
            raw = await asyncio.wait_for(self.reader.readuntil(b"\0"), self.timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            raise ScannerUnavailable() from exc
        answer = raw.rstrip(b"\0").decode("utf-8", "replace").strip()
        # "stream: OK" | "stream: <Signature> FOUND" | "<message> ERROR"
        _, _, result = answer.partition(": ")
        if result == "OK":
            return Verdict(infected=False)
        if result.endswith(" FOUND"):
            return Verdict(infected=True, signature=result[: -len(" FOUND")])
        log.warning("clamd_error", answer=answer[:200])
        raise ScannerUnavailable()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


class ClamdScanner:
    """Talks to clamd over TCP with the ``zINSTREAM`` command."""

    def __init__(self, url: str, timeout: float) -> None:
        parsed = urlparse(url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 3310
        self.timeout = timeout

    async def session(self) -> ScanSession:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout
            )
            writer.write(b"zINSTREAM\0")
            await writer.drain()
        except (OSError, TimeoutError) as exc:
            log.warning("clamd_unreachable", error=exc.__class__.__name__)
            raise ScannerUnavailable() from exc
        return _ClamdSession(reader, writer, self.timeout)


def make_scanner(clamd_url: str, timeout: float) -> Scanner:
    return ClamdScanner(clamd_url, timeout) if clamd_url else NoScanner()
