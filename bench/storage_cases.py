"""Storage against the MinIO SDK straight to the same SeaweedFS: uploads and downloads of 1 MiB
and 256 MiB, with the storage process's peak resident memory."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from socle_dev.localinfra import ManagedProcess, NatsServer, S3Server, free_port, wait_for_port
from socle_dev.testing import TestIssuer

MIB = 1024 * 1024
SIZES = ((1, 5, 4), (256, 1, 2))
"""(MiB, transfers of that size one after the other, rounds): each round measures storage
then the MinIO SDK, so the machine's load, which moves within seconds here, falls on both
alike; each side's rate is the mean over the rounds."""
CHUNK = MIB
BOUNDARY = "socle-bench-boundary"
TARGET = 0.8


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _content(size: int) -> bytes:
    """A PDF by its magic number, then filler: what storage checks is the first bytes."""
    head = b"%PDF-1.7\n"
    return head + os.urandom(min(size, CHUNK) - len(head))


async def _multipart(size: int, block: bytes) -> AsyncIterator[bytes]:
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nbench\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="bench.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
    ).encode()
    sent = 0
    while sent < size:
        piece = block[: min(len(block), size - sent)]
        sent += len(piece)
        yield piece
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


class _Reader:
    """A file-like object of ``size`` bytes for the MinIO SDK, made of ``block``."""

    def __init__(self, size: int, block: bytes) -> None:
        self.left = size
        self.block = block

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        out = bytearray()
        while len(out) < n:
            out += self.block[: n - len(out)]
        self.left -= len(out)
        return bytes(out)


async def _ours(
    http: httpx.AsyncClient, size: int, count: int, block: bytes
) -> tuple[float, float]:
    """MiB/s of ``count`` uploads then as many downloads through storage."""
    ids = []
    start = time.perf_counter()
    for _ in range(count):
        answer = await http.post(
            "/v1/documents",
            content=_multipart(size, block),
            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
        answer.raise_for_status()
        ids.append(answer.json()["id"])
    up = count * size / MIB / (time.perf_counter() - start)
    start = time.perf_counter()
    for document_id in ids:
        async with http.stream("GET", f"/v1/documents/{document_id}/content") as response:
            response.raise_for_status()
            received = 0
            async for piece in response.aiter_raw(CHUNK):
                received += len(piece)
        assert received == size, (received, size)
    down = count * size / MIB / (time.perf_counter() - start)
    return up, down


def _peer(s3: S3Server, size: int, count: int, block: bytes) -> tuple[float, float]:
    from minio import Minio

    client = Minio(
        f"127.0.0.1:{s3.port}", access_key=s3.access_key, secret_key=s3.secret_key, secure=False
    )
    bucket = "bench-peer"
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)
    names = [f"peer/{uuid.uuid4().hex}" for _ in range(count)]
    start = time.perf_counter()
    for name in names:
        client.put_object(bucket, name, _Reader(size, block), size, part_size=8 * MIB)  # type: ignore[arg-type]
    up = count * size / MIB / (time.perf_counter() - start)
    start = time.perf_counter()
    for name in names:
        response = client.get_object(bucket, name)
        try:
            received = sum(len(piece) for piece in response.stream(CHUNK))
        finally:
            response.close()
            response.release_conn()
        assert received == size, (received, size)
    down = count * size / MIB / (time.perf_counter() - start)
    return up, down


async def storage_transfers(folder: Path) -> list[str]:
    """1 MiB (4 rounds of 5 in a row) and 256 MiB (2 rounds of one) uploads then downloads,
    each round through storage then straight to the store, through storage (one
    process on SQLite, multipart upload streamed by httpx, download streamed) and through
    the MinIO SDK straight to the same SeaweedFS (8 MiB parts, as storage uses); MiB/s of
    each, and the storage process's peak resident memory (VmHWM) after each size."""
    issuer = TestIssuer("https://identity.bench")
    issuer.start()
    nats = NatsServer.create(folder / f"nats-{free_port()}", free_port())
    nats.start()
    s3 = S3Server.create(
        folder / f"s3-{free_port()}", free_port(), "bench", "bench-secret-" + uuid.uuid4().hex
    )
    port = free_port()
    env = dict(
        os.environ,
        SOCLE_DATABASE_URL=f"sqlite+aiosqlite:///{folder}/storage-{port}.db",
        SOCLE_NATS_URL=nats.url,
        SOCLE_ISSUER=issuer.issuer,
        SOCLE_JWKS_URL=issuer.jwks_url,
        SOCLE_S3_ENDPOINT=s3.endpoint,
        SOCLE_S3_ACCESS_KEY=s3.access_key,
        SOCLE_S3_SECRET_KEY=s3.secret_key,
        SOCLE_DEFAULT_MAX_SIZE_BYTES=str(300 * MIB),
        SOCLE_LOG_LEVEL="WARNING",
    )
    python = [sys.executable, "-m", "socle_storage"]
    proc = ManagedProcess([*python, "serve", "--port", str(port)], env=env)
    lines = [
        "## Storage transfers",
        "",
        " ".join((storage_transfers.__doc__ or "").split()),
        "",
        "| transfer | storage | MinIO SDK | ratio (target ≥ 0.8) | storage peak RSS |",
        "|---|---|---|---|---|",
    ]
    try:
        await asyncio.to_thread(s3.start)
        await asyncio.to_thread(subprocess.run, [*python, "migrate"], env=env, check=True)
        proc.start()
        assert proc.proc is not None
        wait_for_port(port, 60, proc=proc.proc)
        token = issuer.token(
            audience="socle-storage",
            tenant="bench",
            subject="bench",
            client_id="bench",
            roles=[],
            scopes=["documents:read", "documents:write"],
            lifetime=3600,
        )
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=300,
        ) as http:
            for mib, count, rounds in SIZES:
                block = _content(mib * MIB)
                rates: list[tuple[float, float, float, float]] = []
                for _ in range(rounds):
                    ours_rates = await _ours(http, mib * MIB, count, block)
                    peer_rates = await asyncio.to_thread(_peer, s3, mib * MIB, count, block)
                    rates.append((*ours_rates, *peer_rates))
                up, down, peer_up, peer_down = (sum(r[i] for r in rates) / rounds for i in range(4))
                rss = _peak_rss_mib(proc.proc.pid)
                for what, ours, peer in (("upload", up, peer_up), ("download", down, peer_down)):
                    row = (
                        f"| {mib} MiB {what} | {ours:,.0f} MiB/s | {peer:,.0f} MiB/s | "
                        f"{ours / peer:.2f} | {rss:,.0f} MiB |"
                    )
                    print(row, flush=True)
                    lines.append(row)
    finally:
        proc.stop()
        s3.stop()
        nats.stop()
        issuer.stop()
    return [*lines, ""]


async def main() -> int:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="socle-storage-bench-") as tmp:
        print("\n".join(await storage_transfers(Path(tmp))))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
