"""Storage against the MinIO SDK straight to the same SeaweedFS: uploads and downloads of 1 MiB,
256 MiB and 1 GiB, with the storage process's peak resident memory and the CPU time each side
spent per transfer."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import urllib3

from socle_dev.localinfra import (
    LOCAL_SIZING,
    ManagedProcess,
    NatsServer,
    S3Server,
    free_port,
    wait_for_port,
)
from socle_dev.testing import TestIssuer

MIB = 1024 * 1024
SIZES = tuple(
    size
    for size in ((1, 5, 4), (256, 1, 2), (1024, 1, 1))
    if str(size[0]) in os.environ.get("SOCLE_BENCH_STORAGE_MIB", "1,256,1024").split(",")
)
"""(MiB, transfers of that size one after the other, rounds): each round measures storage
then the MinIO SDK, so the machine's load, which moves within seconds here, falls on both
alike; each side's rate is the mean over the rounds. ``SOCLE_BENCH_STORAGE_MIB`` (e.g.
``1,256``) keeps only some sizes."""
TICK = os.sysconf("SC_CLK_TCK")
REDIRECTED_MIB = 256
"""From this size on, downloads are also measured through a second storage process (same
database and store) set to redirect them to the store (``SOCLE_DOWNLOAD_REDIRECT_MIN_BYTES``,
opt-in), reported on rows of their own."""
CHUNK = MIB
BOUNDARY = "socle-bench-boundary"
TARGET = 0.8


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK


@dataclass
class _Cpu:
    """CPU seconds spent by the storage process, SeaweedFS and the bench's client."""

    pids: tuple[int, int]
    spent: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])

    def now(self) -> list[float]:
        return [*(_cpu_seconds(pid) for pid in self.pids), time.process_time()]

    def add(self, before: list[float]) -> None:
        for i, (a, b) in enumerate(zip(before, self.now(), strict=True)):
            self.spent[i] += b - a


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
    http: httpx.AsyncClient,
    size: int,
    count: int,
    block: bytes,
    cpu: dict[str, _Cpu],
    redirecting: str | None,
) -> tuple[float, float, float | None]:
    """MiB/s of ``count`` uploads then as many downloads through storage, then (from
    ``REDIRECTED_MIB`` on) as many downloads through ``redirecting``, a storage process
    answering them with a redirect to the store (opt-in), followed."""
    ids = []
    before = cpu["up"].now()
    start = time.perf_counter()
    for _ in range(count):
        answer = await http.post(
            "/v1/documents",
            content=_multipart(size, block),
            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
        answer.raise_for_status()
        ids.append(answer.json()["id"])
    up_rate = count * size / MIB / (time.perf_counter() - start)
    cpu["up"].add(before)
    rates: list[float | None] = []
    for base, key in ((str(http.base_url).rstrip("/"), "down"), (redirecting, "redirected")):
        if base is None or (key == "redirected" and size < REDIRECTED_MIB * MIB):
            rates.append(None)
            continue
        before = cpu[key].now()
        start = time.perf_counter()
        for document_id in ids:
            url = f"{base}/v1/documents/{document_id}/content"
            received = await asyncio.to_thread(_download, http, url)
            assert received == size, (received, size)
        rates.append(count * size / MIB / (time.perf_counter() - start))
        cpu[key].add(before)
    down_rate, redirected_rate = rates
    assert down_rate is not None
    return up_rate, down_rate, redirected_rate


_POOL = urllib3.PoolManager()


def _download(http: httpx.AsyncClient, url: str) -> int:
    """Bytes of a download through storage, read as the MinIO SDK reads (urllib3, 1 MiB at a
    time): the client's own cost is then alike on both sides (httpx's ``aiter_raw`` cost the
    bench's process about ten times urllib3's CPU per MiB). A redirect is followed (urllib3
    drops the token for the store's address)."""
    response = _POOL.request(
        "GET",
        url,
        headers={"Authorization": http.headers["Authorization"]},
        preload_content=False,
    )
    try:
        assert response.status == 200, response.status
        return sum(len(piece) for piece in response.stream(CHUNK))
    finally:
        response.release_conn()


def _peer(
    s3: S3Server, size: int, count: int, block: bytes, up: _Cpu, down: _Cpu
) -> tuple[float, float]:
    from minio import Minio

    client = Minio(
        f"127.0.0.1:{s3.port}", access_key=s3.access_key, secret_key=s3.secret_key, secure=False
    )
    bucket = "bench-peer"
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)
    names = [f"peer/{uuid.uuid4().hex}" for _ in range(count)]
    before = up.now()
    start = time.perf_counter()
    for name in names:
        client.put_object(bucket, name, _Reader(size, block), size, part_size=8 * MIB)  # type: ignore[arg-type]
    up_rate = count * size / MIB / (time.perf_counter() - start)
    up.add(before)
    before = down.now()
    start = time.perf_counter()
    for name in names:
        response = client.get_object(bucket, name)
        try:
            received = sum(len(piece) for piece in response.stream(CHUNK))
        finally:
            response.close()
            response.release_conn()
        assert received == size, (received, size)
    down_rate = count * size / MIB / (time.perf_counter() - start)
    down.add(before)
    return up_rate, down_rate


async def storage_transfers(folder: Path) -> list[str]:
    """1 MiB (4 rounds of 5 in a row), 256 MiB (2 rounds of one) and 1 GiB (one round of one)
    uploads then downloads, each round through storage then straight to the store, through
    storage (one process on SQLite, multipart upload streamed by httpx, download streamed and
    read with urllib3 as the SDK reads)
    and through the MinIO SDK straight to the same SeaweedFS (8 MiB parts, as storage uses);
    MiB/s of each, the storage process's peak resident memory (VmHWM) after each size, and
    the CPU time spent per MiB moved by each process taking part (from /proc: storage,
    SeaweedFS; the bench's own process for the client, httpx or the SDK)."""
    issuer = TestIssuer("https://identity.bench")
    issuer.start()
    nats = NatsServer.create(folder / f"nats-{free_port()}", free_port())
    nats.start()
    s3 = S3Server.create(
        folder / f"s3-{free_port()}",
        free_port(),
        "bench",
        "bench-secret-" + uuid.uuid4().hex,
        sizing=LOCAL_SIZING,  # about 3.2 GB written: more than the tests' store holds
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
        SOCLE_DEFAULT_MAX_SIZE_BYTES=str(max(mib for mib, _, _ in SIZES) * MIB + MIB),
        SOCLE_LOG_LEVEL="WARNING",
    )
    python = [sys.executable, "-m", "socle_storage"]
    proc = ManagedProcess([*python, "serve", "--port", str(port)], env=env)
    port2 = free_port()
    redirecting = ManagedProcess(
        [*python, "serve", "--port", str(port2)],
        env=dict(env, SOCLE_DOWNLOAD_REDIRECT_MIN_BYTES=str(REDIRECTED_MIB * MIB)),
    )
    lines = [
        "## Storage transfers",
        "",
        " ".join((storage_transfers.__doc__ or "").split()),
        "",
        "| transfer | storage | MinIO SDK | ratio (target ≥ 0.8) | storage peak RSS "
        "| CPU ms per MiB, through storage: storage + SeaweedFS + client "
        "| CPU ms per MiB, SDK: SeaweedFS + SDK |",
        "|---|---|---|---|---|---|---|",
    ]
    try:
        await asyncio.to_thread(s3.start)
        await asyncio.to_thread(subprocess.run, [*python, "migrate"], env=env, check=True)
        proc.start()
        redirecting.start()
        assert proc.proc is not None and redirecting.proc is not None
        wait_for_port(port, 60, proc=proc.proc)
        wait_for_port(port2, 60, proc=redirecting.proc)
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
                assert s3.proc is not None
                pids = (proc.proc.pid, s3.proc.pid)
                cpu = {key: _Cpu(pids) for key in ("up", "down", "peer up", "peer down")}
                cpu["redirected"] = _Cpu((redirecting.proc.pid, s3.proc.pid))
                began = time.perf_counter()
                redirected: list[float] = []
                for _ in range(rounds):
                    up_rate, down_rate, redirected_rate = await _ours(
                        http, mib * MIB, count, block, cpu, f"http://127.0.0.1:{port2}"
                    )
                    peer_rates = await asyncio.to_thread(
                        _peer, s3, mib * MIB, count, block, cpu["peer up"], cpu["peer down"]
                    )
                    rates.append((up_rate, down_rate, *peer_rates))
                    if redirected_rate is not None:
                        redirected.append(redirected_rate)
                up, down, peer_up, peer_down = (sum(r[i] for r in rates) / rounds for i in range(4))
                rss = _peak_rss_mib(proc.proc.pid)
                size = f"{mib // 1024} GiB" if mib >= 1024 else f"{mib} MiB"
                mibs = mib * count * rounds
                measured = [("upload", up, peer_up, "up"), ("download", down, peer_down, "down")]
                if redirected:
                    measured.append(
                        (
                            "download, redirected to the store (opt-in)",
                            sum(redirected) / len(redirected),
                            peer_down,
                            "redirected",
                        )
                    )
                for what, ours, peer, key in measured:
                    mine = [1000 * t / mibs for t in cpu[key].spent]
                    peer_key = "peer up" if key == "up" else "peer down"
                    theirs = [1000 * t / mibs for t in cpu[peer_key].spent]
                    row = (
                        f"| {size} {what} | {ours:,.0f} MiB/s | {peer:,.0f} MiB/s | "
                        f"{ours / peer:.2f} | {rss:,.0f} MiB | "
                        f"{mine[0]:.1f} + {mine[1]:.1f} + {mine[2]:.1f} | "
                        f"{theirs[1]:.1f} + {theirs[2]:.1f} |"
                    )
                    print(row, flush=True)
                    lines.append(row)
                print(f"({size}: {time.perf_counter() - began:.0f} s)", flush=True)
    finally:
        proc.stop()
        redirecting.stop()
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
